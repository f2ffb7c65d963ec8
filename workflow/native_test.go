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
