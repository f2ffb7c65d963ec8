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
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeWebFolder makes a small web build folder and returns its path and
// its files (slash name -> contents).
func writeWebFolder(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 40_000)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	files := map[string][]byte{
		"index.html":             []byte(indexHTML),
		"assets/app.js":          []byte(strings.Repeat("console.log('capship');\n", 500)),
		"assets/logo.png":        noise,
		"assets/fonts/a.woff2":   noise[:1000],
		"assets/sub/empty.txt":   nil,
		"assets/caf\u00e9.css":   []byte("body{}"),
		"manifest.webmanifest":   []byte(`{"name":"x"}`),
		"deep/a/b/c/d/e/f/g.txt": []byte("deep"),
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

func buildOptions(t testing.TB, web string) BuildOptions {
	return BuildOptions{
		Dir:      web,
		AppID:    "com.example.capship",
		Version:  "1.2.3",
		OutDir:   t.TempDir(),
		Key:      testPrivateKey(t, "test.pem"),
		CacheDir: t.TempDir(),
	}
}

func TestBuildRoundTrip(t *testing.T) {
	web := t.TempDir()
	files := writeWebFolder(t, web)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(web, "assets", "app.js.map"), []byte("{}"), 0o644))
	files["assets/app.js.map"] = []byte("{}")
	opts := buildOptions(t, web)
	var warnings []Problem
	opts.Warn = func(p Problem) { warnings = append(warnings, p) }
	var phases []Phase
	start := time.Now().UTC().Truncate(time.Second)
	m, err := Build(t.Context(), opts, func(e Event) {
		if len(phases) == 0 || phases[len(phases)-1] != e.Phase {
			phases = append(phases, e.Phase)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// The empty file twice: from the preflight, and because it keeps the
	// release from going file by file (TestBuildDeltaSkipped).
	if len(warnings) != 3 || warnings[0].Path != "assets/app.js.map" || warnings[1].Path != "assets/sub/empty.txt" ||
		warnings[2].Path != "assets/sub/empty.txt" || !strings.Contains(warnings[2].Message, "whole zip") {
		t.Errorf("warnings %+v, want the source map and the empty file, twice", warnings)
	}
	if m.Delta != nil || !strings.Contains(m.DeltaSkipped, "assets/sub/empty.txt is empty") {
		t.Errorf("delta %v, skipped %q; want none, naming the empty file", m.Delta, m.DeltaSkipped)
	}
	if got := fmt.Sprint(phases); got != "[scan pack done]" {
		t.Errorf("phases %s, want [scan pack done]", got)
	}
	wantFile := filepath.Join(opts.OutDir, "com.example.capship-1.2.3.zip")
	wantManifest := filepath.Join(opts.OutDir, "com.example.capship-1.2.3.manifest.json")
	if m.File != wantFile || m.Manifest != wantManifest {
		t.Fatalf("file %s manifest %s", m.File, m.Manifest)
	}
	if m.AppID != opts.AppID || m.Version != opts.Version || m.Files != len(files) || m.Schema != ManifestSchema {
		t.Fatalf("manifest %+v", m)
	}
	if m.KeyID != KeyID(&opts.Key.PublicKey) || m.KeyFingerprint != Fingerprint(&opts.Key.PublicKey) {
		t.Fatal("manifest names another key")
	}
	if m.CreatedAt.Before(start) || m.CreatedAt.After(time.Now()) {
		t.Fatalf("created_at %v", m.CreatedAt)
	}
	enc, err := os.ReadFile(m.File)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(enc); hex.EncodeToString(sum[:]) != m.SHA256 || int64(len(enc)) != m.Size {
		t.Fatal("sha256/size in the manifest do not match the file")
	}
	if m.Size != (m.ZipSize/16+1)*16 {
		t.Fatalf("size %d for a zip of %d", m.Size, m.ZipSize)
	}
	if st, _ := os.Stat(m.File); st.Mode().Perm() != 0o644 {
		t.Fatalf("bundle mode %v", st.Mode().Perm())
	}
	if left := listTree(t, opts.OutDir); len(left) != 2 {
		t.Fatalf("out folder holds %v, want the bundle and its manifest", left)
	}
	back, err := ReadManifest(m.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Fatalf("manifest read back differs:\n%+v\n%+v", back, m)
	}

	// Open it as a device would, with the public key only.
	dest := filepath.Join(t.TempDir(), "out")
	res, err := Open(t.Context(), OpenOptions{File: m.File, SessionKey: m.SessionKey, Checksum: m.Checksum,
		PublicKey: testPublicKey(t, "test.pub.pem"), ExtractDir: dest}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ZipSHA256 != m.ZipSHA256 || res.SHA256 != m.SHA256 || res.Files != len(files) || res.ZipSize != m.ZipSize {
		t.Fatalf("open result %+v vs manifest %+v", res, m)
	}
	for name, body := range files {
		got, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("%s: %v, %d bytes, want %d", name, err, len(got), len(body))
		}
	}
}

// The same folder gives the same zip (and zip_sha256) whenever and wherever
// it is built; the encryption differs each time (new session key).
func TestBuildDeterministic(t *testing.T) {
	webA, webB := t.TempDir(), t.TempDir()
	writeWebFolder(t, webA)
	writeWebFolder(t, webB)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	filepath.Walk(webB, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, old, old) })
	a, err := Build(t.Context(), buildOptions(t, webA), nil)
	if err != nil {
		t.Fatal(err)
	}
	optsB := buildOptions(t, webB)
	optsB.Workers = 1
	b, err := Build(t.Context(), optsB, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.ZipSHA256 != b.ZipSHA256 || a.ZipSize != b.ZipSize {
		t.Fatalf("zip_sha256 %s vs %s", a.ZipSHA256, b.ZipSHA256)
	}
	if a.SHA256 == b.SHA256 || a.SessionKey == b.SessionKey {
		t.Fatal("two builds reused the session key")
	}
	if a.Checksum != b.Checksum {
		t.Fatal("same zip, same key, but different checksums")
	}
}

// With the randomness injected, the whole output is a known function of the
// folder: the session key string is the one for that AES key and IV, and the
// file decrypts with them.
func TestBuildInjectedRandomness(t *testing.T) {
	web := t.TempDir()
	writeWebFolder(t, web)
	session := make([]byte, 32)
	for i := range session {
		session[i] = byte(i)
	}
	var sums []string
	for range 2 {
		opts := buildOptions(t, web)
		opts.rand = bytes.NewReader(session)
		opts.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
		m, err := Build(t.Context(), opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := SessionKeyString(opts.Key, session[:16], session[16:])
		if m.SessionKey != want {
			t.Fatalf("session key %s, want %s", m.SessionKey, want)
		}
		f, err := os.Open(m.File)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := NewDecryptReader(f, session[:16], session[16:])
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if hex.EncodeToString(h.Sum(nil)) != m.ZipSHA256 {
			t.Fatal("the file does not decrypt to the zip in the manifest")
		}
		if !m.CreatedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Fatalf("created_at %v", m.CreatedAt)
		}
		sums = append(sums, m.SHA256)
	}
	if sums[0] != sums[1] {
		t.Fatal("same folder and same randomness gave different encrypted files")
	}
}

func TestBuildRefuses(t *testing.T) {
	web := t.TempDir()
	writeWebFolder(t, web)
	noIndex := t.TempDir()
	os.WriteFile(filepath.Join(noIndex, "app.js"), []byte("notifyAppReady()"), 0o644)
	for _, c := range []struct {
		name    string
		change  func(*BuildOptions)
		is      error
		mention string
	}{
		{"version with v", func(o *BuildOptions) { o.Version = "v1.2.3" }, ErrVersion, "drop the leading"},
		{"short version", func(o *BuildOptions) { o.Version = "1.2" }, ErrVersion, "MAJOR.MINOR.PATCH"},
		{"no version", func(o *BuildOptions) { o.Version = "" }, ErrVersion, "the version is empty"},
		{"app id with slash", func(o *BuildOptions) { o.AppID = "com/example" }, ErrAppID, "holds"},
		{"app id without dot", func(o *BuildOptions) { o.AppID = "example" }, ErrAppID, "no dot"},
		{"no key", func(o *BuildOptions) { o.Key = nil }, nil, "no private key"},
		{"RSA-4096 key", func(o *BuildOptions) { o.Key = testPrivateKeyAnySize(t, "rsa4096.pem") }, ErrKeySize, "RSA-4096"},
		{"no folder", func(o *BuildOptions) { o.Dir = "" }, ErrMissingOption, "no web build folder"},
		{"no output folder", func(o *BuildOptions) { o.OutDir = "" }, ErrMissingOption, "no output folder"},
		{"missing folder", func(o *BuildOptions) { o.Dir = filepath.Join(web, "nope") }, nil, "nope"},
		{"no index.html", func(o *BuildOptions) { o.Dir = noIndex }, nil, "index.html"},
		{"output inside the web folder", func(o *BuildOptions) { o.OutDir = filepath.Join(web, "dist") }, nil, "inside the web build folder"},
		{"broken randomness", func(o *BuildOptions) { o.rand = strings.NewReader("short") }, io.ErrUnexpectedEOF, "session key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := buildOptions(t, web)
			c.change(&opts)
			_, err := Build(t.Context(), opts, nil)
			if err == nil || c.is != nil && !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("err = %v, want %v mentioning %q", err, c.is, c.mention)
			}
			// Flags are the command line's advice, keys the wizard's.
			if strings.Contains(err.Error(), "--") {
				t.Fatalf("err = %v gives a command line's advice", err)
			}
			var inside *OutInsideWebError
			if strings.HasPrefix(c.name, "output ") && (!errors.As(err, &inside) || inside.Web == "" || inside.Out == "") {
				t.Fatalf("err = %v, want an *OutInsideWebError with both folders", err)
			}
			if left := listTree(t, opts.OutDir); len(left) > 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
}

func TestBuildNeverOverwritesWithoutForce(t *testing.T) {
	web := t.TempDir()
	writeWebFolder(t, web)
	opts := buildOptions(t, web)
	first, err := Build(t.Context(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(first.File)
	if _, err := Build(t.Context(), opts, nil); !errors.Is(err, ErrBundleExists) || strings.Contains(err.Error(), "--force") {
		t.Fatalf("second build: %v", err)
	}
	if after, _ := os.ReadFile(first.File); !bytes.Equal(before, after) {
		t.Fatal("the existing bundle was changed")
	}
	opts.Force = true
	second, err := Build(t.Context(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.SHA256 == first.SHA256 {
		t.Fatal("--force did not replace the bundle")
	}
	if m, err := ReadManifest(second.Manifest); err != nil || m.SHA256 != second.SHA256 {
		t.Fatalf("manifest after --force: %v", err)
	}
	if left := listTree(t, opts.OutDir); len(left) != 2 {
		t.Fatalf("out folder holds %v", left)
	}
}

// writeChunks writes n files chunk-000.js… into dir, file i holding
// "WORD i;" times times, so that a build has work to cancel.
func writeChunks(t *testing.T, dir string, n int, word string, times int) {
	t.Helper()
	for i := range n {
		body := bytes.Repeat([]byte(fmt.Sprintf("%s %d;", word, i)), times)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("chunk-%03d.js", i)), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Cancelling at any point leaves nothing in OutDir.
func TestBuildCancel(t *testing.T) {
	web := t.TempDir()
	writeWebFolder(t, web)
	writeChunks(t, web, 300, "file", 2000) // enough that packing takes several events
	for _, at := range []Phase{"before", PhaseScan, PhasePack} {
		t.Run(string(at), func(t *testing.T) {
			opts := buildOptions(t, web)
			opts.OutDir = filepath.Join(opts.OutDir, "new") // Build creates it
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if at == "before" {
				cancel()
			}
			_, err := Build(ctx, opts, func(e Event) {
				if e.Phase == at && (at != PhaseScan || e.Files > 0) {
					cancel()
				}
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if _, err := os.Stat(opts.OutDir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the output folder Build made is still there: %v", err)
			}
		})
	}
}

func TestFileNames(t *testing.T) {
	if got := BundleFileName("com.a.b", "1.0.0+build.7"); got != "com.a.b-1.0.0_build.7.zip" {
		t.Fatal(got)
	}
	if got := ManifestFileName("com.a.b", "1.0.0-rc.1"); got != "com.a.b-1.0.0-rc.1.manifest.json" {
		t.Fatal(got)
	}
	for _, ok := range []string{"com.example.app", "io.ionic.starter", "com.my-company.app_2", "A.b"} {
		if err := ValidAppID(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "app", "com..app", ".com.app", "com.app.", "com.app/../x", "com.app ", "com.äpp", strings.Repeat("a.", 200)} {
		if err := ValidAppID(bad); !errors.Is(err, ErrAppID) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
