package cli

import (
	"context"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"capship/server/servertest"
	"capship/store"
)

// serveWithToken starts a real capship server on loopback and makes an
// admin token for testApp.
func serveWithToken(t *testing.T) (store.Registry, *httptest.Server, string) {
	t.Helper()
	reg, api := servertest.Start(t)
	secret, _, err := reg.CreateToken(context.Background(), "laptop", testApp)
	if err != nil {
		t.Fatal(err)
	}
	return reg, api, secret
}

// The done-when: a laptop with only the server URL and a token
// ($CAPSHIP_SERVER, $CAPSHIP_TOKEN) registers, promotes, rolls back,
// changes and creates a channel, reads its history and the stats, against
// a real capship server on loopback, and creates no local registry: its
// home folder (and the data folder in it) stays empty.
func TestLaptopWithOnlyServerAndToken(t *testing.T) {
	reg, api, secret := serveWithToken(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
	t.Chdir(home)
	work := t.TempDir() // the built bundles, as 'bundle build' leaves them
	env := map[string]string{"CAPSHIP_SERVER": api.URL, "CAPSHIP_TOKEN": secret}
	ok := func(args ...string) runResult {
		t.Helper()
		r := run(t, env, append(args, "--app", testApp)...)
		if r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
		return r
	}

	h := newHosted(t)
	m, b := writeBundle(t, work, "1.0.0", testKey(t, 0))
	ok("release", "register", "--manifest", m, "--url", h.put("/1.0.0", b))
	m, b = writeBundle(t, work, "1.1.0", testKey(t, 0))
	ok("release", "register", "--manifest", m, "--url", h.put("/1.1.0", b), "--channel", "")
	ok("release", "promote", "1.1.0", "--channel", "production")
	var move channelMove
	ok("release", "rollback", "--channel", "production", "--json").decode(t, &move)
	if move.From != "1.1.0" || move.To != "1.0.0" {
		t.Fatalf("rollback moved %s -> %s", move.From, move.To)
	}
	ok("channel", "set", "production", "--rollout", "25")
	ok("channel", "create", "beta", "--self-set")
	var history struct {
		History []store.HistoryEntry `json:"history"`
	}
	ok("channel", "history", "production", "--json").decode(t, &history)
	if len(history.History) != 3 || history.History[1].RolledBackAt == nil || history.History[2].Action != store.ActionRollback {
		t.Fatalf("history %+v", history.History)
	}
	if _, err := reg.RecordEvents(context.Background(), []store.StatEvent{
		{AppID: testApp, DeviceID: "d1", Action: "set", VersionName: "1.0.0"},
	}); err != nil {
		t.Fatal(err)
	}
	var stats statsResult
	ok("stats", "--json").decode(t, &stats)
	if len(stats.Releases) != 1 || stats.Releases[0].Installs != 1 {
		t.Fatalf("stats %+v", stats)
	}

	// What the server holds is what the laptop did.
	ch, err := reg.Channel(context.Background(), testApp, "production")
	if err != nil || ch.Release.Version != "1.0.0" || ch.Rollout != 25 {
		t.Fatalf("server's production channel: %+v, %v", ch, err)
	}
	if ch, err := reg.Channel(context.Background(), testApp, "beta"); err != nil || !ch.AllowSelfSet {
		t.Fatalf("server's beta channel: %+v, %v", ch, err)
	}
	// Without the server, the rollback that failed in the issue: no
	// registry here, said so, and none created.
	r := run(t, nil, "release", "rollback", "--channel", "production", "--app", testApp)
	if r.code != 1 || !strings.Contains(r.err, "no registry at "+filepath.Join(home, ".local", "share")) || !strings.Contains(r.err, "--server URL") {
		t.Fatalf("rollback without a server: %+v", r)
	}
	var left []string
	filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if p != home {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Fatalf("the laptop's home holds %v; no local registry may be created", left)
	}
}

// Every registry command works with --server and --token, the same as
// with --db; failures come back as the same typed errors, with the same
// advice.
func TestRegistryCommandsThroughServer(t *testing.T) {
	_, api, secret := serveWithToken(t)
	dir := t.TempDir()
	local := filepath.Join(dir, "local.db")
	env := map[string]string{"CAPSHIP_DB": local} // --server wins over $CAPSHIP_DB
	server := []string{"--server", api.URL, "--token", secret, "--app", testApp}
	h := newHosted(t)
	for _, v := range []string{"1.0.0", "1.1.0"} {
		m, b := writeBundle(t, dir, v, testKey(t, 0))
		if r := run(t, env, append([]string{"release", "register", "--manifest", m, "--url", h.put("/"+v, b)}, server...)...); r.code != 0 {
			t.Fatalf("register %s: %+v", v, r)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
		want string // in stdout (success) or stderr (failure)
	}{
		{[]string{"release", "list"}, 0, "1.1.0\tproduction"},
		{[]string{"release", "rollback", "--channel", "production"}, 0, ""},
		{[]string{"release", "rollback", "--channel", "production"}, 1, "capship channel history production"},
		{[]string{"release", "promote", "1.1.0", "--channel", "production"}, 0, ""},
		{[]string{"release", "promote", "1.0.0", "--channel", "production"}, 1, "capship release rollback --channel production"},
		{[]string{"release", "promote", "9.9.9", "--channel", "production"}, 1, "capship release list"},
		{[]string{"release", "promote", "1.1.0", "--channel", "nightly"}, 1, "capship channel create nightly"},
		{[]string{"channel", "create", "beta", "--rollout", "10"}, 0, ""},
		{[]string{"channel", "create", "beta"}, 1, "capship channel set beta"},
		{[]string{"channel", "set", "beta", "--public"}, 0, ""},
		{[]string{"channel", "set", "nightly", "--public"}, 1, "capship channel create nightly"},
		{[]string{"channel", "list"}, 0, "beta\t-\t-\t10%\tyes"},
		{[]string{"channel", "history", "production"}, 0, "rollback"},
		{[]string{"channel", "history", "nightly"}, 1, "capship channel create nightly"},
		{[]string{"stats"}, 0, ""},
	} {
		r := run(t, env, append(tc.args, server...)...)
		got := r.out
		if tc.code != 0 {
			got = r.err
		}
		if r.code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("%v: exit %d, want %d and %q\nstdout: %s\nstderr: %s", tc.args, r.code, tc.code, tc.want, r.out, r.err)
		}
	}
	// A token made for another app is refused, with what to do.
	r := run(t, env, "channel", "list", "--server", api.URL, "--token", secret, "--app", "com.example.other")
	if r.code != 1 || !strings.Contains(r.err, "--app APP") {
		t.Errorf("token for another app: %+v", r)
	}
	r = run(t, env, "stats", "--server", api.URL, "--app", testApp)
	if r.code != 1 || !strings.Contains(r.err, "$CAPSHIP_TOKEN") {
		t.Errorf("no token: %+v", r)
	}
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Errorf("a command given --server touched the local registry: %v", err)
	}
	// Tokens and the integrity check are the server's own administration:
	// they take no --server.
	for _, args := range [][]string{{"token", "list"}, {"registry", "check"}} {
		if r := run(t, env, append(args, "--server", api.URL)...); r.code != 2 {
			t.Errorf("%v --server: exit %d, want 2 (usage)", args, r.code)
		}
	}
}
