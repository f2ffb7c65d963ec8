package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

const testKeyID = "MIIBCgKCAQEAyRxnUWrb"

func rel(v string) *release {
	return &release{
		Version:    v,
		URL:        "https://cdn.example.com/com.example.app/" + v + ".zip.enc",
		SessionKey: "aXZpdml2aXZpdml2aXZpdg==:" + strings.Repeat("QUJD", 85) + "QQ==",
		Checksum:   strings.Repeat("ab", 256),
		KeyID:      testKeyID,
	}
}

// fixture: production (public, both platforms, rollout 100), beta
// (self-set), internal (private), legacy (android only, public).
func fixture() *appSnapshot {
	a := &appSnapshot{
		ID: "com.example.app",
		Channels: []*channel{
			{Name: "beta", AllowSelfSet: true, IOS: true, Android: true, AllowEmulator: true, AllowDev: true, RolloutPercent: 100, Current: rel("1.3.0-beta.1"), Previous: rel("1.2.0")},
			{Name: "internal", IOS: true, Android: true, AllowEmulator: true, AllowDev: true, RolloutPercent: 100, Current: rel("1.4.0-rc.1")},
			{Name: "production", Public: true, IOS: true, Android: true, RolloutPercent: 100, DisableUnderNative: true, Current: rel("1.2.0"), Previous: rel("1.1.0")},
		},
	}
	a.index()
	return a
}

// fixtureOverrides are the device overrides decide is given with fixture.
var fixtureOverrides = map[string]string{"dev-override": "internal", "dev-beta": "beta", "dev-gone": "deleted-channel"}

func device(mod func(*DeviceInfo)) DeviceInfo {
	d := DeviceInfo{
		Platform: "android", DeviceID: "dev-1", AppID: "com.example.app",
		VersionBuild: "1.0.0", VersionCode: "10", VersionName: "builtin",
		VersionOS: "14", IsProd: true, PluginVersion: "8.51.14", KeyID: testKeyID,
	}
	if mod != nil {
		mod(&d)
	}
	return d
}

func TestDecideTable(t *testing.T) {
	type want struct {
		version string // "" when refused
		code    string
		kind    string // how the plugin files the refusal
		channel string
	}
	tests := []struct {
		name string
		app  func(*appSnapshot)
		dev  func(*DeviceInfo)
		want want
	}{
		{"public default for a fresh install", nil, nil, want{"1.2.0", "", "", "production"}},
		{"ios gets the same public default", nil, func(d *DeviceInfo) { d.Platform = "ios" }, want{"1.2.0", "", "", "production"}},
		{"already on latest", nil, func(d *DeviceInfo) { d.VersionName = "1.2.0" }, want{"", codeNoNewVersion, kindUpToDate, "production"}},
		{"builtin bundle of the same version is already it", nil, func(d *DeviceInfo) { d.VersionBuild = "1.2.0" }, want{"", codeNoNewVersion, kindUpToDate, "production"}},
		{"empty version_name counts as builtin", nil, func(d *DeviceInfo) { d.VersionName = "" }, want{"1.2.0", "", "", "production"}},
		{"older bundle gets latest", nil, func(d *DeviceInfo) { d.VersionName = "1.1.0" }, want{"1.2.0", "", "", "production"}},
		{"defaultChannel picks a self-set channel", nil, func(d *DeviceInfo) { d.DefaultChannel = "beta" }, want{"1.3.0-beta.1", "", "", "beta"}},
		{"defaultChannel naming a private channel is refused", nil, func(d *DeviceInfo) { d.DefaultChannel = "internal" }, want{"", codePrivateChannel, kindBlocked, "internal"}},
		{"defaultChannel naming no channel falls back to public", nil, func(d *DeviceInfo) { d.DefaultChannel = "nope" }, want{"1.2.0", "", "", "production"}},
		{"override beats defaultChannel", nil, func(d *DeviceInfo) { d.DeviceID = "dev-override"; d.DefaultChannel = "beta" }, want{"1.4.0-rc.1", "", "", "internal"}},
		{"override to a self-set channel", nil, func(d *DeviceInfo) { d.DeviceID = "dev-beta" }, want{"1.3.0-beta.1", "", "", "beta"}},
		{"override to a deleted channel falls through", nil, func(d *DeviceInfo) { d.DeviceID = "dev-gone" }, want{"1.2.0", "", "", "production"}},
		{"unknown app", func(a *appSnapshot) { *a = appSnapshot{} }, nil, want{"", codeAppNotFound, kindBlocked, ""}},
		{"no public channel and none named", func(a *appSnapshot) { a.Channels[2].Public = false }, nil, want{"", codeNoChannel, kindBlocked, ""}},
		{"ios disabled on the channel", func(a *appSnapshot) { a.Channels[2].IOS = false }, func(d *DeviceInfo) { d.Platform = "ios" }, want{"", codePlatformIOS, kindBlocked, "production"}},
		{"android disabled on the channel", func(a *appSnapshot) { a.Channels[2].Android = false }, nil, want{"", codePlatformAndroid, kindBlocked, "production"}},
		{"electron disabled on the channel", nil, func(d *DeviceInfo) { d.Platform = "electron" }, want{"", codePlatformElectron, kindBlocked, "production"}},
		{"emulator refused by production", nil, func(d *DeviceInfo) { d.IsEmulator = true }, want{"", codeEmulator, kindBlocked, "production"}},
		{"dev build refused by production", nil, func(d *DeviceInfo) { d.IsProd = false }, want{"", codeDevBuild, kindBlocked, "production"}},
		{"emulator and dev build served by beta", nil, func(d *DeviceInfo) { d.IsEmulator = true; d.IsProd = false; d.DefaultChannel = "beta" }, want{"1.3.0-beta.1", "", "", "beta"}},
		{"channel without release", func(a *appSnapshot) { a.Channels[2].Current, a.Channels[2].Previous = nil, nil }, nil, want{"", codeNoNewVersion, kindUpToDate, "production"}},
		{"min native met", func(a *appSnapshot) { a.Channels[2].Current.MinNative = "1.0" }, nil, want{"1.2.0", "", "", "production"}},
		{"min native not met", func(a *appSnapshot) { a.Channels[2].Current.MinNative = "2.0.0" }, nil, want{"", codeMinNative, kindBlocked, "production"}},
		{"min native compares numbers, not text", func(a *appSnapshot) {
			a.Channels[2].Current.MinNative = "1.9.0"
			a.Channels[2].DisableUnderNative = false
		}, func(d *DeviceInfo) { d.VersionBuild = "1.10.0" }, want{"1.2.0", "", "", "production"}},
		{"min native with unparseable native version", func(a *appSnapshot) { a.Channels[2].Current.MinNative = "1.0.0" }, func(d *DeviceInfo) { d.VersionBuild = "unknown" }, want{"", codeSemver, kindBlocked, "production"}},
		{"under native refused", nil, func(d *DeviceInfo) { d.VersionBuild = "1.5.0" }, want{"", codeUnderNative, kindBlocked, "production"}},
		{"under native allowed when the channel permits", func(a *appSnapshot) { a.Channels[2].DisableUnderNative = false }, func(d *DeviceInfo) { d.VersionBuild = "1.5.0" }, want{"1.2.0", "", "", "production"}},
		{"key id mismatch", nil, func(d *DeviceInfo) { d.KeyID = "MIIBCgKCAQEAzzzzzzzz" }, want{"", codeKeyMismatch, kindBlocked, "production"}},
		{"encrypted app never gets an unencrypted bundle", func(a *appSnapshot) { a.Channels[2].Current.SessionKey, a.Channels[2].Current.KeyID = "", "" }, nil, want{"", codeKeyMismatch, kindBlocked, "production"}},
		{"app without key gets the bundle", nil, func(d *DeviceInfo) { d.KeyID = "" }, want{"1.2.0", "", "", "production"}},
		{"rollback: channel back on 1.1.0, device on 1.2.0 goes back", func(a *appSnapshot) { a.Channels[2].Current, a.Channels[2].Previous = rel("1.1.0"), rel("1.0.0") }, func(d *DeviceInfo) { d.VersionName = "1.2.0" }, want{"1.1.0", "", "", "production"}},
		{"rollout 0: everyone stays on previous", func(a *appSnapshot) { a.Channels[2].RolloutPercent = 0 }, nil, want{"1.1.0", "", "", "production"}},
		{"rollout 0 without previous: no update", func(a *appSnapshot) { a.Channels[2].RolloutPercent = 0; a.Channels[2].Previous = nil }, nil, want{"", codeNoNewVersion, kindBlocked, "production"}},
		{"rollout 0 but device already on current keeps it", func(a *appSnapshot) { a.Channels[2].RolloutPercent = 0 }, func(d *DeviceInfo) { d.VersionName = "1.2.0" }, want{"", codeNoNewVersion, kindUpToDate, "production"}},
		{"rollout 0, device on previous: nothing new", func(a *appSnapshot) { a.Channels[2].RolloutPercent = 0 }, func(d *DeviceInfo) { d.VersionName = "1.1.0" }, want{"", codeNoNewVersion, kindUpToDate, "production"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := fixture()
			if tt.app != nil {
				tt.app(app)
				app.index()
			}
			if app.ID == "" {
				app = nil
			}
			d := device(tt.dev)
			ans := decide(app, d, fixtureOverrides[d.DeviceID])
			got := want{code: ans.Code, kind: ans.Kind, channel: ans.Channel}
			if ans.Release != nil {
				got.version = ans.Release.Version
			}
			if got != tt.want {
				t.Fatalf("decide = %+v (message %q), want %+v", got, ans.Message, tt.want)
			}
			checkAnswerJSON(t, ans.JSON(), ans.Release != nil)
		})
	}
}

// checkAnswerJSON enforces spec §3 on an answer body: an update has string
// version/url/session_key/checksum and no error, kind or message; a refusal
// has string error, message and a kind the plugin knows.
func checkAnswerJSON(t *testing.T, body []byte, update bool) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, body)
	}
	if update {
		for _, k := range []string{"error", "kind", "message"} {
			if _, ok := m[k]; ok {
				t.Fatalf("update answer carries %q: %s", k, body)
			}
		}
		for _, k := range []string{"version", "url", "checksum"} {
			if s, ok := m[k].(string); !ok || s == "" {
				t.Fatalf("update answer: %q is %T %v, want a non-empty string: %s", k, m[k], m[k], body)
			}
		}
		if v, ok := m["session_key"]; ok {
			if _, isString := v.(string); !isString {
				t.Fatalf("session_key is %T, want string", v)
			}
		}
		return
	}
	if s, ok := m["error"].(string); !ok || s == "" {
		t.Fatalf("refusal without string error: %s", body)
	}
	if _, ok := m["message"].(string); !ok {
		t.Fatalf("refusal without string message: %s", body)
	}
	if k, ok := m["kind"].(string); !ok || (k != "up_to_date" && k != "blocked" && k != "failed") {
		t.Fatalf("refusal without a kind the plugin knows (it would count a failure): %s", body)
	}
	if len(m) != 3 {
		t.Fatalf("refusal has extra fields: %s", body)
	}
}

func TestRolloutIsStablePerDeviceAndReshufflesPerRelease(t *testing.T) {
	const devices = 20000
	for _, pct := range []int{1, 10, 50, 90} {
		in, moved := 0, 0
		for i := range devices {
			id := fmt.Sprintf("%08x-0000-4000-8000-%012d", i, i)
			a := inRollout(id, "com.example.app@1.2.0", pct)
			if a != inRollout(id, "com.example.app@1.2.0", pct) {
				t.Fatalf("device %s: rollout decision changed between two calls", id)
			}
			if a {
				in++
			}
			if a != inRollout(id, "com.example.app@1.3.0", pct) {
				moved++
			}
		}
		share := float64(in) / devices * 100
		if share < float64(pct)-1.5 || share > float64(pct)+1.5 {
			t.Errorf("rollout %d%%: %.2f%% of devices selected", pct, share)
		}
		if moved == 0 {
			t.Errorf("rollout %d%%: the next release selected exactly the same devices", pct)
		}
	}
	// A device inside 10% is inside 50% too: raising the percentage only adds devices.
	for i := range 5000 {
		id := fmt.Sprintf("device-%d", i)
		if inRollout(id, "r", 10) && !inRollout(id, "r", 50) {
			t.Fatalf("device %s left the rollout when it grew from 10%% to 50%%", id)
		}
	}
}

func TestDecideRolloutServesPreviousOutsideTheRollout(t *testing.T) {
	app := fixture()
	app.Channels[2].RolloutPercent = 30
	app.index()
	got := map[string]int{}
	for i := range 2000 {
		ans := decide(app, device(func(d *DeviceInfo) { d.DeviceID = fmt.Sprintf("device-%d", i) }), "")
		if ans.Release == nil {
			t.Fatalf("device-%d refused: %s", i, ans.Message)
		}
		got[ans.Release.Version]++
	}
	if got["1.2.0"] < 500 || got["1.2.0"] > 700 || got["1.1.0"] != 2000-got["1.2.0"] {
		t.Fatalf("rollout 30%% over 2000 devices gave %v", got)
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
		ok   bool
	}{
		{"1.0.0", "1.0.0", 0, true},
		{"1.0", "1.0.0", 0, true},
		{"1", "1.0.0", 0, true},
		{"1.10.0", "1.9.0", 1, true},
		{"2.0.0", "10.0.0", -1, true},
		{"v1.2.3", "1.2.3", 0, true},
		{"1.2.3 (45)", "1.2.3", 0, true},
		{"1.0.0-beta.1", "1.0.0", -1, true},
		{"1.0.0-beta.2", "1.0.0-beta.10", -1, true},
		{"1.0.0-alpha", "1.0.0-beta", -1, true},
		{"1.0.0-1", "1.0.0-alpha", -1, true},
		{"1.0.0+build.5", "1.0.0", 0, true},
		{"builtin", "1.0.0", 0, false},
		{"", "1.0.0", 0, false},
	}
	for _, tt := range tests {
		got, ok := compareVersions(tt.a, tt.b)
		if got != tt.want || ok != tt.ok {
			t.Errorf("compareVersions(%q, %q) = %d, %v; want %d, %v", tt.a, tt.b, got, ok, tt.want, tt.ok)
		}
		if ok {
			if back, _ := compareVersions(tt.b, tt.a); back != -got {
				t.Errorf("compareVersions(%q, %q) = %d, not the opposite of %d", tt.b, tt.a, back, got)
			}
		}
	}
}
