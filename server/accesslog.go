package server

import (
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// accessLine is what one request's log line says.
type accessLine struct {
	at     time.Time
	method string
	path   string
	status int
	took   time.Duration
	bytes  int
	appID  string // "" when none
	device string // short hash of the device id; "" when none
	answer string // protocol answer code; "" when none
}

// accessLog writes one JSON line per request, in the shape log/slog's JSON
// handler gives (time, level, msg, then the fields), encoded by hand: at
// tens of thousands of update checks a second, slog's general encoder was
// a tenth of the server's CPU.
type accessLog struct {
	w    io.Writer
	bufs sync.Pool
}

func newAccessLog(w io.Writer) *accessLog {
	return &accessLog{w: w, bufs: sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}}
}

func (l *accessLog) write(a *accessLine) {
	bp := l.bufs.Get().(*[]byte)
	b := appendAccessLine((*bp)[:0], a)
	l.w.Write(b)
	*bp = b
	l.bufs.Put(bp)
}

func appendAccessLine(b []byte, a *accessLine) []byte {
	b = append(b, `{"time":"`...)
	b = a.at.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","level":"INFO","msg":"request","method":`...)
	b = appendJSONString(b, a.method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, a.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(a.status), 10)
	b = append(b, `,"ms":`...)
	b = strconv.AppendFloat(b, float64(a.took.Microseconds())/1000, 'f', -1, 64)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, int64(a.bytes), 10)
	for _, f := range [...]struct{ key, value string }{{`,"app_id":`, a.appID}, {`,"device":`, a.device}, {`,"answer":`, a.answer}} {
		if f.value != "" {
			b = append(b, f.key...)
			b = appendJSONString(b, f.value)
		}
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD, and U+2028
// and U+2029 escaped (as slog and encoding/json do) so that a line stays one
// line for JavaScript readers too.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			switch r {
			case utf8.RuneError:
				b = append(b, `\ufffd`...)
			default:
				b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
