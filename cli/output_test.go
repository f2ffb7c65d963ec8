package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"capship/store"
)

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkJSONOutput is called by the tests' run helpers for every command
// line with --json, so that every command's --json output in every test
// is held to the same rules (jsonProblems).
func checkJSONOutput(t *testing.T, args []string, code int, stdout string) {
	t.Helper()
	if !slices.Contains(args, "--json") || slices.Contains(args, "--help") {
		return
	}
	for _, p := range jsonProblems(code, stdout) {
		t.Errorf("%v: %s", args, p)
	}
}

// jsonProblems says what breaks the --json rules: one JSON object on
// stdout, snake_case field names, no zero times, and on failure
// {"error": {"code", "message"}} (or a result that says "ok": false).
func jsonProblems(code int, stdout string) []string {
	dec := json.NewDecoder(strings.NewReader(stdout))
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return []string{fmt.Sprintf("stdout is not a JSON object (exit %d): %v\n%s", code, err, stdout)}
	}
	var problems []string
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		problems = append(problems, "stdout holds more than one JSON value:\n"+stdout)
	}
	walkJSON(&problems, "", v)
	if code == 0 {
		if _, ok := v["error"]; ok {
			problems = append(problems, "exit 0 with an error object:\n"+stdout)
		}
		return problems
	}
	if ok, found := v["ok"]; found && ok == false {
		return problems // the result itself says what failed
	}
	e, _ := v["error"].(map[string]any)
	c, _ := e["code"].(string)
	m, _ := e["message"].(string)
	if len(v) != 1 || !snakeCase.MatchString(c) || m == "" {
		problems = append(problems, fmt.Sprintf("exit %d, stdout is not {\"error\": {\"code\", \"message\"}}:\n%s", code, stdout))
	}
	return problems
}

// walkJSON notes the field names and values below path that break the
// rules.
func walkJSON(problems *[]string, path string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			// by_action is keyed by the plugin's action names and
			// native_packages by npm package names: data, not fields.
			if !snakeCase.MatchString(k) && !strings.HasSuffix(path, ".by_action") && !strings.HasSuffix(path, ".native_packages") {
				*problems = append(*problems, fmt.Sprintf("JSON field %s.%s is not snake_case", path, k))
			}
			walkJSON(problems, path+"."+k, x)
		}
	case []any:
		for _, x := range v {
			walkJSON(problems, path+"[]", x)
		}
	case string:
		if strings.HasPrefix(v, "0001-01-01T00:00:00") {
			*problems = append(*problems, fmt.Sprintf("JSON field %s is the zero time; leave it out or null", path))
		}
	}
}

// A failing --json command prints {"error": {"code", "message"}} on
// stdout, with the code of the store's sentinel, and exits non-zero.
func TestJSONErrors(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CAPSHIP_DB": filepath.Join(dir, "r.db")}
	h := newHosted(t)
	for _, v := range []string{"1.0.0", "1.1.0"} {
		m, b := writeBundle(t, dir, v, testKey(t, 0))
		if r := run(t, env, "release", "register", "--manifest", m, "--url", h.put("/"+v, b)); r.code != 0 {
			t.Fatalf("register %s: %+v", v, r)
		}
	}
	for _, tc := range []struct {
		args []string
		exit int
		code string
	}{
		{[]string{"release", "promote", "1.0.0", "--channel", "production"}, 1, "version_not_newer"},
		{[]string{"release", "promote", "9.9.9", "--channel", "production"}, 1, "not_found"},
		{[]string{"channel", "create", "production"}, 1, "duplicate_channel"},
		{[]string{"channel", "history", "nightly"}, 1, "not_found"},
		{[]string{"channel", "set", "production", "--rollout", "150"}, 1, "invalid"},
		{[]string{"release", "rollback"}, 2, "usage"},        // no --channel
		{[]string{"release", "list", "--bogus"}, 2, "usage"}, // --json after the bad flag
		{[]string{"release", "list", "--server", "https://updates.example.com", "--token", "t", "--db", "x.db"}, 2, "usage"},
		{[]string{"stats", "--server", "https://updates.example.com"}, 1, "no_token"},
		{[]string{"channel", "list", "--token", "t"}, 2, "usage"}, // a token, no server
	} {
		args := append(append(tc.args, "--app", testApp), "--json")
		r := run(t, env, args...)
		var e jsonError
		if r.code != tc.exit || json.Unmarshal([]byte(r.out), &e) != nil || e.Error.Code != tc.code || e.Error.Message == "" {
			t.Errorf("%v: exit %d, stdout %s; want exit %d and code %s\nstderr: %s", args, r.code, r.out, tc.exit, tc.code, r.err)
		}
		if !strings.Contains(r.err, e.Error.Message) {
			t.Errorf("%v: stderr lacks the message %q:\n%s", args, e.Error.Message, r.err)
		}
	}
	// A second rollback has nothing to go back to.
	run(t, env, "release", "rollback", "--channel", "production", "--app", testApp)
	r := run(t, env, "release", "rollback", "--channel", "production", "--app", testApp, "--json")
	if r.code != 1 || !strings.Contains(r.out, `"code": "nothing_to_roll_back"`) {
		t.Errorf("second rollback: %+v", r)
	}
	// Without --json, stdout stays empty on failure.
	if r := run(t, env, "channel", "create", "production", "--app", testApp); r.code != 1 || r.out != "" {
		t.Errorf("failure without --json wrote on stdout: %+v", r)
	}
}

func TestErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{store.ErrVersionNotNewer, "version_not_newer"},
		{errors.Join(errors.New("promote"), store.ErrNotFound), "not_found"},
		{usageError("--x"), "usage"},
		{errors.New("disk on fire"), "error"},
	} {
		if got := errorCode(tc.err); got != tc.want {
			t.Errorf("errorCode(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
	for _, c := range errorCodes {
		if !snakeCase.MatchString(c.code) {
			t.Errorf("code %q is not snake_case", c.code)
		}
	}
}

// The fixed cases of the issue: url_check in snake_case with problems as
// an array, and stats without --since saying null, not the zero time.
func TestJSONShapes(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CAPSHIP_DB": filepath.Join(dir, "r.db")}
	h := newHosted(t)
	m, b := writeBundle(t, dir, "1.0.0", testKey(t, 0))
	r := run(t, env, "release", "register", "--manifest", m, "--url", h.put("/1.0.0", b), "--json")
	var reg struct {
		URLCheck map[string]any `json:"url_check"`
	}
	r.decode(t, &reg)
	if p, ok := reg.URLCheck["problems"].([]any); !ok || len(p) != 0 || reg.URLCheck["final_url"] == nil {
		t.Errorf("url_check: %v", reg.URLCheck)
	}
	var stats map[string]any
	run(t, env, "stats", "--app", testApp, "--json").decode(t, &stats)
	if since, ok := stats["since"]; !ok || since != nil {
		t.Errorf("stats without --since: since = %v, want null", since)
	}
	if rel, ok := stats["releases"].([]any); !ok || len(rel) != 0 {
		t.Errorf("stats releases = %v, want []", stats["releases"])
	}
}

// Piped, a list prints one tab-separated line per row and no header, so
// that 'capship release list | wc -l' counts the releases; on a terminal
// it gets a header.
func TestTablesOnStdout(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CAPSHIP_DB": filepath.Join(dir, "r.db")}
	h := newHosted(t)
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		m, b := writeBundle(t, dir, v, testKey(t, 0))
		if r := run(t, env, "release", "register", "--manifest", m, "--url", h.put("/"+v, b)); r.code != 0 {
			t.Fatalf("register %s: %+v", v, r)
		}
	}
	r := run(t, env, "release", "list", "--app", testApp)
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "1.2.0\tproduction\t") || r.err != "" {
		t.Fatalf("piped release list: %+v", r)
	}
	r = runTerminal(t, env, "release", "list", "--app", testApp)
	if lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[0], "VERSION ") {
		t.Fatalf("release list on a terminal: %+v", r)
	}
	// An empty list says so on stderr and prints no line.
	if r := run(t, env, "channel", "list", "--app", "com.example.none"); r.code != 0 || r.out != "" || !strings.Contains(r.err, "no channels") {
		t.Fatalf("empty channel list: %+v", r)
	}
}

// The rules can fail: the old url_check and stats shapes break them.
func TestJSONRules(t *testing.T) {
	var buf bytes.Buffer
	_ = writeJSON(&buf, map[string]any{"url_check": map[string]any{"FinalURL": "x"}, "since": "0001-01-01T00:00:00Z"})
	if p := jsonProblems(0, buf.String()); len(p) != 2 {
		t.Errorf("old shapes: %q, want 2 problems", p)
	}
	if p := jsonProblems(1, `{"ok": true}`); len(p) != 1 {
		t.Errorf("failure without an error object: %q", p)
	}
	if p := jsonProblems(1, `{"error": {"code": "not_found", "message": "no such app"}}`); len(p) != 0 {
		t.Errorf("error object: %q", p)
	}
	if p := jsonProblems(0, `{"a": 1}{"b": 2}`); len(p) != 1 {
		t.Errorf("two objects: %q", p)
	}
}
