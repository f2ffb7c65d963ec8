package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestAccessLineIsSlogShaped: the hand-encoded line is JSON with the keys and
// values slog's JSON handler wrote before, whatever the strings hold.
func TestAccessLineIsSlogShaped(t *testing.T) {
	at := time.Date(2026, 12, 1, 20, 59, 1, 234567890, time.UTC)
	a := accessLine{at: at, method: "POST", path: "/updates", status: 200, took: 1234567 * time.Nanosecond, bytes: 321,
		appID: "com.example.app", device: "0a1b2c3d4e5f", answer: "update"}
	got := string(appendAccessLine(nil, &a))
	want := `{"time":"2026-12-01T20:59:01.234Z","level":"INFO","msg":"request","method":"POST","path":"/updates","status":200,"ms":1.234,"bytes":321,"app_id":"com.example.app","device":"0a1b2c3d4e5f","answer":"update"}` + "\n"
	if got != want {
		t.Fatalf("line\n%s\nwant\n%s", got, want)
	}
	a = accessLine{at: at, method: "GET", path: "/nope", status: 404, bytes: 10}
	if got := string(appendAccessLine(nil, &a)); strings.Contains(got, "app_id") || strings.Contains(got, "answer") {
		t.Fatalf("empty fields written: %s", got)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote\back`, "line\nbreak\r\t\x00\x1f", "ñandú", "\xff\xfe bad", "\u2028\u2029", "/p?a=1&b=<x>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q encoded as %s: not a JSON string: %v", s, b, err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); back != want && utf8.ValidString(s) {
			t.Fatalf("%q round-tripped as %q", s, back)
		}
		if strings.ContainsAny(string(b), "\n\r") || strings.Contains(string(b), "\u2028") {
			t.Fatalf("%q encoded over more than one line: %s", s, b)
		}
	})
}
