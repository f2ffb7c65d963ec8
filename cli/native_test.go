package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"capship/server/servertest"
	"capship/store"
	"capship/workflow"
)

// shop is a copy of testdata/apps/shop (config, www/, package.json and a
// fake node_modules) whose config holds the public half of keyFile.
type shop struct {
	dir, keyFile string
}

// shopApp copies the fixture app into a temp folder, writes the test
// key's public half into its config and changes into it.
func shopApp(t *testing.T) shop {
	t.Helper()
	app := shop{dir: filepath.Join(t.TempDir(), "shop"), keyFile: testKeyPath(t, "test.pem")}
	must(t, os.CopyFS(app.dir, os.DirFS(filepath.Join("..", "testdata", "apps", "shop"))))
	pub, err := os.ReadFile(testKeyPath(t, "test.pub.pem"))
	must(t, err)
	must(t, workflow.SetPublicKey(filepath.Join(app.dir, "capacitor.config.json"), string(pub)))
	t.Chdir(app.dir)
	return app
}

// buildShop builds version of the app in the current folder (no delta)
// and hosts the bundle; it returns the manifest path and the bundle URL.
func (app shop) build(t *testing.T, h *hosted, out, version string) (string, string) {
	t.Helper()
	r := runBundleCLI(t, nil, false, "bundle", "build", "--out", out, "--version", version, "--no-delta",
		"--key-file", app.keyFile, "--json")
	if r.code != 0 {
		t.Fatalf("build %s: %s", version, r)
	}
	var m workflow.Manifest
	must(t, json.Unmarshal([]byte(r.out), &m))
	if m.NativePackages == nil {
		t.Fatalf("build %s recorded no native packages: %s", version, r.out)
	}
	data, err := os.ReadFile(m.File)
	must(t, err)
	return m.Manifest, h.put("/"+version+".zip", data)
}

// changeNatives upgrades @capacitor/camera to 6.1.0 and adds @capgo/foo
// to the app's dependencies, as an npm install would leave them.
func changeNatives(t *testing.T, dir string) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(dir, "node_modules", "@capacitor", "camera", "package.json"), []byte(`{"name":"@capacitor/camera","version":"6.1.0"}`), 0o644))
	pkg, err := os.ReadFile(filepath.Join(dir, "package.json"))
	must(t, err)
	pkg = []byte(strings.Replace(string(pkg), `"lodash"`, `"@capgo/foo": "^1.0.0", "lodash"`, 1))
	must(t, os.WriteFile(filepath.Join(dir, "package.json"), pkg, 0o644))
}

// shopOnProduction builds 1.0.0 of the shop app with its native packages
// and registers it on production in a registry of the test's own.
func shopOnProduction(t *testing.T) (app shop, out string, env map[string]string, h *hosted) {
	t.Helper()
	app = shopApp(t)
	out = filepath.Join(t.TempDir(), "out")
	env = map[string]string{"CAPSHIP_DB": filepath.Join(t.TempDir(), "registry.db")}
	h = newHosted(t)
	m1, url1 := app.build(t, h, out, "1.0.0")
	if r := run(t, env, "release", "register", "--manifest", m1, "--url", url1); r.code != 0 {
		t.Fatalf("register 1.0.0: %+v", r)
	}
	return app, out, env, h
}

const nativeChanges = "@capacitor/camera 6.0.0 → 6.1.0 changed, @capgo/foo 1.0.0 added"

// A changed native plugin is refused by name, before the bundle is
// downloaded back, until --allow-native-change or --min-native; an old
// manifest without native packages registers as before.
func TestRegisterNativeGuard(t *testing.T) {
	app, out, env, h := shopOnProduction(t)

	changeNatives(t, app.dir)
	m2, url2 := app.build(t, h, out, "1.1.0")
	gets := h.gets.Load()
	r := run(t, env, "release", "register", "--manifest", m2, "--url", url2)
	if r.code != 1 || !strings.Contains(r.err, nativeChanges) || !strings.Contains(r.err, "--min-native") || !strings.Contains(r.err, "--allow-native-change") {
		t.Fatalf("a changed native plugin: %+v", r)
	}
	if h.gets.Load() != gets {
		t.Fatal("the bundle was downloaded before the native packages were compared")
	}
	var res registerResult
	run(t, env, "release", "register", "--manifest", m2, "--url", url2, "--allow-native-change", "--json").decode(t, &res)
	if res.Release.Version != "1.1.0" || res.Release.NativePackages["@capgo/foo"] != "1.0.0" {
		t.Fatalf("with --allow-native-change: %+v", res.Release)
	}

	must(t, os.WriteFile(filepath.Join(app.dir, "node_modules", "@capacitor", "camera", "package.json"), []byte(`{"name":"@capacitor/camera","version":"7.0.0"}`), 0o644))
	m3, url3 := app.build(t, h, out, "1.2.0")
	if r := run(t, env, "release", "register", "--manifest", m3, "--url", url3); r.code != 1 || !strings.Contains(r.err, "@capacitor/camera 6.1.0 → 7.0.0 changed") {
		t.Fatalf("a major camera upgrade: %+v", r)
	}
	run(t, env, "release", "register", "--manifest", m3, "--url", url3, "--min-native", "2.0.0", "--json").decode(t, &res)
	if res.Release.MinNative != "2.0.0" {
		t.Fatalf("with --min-native: %+v", res.Release)
	}

	// A manifest of an older capship (no native_packages) registers as before.
	key, err := workflow.ReadPrivateKeyFile(app.keyFile)
	must(t, err)
	old, data := writeBundle(t, t.TempDir(), "1.3.0", key)
	var oldRes registerResult
	run(t, env, "release", "register", "--manifest", old, "--url", h.put("/old", data), "--json").decode(t, &oldRes)
	if oldRes.Release.Version != "1.3.0" || oldRes.Release.NativePackages != nil {
		t.Fatalf("an old manifest: %+v", oldRes.Release)
	}
}

// Through the admin API of a real server on loopback: the command refuses
// early, and the server refuses too when a client skips that check.
func TestRegisterNativeGuardThroughServer(t *testing.T) {
	app := shopApp(t)
	out := filepath.Join(t.TempDir(), "out")
	reg, api := servertest.Start(t)
	secret, _, err := reg.CreateToken(context.Background(), "ci", "com.example.shop")
	must(t, err)
	env := map[string]string{"CAPSHIP_TOKEN": secret, "CAPSHIP_SERVER": api.URL}
	h := newHosted(t)
	m1, url1 := app.build(t, h, out, "1.0.0")
	if r := run(t, env, "release", "register", "--manifest", m1, "--url", url1, "--server", api.URL); r.code != 0 {
		t.Fatalf("register 1.0.0: %+v", r)
	}
	changeNatives(t, app.dir)
	m2, url2 := app.build(t, h, out, "1.1.0")
	if r := run(t, env, "release", "register", "--manifest", m2, "--url", url2, "--server", api.URL); r.code != 1 || !strings.Contains(r.err, nativeChanges) || !strings.Contains(r.err, "--allow-native-change") {
		t.Fatalf("a changed native plugin via the server: %+v", r)
	}

	// The server's own check, as a client without the early one meets it.
	m, err := workflow.ReadManifest(m2)
	must(t, err)
	client, err := store.NewClient(api.URL, secret, nil)
	must(t, err)
	in := registration(m, url2, "")
	if _, err := client.Register(context.Background(), in); !errors.Is(err, store.ErrNativeChange) || !strings.Contains(err.Error(), nativeChanges) {
		t.Fatalf("the admin API let a native change through: %v", err)
	}
	in.AllowNativeChange = true
	if rel, err := client.Register(context.Background(), in); err != nil || rel.NativePackages["@capacitor/camera"] != "6.1.0" {
		t.Fatalf("allowed through the admin API: %+v, %v", rel, err)
	}
}

// Without node_modules, bundle build records no native packages and says
// why, naming no web build file.
func TestBundleBuildWithoutNodeModules(t *testing.T) {
	app := shopApp(t)
	must(t, os.RemoveAll(filepath.Join(app.dir, "node_modules")))
	r := runBundleCLI(t, nil, false, "bundle", "build", "--out", filepath.Join(t.TempDir(), "out"), "--version", "1.0.0", "--no-delta", "--key-file", app.keyFile)
	if r.code != 0 || !strings.Contains(r.err, "warning: native packages not recorded: "+filepath.Join(".", "node_modules")+" is missing (run npm install") ||
		strings.Contains(r.err, "native:") {
		t.Fatalf("%s", r)
	}
}

// registration is what release register records of m onto production.
func registration(m *workflow.Manifest, url, minNative string) store.RegisterInput {
	return store.RegisterInput{AppID: m.AppID, Version: m.Version, URL: url, SessionKey: m.SessionKey, Checksum: m.Checksum,
		Size: m.Size, SHA256: m.SHA256, ZipSHA256: m.ZipSHA256, KeyID: m.KeyID, KeyFingerprint: m.KeyFingerprint,
		Channel: "production", MinNative: minNative, NativePackages: m.NativePackages}
}

// Promote guards a channel as register does: a release whose native
// packages differ from the channel's is refused by name, unless it has a
// minimum native version or --allow-native-change is given.
func TestPromoteNativeGuard(t *testing.T) {
	app, out, env, h := shopOnProduction(t)
	changeNatives(t, app.dir)
	m2, url2 := app.build(t, h, out, "1.1.0")
	if r := run(t, env, "release", "register", "--manifest", m2, "--url", url2, "--channel", ""); r.code != 0 {
		t.Fatalf("register 1.1.0 on no channel: %+v", r)
	}
	r := run(t, env, "release", "promote", "1.1.0", "--channel", "production")
	if r.code != 1 || !strings.Contains(r.err, nativeChanges) || !strings.Contains(r.err, "--allow-native-change") {
		t.Fatalf("promote of a changed native plugin: %+v", r)
	}
	var list struct {
		Channels []store.Channel `json:"channels"`
	}
	run(t, env, "channel", "list", "--json").decode(t, &list)
	if len(list.Channels) != 1 || list.Channels[0].Release.Version != "1.0.0" {
		t.Fatalf("the refused promote moved the channel: %+v", list.Channels)
	}
	var move channelMove
	run(t, env, "release", "promote", "1.1.0", "--channel", "production", "--allow-native-change", "--json").decode(t, &move)
	if move.From != "1.0.0" || move.To != "1.1.0" {
		t.Fatalf("with --allow-native-change: %+v", move)
	}

	// A release only newer native builds get passes without the flag.
	must(t, os.WriteFile(filepath.Join(app.dir, "node_modules", "@capacitor", "camera", "package.json"), []byte(`{"name":"@capacitor/camera","version":"7.0.0"}`), 0o644))
	m3, url3 := app.build(t, h, out, "1.2.0")
	if r := run(t, env, "release", "register", "--manifest", m3, "--url", url3, "--channel", "", "--min-native", "2.0.0"); r.code != 0 {
		t.Fatalf("register 1.2.0: %+v", r)
	}
	if r := run(t, env, "release", "promote", "1.2.0", "--channel", "production"); r.code != 0 {
		t.Fatalf("promote of a release with a minimum native version: %+v", r)
	}
}
