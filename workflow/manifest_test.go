package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
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
	if !reflect.DeepEqual(*back, want) {
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

// testDelta is a delta of three files, two of them sharing an object.
func testDelta(dir string) *Delta {
	hash := strings.Repeat("ab", 256)
	sum := func(c byte) string { return strings.Repeat(string(c), 64) }
	return &Delta{Dir: filepath.Join(dir, "com.example.app-1.0.0.files"), Files: []DeltaFile{
		{Path: "a/app.js", SHA256: sum('1'), FileHash: hash, Object: sum('1'), Size: 32, ObjectSHA256: sum('a'), Brotli: true, PlainSize: 9000},
		{Path: "b/app.js", SHA256: sum('1'), FileHash: hash, Object: sum('1'), Size: 32, ObjectSHA256: sum('a'), Brotli: true, PlainSize: 9000},
		{Path: "index.html", SHA256: sum('2'), FileHash: hash, Object: sum('2'), Size: 48, ObjectSHA256: sum('b'), PlainSize: 40},
	}}
}

// WriteJSON streams what json.MarshalIndent would write.
func TestManifestWriteJSON(t *testing.T) {
	dir := t.TempDir()
	for name, change := range map[string]func(*Manifest){
		"no delta":     func(m *Manifest) {},
		"skipped":      func(m *Manifest) { m.DeltaSkipped = "a <b> & \"c\" is empty" },
		"delta":        func(m *Manifest) { m.Delta = testDelta(dir); s := m.Delta.Summary(); m.DeltaSummary = &s },
		"no files":     func(m *Manifest) { m.Delta = &Delta{Dir: "x"} },
		"empty files":  func(m *Manifest) { m.Delta = &Delta{Dir: "x", Files: []DeltaFile{}} },
		"both (a bug)": func(m *Manifest) { m.Delta = testDelta(dir); m.DeltaSkipped = "why" },
		"odd path <&>": func(m *Manifest) { m.Delta = testDelta(dir); m.Delta.Files[0].Path = "<&>\u2028é" },
		"escapes":      func(m *Manifest) { m.Delta = testDelta(dir); m.Delta.Files[1].Path = "a\"b\\c\n\x01\x7f\xff\t" },
		"no plain size": func(m *Manifest) {
			m.Delta = testDelta(dir)
			m.Delta.Files[2].PlainSize, m.Delta.Files[2].Size = 0, -1
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := testManifest(t, dir)
			change(m)
			writesAsMarshalIndent(t, m)
		})
	}
}

func TestManifestDelta(t *testing.T) {
	dir := t.TempDir()
	m := testManifest(t, dir)
	m.Delta = testDelta(dir)
	if err := writeManifest(m.Manifest, m); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(m.Manifest)
	if !bytes.Contains(raw, []byte(`"dir": "com.example.app-1.0.0.files"`)) {
		t.Fatalf("delta dir not stored relative to the manifest:\n%s", raw)
	}
	back, err := ReadManifest(m.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if back.Delta.Dir != m.Delta.Dir || len(back.Delta.Files) != 3 || back.DeltaSummary == nil ||
		*back.DeltaSummary != (DeltaSummary{Files: 3, Objects: 2, Bytes: 80, Brotli: 1, BrotliSaved: 9000 - 32}) {
		t.Fatalf("read back %+v, summary %+v", back.Delta, back.DeltaSummary)
	}

	for _, c := range []struct {
		name    string
		change  func(d *Delta)
		mention string
	}{
		{"no dir", func(d *Delta) { d.Dir = "" }, "missing dir"},
		{"no files", func(d *Delta) { d.Files = nil }, "no files"},
		{"traversal", func(d *Delta) { d.Files[0].Path = "../a/app.js" }, `".." segment`},
		{"absolute", func(d *Delta) { d.Files[0].Path = "/a/app.js" }, "absolute"},
		{"backslash", func(d *Delta) { d.Files[2].Path = `z\index.html` }, "backslash"},
		{"twice", func(d *Delta) { d.Files[1].Path = "a/app.js" }, "listed twice"},
		{"unsorted", func(d *Delta) { d.Files[0].Path = "c/app.js" }, "not sorted"},
		{"short sha256", func(d *Delta) { d.Files[2].SHA256 = "abc" }, "sha256 is not"},
		{"upper hex", func(d *Delta) { d.Files[2].ObjectSHA256 = strings.Repeat("A", 64) }, "object_sha256"},
		{"plain file hash", func(d *Delta) { d.Files[2].FileHash = strings.Repeat("1", 64) }, "V3 form"},
		{"object with slash", func(d *Delta) { d.Files[2].Object = "x/y" }, "URL-safe"},
		{"object with query", func(d *Delta) { d.Files[2].Object = "x?y" }, "URL-safe"},
		{"object ..", func(d *Delta) { d.Files[2].Object = ".." }, "URL-safe"},
		{"object with space", func(d *Delta) { d.Files[2].Object = "a b" }, "URL-safe"},
		{"size 0", func(d *Delta) { d.Files[2].Size = 0 }, "positive multiple of 16"},
		{"size 40", func(d *Delta) { d.Files[2].Size = 40 }, "positive multiple of 16"},
		{"plain size", func(d *Delta) { d.Files[2].PlainSize = 64 }, "does not hold 64 plain bytes"},
		{"shared object, other content", func(d *Delta) { d.Files[1].SHA256 = strings.Repeat("3", 64) }, "share object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := testManifest(t, dir)
			bad.Delta = testDelta(dir)
			c.change(bad.Delta)
			p := filepath.Join(dir, "bad.json")
			data, _ := json.Marshal(bad)
			os.WriteFile(p, data, 0o644)
			_, err := ReadManifest(p)
			if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("err = %v, want ErrManifest mentioning %q", err, c.mention)
			}
		})
	}
}

// FuzzReadManifest: a manifest file is read without panicking, and one
// that is accepted is written back and read again unchanged.
func FuzzReadManifest(f *testing.F) {
	dir := f.TempDir()
	m := &Manifest{
		Schema: ManifestSchema, AppID: "com.example.app", Version: "1.0.0", File: "com.example.app-1.0.0.zip", Size: 912,
		SHA256: strings.Repeat("a", 64), ZipSHA256: strings.Repeat("b", 64), ZipSize: 898,
		SessionKey: "AAAAAAAAAAAAAAAAAAAAAA==:" + strings.Repeat("QUFB", 85) + "QQ==", Checksum: strings.Repeat("c", 512),
		KeyID: "k", KeyFingerprint: "sha256:x", Files: 3, Manifest: "m.json", Delta: testDelta(dir),
	}
	m.Delta.Dir = "com.example.app-1.0.0.files"
	seed, _ := json.Marshal(m)
	f.Add(seed)
	f.Add([]byte(`{"delta":{"dir":"x","files":[{"path":"../a"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "m.json")
		os.WriteFile(p, data, 0o644)
		got, err := ReadManifest(p)
		if err != nil {
			return
		}
		if err := writeManifest(p, got); err != nil {
			t.Fatal(err)
		}
		again, err := ReadManifest(p)
		if err != nil {
			t.Fatalf("written back, not read: %v", err)
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("read back differs:\n%s\n%s", a, b)
		}
	})
}

// FuzzManifestWriteJSON: any strings and numbers in a delta come out as
// MarshalIndent writes them.
func FuzzManifestWriteJSON(f *testing.F) {
	f.Add("a/b.js", "0123", int64(16), int64(9000), true)
	f.Add("<&>\u2028\xff\"\\", "", int64(-1), int64(0), false)
	f.Fuzz(func(t *testing.T, path, object string, size, plain int64, br bool) {
		m := &Manifest{Delta: &Delta{Dir: path, Files: []DeltaFile{
			{Path: path, SHA256: object, FileHash: path + object, Object: object, Size: size, ObjectSHA256: path, Brotli: br, PlainSize: plain},
			{Path: object, Size: plain, PlainSize: size},
		}}}
		writesAsMarshalIndent(t, m)
	})
}

// writesAsMarshalIndent checks that m's hand-written JSON is what
// encoding/json writes for it.
func writesAsMarshalIndent(t *testing.T, m *Manifest) {
	t.Helper()
	want, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := m.WriteJSON(&got); err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want)+"\n" {
		t.Fatalf("WriteJSON:\n%s\nMarshalIndent:\n%s", got.String(), want)
	}
}
