package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"capship/server/servertest"
	"capship/store"
)

// managerApp is the app the shared Manager tests work on; managerOther is
// an app that a token bound to managerApp may not touch.
const managerApp, managerOther = "com.capship.manager", "com.capship.elsewhere"

// implementations gives each Manager implementation a fresh registry: the
// local SQLite registry itself, and a Client of a real `capship serve` on
// loopback whose registry it is. seed is that registry, for what Manager
// does not do (device events).
func implementations(t *testing.T) map[string]func(t *testing.T) (m store.Manager, seed store.Registry) {
	return map[string]func(t *testing.T) (store.Manager, store.Registry){
		"local": func(t *testing.T) (store.Manager, store.Registry) {
			reg, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "registry.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { reg.Close() })
			return reg, reg
		},
		"client": func(t *testing.T) (store.Manager, store.Registry) {
			reg, api := servertest.Start(t)
			c, _ := clientFor(t, reg, api, "manager", "")
			return c, reg
		},
	}
}

func intp(v int) *int    { return &v }
func boolp(v bool) *bool { return &v }

// managerSteps is the one table both implementations run, in order, on one
// fresh registry each: every method, its answers and its refusals.
var managerSteps = []struct {
	name string
	run  func(t *testing.T, ctx context.Context, m store.Manager, seed store.Registry)
}{
	{"empty app", func(t *testing.T, ctx context.Context, m store.Manager, _ store.Registry) {
		if rels, err := m.Releases(ctx, managerApp); err != nil || len(rels) != 0 {
			t.Fatalf("releases: %v, %v", rels, err)
		}
		if chs, err := m.Channels(ctx, managerApp); err != nil || len(chs) != 0 {
			t.Fatalf("channels: %v, %v", chs, err)
		}
		if _, err := m.Rollback(ctx, managerApp, "production"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rollback of an unknown app: %v", err)
		}
	}},
	{"register", func(t *testing.T, ctx context.Context, m store.Manager, _ store.Registry) {
		for _, in := range []store.RegisterInput{
			store.TestInput(managerApp, "1.0.0", "production", 1),
			store.TestInput(managerApp, "1.1.0", "production", 1),
			store.TestInputWithFiles(managerApp, "1.2.0", "", 1, 12),
		} {
			rel, err := m.Register(ctx, in)
			if err != nil || rel.Version != in.Version || rel.AppID != managerApp || rel.FileCount != len(in.Files) {
				t.Fatalf("register %s: %+v, %v", in.Version, rel, err)
			}
		}
		if _, err := m.Register(ctx, store.TestInput(managerApp, "1.1.0", "", 1)); !errors.Is(err, store.ErrDuplicateVersion) {
			t.Fatalf("a version again: %v", err)
		}
		if _, err := m.Register(ctx, store.TestInput(managerApp, "0.9.0", "production", 1)); !errors.Is(err, store.ErrVersionNotNewer) {
			t.Fatalf("an older version onto the channel: %v", err)
		}
		if _, err := m.Register(ctx, store.TestInput(managerApp, "2.0.0", "production", 2)); !errors.Is(err, store.ErrKeyMismatch) {
			t.Fatalf("another key: %v", err)
		}
		bad := store.TestInput(managerApp, "3.0.0", "production", 1)
		bad.URL = "http://cdn.example.com/x.zip"
		if _, err := m.Register(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("plain http: %v", err)
		}
	}},
	{"release", func(t *testing.T, ctx context.Context, m store.Manager, _ store.Registry) {
		rel, err := m.Release(ctx, managerApp, "1.1.0")
		if err != nil || rel.Version != "1.1.0" || rel.AppID != managerApp || rel.CreatedAt.IsZero() || len(rel.Checksum) != 512 {
			t.Fatalf("release: %+v, %v", rel, err)
		}
		if _, err := m.Release(ctx, managerApp, "9.9.9"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a missing release: %v", err)
		}
		if rels, err := m.Releases(ctx, managerApp); err != nil || len(rels) != 3 || rels[0].Version != "1.2.0" {
			t.Fatalf("releases: %+v, %v", rels, err)
		}
	}},
	{"release files", func(t *testing.T, ctx context.Context, m store.Manager, _ store.Registry) {
		files, err := m.ReleaseFiles(ctx, managerApp, "1.2.0")
		if err != nil || len(files) != 12 {
			t.Fatalf("files: %d, %v", len(files), err)
		}
		if !slices.IsSortedFunc(files, func(a, b store.ReleaseFile) int { return strings.Compare(a.Path, b.Path) }) {
			t.Fatal("files are not sorted by path")
		}
		want := store.TestInputWithFiles(managerApp, "1.2.0", "", 1, 12).Files
		if files[3] != want[3] || !files[3].Brotli {
			t.Fatalf("file 3: %+v, want %+v", files[3], want[3])
		}
		if files, err := m.ReleaseFiles(ctx, managerApp, "1.0.0"); err != nil || len(files) != 0 {
			t.Fatalf("a zip-only release: %v, %v", files, err)
		}
		if _, err := m.ReleaseFiles(ctx, managerApp, "9.9.9"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a missing release: %v", err)
		}
	}},
	{"promote", func(t *testing.T, ctx context.Context, m store.Manager, _ store.Registry) {
		ch, err := m.Promote(ctx, managerApp, "production", "1.2.0")
		if err != nil || ch.Release == nil || ch.Release.Version != "1.2.0" || ch.Previous == nil || ch.Previous.Version != "1.1.0" {
			t.Fatalf("promote: %+v, %v", ch, err)
		}
		for _, c := range []struct {
			channel, version string
			want             error
		}{
			{"production", "1.0.0", store.ErrVersionNotNewer},
			{"production", "9.9.9", store.ErrNotFound},
			{"nightly", "1.2.0", store.ErrNotFound},
		} {
			if _, err := m.Promote(ctx, managerApp, c.channel, c.version); !errors.Is(err, c.want) {
				t.Errorf("promote %s to %s: %v, want %v", c.version, c.channel, err, c.want)
			}
		}
	}},
	{"rollback", func(t *testing.T, ctx context.Context, m store.Manager, _ store.Registry) {
		for _, want := range []string{"1.1.0", "1.0.0"} {
			ch, err := m.Rollback(ctx, managerApp, "production")
			if err != nil || ch.Release == nil || ch.Release.Version != want {
				t.Fatalf("rollback to %s: %+v, %v", want, ch, err)
			}
		}
		if _, err := m.Rollback(ctx, managerApp, "production"); !errors.Is(err, store.ErrNothingToRollBack) {
			t.Fatalf("nothing left: %v", err)
		}
		if _, err := m.Rollback(ctx, managerApp, "nightly"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a missing channel: %v", err)
		}
	}},
	{"create channel", func(t *testing.T, ctx context.Context, m store.Manager, _ store.Registry) {
		ch, err := m.CreateChannel(ctx, managerApp, "beta", store.ChannelSettings{Rollout: intp(10), Android: boolp(false)})
		if err != nil {
			t.Fatal(err)
		}
		want := store.DefaultChannelSettings()
		if ch.Name != "beta" || ch.AppID != managerApp || ch.Rollout != 10 || ch.Android || !ch.IOS || ch.Public ||
			ch.AllowSelfSet != want.AllowSelfSet || ch.Delta != want.Delta || ch.Release != nil || ch.UpdatedAt.IsZero() {
			t.Fatalf("created: %+v", ch)
		}
		for name, c := range map[string]struct {
			name string
			set  store.ChannelSettings
			want error
		}{
			"again":       {"beta", store.ChannelSettings{}, store.ErrDuplicateChannel},
			"bad name":    {"no spaces", store.ChannelSettings{}, store.ErrInvalid},
			"bad rollout": {"gamma", store.ChannelSettings{Rollout: intp(101)}, store.ErrInvalid},
		} {
			if _, err := m.CreateChannel(ctx, managerApp, c.name, c.set); !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", name, err, c.want)
			}
		}
	}},
	{"update channel", func(t *testing.T, ctx context.Context, m store.Manager, _ store.Registry) {
		ch, err := m.UpdateChannel(ctx, managerApp, "beta", store.ChannelSettings{AllowSelfSet: boolp(true)})
		if err != nil || !ch.AllowSelfSet || ch.Rollout != 10 || ch.Android || !ch.IOS {
			t.Fatalf("only the given setting changes: %+v, %v", ch, err)
		}
		if ch, err = m.UpdateChannel(ctx, managerApp, "beta", store.ChannelSettings{Rollout: intp(0), Android: boolp(true)}); err != nil ||
			ch.Rollout != 0 || !ch.Android || !ch.AllowSelfSet {
			t.Fatalf("a zero rollout and true: %+v, %v", ch, err)
		}
		if _, err := m.UpdateChannel(ctx, managerApp, "nightly", store.ChannelSettings{Public: boolp(true)}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a missing channel: %v", err)
		}
		if _, err := m.UpdateChannel(ctx, managerApp, "beta", store.ChannelSettings{Rollout: intp(-1)}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("a negative rollout: %v", err)
		}
	}},
	{"channel", func(t *testing.T, ctx context.Context, m store.Manager, _ store.Registry) {
		ch, err := m.Channel(ctx, managerApp, "production")
		if err != nil || !ch.Public || ch.Release == nil || ch.Release.Version != "1.0.0" || ch.Previous != nil {
			t.Fatalf("production: %+v, %v", ch, err)
		}
		if _, err := m.Channel(ctx, managerApp, "nightly"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a missing channel: %v", err)
		}
		chs, err := m.Channels(ctx, managerApp)
		if err != nil || len(chs) != 2 || chs[0].Name != "beta" || chs[1].Name != "production" {
			t.Fatalf("channels: %+v, %v", chs, err)
		}
	}},
	{"history", func(t *testing.T, ctx context.Context, m store.Manager, _ store.Registry) {
		h, err := m.History(ctx, managerApp, "production")
		if err != nil {
			t.Fatal(err)
		}
		got := store.HistoryLines(h)
		want := []string{"register 1.0.0", "register 1.1.0 (rolled back)", "promote 1.2.0 (rolled back)", "rollback 1.1.0", "rollback 1.0.0"}
		if !slices.Equal(got, want) {
			t.Fatalf("history:\n got %q\nwant %q", got, want)
		}
		if h, err := m.History(ctx, managerApp, "beta"); err != nil || len(h) != 0 {
			t.Fatalf("a channel without releases: %v, %v", h, err)
		}
		if _, err := m.History(ctx, managerApp, "nightly"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a missing channel: %v", err)
		}
	}},
	{"stats", func(t *testing.T, ctx context.Context, m store.Manager, seed store.Registry) {
		if st, err := m.Stats(ctx, managerApp, time.Time{}); err != nil || len(st) != 0 {
			t.Fatalf("no events yet: %v, %v", st, err)
		}
		old := time.Now().Add(-48 * time.Hour).Truncate(time.Millisecond)
		recent := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		events := []store.StatEvent{
			{AppID: managerApp, DeviceID: "d1", Action: "set", VersionName: "1.0.0", At: old},
			{AppID: managerApp, DeviceID: "d1", Action: "download_complete", VersionName: "1.1.0", At: recent},
			{AppID: managerApp, DeviceID: "d2", Action: "download_fail", VersionName: "1.1.0", At: recent},
			{AppID: managerApp, DeviceID: "d2", Action: "set", VersionName: "1.1.0", At: recent.Add(time.Millisecond)},
		}
		if _, err := seed.RecordEvents(ctx, events); err != nil {
			t.Fatal(err)
		}
		st, err := m.Stats(ctx, managerApp, time.Time{})
		if err != nil || len(st) != 2 || st[0].Version != "1.1.0" || st[1].Version != "1.0.0" {
			t.Fatalf("all stats: %+v, %v", st, err)
		}
		if s := st[0]; s.Devices != 2 || s.Downloads != 1 || s.Installs != 1 || s.Failures != 1 ||
			s.ByAction["download_fail"] != 1 || !s.LastAt.Equal(recent.Add(time.Millisecond)) {
			t.Fatalf("1.1.0: %+v", s)
		}
		// since is kept to the millisecond: an event exactly at since counts.
		st, err = m.Stats(ctx, managerApp, recent)
		if err != nil || len(st) != 1 || st[0].Version != "1.1.0" || st[0].Devices != 2 {
			t.Fatalf("stats since an hour ago: %+v, %v", st, err)
		}
		if st, err := m.Stats(ctx, managerApp, time.Now().Add(time.Hour)); err != nil || len(st) != 0 {
			t.Fatalf("stats since a future time: %+v, %v", st, err)
		}
	}},
}

// The local registry and the admin API client run the same table, so a
// command behaves the same on the registry's machine and on a laptop.
func TestManagerImplementationsAgree(t *testing.T) {
	for name, open := range implementations(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			m, seed := open(t)
			for _, step := range managerSteps {
				if !t.Run(step.name, func(t *testing.T) { step.run(t, ctx, m, seed) }) {
					return // later steps build on this one
				}
			}
		})
	}
}

// managerCalls calls every Manager method on app, each with arguments that
// would succeed for an allowed token once app has release 1.0.0 on
// production and a channel beta.
func managerCalls(app string) map[string]func(ctx context.Context, m store.Manager) error {
	return map[string]func(context.Context, store.Manager) error{
		"Register": func(ctx context.Context, m store.Manager) error {
			_, err := m.Register(ctx, store.TestInput(app, "1.5.0", "", 1))
			return err
		},
		"Promote": func(ctx context.Context, m store.Manager) error {
			_, err := m.Promote(ctx, app, "production", "1.1.0")
			return err
		},
		"Rollback": func(ctx context.Context, m store.Manager) error {
			_, err := m.Rollback(ctx, app, "production")
			return err
		},
		"Release": func(ctx context.Context, m store.Manager) error {
			_, err := m.Release(ctx, app, "1.0.0")
			return err
		},
		"Releases": func(ctx context.Context, m store.Manager) error {
			_, err := m.Releases(ctx, app)
			return err
		},
		"ReleaseFiles": func(ctx context.Context, m store.Manager) error {
			_, err := m.ReleaseFiles(ctx, app, "1.0.0")
			return err
		},
		"CreateChannel": func(ctx context.Context, m store.Manager) error {
			_, err := m.CreateChannel(ctx, app, "gamma", store.ChannelSettings{})
			return err
		},
		"UpdateChannel": func(ctx context.Context, m store.Manager) error {
			_, err := m.UpdateChannel(ctx, app, "beta", store.ChannelSettings{Rollout: intp(50)})
			return err
		},
		"Channel": func(ctx context.Context, m store.Manager) error {
			_, err := m.Channel(ctx, app, "beta")
			return err
		},
		"Channels": func(ctx context.Context, m store.Manager) error {
			_, err := m.Channels(ctx, app)
			return err
		},
		"History": func(ctx context.Context, m store.Manager) error {
			_, err := m.History(ctx, app, "production")
			return err
		},
		"Stats": func(ctx context.Context, m store.Manager) error {
			_, err := m.Stats(ctx, app, time.Now().Add(-time.Hour))
			return err
		},
	}
}

// A token bound to one app is refused on every other app, by every
// method, with ErrForbidden and nothing changed; a wrong token gets
// ErrUnauthorized; the bound token works on its own app.
func TestClientTokenScope(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, api := servertest.Start(t)
	for _, app := range []string{managerApp, managerOther} {
		for _, v := range []string{"1.0.0", "1.1.0"} {
			if _, err := reg.Register(ctx, store.TestInput(app, v, "", 1)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := reg.Promote(ctx, app, "production", "1.0.0"); err == nil {
			t.Fatal("promote onto a missing channel worked")
		}
		if _, err := reg.CreateChannel(ctx, app, "production", store.ChannelSettings{}); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Promote(ctx, app, "production", "1.0.0"); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.CreateChannel(ctx, app, "beta", store.ChannelSettings{}); err != nil {
			t.Fatal(err)
		}
	}
	c, bound := clientFor(t, reg, api, "manager-only", managerApp)
	wrong, err := store.NewClient(api.URL, "capship_not-a-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	before, err := reg.Channels(ctx, managerOther)
	if err != nil {
		t.Fatal(err)
	}
	for name, call := range managerCalls(managerOther) {
		if err := call(ctx, c); !errors.Is(err, store.ErrForbidden) || !strings.Contains(err.Error(), "may only act on app "+managerApp) ||
			strings.Contains(err.Error(), bound) {
			t.Errorf("%s on another app: %v", name, err)
		}
		if err := call(ctx, wrong); !errors.Is(err, store.ErrUnauthorized) {
			t.Errorf("%s with a wrong token: %v", name, err)
		}
	}
	after, err := reg.Channels(ctx, managerOther)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) || after[0].Rollout != before[0].Rollout || after[1].Release.Version != before[1].Release.Version {
		t.Fatalf("a refused token changed the other app: %+v", after)
	}
	if rels, _ := reg.Releases(ctx, managerOther); len(rels) != 2 {
		t.Fatalf("a refused token registered a release: %d releases", len(rels))
	}
	// Rollback runs last: it needs the promote before it.
	names := []string{"Register", "Promote", "Release", "Releases", "ReleaseFiles", "CreateChannel", "UpdateChannel",
		"Channel", "Channels", "History", "Stats", "Rollback"}
	calls := managerCalls(managerApp)
	if len(names) != len(calls) {
		t.Fatalf("%d calls, %d names", len(calls), len(names))
	}
	for _, name := range names {
		if err := calls[name](ctx, c); err != nil {
			t.Errorf("%s on its own app: %v", name, err)
		}
	}
}

// A version or channel that cannot be one path segment is refused before
// anything is sent; one that needs escaping arrives intact.
func TestClientPathSegments(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, api := servertest.Start(t)
	c, _ := clientFor(t, reg, api, "ci", "")
	if _, err := c.Register(ctx, store.TestInput(managerApp, "1.0.0+build.7", "production", 1)); err != nil {
		t.Fatal(err)
	}
	if rel, err := c.Release(ctx, managerApp, "1.0.0+build.7"); err != nil || rel.Version != "1.0.0+build.7" {
		t.Fatalf("a version with build metadata: %+v, %v", rel, err)
	}
	for _, bad := range []string{"", ".", ".."} {
		if _, err := c.Release(ctx, managerApp, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("version %q: %v", bad, err)
		}
		if _, err := c.Channel(ctx, managerApp, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("channel %q: %v", bad, err)
		}
	}
	if _, err := c.Channel(ctx, managerApp, "../releases"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a channel name with a slash stays one segment: %v", err)
	}
}
