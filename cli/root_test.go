package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// A mistyped flag gets one line and a hint, not the flag package's own
// message followed by the whole usage; --help still prints the usage.
func TestBadFlagIsOneLine(t *testing.T) {
	r := run(t, nil, "bundle", "build", "--outt", "x")
	if r.code != 2 || strings.Count(r.err, "-outt") != 1 || strings.Contains(r.err, "Flags:") ||
		!strings.Contains(r.err, "run 'capship bundle build --help'") {
		t.Errorf("bad flag: exit %d\n%s", r.code, r.err)
	}
	// Help is what was asked for: stdout.
	r = run(t, nil, "bundle", "build", "--help")
	if r.code != 0 || !strings.Contains(r.out, "Flags:") || !strings.Contains(r.out, "--out") || r.err != "" {
		t.Errorf("--help: %+v", r)
	}
}

func TestHelpListsGroupsAndVersion(t *testing.T) {
	r := run(t, nil, "help", "key")
	if r.code != 0 || !regexpLine(r.out, `^  create +Make an app's key pair`) || strings.Contains(r.out, "check-url") {
		t.Errorf("help key:\n%s", r.out)
	}
	r = run(t, nil, "bundel")
	if r.code != 2 || !strings.Contains(r.err, `unknown command "bundel"`) || !strings.Contains(r.err, "did you mean bundle?") {
		t.Errorf("unknown command: exit %d\n%s", r.code, r.err)
	}
	r = run(t, nil, "--help")
	for _, want := range []string{"Set up:", "Build and ship:", "Releases and channels:", "Server:", "--version", "\n  version "} {
		if !strings.Contains(r.out, want) {
			t.Errorf("--help lacks %q:\n%s", want, r.out)
		}
	}
}

// A mistyped --db (or $CAPSHIP_DB) is an error for commands that only read
// the registry, and leaves no new file or folder behind.
func TestReadCommandsRefuseMissingRegistry(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "typo", "registry.db")
	for _, args := range [][]string{
		{"release", "list", "--app", testApp, "--db", missing},
		{"channel", "list", "--app", testApp, "--db", missing},
		{"stats", "--app", testApp, "--db", missing},
		{"token", "list", "--db", missing},
		// Commands that change what exists do not create it either.
		{"release", "rollback", "--channel", "production", "--app", testApp, "--db", missing},
		{"channel", "set", "beta", "--rollout", "5", "--app", testApp, "--db", missing},
		{"token", "revoke", "ci", "--db", missing},
	} {
		r := run(t, nil, args...)
		if r.code != 1 || !strings.Contains(r.err, "no registry at "+missing) || !strings.Contains(r.err, "check --db") {
			t.Errorf("%v: exit %d\n%s", args, r.code, r.err)
		}
	}
	r := run(t, map[string]string{"CAPSHIP_DB": missing}, "release", "list", "--app", testApp)
	if r.code != 1 || !strings.Contains(r.err, "$CAPSHIP_DB") {
		t.Errorf("$CAPSHIP_DB: exit %d\n%s", r.code, r.err)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Errorf("a read command created %s", filepath.Dir(missing))
	}
	// Commands that write may create it.
	if r := run(t, nil, "token", "create", "ci", "--db", missing); r.code != 0 {
		t.Errorf("token create on a new registry: exit %d\n%s", r.code, r.err)
	}
}

// release register refuses what it can before downloading the bundle: a
// version already registered, a --server without a token.
func TestRegisterRefusesBeforeDownload(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CAPSHIP_DB": filepath.Join(dir, "r.db")}
	m, data := writeBundle(t, dir, "1.0.0", testKey(t, 0))
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	if r := run(t, env, "release", "register", "--manifest", m, "--url", srv.URL+"/a.zip"); r.code != 0 {
		t.Fatalf("register: exit %d\n%s", r.code, r.err)
	}
	before := hits.Load()
	if before == 0 {
		t.Fatal("the first registration did not download the bundle")
	}
	r := run(t, env, "release", "register", "--manifest", m, "--url", srv.URL+"/b.zip")
	if r.code != 1 || !strings.Contains(r.err, "already registered") {
		t.Errorf("duplicate version: exit %d\n%s", r.code, r.err)
	}
	r = run(t, nil, "release", "register", "--manifest", m, "--url", srv.URL+"/b.zip", "--server", "https://updates.example.com")
	if r.code != 1 || !strings.Contains(r.err, "no admin token") {
		t.Errorf("--server without a token: exit %d\n%s", r.code, r.err)
	}
	// $CAPSHIP_SERVER stands for --server, as in the wizard.
	r = run(t, map[string]string{"CAPSHIP_SERVER": "https://updates.example.com"}, "release", "register", "--manifest", m, "--url", srv.URL+"/b.zip")
	if r.code != 1 || !strings.Contains(r.err, "no admin token") {
		t.Errorf("$CAPSHIP_SERVER without a token: exit %d\n%s", r.code, r.err)
	}
	if hits.Load() != before {
		t.Errorf("the bundle was downloaded %d more times before the refusal", hits.Load()-before)
	}
}

func TestWizardMissingFolderOrProject(t *testing.T) {
	if r := run(t, nil, "wizard", "-C", filepath.Join(t.TempDir(), "nope"), "--no-input"); r.code != 2 || !strings.Contains(r.err, "no such folder") {
		t.Errorf("missing -C folder: exit %d\n%s", r.code, r.err)
	}
	r := run(t, nil, "wizard", "-C", t.TempDir(), "--no-input")
	if r.code != 1 || !strings.Contains(r.err, "read project") || !strings.Contains(r.err, "APP_ID") {
		t.Errorf("folder without a Capacitor config: exit %d\n%s", r.code, r.err)
	}
}
