package release_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"capship/store"
	"capship/store/release"
	"capship/workflow"
)

const app = "com.capship.release"

// build writes files into a folder of its own and builds version of it,
// with the per-file objects.
func build(t *testing.T, dir, version string, key *rsa.PrivateKey, files map[string]string) *workflow.Manifest {
	t.Helper()
	src := filepath.Join(dir, "src-"+version)
	for name, text := range files {
		path := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := workflow.Build(context.Background(), workflow.BuildOptions{Dir: src, AppID: app, Version: version,
		OutDir: filepath.Join(dir, "out"), Key: key, CacheDir: "-"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Delta == nil {
		t.Fatalf("%s was built without a delta: %s", version, m.DeltaSkipped)
	}
	return m
}

func input(m *workflow.Manifest) store.RegisterInput {
	return store.RegisterInput{AppID: m.AppID, Version: m.Version, URL: "https://cdn.example.com/" + m.Version + ".zip",
		SessionKey: m.SessionKey, Checksum: m.Checksum, Size: m.Size, SHA256: m.SHA256, ZipSHA256: m.ZipSHA256,
		KeyID: m.KeyID, KeyFingerprint: m.KeyFingerprint, Channel: "production"}
}

// A release registered with its delta form in a real SQLite registry,
// then the next build with one file changed: a phone on the first
// downloads that file only, found by opening the registry's file hashes
// with the app's public key.
func TestRegisterAndDownload(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"index.html":     `<!doctype html><script src="app.js"></script>`,
		"app.js":         "CapacitorUpdater.notifyAppReady(); console.log('one')\n",
		"copy/app.js":    "CapacitorUpdater.notifyAppReady(); console.log('one')\n",
		"assets/one.css": "body { color: red }\n",
	}
	m1 := build(t, dir, "1.0.0", key, files)
	files["app.js"] = "CapacitorUpdater.notifyAppReady(); console.log('two')\n"
	m2 := build(t, dir, "1.1.0", key, files)

	reg, err := store.Open(ctx, filepath.Join(dir, "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	in := input(m1)
	if err := release.WithDelta(&in, m1.Delta, "https://cdn.example.com/1.0.0.files/"); err != nil {
		t.Fatal(err)
	}
	if in.FilesURL != "https://cdn.example.com/1.0.0.files" || len(in.Files) != 4 {
		t.Fatalf("files url %q, %d files", in.FilesURL, len(in.Files))
	}
	if _, err := reg.Register(ctx, in); err != nil {
		t.Fatal(err)
	}
	current, err := reg.ReleaseFiles(ctx, app, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(current, release.Files(m1.Delta)) {
		t.Fatalf("the registry keeps\n%+v\nthe build made\n%+v", current, release.Files(m1.Delta))
	}

	var changed workflow.DeltaFile
	for _, f := range m2.Delta.Files {
		if f.Path == "app.js" {
			changed = f
		}
	}
	got := release.Download(&key.PublicKey, m2.Delta, current)
	if want := (workflow.DeltaDownload{Files: 1, TotalFiles: 4, Objects: 1, Bytes: changed.Size}); got != want {
		t.Fatalf("after a one-file change: %+v, want %+v", got, want)
	}
	if got := release.Download(&key.PublicKey, m1.Delta, current); got.Files != 0 || got.Bytes != 0 {
		t.Fatalf("the same build again: %+v", got)
	}
	other, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if got, all := release.Download(&other.PublicKey, m2.Delta, current), m2.Delta.Download(nil); got != all {
		t.Fatalf("hashes that do not open with the key: %+v, want everything %+v", got, all)
	}
}

func TestWithDeltaRefuses(t *testing.T) {
	d := &workflow.Delta{Files: []workflow.DeltaFile{{Path: "index.html", Object: "o1", Size: 32}}}
	for _, c := range []struct {
		name, url string
		delta     *workflow.Delta
		is        error
	}{
		{"no delta", "https://cdn.example.com/files", nil, release.ErrNoDelta},
		{"plain http", "http://cdn.example.com/files", d, workflow.ErrBadURL},
		{"a query", "https://cdn.example.com/files?sig=1", d, workflow.ErrBadURL},
		{"empty", "", d, workflow.ErrBadURL},
	} {
		t.Run(c.name, func(t *testing.T) {
			var in store.RegisterInput
			if err := release.WithDelta(&in, c.delta, c.url); !errors.Is(err, c.is) || in.FilesURL != "" || in.Files != nil {
				t.Fatalf("err %v, input %+v; want %v and nothing set", err, in, c.is)
			}
		})
	}
}
