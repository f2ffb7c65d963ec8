package workflow

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testManifest(t *testing.T, dir string) *Manifest {
	v := readVector(t)
	return &Manifest{
		Schema: ManifestSchema, AppID: "com.example.app", Version: "1.0.0",
		File: filepath.Join(dir, "com.example.app-1.0.0.zip"), Size: 912,
		SHA256: v.SHA256, ZipSHA256: v.ZipSHA256, ZipSize: 898,
		SessionKey: v.SessionKey, Checksum: v.Checksum, KeyID: v.KeyID, KeyFingerprint: v.KeyFingerprint,
		Files: 4, Bytes: 1587, Manifest: filepath.Join(dir, "com.example.app-1.0.0.manifest.json"),
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func TestManifestRoundTripAndMove(t *testing.T) {
	dir := t.TempDir()
	m := testManifest(t, dir)
	if err := writeManifest(m.Manifest, m); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(m.Manifest)
	var onDisk map[string]any
	if err := json.Unmarshal(raw, &onDisk); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"app_id", "version", "file", "size", "sha256", "zip_sha256", "zip_size", "session_key", "checksum", "key_id", "key_fingerprint", "files", "manifest", "created_at"} {
		if _, ok := onDisk[k]; !ok {
			t.Errorf("manifest lacks %q", k)
		}
	}
	if onDisk["file"] != "com.example.app-1.0.0.zip" {
		t.Errorf("file stored as %v, want a name relative to the manifest", onDisk["file"])
	}
	// Move the folder: paths follow.
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	back, err := ReadManifest(filepath.Join(moved, "com.example.app-1.0.0.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := *m
	want.File = filepath.Join(moved, "com.example.app-1.0.0.zip")
	want.Manifest = filepath.Join(moved, "com.example.app-1.0.0.manifest.json")
	if *back != want {
		t.Fatalf("read back\n%+v\nwant\n%+v", back, want)
	}
}

func TestReadManifestRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		change  func(*Manifest)
		mention string
	}{
		{"no checksum", func(m *Manifest) { m.Checksum = "" }, "missing checksum"},
		{"no app id or version", func(m *Manifest) { m.AppID, m.Version = "", "" }, "missing app_id, version"},
		{"future schema", func(m *Manifest) { m.Schema = 2 }, "schema 2"},
		{"bad version", func(m *Manifest) { m.Version = "1.0" }, "semantic version"},
		{"bad sha256", func(m *Manifest) { m.SHA256 = strings.ToUpper(m.SHA256) }, "sha256"},
		{"plain checksum", func(m *Manifest) { m.Checksum = m.ZipSHA256 }, "V3"},
		{"bad session key", func(m *Manifest) { m.SessionKey = "x:y" }, "session key"},
		{"bad size", func(m *Manifest) { m.Size = 17 }, "size 17"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := testManifest(t, dir)
			c.change(m)
			data, _ := json.Marshal(m)
			p := filepath.Join(dir, c.name+".json")
			os.WriteFile(p, data, 0o644)
			_, err := ReadManifest(p)
			if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("err = %v, want ErrManifest mentioning %q", err, c.mention)
			}
		})
	}
	p := filepath.Join(dir, "broken.json")
	os.WriteFile(p, []byte(`{"app_id": `), 0o644)
	if _, err := ReadManifest(p); !errors.Is(err, ErrManifest) {
		t.Fatalf("broken JSON: %v", err)
	}
	if err := os.Truncate(p, maxManifestSize+1); err != nil { // sparse: no need to write it
		t.Fatal(err)
	}
	if _, err := ReadManifest(p); !errors.Is(err, ErrManifest) {
		t.Fatalf("huge file: %v", err)
	}
	if _, err := ReadManifest(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
