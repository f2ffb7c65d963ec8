package store

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

const app = "com.example.shop"

func TestRegisterRules(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := b.open(t)
		ctx := ctxT(t)

		first := mustRegister(t, r, input(app, "1.0.0", "production", 1))
		if first.Version != "1.0.0" || first.CreatedAt.IsZero() || first.KeyID == "" {
			t.Fatalf("first release = %+v", first)
		}
		a, err := r.App(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		if a.KeyFingerprint != input(app, "", "", 1).KeyFingerprint {
			t.Fatalf("app key = %q, want the first release's", a.KeyFingerprint)
		}
		prod := mustChannel(t, r, app, "production")
		if !prod.Public || prod.Release == nil || prod.Release.Version != "1.0.0" || prod.Previous != nil {
			t.Fatalf("first channel = %+v, want public, serving 1.0.0, no previous", prod)
		}

		steps := []struct {
			name    string
			in      RegisterInput
			wantErr error
		}{
			{"duplicate version", input(app, "1.0.0", "production", 1), ErrDuplicateVersion},
			{"duplicate version without channel", input(app, "1.0.0", "", 1), ErrDuplicateVersion},
			{"older than channel", input(app, "0.9.9", "production", 1), ErrVersionNotNewer},
			{"pre-release of current is older", input(app, "1.0.0-rc.1", "production", 1), ErrVersionNotNewer},
			{"other key", input(app, "1.1.0", "production", 2), ErrKeyMismatch},
			{"newer", input(app, "1.1.0", "production", 1), nil},
			{"pre-release of next", input(app, "1.2.0-beta.1", "production", 1), nil},
			{"release after its pre-release", input(app, "1.2.0", "production", 1), nil},
			{"older onto another channel", input(app, "1.0.1", "beta", 1), nil},
			{"no channel at all", input(app, "0.1.0", "", 1), nil},
			{"numeric not lexical order", input(app, "1.10.0", "production", 1), nil},
			{"lexically greater but older", input(app, "1.9.0", "production", 1), ErrVersionNotNewer},
			{"other app, other key", input("com.example.other", "1.0.0", "production", 2), nil},
			{"old bundle replayed as a new version", replay(input(app, "1.1.0", "", 1), app, "7.0.0", 1), ErrDuplicateBundle},
			{"old bundle replayed into another app", replay(input(app, "1.1.0", "", 1), "com.example.other", "7.0.0", 2), ErrDuplicateBundle},
			{"URL of an older release", sameURL(input(app, "7.0.0", "production", 1), input(app, "1.2.0", "", 1)), ErrDuplicateBundle},
		}
		for _, s := range steps {
			_, err := r.Register(ctx, s.in)
			if !errors.Is(err, s.wantErr) || (s.wantErr == nil) != (err == nil) {
				t.Fatalf("%s: register %s on %q: err = %v, want %v", s.name, s.in.Version, s.in.Channel, err, s.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "not found") {
				t.Errorf("%s: message %q does not say what to do", s.name, err)
			}
		}
		releases, err := r.Releases(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, rel := range releases {
			got = append(got, rel.Version)
		}
		want := []string{"1.10.0", "0.1.0", "1.0.1", "1.2.0", "1.2.0-beta.1", "1.1.0", "1.0.0"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("releases = %v, want %v (refused ones must leave nothing behind)", got, want)
		}
		prod = mustChannel(t, r, app, "production")
		if prod.Release.Version != "1.10.0" || prod.Previous.Version != "1.2.0" {
			t.Fatalf("production serves %s (previous %s), want 1.10.0 (1.2.0)", prod.Release.Version, prod.Previous.Version)
		}
		beta := mustChannel(t, r, app, "beta")
		if beta.Public {
			t.Fatalf("second channel became public: %+v", beta)
		}
		rel, err := r.Release(ctx, app, "1.1.0")
		if err != nil {
			t.Fatal(err)
		}
		if want := input(app, "1.1.0", "", 1); rel.URL != want.URL || rel.SHA256 != want.SHA256 || rel.Size != want.Size {
			t.Fatalf("release 1.1.0 = %+v", rel)
		}
		if _, err := r.Release(ctx, app, "9.9.9"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown release: err = %v, want ErrNotFound", err)
		}
		if _, err := r.App(ctx, "com.unknown"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown app: err = %v, want ErrNotFound", err)
		}
		apps, err := r.Apps(ctx)
		if err != nil || len(apps) != 2 || apps[0].ID != "com.example.other" || apps[1].ID != app {
			t.Fatalf("apps = %+v, %v", apps, err)
		}
	})
}

// replay is in, unchanged bytes, registered as version of app with key.
func replay(in RegisterInput, app, version string, key int) RegisterInput {
	k := input(app, version, in.Channel, key)
	in.AppID, in.Version, in.KeyID, in.KeyFingerprint = app, version, k.KeyID, k.KeyFingerprint
	return in
}

// sameURL is in with the URL of other.
func sameURL(in, other RegisterInput) RegisterInput {
	in.URL = other.URL
	return in
}

func TestRegisterRefusesInvalidInput(t *testing.T) {
	r := backend{name: "sqlite", dsn: t.TempDir() + "/r.db"}.open(t)
	cases := map[string]func(in *RegisterInput){
		"empty app":            func(in *RegisterInput) { in.AppID = "" },
		"app with space":       func(in *RegisterInput) { in.AppID = "com.x y" },
		"short version":        func(in *RegisterInput) { in.Version = "1.2" },
		"v prefix":             func(in *RegisterInput) { in.Version = "v1.2.3" },
		"leading zero":         func(in *RegisterInput) { in.Version = "01.2.3" },
		"builtin":              func(in *RegisterInput) { in.Version = "builtin" },
		"ftp url":              func(in *RegisterInput) { in.URL = "ftp://x/y" },
		"relative url":         func(in *RegisterInput) { in.URL = "/bundle.zip" },
		"plain http url":       func(in *RegisterInput) { in.URL = "http://cdn.example.com/b.zip" },
		"url with password":    func(in *RegisterInput) { in.URL = "https://u:p@cdn.example.com/b.zip" },
		"url with fragment":    func(in *RegisterInput) { in.URL = "https://cdn.example.com/b.zip#x" },
		"zero size":            func(in *RegisterInput) { in.Size = 0 },
		"upper-case sha":       func(in *RegisterInput) { in.SHA256 = strings.ToUpper(in.SHA256) },
		"short zip sha":        func(in *RegisterInput) { in.ZipSHA256 = in.ZipSHA256[:10] },
		"V2 checksum":          func(in *RegisterInput) { in.Checksum = in.Checksum[:64] },
		"short key id":         func(in *RegisterInput) { in.KeyID = "MIIB" },
		"bare fingerprint":     func(in *RegisterInput) { in.KeyFingerprint = strings.TrimPrefix(in.KeyFingerprint, "sha256:") },
		"session key no colon": func(in *RegisterInput) { in.SessionKey = strings.Replace(in.SessionKey, ":", "", 1) },
		"session key unpadded": func(in *RegisterInput) { in.SessionKey = strings.TrimRight(in.SessionKey, "=") },
		"session key url b64": func(in *RegisterInput) {
			in.SessionKey = strings.NewReplacer("+", "-", "/", "_").Replace(in.SessionKey) + "-"
		},
		"bad channel":    func(in *RegisterInput) { in.Channel = "prod uction" },
		"bad min native": func(in *RegisterInput) { in.MinNative = "latest" },
	}
	for name, mutate := range cases {
		in := input(app, "1.0.0", "production", 1)
		mutate(&in)
		if _, err := r.Register(ctxT(t), in); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if apps, _ := r.Apps(ctxT(t)); len(apps) != 0 {
		t.Fatalf("invalid registrations left apps behind: %+v", apps)
	}
	ok := input(app, "1.0.0+build.7", "production", 1)
	ok.MinNative = "2.1"
	if _, err := r.Register(ctxT(t), ok); err != nil {
		t.Fatalf("valid input with build metadata and short min native refused: %v", err)
	}
	local := input(app, "1.0.1", "production", 1)
	local.URL = "http://127.0.0.1:8000/b.zip"
	if _, err := r.Register(ctxT(t), local); err != nil {
		t.Fatalf("plain http on a loopback host (local testing) refused: %v", err)
	}
}

func TestPromoteAndRollback(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := b.open(t)
		ctx := ctxT(t)
		for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
			mustRegister(t, r, input(app, v, "production", 1))
		}
		mustRegister(t, r, input(app, "2.0.0-beta.1", "", 1))
		if _, err := r.CreateChannel(ctx, app, "beta", ChannelSettings{}); err != nil {
			t.Fatal(err)
		}
		serves := func(channel, want, wantPrev string) {
			t.Helper()
			c := mustChannel(t, r, app, channel)
			if versionOrDash(c.Release) != want || versionOrDash(c.Previous) != wantPrev {
				t.Fatalf("%s serves %s (previous %s), want %s (%s)", channel,
					versionOrDash(c.Release), versionOrDash(c.Previous), want, wantPrev)
			}
		}
		if _, err := r.Rollback(ctx, app, "beta"); !errors.Is(err, ErrNothingToRollBack) {
			t.Fatalf("rollback of empty channel: %v", err)
		}
		if _, err := r.Promote(ctx, app, "beta", "2.0.0-beta.1"); err != nil {
			t.Fatal(err)
		}
		serves("beta", "2.0.0-beta.1", "-")
		if _, err := r.Promote(ctx, app, "beta", "1.2.0"); !errors.Is(err, ErrVersionNotNewer) {
			t.Fatalf("promote older: %v", err)
		}
		if _, err := r.Promote(ctx, app, "beta", "3.0.0"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("promote unknown version: %v", err)
		}
		if _, err := r.Promote(ctx, app, "nightly", "1.2.0"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("promote to unknown channel: %v", err)
		}
		if _, err := r.Promote(ctx, "com.unknown", "beta", "1.2.0"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("promote in unknown app: %v", err)
		}

		serves("production", "1.2.0", "1.1.0")
		c, err := r.Rollback(ctx, app, "production")
		if err != nil {
			t.Fatal(err)
		}
		if c.Release.Version != "1.1.0" {
			t.Fatalf("rollback returned %s", c.Release.Version)
		}
		serves("production", "1.1.0", "1.0.0")
		if _, err := r.Rollback(ctx, app, "production"); err != nil {
			t.Fatal(err)
		}
		serves("production", "1.0.0", "-")
		if _, err := r.Rollback(ctx, app, "production"); !errors.Is(err, ErrNothingToRollBack) {
			t.Fatalf("rollback past the first release: %v", err)
		}
		// Forward again: register checks against what the channel serves now.
		if _, err := r.Promote(ctx, app, "production", "1.2.0"); err != nil {
			t.Fatal(err)
		}
		serves("production", "1.2.0", "1.0.0")
		mustRegister(t, r, input(app, "1.3.0", "production", 1))
		serves("production", "1.3.0", "1.2.0")
		if _, err := r.Rollback(ctx, app, "production"); err != nil {
			t.Fatal(err)
		}
		serves("production", "1.2.0", "1.0.0")

		h, err := r.History(ctx, app, "production")
		if err != nil {
			t.Fatal(err)
		}
		got := historyLines(h)
		want := []string{
			"register 1.0.0",
			"register 1.1.0 (rolled back)",
			"register 1.2.0 (rolled back)",
			"rollback 1.1.0",
			"rollback 1.0.0",
			"promote 1.2.0",
			"register 1.3.0 (rolled back)",
			"rollback 1.2.0",
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if _, err := r.History(ctx, app, "nightly"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("history of unknown channel: %v", err)
		}
	})
}

func versionOrDash(r *Release) string {
	if r == nil {
		return "-"
	}
	return r.Version
}

func TestChannelSettings(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := b.open(t)
		ctx := ctxT(t)
		c, err := r.CreateChannel(ctx, app, "production", ChannelSettings{Public: ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		want := DefaultChannelSettings()
		want.AppID, want.Name, want.Public, want.UpdatedAt = app, "production", true, c.UpdatedAt
		if !reflect.DeepEqual(*c, want) {
			t.Fatalf("created %+v\nwant    %+v", *c, want)
		}
		if _, err := r.CreateChannel(ctx, app, "production", ChannelSettings{}); !errors.Is(err, ErrDuplicateChannel) {
			t.Fatalf("duplicate channel: %v", err)
		}
		if _, err := r.CreateChannel(ctx, app, "bad name", ChannelSettings{}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bad channel name: %v", err)
		}
		// An iOS-only public channel takes the default for iOS only... which
		// production (all platforms) had, so production stops being public.
		ios, err := r.CreateChannel(ctx, app, "ios-stable", ChannelSettings{
			Public: ptr(true), Android: ptr(false), Electron: ptr(false), Rollout: ptr(25),
			AllowSelfSet: ptr(true), AllowEmulator: ptr(false), AllowDev: ptr(false), DisableUnderNative: ptr(false)})
		if err != nil {
			t.Fatal(err)
		}
		if !ios.Public || ios.Rollout != 25 || !ios.AllowSelfSet || ios.AllowEmulator || ios.AllowDev || ios.DisableUnderNative ||
			!ios.ServesPlatform("ios") || ios.ServesPlatform("android") || ios.ServesPlatform("web") {
			t.Fatalf("ios-stable = %+v", ios)
		}
		if mustChannel(t, r, app, "production").Public {
			t.Fatal("production kept the public flag though ios-stable took it for ios")
		}
		// Android-only public beside the iOS one: both stay public.
		if _, err := r.CreateChannel(ctx, app, "android-stable", ChannelSettings{Public: ptr(true), IOS: ptr(false), Electron: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		if !mustChannel(t, r, app, "ios-stable").Public || !mustChannel(t, r, app, "android-stable").Public {
			t.Fatal("public defaults for disjoint platforms must coexist")
		}
		// Only the given settings change.
		c, err = r.UpdateChannel(ctx, app, "ios-stable", ChannelSettings{Rollout: ptr(50)})
		if err != nil {
			t.Fatal(err)
		}
		if c.Rollout != 50 || !c.AllowSelfSet || c.Android || !c.Public {
			t.Fatalf("after rollout change: %+v", c)
		}
		for _, bad := range []int{-1, 101} {
			if _, err := r.UpdateChannel(ctx, app, "ios-stable", ChannelSettings{Rollout: ptr(bad)}); !errors.Is(err, ErrInvalid) {
				t.Fatalf("rollout %d: %v", bad, err)
			}
		}
		if _, err := r.UpdateChannel(ctx, app, "nightly", ChannelSettings{Rollout: ptr(5)}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update unknown channel: %v", err)
		}
		if _, err := r.UpdateChannel(ctx, app, "production", ChannelSettings{Public: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		channels, err := r.Channels(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		var names, public []string
		for _, c := range channels {
			names = append(names, c.Name)
			if c.Public {
				public = append(public, c.Name)
			}
		}
		if !reflect.DeepEqual(names, []string{"android-stable", "ios-stable", "production"}) || !reflect.DeepEqual(public, []string{"production"}) {
			t.Fatalf("channels %v, public %v; want production the only public one", names, public)
		}
	})
}

func TestDeviceChannels(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := b.open(t)
		ctx := ctxT(t)
		mustRegister(t, r, input(app, "1.0.0", "production", 1))
		mustRegister(t, r, input(app, "1.1.0-beta.1", "beta", 1))
		if _, err := r.UpdateChannel(ctx, app, "beta", ChannelSettings{AllowSelfSet: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if err := r.SetDeviceChannel(ctx, app, "dev-override", "beta", true, 0); err != nil {
			t.Fatal(err)
		}
		if err := r.SetDeviceChannel(ctx, app, "dev-override", "production", true, 0); !errors.Is(err, ErrSelfSetDenied) {
			t.Fatalf("self-set onto production: %v", err)
		}
		if err := r.SetDeviceChannel(ctx, app, "dev-admin", "production", false, 0); err != nil {
			t.Fatalf("admin override: %v", err)
		}
		if err := r.SetDeviceChannel(ctx, app, "dev-x", "nightly", false, 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("override onto unknown channel: %v", err)
		}
		if o, err := r.DeviceChannel(ctx, app, "dev-override"); err != nil || o.Channel != "beta" {
			t.Fatalf("device channel = %+v, %v", o, err)
		}
		if _, err := r.DeviceChannel(ctx, app, "dev-plain"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("device without override: %v", err)
		}
		overrides := func(want int) {
			t.Helper()
			if got := overrideCount(t, r, app); got != want {
				t.Fatalf("%d overrides counted, want %d", got, want)
			}
		}
		overrides(2)
		if err := r.UnsetDeviceChannel(ctx, app, "dev-override"); err != nil {
			t.Fatal(err)
		}
		if err := r.UnsetDeviceChannel(ctx, app, "dev-override"); err != nil {
			t.Fatalf("unset twice: %v", err)
		}
		overrides(1)
		if o, err := r.DeviceChannel(ctx, "com.unknown", "dev-admin"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("device channel of an unknown app: %+v, %v", o, err)
		}
	})
}

func TestStats(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := b.open(t)
		ctx := ctxT(t)
		mustRegister(t, r, input(app, "1.0.0", "production", 1))
		old := time.Now().Add(-48 * time.Hour)
		ev := func(device, action, version string, at time.Time) StatEvent {
			return StatEvent{AppID: app, DeviceID: device, Action: action, VersionName: version, Platform: "android", At: at}
		}
		events := []StatEvent{
			ev("a", "download_complete", "1.0.0", time.Time{}),
			ev("a", "set", "1.0.0", time.Time{}),
			ev("b", "download_complete", "1.0.0", time.Time{}),
			ev("b", "checksum_fail", "1.0.0", time.Time{}),
			ev("c", "download_fail", "1.0.0", time.Time{}),
			ev("c", "download_fail", "1.0.0", time.Time{}),
			ev("a", "app_moved_to_foreground", "1.0.0", time.Time{}),
			ev("d", "set", "builtin", old),
			ev("d", "download_10", "0.9.0", old),
			{AppID: "com.unknown", DeviceID: "x", Action: "set", VersionName: "1.0.0"},
		}
		stored, err := r.RecordEvents(ctx, events)
		if err != nil {
			t.Fatal(err)
		}
		if stored != len(events)-1 {
			t.Fatalf("stored %d events, want %d (the unknown app's dropped)", stored, len(events)-1)
		}
		stats, err := r.Stats(ctx, app, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var versions []string
		for _, s := range stats {
			versions = append(versions, s.Version)
		}
		if !reflect.DeepEqual(versions, []string{"1.0.0", "0.9.0", "builtin"}) {
			t.Fatalf("versions %v, want newest first, non-semver last", versions)
		}
		s := stats[0]
		if s.Devices != 3 || s.Downloads != 2 || s.Installs != 1 || s.Failures != 3 ||
			s.ByAction["download_fail"] != 2 || s.ByAction["checksum_fail"] != 1 || s.ByAction["app_moved_to_foreground"] != 1 {
			t.Fatalf("stats of 1.0.0 = %+v", s)
		}
		if time.Since(s.LastAt) > time.Minute {
			t.Fatalf("last event at %v", s.LastAt)
		}
		recent, err := r.Stats(ctx, app, time.Now().Add(-time.Hour))
		if err != nil || len(recent) != 1 || recent[0].Version != "1.0.0" {
			t.Fatalf("stats since an hour ago = %+v, %v", recent, err)
		}
		if n, err := r.RecordEvents(ctx, nil); n != 0 || err != nil {
			t.Fatalf("no events: %d, %v", n, err)
		}
		// A batch larger than one INSERT, interleaved with an unknown app.
		var many []StatEvent
		for i := range 2*eventsPerInsert + 50 {
			many = append(many, ev(fmt.Sprint("m", i%50), "download_complete", "2.0.0", time.Time{}))
			if i%100 == 0 {
				many = append(many, StatEvent{AppID: "com.unknown", DeviceID: "x", Action: "set", VersionName: "2.0.0"})
			}
		}
		if n, err := r.RecordEvents(ctx, many); err != nil || n != 2*eventsPerInsert+50 {
			t.Fatalf("large batch: stored %d, %v", n, err)
		}
		stats, err = r.Stats(ctx, app, time.Time{})
		if err != nil || stats[0].Version != "2.0.0" || stats[0].Downloads != 2*eventsPerInsert+50 || stats[0].Devices != 50 {
			t.Fatalf("large batch stats: %+v, %v", stats[0], err)
		}
	})
}

func TestAdminTokens(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := b.open(t)
		ctx := ctxT(t)
		secret, tok, err := r.CreateToken(ctx, "ci", "")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, tokenPrefix) || len(secret) < 40 || tok.Name != "ci" || tok.ID == 0 {
			t.Fatalf("token %q %+v", secret, tok)
		}
		other, _, err := r.CreateToken(ctx, "shop-ci", app)
		if err != nil {
			t.Fatal(err)
		}
		if other == secret {
			t.Fatal("two tokens with the same secret")
		}
		if _, _, err := r.CreateToken(ctx, "ci", ""); !errors.Is(err, ErrDuplicateToken) {
			t.Fatalf("duplicate name: %v", err)
		}
		// Only the hash is stored.
		sr := r.(*sqlRegistry)
		rows, err := sr.db.QueryContext(ctx, `SELECT name, app_id, hash FROM admin_tokens`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, appID, hash string
			if err := rows.Scan(&name, &appID, &hash); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(name+appID+hash, secret[len(tokenPrefix):len(tokenPrefix)+16]) || hash == secret {
				t.Fatalf("secret stored in clear: %q %q %q", name, appID, hash)
			}
			if name == "ci" && hash != hashToken(secret) {
				t.Fatalf("stored hash %s, want SHA-256 of the secret", hash)
			}
		}
		rows.Close()

		got, err := r.Authenticate(ctx, secret)
		if err != nil || got.Name != "ci" || got.LastUsedAt == nil || !got.Allows("any.app") {
			t.Fatalf("authenticate = %+v, %v", got, err)
		}
		scoped, err := r.Authenticate(ctx, other)
		if err != nil || !scoped.Allows(app) || scoped.Allows("com.other") {
			t.Fatalf("scoped token = %+v, %v", scoped, err)
		}
		sameLength := secret[:len(secret)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(secret, "A")]
		for _, bad := range []string{"", "capship_", secret + "x", sameLength, strings.TrimPrefix(secret, tokenPrefix), hashToken(secret)} {
			if _, err := r.Authenticate(ctx, bad); !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("authenticate %q: %v", bad, err)
			}
		}
		if err := r.RevokeToken(ctx, "ci"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Authenticate(ctx, secret); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("revoked token accepted: %v", err)
		}
		if err := r.RevokeToken(ctx, "ci"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoke twice: %v", err)
		}
		if _, _, err := r.CreateToken(ctx, "ci", ""); err != nil {
			t.Fatalf("name of a revoked token cannot be reused: %v", err)
		}
		if err := r.RevokeToken(ctx, "2"); err != nil { // by id: shop-ci
			t.Fatalf("revoke by id: %v", err)
		}
		tokens, err := r.Tokens(ctx)
		if err != nil || len(tokens) != 3 {
			t.Fatalf("tokens = %+v, %v", tokens, err)
		}
		if tokens[0].RevokedAt == nil || tokens[1].RevokedAt == nil || tokens[2].RevokedAt != nil || tokens[1].AppID != app {
			t.Fatalf("tokens = %+v", tokens)
		}
		if _, _, err := r.CreateToken(ctx, "has space", ""); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bad token name: %v", err)
		}
	})
}

func TestErrorCodesRoundTrip(t *testing.T) {
	for _, e := range errorCodes {
		code := ErrorCode(e.err)
		if code != e.code {
			t.Fatalf("ErrorCode(%v) = %q", e.err, code)
		}
		back := CodeError(code, "the server's words")
		if !errors.Is(back, e.err) || back.Error() != "the server's words" {
			t.Fatalf("CodeError(%q) = %v", code, back)
		}
	}
	if ErrorCode(errors.New("disk full")) != "internal" {
		t.Fatal("unknown error must map to internal")
	}
	if err := CodeError("teapot", ""); err.Error() != "teapot" {
		t.Fatalf("unknown code: %v", err)
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://capship:s3cret@db:5432/capship":               "postgres://capship:xxxxx@db:5432/capship",
		"postgresql://db/capship?password=s3cret&sslmode=disable": "postgresql://db/capship?password=xxxxx&sslmode=disable",
		"/var/lib/capship/registry.db":                            "/var/lib/capship/registry.db",
	} {
		if got := RedactDSN(in); got != want {
			t.Errorf("RedactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}
