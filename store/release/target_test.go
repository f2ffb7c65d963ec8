package release_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"capship/server/servertest"
	"capship/store"
	"capship/store/release"
	"capship/workflow"
)

func TestTargetWithEnv(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	all := map[string]string{release.EnvDB: "/env.db", release.EnvServer: "https://env.example.com", release.EnvToken: "capship_env"}
	for _, c := range []struct {
		name string
		in   release.Target
		env  map[string]string
		want release.Target
		err  error
	}{
		{"nothing", release.Target{}, nil, release.Target{}, nil},
		{"db from env", release.Target{}, map[string]string{release.EnvDB: "/env.db"}, release.Target{DB: "/env.db"}, nil},
		{"server beats db in env", release.Target{}, all, release.Target{Server: "https://env.example.com", Token: "capship_env"}, nil},
		{"a db flag beats the env server", release.Target{DB: "/flag.db"}, all, release.Target{DB: "/flag.db"}, nil},
		{"a server flag takes the env token", release.Target{Server: "https://flag.example.com"}, all,
			release.Target{Server: "https://flag.example.com", Token: "capship_env"}, nil},
		{"a token flag beats the env", release.Target{Server: "https://flag.example.com", Token: "capship_flag"}, all,
			release.Target{Server: "https://flag.example.com", Token: "capship_flag"}, nil},
		{"a token flag for the env server", release.Target{Token: "capship_flag"}, all,
			release.Target{Server: "https://env.example.com", Token: "capship_flag"}, nil},
		{"db and server", release.Target{DB: "/flag.db", Server: "https://flag.example.com"}, nil, release.Target{}, release.ErrDBAndServer},
		{"a token without a server", release.Target{Token: "capship_flag"}, nil, release.Target{}, release.ErrTokenWithoutServer},
		{"a token with a db", release.Target{DB: "/flag.db", Token: "capship_flag"}, all, release.Target{}, release.ErrTokenWithoutServer},
	} {
		got, err := c.in.WithEnv(env(c.env))
		if !errors.Is(err, c.err) || (c.err == nil && got != c.want) {
			t.Errorf("%s: %+v, %v; want %+v, %v", c.name, got, err, c.want, c.err)
		}
	}
}

func TestTargetString(t *testing.T) {
	for _, c := range []struct {
		t          release.Target
		want, hide string
	}{
		{release.Target{DB: "/data/registry.db"}, "local registry /data/registry.db", ""},
		{release.Target{DB: "postgres://capship:s3cret@db.internal/capship"}, "PostgreSQL registry postgres://capship:xxxxx@db.internal/capship", "s3cret"},
		{release.Target{Server: "https://updates.example.com", Token: "capship_secret"}, "capship server https://updates.example.com", "capship_secret"},
		{release.Target{}, "local registry " + store.DefaultDBPath(), ""},
	} {
		got := c.t.String()
		if got != c.want || c.hide != "" && strings.Contains(got, c.hide) {
			t.Errorf("%+v: %q, want %q", c.t, got, c.want)
		}
	}
}

// A command that only reads never creates the registry file (nor its
// folder): it says there is none. One that writes creates it.
func TestOpenReadOnlyCreatesNothing(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "capship")
	path := filepath.Join(dir, "registry.db")
	_, err := release.Open(ctx, release.Target{DB: path, ReadOnly: true})
	var noReg *store.NoRegistryError
	if !errors.Is(err, store.ErrNoRegistry) || !errors.As(err, &noReg) || noReg.Path != path ||
		!strings.Contains(err.Error(), "no registry at "+path+": register a release first") {
		t.Fatalf("read-only open of a missing file: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a read-only open created %s: %v", dir, err)
	}
	// The default file too: XDG_DATA_HOME points it into the test's folder.
	t.Setenv("XDG_DATA_HOME", filepath.Join(t.TempDir(), "data"))
	if _, err := release.Open(ctx, release.Target{ReadOnly: true}); !errors.Is(err, store.ErrNoRegistry) {
		t.Fatalf("read-only open of the missing default file: %v", err)
	}
	if _, err := os.Stat(store.DefaultDBPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a read-only open created the default registry: %v", err)
	}

	m, err := release.Open(ctx, release.Target{DB: path})
	if err != nil {
		t.Fatal(err)
	}
	key, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	built := build(t, t.TempDir(), "1.0.0", key, map[string]string{"index.html": "<script>CapacitorUpdater.notifyAppReady()</script>"})
	if _, err := m.Register(ctx, input(built)); err != nil {
		t.Fatal(err)
	}
	m.Close()
	ro, err := release.Open(ctx, release.Target{DB: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if rels, err := ro.Releases(ctx, app); err != nil || len(rels) != 1 {
		t.Fatalf("read-only releases: %v, %v", rels, err)
	}
	if _, err := ro.CreateChannel(ctx, app, "beta", store.ChannelSettings{}); err == nil {
		t.Fatal("a read-only registry took a write")
	}
}

// A server target is the admin API client, whether reading or not, and
// never touches a local file.
func TestOpenServer(t *testing.T) {
	ctx := context.Background()
	reg, api := servertest.Start(t)
	secret, _, err := reg.CreateToken(ctx, "ops", "")
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "registry.db")
	for _, ro := range []bool{false, true} {
		m, err := release.Open(ctx, release.Target{DB: local, Server: api.URL, Token: secret, ReadOnly: ro})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.(*store.Client); !ok {
			t.Fatalf("read-only %v: a %T", ro, m)
		}
		if _, err := m.Channels(ctx, app); err != nil {
			t.Fatal(err)
		}
		m.Close()
	}
	if _, err := os.Stat(local); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a server target created a local registry")
	}
	if _, err := release.Open(ctx, release.Target{Server: api.URL}); !errors.Is(err, store.ErrNoToken) {
		t.Fatalf("no token: %v", err)
	}
	if _, err := release.Open(ctx, release.Target{Server: "http://updates.example.com", Token: secret}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("plain http to a remote host: %v", err)
	}
}
