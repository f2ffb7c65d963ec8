package workflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// writeDeltaFolder makes a web build folder with a file of every kind the
// delta build treats apart, and returns its files (slash name -> contents).
func writeDeltaFolder(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	js := []byte(strings.Repeat("export function f(a){return a+1};// capship\n", 400)) // 17 KB, shrinks
	brotliAsset := func() []byte {
		var b bytes.Buffer
		w := brotli.NewWriterLevel(&b, 5)
		w.Write(js)
		w.Close()
		return b.Bytes()
	}()
	files := map[string][]byte{
		"index.html":              []byte(indexHTML),
		"assets/app.js":           js,
		"assets/copy/app.js":      js,                       // same content: one object
		"assets/random.js":        noise(20_000),            // 8 KiB or more, but brotli does not shrink it
		"assets/small.css":        []byte("body{margin:0}"), // under 8 KiB: plain
		"assets/logo.png":         noise(30_000),            // already compressed type: never tried
		"assets/app.js.br":        brotliAsset,              // named .br: must travel as NAME.br.br
		"assets/data.bin.br":      noise(100),               // named .br, not even brotli inside
		"assets/caf\u00e9.js":     append(bytes.Repeat([]byte("let caf\u00e9 = 1;\n"), 1000), '\n'),
		"deep/a/b/c/d/e/f/g.json": bytes.Repeat([]byte(`{"k":"v"},`), 2000),
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// openDeltaFile does what the plugin does with one manifest entry: decrypt
// the object with the session key, brotli-decode it when its file_name
// ends in ".br", compare the SHA-256 of the plain bytes with the file
// hash opened with the public key, and put it at the name without ".br".
// It returns the path the file lands at and its bytes.
func openDeltaFile(t *testing.T, m *Manifest, f DeltaFile) (string, []byte) {
	t.Helper()
	pub := testPublicKey(t, "test.pub.pem")
	key, iv, err := RecoverSessionKey(pub, m.SessionKey)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := os.ReadFile(filepath.Join(m.Delta.Dir, f.Object))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(obj); hex.EncodeToString(sum[:]) != f.ObjectSHA256 || int64(len(obj)) != f.Size {
		t.Fatalf("%s: object %s is not the one the manifest describes", f.Path, f.Object)
	}
	r, err := NewDecryptReader(bytes.NewReader(obj), key, iv)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: decrypt: %v", f.Path, err)
	}
	fileName := f.Path
	if f.Brotli {
		fileName += ".br"
	}
	target := fileName
	if strings.HasSuffix(fileName, ".br") { // the plugin's rule, on both platforms
		target = strings.TrimSuffix(fileName, ".br")
		if len(data) > 0 && data[0]&0x0f == 0x0b {
			t.Fatalf("%s: the brotli stream starts like the plugin's stored-bytes wrapper", f.Path)
		}
		if data, err = io.ReadAll(brotli.NewReader(bytes.NewReader(data))); err != nil {
			t.Fatalf("%s: brotli: %v", f.Path, err)
		}
	}
	digest, err := FileDigest(pub, f.FileHash)
	if err != nil || len(f.FileHash) != 512 {
		t.Fatalf("%s: file hash %.16s…: %v", f.Path, f.FileHash, err)
	}
	plainSum := sha256.Sum256(data)
	if err := VerifyChecksum(pub, f.FileHash, plainSum[:]); err != nil {
		t.Fatalf("%s: file hash: %v", f.Path, err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != digest || digest != f.SHA256 {
		t.Fatalf("%s: content does not match its signed hash", f.Path)
	}
	if f.PlainSize != int64(len(data)) {
		t.Fatalf("%s: plain size %d, got %d bytes", f.Path, f.PlainSize, len(data))
	}
	return target, data
}

func TestBuildDeltaRoundTrip(t *testing.T) {
	web := t.TempDir()
	files := writeDeltaFolder(t, web)
	opts := buildOptions(t, web)
	stats := &deltaStats{}
	opts.deltaStats = stats
	var warnings []Problem
	opts.Warn = func(p Problem) { warnings = append(warnings, p) }
	var phases []Phase
	var last Event
	m, err := Build(t.Context(), opts, func(e Event) {
		if len(phases) == 0 || phases[len(phases)-1] != e.Phase {
			phases = append(phases, e.Phase)
		}
		if e.Phase == PhaseDelta {
			last = e
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(phases); got != "[scan pack delta done]" {
		t.Errorf("phases %s", got)
	}
	if last.Files != len(files) || last.TotalFiles != len(files) || last.Bytes != m.Bytes || last.TotalBytes != m.Bytes {
		t.Errorf("last delta event %+v, want all %d files and %d bytes", last, len(files), m.Bytes)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %+v", warnings)
	}
	if m.Delta == nil {
		t.Fatalf("no delta: %s", m.DeltaSkipped)
	}
	if want := filepath.Join(opts.OutDir, "com.example.capship-1.2.3.files"); m.Delta.Dir != want {
		t.Fatalf("delta dir %s, want %s", m.Delta.Dir, want)
	}
	if len(m.Delta.Files) != len(files) || !slices.IsSortedFunc(m.Delta.Files, func(a, b DeltaFile) int { return strings.Compare(a.Path, b.Path) }) {
		t.Fatalf("delta lists %d files (sorted: %v), want %d, sorted", len(m.Delta.Files), slices.IsSortedFunc(m.Delta.Files, func(a, b DeltaFile) int { return strings.Compare(a.Path, b.Path) }), len(files))
	}
	brotliWanted := map[string]bool{"assets/app.js": true, "assets/copy/app.js": true, "assets/app.js.br": true,
		"assets/data.bin.br": true, "assets/caf\u00e9.js": true, "deep/a/b/c/d/e/f/g.json": true}
	objects := map[string]string{} // object -> sha256
	for _, f := range m.Delta.Files {
		target, data := openDeltaFile(t, m, f)
		if target != f.Path {
			t.Errorf("%s lands at %s on a phone", f.Path, target)
		}
		if !bytes.Equal(data, files[f.Path]) {
			t.Errorf("%s: a phone gets other bytes", f.Path)
		}
		if f.Brotli != brotliWanted[f.Path] {
			t.Errorf("%s: brotli %v, want %v", f.Path, f.Brotli, brotliWanted[f.Path])
		}
		if f.Object != f.SHA256 || !validObjectName(f.Object) {
			t.Errorf("%s: object name %q", f.Path, f.Object)
		}
		objects[f.Object] = f.SHA256
	}
	if len(objects) != len(files)-1 {
		t.Errorf("%d objects for %d files of which two share a content", len(objects), len(files))
	}
	if des, _ := os.ReadDir(m.Delta.Dir); len(des) != len(objects) {
		t.Errorf("the delta folder holds %d files, want the %d objects", len(des), len(objects))
	}
	if st, _ := os.Stat(m.Delta.Dir); st.Mode().Perm() != 0o755 {
		t.Errorf("delta folder mode %v", st.Mode().Perm())
	}
	if left := listTree(t, opts.OutDir); len(left) != 3+len(objects) {
		t.Errorf("out folder holds %v", left)
	}
	sum := m.Delta.Summary()
	if m.DeltaSummary == nil || *m.DeltaSummary != sum || sum.Files != len(files) || sum.Objects != len(objects) || sum.Brotli != 5 || sum.BrotliSaved <= 0 {
		t.Errorf("summary %+v in the manifest, %+v computed", m.DeltaSummary, sum)
	}
	if n := stats.Signed.Load(); n != int64(len(objects)) {
		t.Errorf("%d signatures for %d contents", n, len(objects))
	}

	back, err := ReadManifest(m.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if back.Delta.Dir != m.Delta.Dir || !slices.Equal(back.Delta.Files, m.Delta.Files) || *back.DeltaSummary != sum {
		t.Fatal("the delta read back differs")
	}
	raw, _ := os.ReadFile(m.Manifest)
	if !bytes.Contains(raw, []byte(`"dir": "com.example.capship-1.2.3.files"`)) {
		t.Error("the manifest does not name the delta folder relative to itself")
	}
}

// A release that cannot go file by file says why, and warns; the zip is
// built as always.
func TestBuildDeltaSkipped(t *testing.T) {
	long := strings.Repeat("n", maxDeltaBaseName-2) + ".js"
	for _, c := range []struct {
		name, file, mention string
	}{
		{"empty file", "assets/empty.txt", "assets/empty.txt is empty"},
		{"long name", "assets/" + long, "the name of assets/" + long + " is 191 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			web := t.TempDir()
			writeDeltaFolder(t, web)
			body := []byte("x")
			if c.name == "empty file" {
				body = nil
			}
			os.WriteFile(filepath.Join(web, filepath.FromSlash(c.file)), body, 0o644)
			opts := buildOptions(t, web)
			var warnings []Problem
			opts.Warn = func(p Problem) { warnings = append(warnings, p) }
			m, err := Build(t.Context(), opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.Delta != nil || m.DeltaSummary != nil || !strings.Contains(m.DeltaSkipped, c.mention) || !strings.Contains(m.DeltaSkipped, "whole zip") {
				t.Fatalf("delta %v, skipped %q; want none, mentioning %q", m.Delta != nil, m.DeltaSkipped, c.mention)
			}
			if w := warnings[len(warnings)-1]; w.Path != c.file || w.Blocking || !strings.Contains(w.Message, "whole zip") {
				t.Fatalf("warning %+v", w)
			}
			if left := listTree(t, opts.OutDir); len(left) != 2 {
				t.Fatalf("out folder holds %v, want the bundle and its manifest", left)
			}
			back, err := ReadManifest(m.Manifest)
			if err != nil || back.DeltaSkipped != m.DeltaSkipped || back.Delta != nil {
				t.Fatalf("read back: %v", err)
			}
		})
	}
	web := t.TempDir()
	writeDeltaFolder(t, web)
	opts := buildOptions(t, web)
	opts.NoDelta = true
	m, err := Build(t.Context(), opts, nil)
	if err != nil || m.Delta != nil || m.DeltaSkipped != "" {
		t.Fatalf("--no-delta: %v, %+v", err, m)
	}
	if left := listTree(t, opts.OutDir); len(left) != 2 {
		t.Fatalf("--no-delta: out folder holds %v", left)
	}
}

// Cancelling while the objects are written leaves nothing in OutDir, and no
// temp file in the cache.
func TestBuildDeltaCancel(t *testing.T) {
	web := t.TempDir()
	writeDeltaFolder(t, web)
	writeChunks(t, web, 200, "chunk", 1500)
	for _, at := range []string{"start", "midway"} {
		t.Run(at, func(t *testing.T) {
			opts := buildOptions(t, web)
			opts.OutDir = filepath.Join(opts.OutDir, "new")
			opts.Workers = 1
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			_, err := Build(ctx, opts, func(e Event) {
				if e.Phase == PhaseDelta && (at == "start" || e.Files > 0) {
					cancel()
				}
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if _, err := os.Stat(opts.OutDir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the output folder is still there: %v", listTree(t, opts.OutDir))
			}
			for _, f := range listTree(t, opts.CacheDir) {
				if strings.Contains(f, ".tmp-") {
					t.Errorf("left in the cache: %s", f)
				}
			}
		})
	}
}

// --force replaces an earlier delta folder, and removes it when the new
// build has none; without --force a delta folder alone blocks the build.
func TestBuildDeltaForce(t *testing.T) {
	web := t.TempDir()
	files := writeDeltaFolder(t, web)
	opts := buildOptions(t, web)
	first, err := Build(t.Context(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(web, "assets", "small.css"), []byte("body{margin:1px}"), 0o644)
	files["assets/small.css"] = []byte("body{margin:1px}")
	opts.Force = true
	second, err := Build(t.Context(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Delta.Dir != first.Delta.Dir {
		t.Fatal("the delta folder moved")
	}
	des, _ := os.ReadDir(second.Delta.Dir)
	if len(des) != len(files)-1 {
		t.Fatalf("the delta folder holds %d files, want %d objects", len(des), len(files)-1)
	}
	for _, f := range second.Delta.Files {
		if _, data := openDeltaFile(t, second, f); !bytes.Equal(data, files[f.Path]) {
			t.Fatalf("%s: not the new content", f.Path)
		}
	}
	if left := listTree(t, opts.OutDir); len(left) != 3+len(des) {
		t.Fatalf("out folder holds %v", left)
	}

	opts.NoDelta = true
	if _, err := Build(t.Context(), opts, nil); err != nil {
		t.Fatal(err)
	}
	if left := listTree(t, opts.OutDir); len(left) != 2 {
		t.Fatalf("--no-delta --force left %v", left)
	}

	opts.Force, opts.NoDelta = false, false
	os.Remove(second.File)
	os.Remove(second.Manifest)
	os.Mkdir(second.Delta.Dir, 0o755)
	if _, err := Build(t.Context(), opts, nil); !errors.Is(err, ErrBundleExists) || !strings.Contains(err.Error(), ".files") {
		t.Fatalf("a delta folder alone: %v", err)
	}
}

// decryptObject returns the plain bytes of a file's object as uploaded:
// the brotli stream itself for a brotli object.
func decryptObject(t *testing.T, m *Manifest, f DeltaFile) []byte {
	t.Helper()
	key, iv, err := RecoverSessionKey(testPublicKey(t, "test.pub.pem"), m.SessionKey)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := os.ReadFile(filepath.Join(m.Delta.Dir, f.Object))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := NewDecryptReader(bytes.NewReader(obj), key, iv)
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A rebuild takes every compression and signature from the cache: the
// same streams, encrypted with the new release's own session key.
func TestBuildDeltaCache(t *testing.T) {
	web := t.TempDir()
	files := writeDeltaFolder(t, web)
	opts := buildOptions(t, web)
	first := &deltaStats{}
	opts.deltaStats = first
	m1, err := Build(t.Context(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	contents := int64(len(files) - 1)
	if first.Compressed.Load() != 6 || first.CacheHits.Load() != 0 || first.Signed.Load() != contents || first.SigHits.Load() != 0 {
		t.Fatalf("first build: %d compressed, %d from the cache, %d signed, %d signatures from the cache",
			first.Compressed.Load(), first.CacheHits.Load(), first.Signed.Load(), first.SigHits.Load())
	}

	opts.OutDir, opts.Version = t.TempDir(), "1.2.4"
	second := &deltaStats{}
	opts.deltaStats = second
	m2, err := Build(t.Context(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Compressed.Load() != 0 || second.CacheHits.Load() != 6 || second.Signed.Load() != 0 || second.SigHits.Load() != contents {
		t.Fatalf("rebuild: %d compressed, %d from the cache, %d signed, %d signatures from the cache",
			second.Compressed.Load(), second.CacheHits.Load(), second.Signed.Load(), second.SigHits.Load())
	}
	if m1.SessionKey == m2.SessionKey {
		t.Fatal("two releases share a session key")
	}
	for i, f := range m2.Delta.Files {
		g := m1.Delta.Files[i]
		if f.Path != g.Path || f.FileHash != g.FileHash || f.Brotli != g.Brotli || f.Size != g.Size || f.SHA256 != g.SHA256 {
			t.Fatalf("%s differs from the first build: %+v vs %+v", f.Path, f, g)
		}
		if f.ObjectSHA256 == g.ObjectSHA256 {
			t.Fatalf("%s: the same object bytes in two releases", f.Path)
		}
		if !bytes.Equal(decryptObject(t, m1, g), decryptObject(t, m2, f)) {
			t.Fatalf("%s: the rebuild's object holds other bytes", f.Path)
		}
		if _, data := openDeltaFile(t, m2, f); !bytes.Equal(data, files[f.Path]) {
			t.Fatalf("%s: a phone gets other bytes", f.Path)
		}
	}

	// A changed file is compressed and signed again, alone.
	os.WriteFile(filepath.Join(web, "assets", "app.js"), append(files["assets/app.js"], "// 2\n"...), 0o644)
	opts.OutDir, opts.Version = t.TempDir(), "1.2.5"
	third := &deltaStats{}
	opts.deltaStats = third
	if _, err := Build(t.Context(), opts, nil); err != nil {
		t.Fatal(err)
	}
	if third.Compressed.Load() != 1 || third.CacheHits.Load() != 6 || third.Signed.Load() != 1 {
		t.Fatalf("one file changed: %d compressed, %d from the cache, %d signed", third.Compressed.Load(), third.CacheHits.Load(), third.Signed.Load())
	}
}

// Damaged cache entries are noticed and redone; the release is right.
func TestBuildDeltaCorruptCache(t *testing.T) {
	web := t.TempDir()
	files := writeDeltaFolder(t, web)
	opts := buildOptions(t, web)
	if _, err := Build(t.Context(), opts, nil); err != nil {
		t.Fatal(err)
	}
	var entries []string
	filepath.WalkDir(filepath.Join(opts.CacheDir, "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") && strings.Contains(p, "/br") {
			entries = append(entries, p)
		}
		return nil
	})
	if len(entries) != 6 { // 6 contents compressed, one of them noted as not shrinking
		t.Fatalf("%d cache entries: %v", len(entries), entries)
	}
	damage := []func(b []byte) []byte{
		func(b []byte) []byte { b[len(b)-1] ^= 1; return b },                // a flipped bit in the stream
		func(b []byte) []byte { return b[:len(b)-3] },                       // truncated
		func(b []byte) []byte { b[40] ^= 1; return b },                      // the header names another content
		func(b []byte) []byte { return append(b, 0) },                       // a byte too many
		func(b []byte) []byte { return []byte("not a cache entry at all") }, // garbage
	}
	for i, f := range damage {
		b, err := os.ReadFile(entries[i])
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(entries[i], f(b), 0o600)
	}
	packs, _ := filepath.Glob(filepath.Join(opts.CacheDir, "signatures", "*", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("signature packs %v", packs)
	}
	pack, _ := os.ReadFile(packs[0])
	pack[len(sigMagic)+sha256.Size+10] ^= 1 // the first record's signature
	os.WriteFile(packs[0], pack, 0o600)

	opts.OutDir, opts.Version = t.TempDir(), "1.2.4"
	stats := &deltaStats{}
	opts.deltaStats = stats
	m, err := Build(t.Context(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Compressed.Load() != 5 || stats.CacheHits.Load() != 1 || stats.Signed.Load() != 1 {
		t.Fatalf("%d compressed, %d from the cache, %d signed; want the 5 damaged entries and the damaged signature redone",
			stats.Compressed.Load(), stats.CacheHits.Load(), stats.Signed.Load())
	}
	for _, f := range m.Delta.Files {
		if _, data := openDeltaFile(t, m, f); !bytes.Equal(data, files[f.Path]) {
			t.Fatalf("%s: a phone gets other bytes", f.Path)
		}
	}
}

// Another key's cached signatures are never used: the cache is per key.
func TestBuildDeltaCachePerKey(t *testing.T) {
	web := t.TempDir()
	writeDeltaFolder(t, web)
	opts := buildOptions(t, web)
	if _, err := Build(t.Context(), opts, nil); err != nil {
		t.Fatal(err)
	}
	opts.OutDir, opts.Key = t.TempDir(), testPrivateKey(t, "other.pem")
	stats := &deltaStats{}
	opts.deltaStats = stats
	m, err := Build(t.Context(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.SigHits.Load() != 0 || stats.CacheHits.Load() != 6 {
		t.Fatalf("%d signatures from the cache of another key; %d compressions from the cache", stats.SigHits.Load(), stats.CacheHits.Load())
	}
	pub := testPublicKey(t, "other.pub.pem")
	for _, f := range m.Delta.Files {
		if d, err := FileDigest(pub, f.FileHash); err != nil || d != f.SHA256 {
			t.Fatalf("%s: file hash does not open with the key's public half: %v", f.Path, err)
		}
	}
}

// With room for one compression at a time, workers put the others off and
// sign meanwhile; every file still gets its object.
func TestBuildDeltaCompressionMemory(t *testing.T) {
	web := t.TempDir()
	files := writeDeltaFolder(t, web)
	for i := range 40 {
		body := bytes.Repeat([]byte(fmt.Sprintf("let chunk%d = %d;\n", i, i)), 1000)
		name := fmt.Sprintf("chunk-%02d.js", i)
		os.WriteFile(filepath.Join(web, name), body, 0o644)
		files[name] = body
	}
	opts := buildOptions(t, web)
	opts.Workers, opts.brotliMem = 4, 1
	stats := &deltaStats{}
	opts.deltaStats = stats
	m, err := Build(t.Context(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Compressed.Load() != 46 {
		t.Fatalf("%d compressed, want 46", stats.Compressed.Load())
	}
	for _, f := range m.Delta.Files {
		if _, data := openDeltaFile(t, m, f); !bytes.Equal(data, files[f.Path]) {
			t.Fatalf("%s: a phone gets other bytes", f.Path)
		}
	}
}

// Builds running at once share a cache folder safely.
func TestBuildDeltaSharedCache(t *testing.T) {
	web := t.TempDir()
	files := writeDeltaFolder(t, web)
	cache := t.TempDir()
	errs := make(chan error, 3)
	ms := make([]*Manifest, 3)
	for i := range ms {
		go func() {
			opts := buildOptions(t, web)
			opts.CacheDir, opts.Version = cache, fmt.Sprintf("1.0.%d", i)
			var err error
			ms[i], err = Build(context.Background(), opts, nil)
			errs <- err
		}()
	}
	for range ms {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range ms {
		for _, f := range m.Delta.Files {
			if _, data := openDeltaFile(t, m, f); !bytes.Equal(data, files[f.Path]) {
				t.Fatalf("%s: a phone gets other bytes", f.Path)
			}
		}
	}
	opts := buildOptions(t, web)
	opts.CacheDir = cache
	stats := &deltaStats{}
	opts.deltaStats = stats
	if _, err := Build(t.Context(), opts, nil); err != nil {
		t.Fatal(err)
	}
	if stats.Compressed.Load() != 0 || stats.Signed.Load() != 0 {
		t.Fatalf("after three builds at once, %d compressed and %d signed again", stats.Compressed.Load(), stats.Signed.Load())
	}
	for _, f := range listTree(t, cache) {
		if strings.Contains(f, ".tmp-") {
			t.Errorf("left in the cache: %s", f)
		}
	}
}
