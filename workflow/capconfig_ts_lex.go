package workflow

// The lexer of capconfig_ts.go: the tokens of a TypeScript or JavaScript
// config (strings, template literals, comments, identifiers, numbers,
// punctuation) with their byte spans, and string literals decoded and
// encoded as JavaScript does.

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tsTok struct {
	kind       byte // 'i' identifier, 's' string, 't' template, 'T' template with ${}, 'n' number, 'p' punctuation
	start, end int
	text       string
}

type tsLexer struct {
	src  []byte
	pos  int
	toks []tsTok
}

func tsLex(src []byte) ([]tsTok, error) {
	l := &tsLexer{src: src}
	if bytes.HasPrefix(src, utf8BOM) {
		l.pos = len(utf8BOM)
	}
	for {
		tok, ok, err := l.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return l.toks, nil
		}
		l.toks = append(l.toks, tok)
	}
}

// skip passes white space and comments.
func (l *tsLexer) skip() error {
	for l.pos < len(l.src) {
		r, size := utf8.DecodeRune(l.src[l.pos:])
		switch {
		case unicode.IsSpace(r) || r == '\ufeff':
			l.pos += size
		case bytes.HasPrefix(l.src[l.pos:], []byte("//")):
			end := bytes.IndexByte(l.src[l.pos:], '\n')
			if end < 0 {
				l.pos = len(l.src)
			} else {
				l.pos += end + 1
			}
		case bytes.HasPrefix(l.src[l.pos:], []byte("/*")):
			end := bytes.Index(l.src[l.pos+2:], []byte("*/"))
			if end < 0 {
				return fmt.Errorf("unterminated comment at byte %d", l.pos)
			}
			l.pos += end + 4
		default:
			return nil
		}
	}
	return nil
}

func (l *tsLexer) next() (tsTok, bool, error) {
	if err := l.skip(); err != nil {
		return tsTok{}, false, err
	}
	if l.pos >= len(l.src) {
		return tsTok{}, false, nil
	}
	start := l.pos
	c := l.src[l.pos]
	r, size := utf8.DecodeRune(l.src[l.pos:])
	switch {
	case c == '\'' || c == '"':
		l.pos++
		for {
			if l.pos >= len(l.src) || l.src[l.pos] == '\n' {
				return tsTok{}, false, fmt.Errorf("unterminated string at byte %d", start)
			}
			if l.src[l.pos] == '\\' {
				l.pos += 2
				continue
			}
			l.pos++
			if l.src[l.pos-1] == c {
				break
			}
		}
		return tsTok{kind: 's', start: start, end: l.pos}, true, nil
	case c == '`':
		subst, err := l.template()
		if err != nil {
			return tsTok{}, false, err
		}
		kind := byte('t')
		if subst {
			kind = 'T'
		}
		return tsTok{kind: kind, start: start, end: l.pos}, true, nil
	case r == '_' || r == '$' || unicode.IsLetter(r):
		l.pos += size
		for l.pos < len(l.src) {
			r, size := utf8.DecodeRune(l.src[l.pos:])
			if r != '_' && r != '$' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				break
			}
			l.pos += size
		}
		return tsTok{kind: 'i', start: start, end: l.pos, text: string(l.src[start:l.pos])}, true, nil
	case c >= '0' && c <= '9':
		for l.pos < len(l.src) && (isAlnum(l.src[l.pos]) || l.src[l.pos] == '.' || l.src[l.pos] == '_') {
			l.pos++
		}
		return tsTok{kind: 'n', start: start, end: l.pos, text: string(l.src[start:l.pos])}, true, nil
	case bytes.HasPrefix(l.src[l.pos:], []byte("...")):
		l.pos += 3
		return tsTok{kind: 'p', start: start, end: l.pos, text: "..."}, true, nil
	default:
		l.pos += size
		return tsTok{kind: 'p', start: start, end: l.pos, text: string(l.src[start:l.pos])}, true, nil
	}
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// template scans a template literal starting at the backquote and reports
// whether it has ${} substitutions.
func (l *tsLexer) template() (bool, error) {
	start := l.pos
	l.pos++
	subst := false
	for l.pos < len(l.src) {
		switch {
		case l.src[l.pos] == '\\':
			l.pos += 2
		case l.src[l.pos] == '`':
			l.pos++
			return subst, nil
		case bytes.HasPrefix(l.src[l.pos:], []byte("${")):
			subst = true
			l.pos += 2
			depth := 1
			for depth > 0 {
				tok, ok, err := l.next()
				if err != nil {
					return false, err
				}
				if !ok {
					return false, fmt.Errorf("unterminated template literal at byte %d", start)
				}
				switch tok.text {
				case "{":
					depth++
				case "}":
					depth--
				}
			}
		default:
			l.pos++
		}
	}
	return false, fmt.Errorf("unterminated template literal at byte %d", start)
}

// tsDecode returns the value of a string or substitution-free template
// literal token.
func tsDecode(raw []byte) (string, error) {
	q := raw[0]
	body := raw[1 : len(raw)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\r' && q == '`' { // template literals normalize CRLF and CR to LF
			b.WriteByte('\n')
			if i+1 < len(body) && body[i+1] == '\n' {
				i++
			}
			continue
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(body) {
			return "", errors.New("dangling backslash")
		}
		switch e := body[i]; e {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '0':
			b.WriteByte(0)
		case '\r':
			if i+1 < len(body) && body[i+1] == '\n' {
				i++
			}
		case '\n':
			// line continuation
		case 'x':
			if i+2 >= len(body) {
				return "", errors.New("bad \\x escape")
			}
			n, err := strconv.ParseUint(string(body[i+1:i+3]), 16, 8)
			if err != nil {
				return "", errors.New("bad \\x escape")
			}
			b.WriteByte(byte(n))
			i += 2
		case 'u':
			var hex string
			if i+1 < len(body) && body[i+1] == '{' {
				end := bytes.IndexByte(body[i:], '}')
				if end < 0 {
					return "", errors.New("bad \\u escape")
				}
				hex = string(body[i+2 : i+end])
				i += end
			} else {
				if i+4 >= len(body) {
					return "", errors.New("bad \\u escape")
				}
				hex = string(body[i+1 : i+5])
				i += 4
			}
			n, err := strconv.ParseUint(hex, 16, 32)
			if err != nil {
				return "", errors.New("bad \\u escape")
			}
			b.WriteRune(rune(n))
		default:
			b.WriteByte(e)
		}
	}
	return b.String(), nil
}

// tsString renders s as a JavaScript string literal quoted with q. Line
// breaks become \n escapes, so the value stays LF-only whatever the file's
// own line endings.
func tsString(s string, q byte) string {
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case rune(q):
			b.WriteByte('\\')
			b.WriteByte(q)
		case '\u2028', '\u2029':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte(q)
	return b.String()
}
