package workflow

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// shopApp copies the fixture app of testdata/apps/shop (config, www/,
// package.json and a fake node_modules) into a temp folder.
func shopApp(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shop")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "testdata", "apps", "shop"))); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestNativePackages(t *testing.T) {
	dir := shopApp(t)
	got, warnings, err := NativePackages(dir)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("err %v, warnings %q", err, warnings)
	}
	want := map[string]string{"@capacitor/android": "6.1.2", "@capacitor/camera": "6.0.0", "@capgo/capacitor-updater": "8.45.11"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("native packages %v, want %v", got, want)
	}

	// A dependency with a "capacitor" field, and one not installed.
	pkg := `{"name":"shop","dependencies":{"@capgo/foo":"^1","@capgo/missing":"^1","@capacitor/core":"^6"}}`
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(pkg), 0o644); err != nil {
		t.Fatal(err)
	}
	got, warnings, err = NativePackages(dir)
	if err != nil || !reflect.DeepEqual(got, map[string]string{"@capgo/foo": "1.0.0"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "@capgo/missing is in package.json but not installed") {
		t.Fatalf("warnings %q", warnings)
	}

	// No node_modules: nothing recorded, and a warning saying so.
	if err := os.RemoveAll(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	if got, warnings, err = NativePackages(dir); got != nil || err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "npm install") {
		t.Fatalf("without node_modules: %v, %q, %v", got, warnings, err)
	}
	// No package.json: not an app folder, nothing to say.
	if got, warnings, err = NativePackages(t.TempDir()); got != nil || warnings != nil || err != nil {
		t.Fatalf("without package.json: %v, %q, %v", got, warnings, err)
	}
	// A name that would leave node_modules is skipped, not followed.
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"dependencies":{"../../etc":"1"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "node_modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, warnings, err = NativePackages(dir); len(got) != 0 || err != nil || len(warnings) != 1 {
		t.Fatalf("a path as a name: %v, %q, %v", got, warnings, err)
	}
}

// Build records the app's native packages in the manifest, and the
// manifest file holds them in name order.
func TestBuildRecordsNativePackages(t *testing.T) {
	dir := shopApp(t)
	key, err := ParsePrivateKey(mustRead(t, filepath.Join("..", "testdata", "keys", "test.pem")))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Build(context.Background(), BuildOptions{Dir: filepath.Join(dir, "www"), AppDir: dir, AppID: "com.example.shop",
		Version: "1.0.0", OutDir: filepath.Join(t.TempDir(), "out"), Key: key, CacheDir: "-", NoDelta: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	text := string(mustRead(t, m.Manifest))
	want := `"native_packages": {
    "@capacitor/android": "6.1.2",
    "@capacitor/camera": "6.0.0",
    "@capgo/capacitor-updater": "8.45.11"
  }`
	if !strings.Contains(text, want) {
		t.Fatalf("manifest lacks\n%s\n%s", want, text)
	}
	back, err := ReadManifest(m.Manifest)
	if err != nil || !reflect.DeepEqual(back.NativePackages, m.NativePackages) || len(back.NativePackages) != 3 {
		t.Fatalf("read back %v, %v", back, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// writeTree writes files (slash paths under dir) with their contents.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The Capacitor CLI syncs the plugins of devDependencies into the native
// app as it does those of dependencies: they are native packages too. A
// devDependency left out by 'npm install --omit=dev' is no warning.
func TestNativePackagesDevDependencies(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"package.json": `{"dependencies":{"@capacitor/core":"^6"},"devDependencies":{"@capacitor/ios":"^6","@capacitor/cli":"^6","@capgo/bar":"^2"}}`,
		"node_modules/@capacitor/core/package.json": `{"version":"6.1.2"}`,
		"node_modules/@capacitor/ios/package.json":  `{"version":"6.1.2"}`,
		"node_modules/@capgo/bar/package.json":      `{"version":"2.0.1","capacitor":{"android":{"src":"android"}}}`,
	})
	got, warnings, err := NativePackages(dir)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("err %v, warnings %q", err, warnings)
	}
	if want := map[string]string{"@capacitor/ios": "6.1.2", "@capgo/bar": "2.0.1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("native packages %v, want %v", got, want)
	}
}

// A Cordova plugin (plugin.xml, its native code under src/) is native, as
// the Capacitor CLI counts it.
func TestNativePackagesCordova(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"package.json": `{"dependencies":{"cordova-plugin-inappbrowser":"^6","lodash":"^4"}}`,
		"node_modules/cordova-plugin-inappbrowser/package.json":                  `{"version":"6.0.0","cordova":{"id":"cordova-plugin-inappbrowser"}}`,
		"node_modules/cordova-plugin-inappbrowser/plugin.xml":                    `<plugin id="cordova-plugin-inappbrowser" version="6.0.0"/>`,
		"node_modules/cordova-plugin-inappbrowser/src/android/InAppBrowser.java": "class InAppBrowser {}",
		"node_modules/lodash/package.json":                                       `{"version":"4.17.21"}`,
	})
	got, warnings, err := NativePackages(dir)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("err %v, warnings %q", err, warnings)
	}
	if want := map[string]string{"cordova-plugin-inappbrowser": "6.0.0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("native packages %v, want %v", got, want)
	}
}

// In an npm or yarn workspace the packages are hoisted to the
// workspace's node_modules, where Node (and the Capacitor CLI) find
// them: so does NativePackages, with or without the app's own folder.
func TestNativePackagesHoisted(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"package.json": `{"private":true,"workspaces":["apps/*"]}`,
		"node_modules/@capacitor/camera/package.json":  `{"version":"6.0.0"}`,
		"node_modules/@capacitor/camera/android/x":     "",
		"node_modules/@capacitor/android/package.json": `{"version":"6.1.2"}`,
		"apps/shop/package.json":                       `{"dependencies":{"@capacitor/android":"^6","@capacitor/camera":"^6","@capacitor/core":"^6"}}`,
		// The app's own folder holds one package; the rest is hoisted.
		"apps/shop/node_modules/@capacitor/core/package.json": `{"version":"6.1.2"}`,
	})
	app := filepath.Join(root, "apps", "shop")
	want := map[string]string{"@capacitor/android": "6.1.2", "@capacitor/camera": "6.0.0"}
	got, warnings, err := NativePackages(app)
	if err != nil || len(warnings) > 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("native packages %v, %q, %v; want %v", got, warnings, err, want)
	}
	if err := os.RemoveAll(filepath.Join(app, "node_modules")); err != nil {
		t.Fatal(err)
	}
	writeTree(t, root, map[string]string{"node_modules/@capacitor/core/package.json": `{"version":"6.1.2"}`})
	if got, warnings, err = NativePackages(app); err != nil || len(warnings) > 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("all hoisted: %v, %q, %v; want %v", got, warnings, err, want)
	}
}
