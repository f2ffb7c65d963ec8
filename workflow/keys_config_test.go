package workflow

import (
	"errors"
	"strings"
	"testing"
)

// The config key check names the device rule a text breaks, wherever the
// offending character sits: CR line breaks (iOS crashes at launch) are
// called so, not "spaces" (the BEGIN line's own spaces come before a CR),
// and a tab or CR inside the base64 lines alone is caught too, not only
// one on a BEGIN or END line.
func TestParseConfigPublicKeyNamesTheRuleBroken(t *testing.T) {
	text := string(testKeyFile(t, "test.pub.pem"))
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	body := func(sep, indent string) string { // markers as they should be, the base64 lines changed
		out := lines[0] + "\n"
		for _, l := range lines[1 : len(lines)-1] {
			out += indent + l + sep + "\n"
		}
		return out + lines[len(lines)-1] + "\n"
	}
	for _, c := range []struct {
		name, text, says string
	}{
		{"CRLF", strings.ReplaceAll(text, "\n", "\r\n"), "CR line breaks"},
		{"lone CR", strings.ReplaceAll(text, "\n", "\r"), "CR line breaks"},
		{"CR in the base64 lines", body("\r", ""), "CR line breaks"},
		{"tab-indented base64 lines", body("", "\t"), "spaces or tabs"},
		{"trailing tab on a base64 line", strings.Replace(text, lines[1]+"\n", lines[1]+"\t\n", 1), "spaces or tabs"},
		{"space-indented base64 lines", body("", "  "), "spaces or tabs"},
	} {
		_, err := ParseConfigPublicKey(c.text)
		if !errors.Is(err, ErrKeyFormat) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: err = %v, want ErrKeyFormat saying %q", c.name, err, c.says)
		}
	}
}
