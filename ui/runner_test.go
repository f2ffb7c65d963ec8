package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"capship/server/servertest"
	"capship/store"
	"capship/workflow"
)

// The real Runner against the real things: project files on disk, the OS
// keychain (private D-Bus session from scripts/test, a service name of its
// own), the bundle engine, a loopback HTTP server and a registry file.

func writeProject(t *testing.T, dir, appID string) {
	t.Helper()
	files := map[string]string{
		"capacitor.config.json": "{\n  \"appId\": \"" + appID + "\",\n  \"webDir\": \"dist\"\n}\n",
		"package.json":          `{"version": "3.1.0"}`,
		"dist/index.html":       `<!doctype html><script src="main.js"></script>`,
		"dist/main.js":          `window.CapacitorUpdater?.notifyAppReady()`,
	}
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

func needKeychain(t *testing.T) {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatal("DBUS_SESSION_BUS_ADDRESS is not set (scripts/test starts a keyring)")
		}
		t.Skip("no keychain; run scripts/test")
	}
}

func TestRealRunner(t *testing.T) {
	needKeychain(t)
	ctx := context.Background()
	dir := t.TempDir()
	appID := "com.capship.runner"
	writeProject(t, dir, appID)
	service := fmt.Sprintf("capship-test-runner-%d", time.Now().UnixNano())
	t.Cleanup(func() { _ = store.NewKeychain(service).Delete(appID) })
	db := filepath.Join(dir, "state", "registry.db")
	r := NewRunner(RunnerOptions{DB: db, KeychainService: service})
	defer r.Close()

	p, err := r.LoadProject(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.AppID != appID || p.WebDir != filepath.Join(dir, "dist") || p.Version != "3.1.0" || !strings.Contains(p.Registry, db) {
		t.Fatalf("project %+v", p)
	}
	if _, err := r.LoadProject(t.TempDir(), ""); !errors.Is(err, workflow.ErrNoConfig) {
		t.Fatalf("a folder without config: %v", err)
	}

	k, err := r.KeyState(p)
	if err != nil || k.State != KeyMissing {
		t.Fatalf("before create: %+v, %v", k, err)
	}
	if k, err = r.CreateKey(p); err != nil || k.State != KeyConfigMissing || len(k.KeyID) != 20 || !strings.HasPrefix(k.Fingerprint, "sha256:") {
		t.Fatalf("create: %+v, %v", k, err)
	}
	if _, err := r.CreateKey(p); !errors.Is(err, store.ErrKeyExists) || strings.Contains(err.Error(), "--force") {
		t.Fatalf("a second CreateKey: %v", err)
	}
	// importing another key must not replace the existing one
	other, _ := workflow.GenerateKey()
	otherFile := filepath.Join(dir, ".capgo_key_v2")
	if err := workflow.WriteKeyFile(otherFile, workflow.EncodePrivateKey(other)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ImportKey(p, otherFile); !errors.Is(err, store.ErrKeyExists) || strings.Contains(err.Error(), "--force") {
		t.Fatalf("import over an existing key: %v", err)
	}
	if k, err = r.WritePublicKey(p); err != nil || k.State != KeyConfigMatches {
		t.Fatalf("write public key: %+v, %v", k, err)
	}
	if p, err = r.LoadProject(dir, ""); err != nil {
		t.Fatal(err)
	}
	if k, err = r.KeyState(p); err != nil || k.State != KeyConfigMatches {
		t.Fatalf("after writing the config: %+v, %v", k, err)
	}
	p.PublicKey = string(workflow.EncodePublicKey(&other.PublicKey))
	if k, _ = r.KeyState(p); k.State != KeyConfigDiffers {
		t.Fatalf("a config with another key: state %v", k.State)
	}

	pf, err := r.Preflight(p.WebDir)
	if err != nil || pf.Files != 2 || pf.Blocking() {
		t.Fatalf("preflight: %+v, %v", pf, err)
	}
	noIndex := t.TempDir()
	if err := os.WriteFile(filepath.Join(noIndex, "main.js"), []byte("notifyAppReady()"), 0o644); err != nil {
		t.Fatal(err)
	}
	if pf, err = r.Preflight(noIndex); err != nil || !pf.Blocking() {
		t.Fatalf("a folder without index.html: %+v, %v", pf, err)
	}

	var events int
	b, err := r.Build(ctx, BuildRequest{Project: p, Dir: p.WebDir, Version: "3.1.0"}, func(workflow.Event) { events++ })
	if err != nil {
		t.Fatal(err)
	}
	if events == 0 || b.File != filepath.Join(dir, DefaultOutDir, workflow.BundleFileName(appID, "3.1.0")) || b.KeyID != k.KeyID {
		t.Fatalf("build: %+v after %d events", b, events)
	}
	if _, err := r.Build(ctx, BuildRequest{Project: p, Dir: p.WebDir, Version: "3.1.0"}, nil); !errors.Is(err, workflow.ErrBundleExists) {
		t.Fatalf("building the same version again: %v", err)
	}

	data, err := os.ReadFile(b.File)
	if err != nil {
		t.Fatal(err)
	}
	hosted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/b.zip":
			w.Write(data)
			return
		case "/flipped.zip": // the built size, one byte different
			flipped := append([]byte(nil), data...)
			flipped[len(flipped)/2] ^= 1
			w.Write(flipped)
			return
		}
		http.NotFound(w, req)
	}))
	defer hosted.Close()
	c, err := r.CheckURL(ctx, hosted.URL+"/nope.zip", b, func(workflow.Event) {})
	if err != nil || c.OK() || c.Status != 404 {
		t.Fatalf("a missing file: %+v, %v", c, err)
	}
	c, err = r.CheckURL(ctx, hosted.URL+"/flipped.zip", b, func(workflow.Event) {})
	if err != nil || c.OK() || c.Status != 200 || c.Size != b.Size || c.WantSize != b.Size ||
		c.SHA256 == "" || c.SHA256 == b.SHA256 || c.WantSHA256 != b.SHA256 ||
		!strings.Contains(strings.Join(c.Problems, "\n"), "same size but different bytes") {
		t.Fatalf("the built size with one byte flipped: %+v, %v", c, err)
	}
	if c, err = r.CheckURL(ctx, hosted.URL+"/b.zip", b, func(workflow.Event) {}); err != nil || !c.OK() {
		t.Fatalf("the right file: %+v, %v", c, err)
	}

	if v, err := r.LatestVersion(ctx, appID); err != nil || v != "" {
		t.Fatalf("latest before registering: %q, %v", v, err)
	}
	reg, err := r.Register(ctx, Release{Bundle: b, URL: hosted.URL + "/b.zip", Channel: "beta", MinNative: "2.0.0"})
	if err != nil || reg.Channel != "beta" || reg.Version != "3.1.0" {
		t.Fatalf("register: %+v, %v", reg, err)
	}
	if v, err := r.LatestVersion(ctx, appID); err != nil || v != "3.1.0" {
		t.Fatalf("latest after registering: %q, %v", v, err)
	}
	if _, err := r.Register(ctx, Release{Bundle: b, URL: hosted.URL + "/b.zip", Channel: "beta"}); !errors.Is(err, store.ErrDuplicateVersion) {
		t.Fatalf("registering twice: %v", err)
	}
}

// With --server the release goes through a capship server's admin API.
func TestRealRunnerServer(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	backing, api := servertest.Start(t)
	secret, _, err := backing.CreateToken(ctx, "wizard", "")
	if err != nil {
		t.Fatal(err)
	}

	key, _ := workflow.GenerateKey()
	writeProject(t, dir, "com.capship.remote")
	build := func(version string) Bundle {
		m, err := workflow.Build(ctx, workflow.BuildOptions{Dir: filepath.Join(dir, "dist"), AppID: "com.capship.remote",
			Version: version, OutDir: filepath.Join(dir, "out"), Key: key}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return Bundle{AppID: m.AppID, Version: m.Version, File: m.File, Size: m.Size, SHA256: m.SHA256, ZipSHA256: m.ZipSHA256,
			SessionKey: m.SessionKey, Checksum: m.Checksum, KeyID: m.KeyID, KeyFingerprint: m.KeyFingerprint,
			Delta: m.Delta, DeltaSkipped: m.DeltaSkipped}
	}
	b := build("1.0.0")

	r := NewRunner(RunnerOptions{DB: filepath.Join(dir, "must-not-exist.db"), Server: api.URL, Token: secret, KeychainService: "unused"})
	defer r.Close()
	if v, err := r.LatestVersion(ctx, b.AppID); err != nil || v != "" {
		t.Fatalf("latest through a server, before registering: %q, %v", v, err)
	}
	got, err := r.Register(ctx, Release{Bundle: b, URL: "https://cdn.example.com/1.0.0.zip", Channel: "production"})
	if err != nil || !strings.Contains(got.Registry, api.URL) {
		t.Fatalf("register through the server: %+v, %v", got, err)
	}
	if rel, err := backing.Release(ctx, b.AppID, "1.0.0"); err != nil || rel.Checksum != b.Checksum {
		t.Fatalf("the server's registry: %+v, %v", rel, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "must-not-exist.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("registering through a server created a local registry")
	}
	// The newest by SemVer, not the last registered, as with a local registry.
	for _, v := range []string{"1.10.0", "1.9.0"} {
		rel := Release{Bundle: build(v), URL: "https://cdn.example.com/" + v + ".zip", Channel: "beta-" + v}
		if _, err := r.Register(ctx, rel); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := r.LatestVersion(ctx, b.AppID); err != nil || v != "1.10.0" {
		t.Fatalf("latest through a server: %q, %v", v, err)
	}
	// The delta form goes through the admin API too (what phones download
	// is compared through it in TestRealRunnerServerDownloads).
	withFiles := build("1.11.0")
	if got, err := r.Register(ctx, Release{Bundle: withFiles, URL: "https://cdn.example.com/1.11.0.zip",
		FilesURL: "https://cdn.example.com/1.11.0.files", Channel: "production"}); err != nil || got.Files != len(withFiles.Delta.Files) {
		t.Fatalf("register with files through the server: %+v, %v", got, err)
	}
	if files, err := backing.ReleaseFiles(ctx, b.AppID, "1.11.0"); err != nil || len(files) != len(withFiles.Delta.Files) {
		t.Fatalf("the server's registry has %d files, %v", len(files), err)
	}
	bad := NewRunner(RunnerOptions{Server: api.URL, Token: "capship_wrong"})
	if _, err := bad.LatestVersion(ctx, b.AppID); !errors.Is(err, store.ErrUnauthorized) || strings.Contains(err.Error(), "capship_wrong") {
		t.Fatalf("latest with a wrong token: %v", err)
	}
	if _, err := bad.Register(ctx, Release{Bundle: b, URL: "https://cdn.example.com/1.0.0.zip", Channel: "production"}); !errors.Is(err, store.ErrUnauthorized) {
		t.Fatalf("a wrong token: %v", err)
	}
}

// The config's public key matches only when devices can use its text as it
// is (spec §2, iOS): LF only, no spaces or tabs in the base64, the PKCS#1
// header. An indented template literal in capacitor.config.ts carries the
// right key in a form iOS cannot read.
func TestKeyInfoConfigText(t *testing.T) {
	key, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem := string(workflow.EncodePublicKey(&key.PublicKey))
	indented := strings.ReplaceAll(strings.TrimSuffix(pem, "\n"), "\n", "\n    ")
	other, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(RunnerOptions{KeychainService: "capship-test-keyinfo"})
	for _, tc := range []struct {
		name, config string
		want         KeyState
	}{
		{"exact", pem, KeyConfigMatches},
		{"without the last newline", strings.TrimSuffix(pem, "\n"), KeyConfigMatches},
		{"none", "", KeyConfigMissing},
		{"another key", string(workflow.EncodePublicKey(&other.PublicKey)), KeyConfigDiffers},
		{"CRLF", strings.ReplaceAll(pem, "\n", "\r\n"), KeyConfigDiffers},
		{"indented lines", indented, KeyConfigDiffers},
		{"trailing tabs", strings.ReplaceAll(pem, "\n", "\t\n"), KeyConfigDiffers},
		{"spaces in the base64", strings.Replace(pem, "\nMII", "\n  MII", 1), KeyConfigDiffers},
	} {
		info := r.keyInfo(key, tc.config)
		if info.State != tc.want {
			t.Errorf("%s: state %v, want %v", tc.name, info.State, tc.want)
		}
		if tc.want == KeyConfigDiffers && tc.name != "another key" && !strings.Contains(info.Note, "press w") {
			t.Errorf("%s: no advice on the unusable text: %q", tc.name, info.Note)
		}
	}
}

// Where releases go is shown on screen: never with a database password,
// whether in the URL's user part or in its query.
func TestRegistryNameHidesPasswords(t *testing.T) {
	for _, dsn := range []string{
		"postgres://capship:s3cret@db.internal:5432/capship",
		"postgresql://db.internal/capship?sslmode=require&password=s3cret",
	} {
		got := registryName(dsn)
		if strings.Contains(got, "s3cret") || !strings.Contains(got, "db.internal") {
			t.Errorf("registryName(%q) = %q", dsn, got)
		}
	}
	if got := registryName("/home/dev/.local/share/capship/registry.db"); got != "local registry /home/dev/.local/share/capship/registry.db" {
		t.Errorf("file registry shown as %q", got)
	}
}

// The delta form through the real Runner: the objects checked on a
// loopback server, a release registered with its files in a real SQLite
// registry, and what phones on each channel download of the next build
// with one file changed.
func TestRealRunnerDelta(t *testing.T) {
	needKeychain(t)
	ctx := context.Background()
	dir := t.TempDir()
	appID := "com.capship.runner.delta"
	r, p := keyedRunner(t, dir, appID, RunnerOptions{DB: filepath.Join(dir, "registry.db")})
	build := func(version string) Bundle {
		t.Helper()
		b, err := r.Build(ctx, BuildRequest{Project: p, Dir: p.WebDir, Version: version}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b.Delta == nil || len(b.Delta.Files) != 2 {
			t.Fatalf("%s: delta %+v (skipped: %s)", version, b.Delta, b.DeltaSkipped)
		}
		return b
	}
	b1 := build("3.1.0")
	if d, err := r.Downloads(ctx, b1); err != nil || len(d.Channels) != 0 || d.NoCompare != "" {
		t.Fatalf("before the first release: %+v, %v", d, err)
	}

	mux := http.NewServeMux()
	mux.Handle("/v1/", http.StripPrefix("/v1/", http.FileServer(http.Dir(b1.Delta.Dir))))
	hosted := httptest.NewServer(mux)
	defer hosted.Close()
	if _, err := r.ValidateFilesURL("http://cdn.example.com/v1"); !errors.Is(err, workflow.ErrBadURL) {
		t.Fatalf("a plain http files URL: %v", err)
	}
	if w, err := r.ValidateFilesURL(hosted.URL + "/v1/"); err != nil || w == "" {
		t.Fatalf("a loopback files URL: warning %q, %v", w, err)
	}
	c, err := r.CheckFiles(ctx, hosted.URL+"/nothing", b1, func(workflow.Event) {})
	if err != nil || c.OK() || len(c.Problems) != c.Objects || !strings.Contains(c.Problems[0].Problem, "404") || len(c.Problems[0].Paths) == 0 {
		t.Fatalf("objects that are not there: %+v, %v", c, err)
	}
	var events int
	c, err = r.CheckFiles(ctx, hosted.URL+"/v1/", b1, func(workflow.Event) { events++ })
	if err != nil || !c.OK() || c.BaseURL != hosted.URL+"/v1" || c.Files != 2 || c.Bytes != c.WantBytes || events == 0 {
		t.Fatalf("the built objects: %+v, %v, %d events", c, err, events)
	}

	got, err := r.Register(ctx, Release{Bundle: b1, URL: hosted.URL + "/b1.zip", FilesURL: hosted.URL + "/v1/", Channel: "production"})
	if err != nil || got.Files != 2 {
		t.Fatalf("register with files: %+v, %v", got, err)
	}
	reg, err := r.manager(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if rel, err := reg.Release(ctx, appID, "3.1.0"); err != nil || rel.FilesURL != hosted.URL+"/v1" || rel.FileCount != 2 {
		t.Fatalf("the registry's release: %+v, %v", rel, err)
	}
	// a zip-only release on another channel, and a channel with delta off
	zipOnly := build("3.1.1")
	if _, err := r.Register(ctx, Release{Bundle: zipOnly, URL: hosted.URL + "/b2.zip", Channel: "beta"}); err != nil {
		t.Fatal(err)
	}
	off := false
	if _, err := reg.CreateChannel(ctx, appID, "legacy", store.ChannelSettings{Delta: &off}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Promote(ctx, appID, "legacy", "3.1.0"); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(p.WebDir, "main.js"), []byte("window.CapacitorUpdater?.notifyAppReady() // 3.2.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b2 := build("3.2.0")
	var changed workflow.DeltaFile
	for _, f := range b2.Delta.Files {
		if f.Path == "main.js" {
			changed = f
		}
	}
	d, err := r.Downloads(ctx, b2)
	if err != nil {
		t.Fatal(err)
	}
	want := []ChannelDownload{
		{Channel: "beta", Current: "3.1.1", NoFileList: true, Download: b2.Delta.Download(nil)},
		{Channel: "legacy", Current: "3.1.0", Zip: true},
		{Channel: "production", Current: "3.1.0", Download: workflow.DeltaDownload{Files: 1, TotalFiles: 2, Objects: 1, Bytes: changed.Size}},
	}
	if fmt.Sprint(d.Channels) != fmt.Sprint(want) || d.NoCompare != "" {
		t.Fatalf("downloads\n got %+v\nwant %+v", d.Channels, want)
	}

	// A files URL for a bundle built without objects is refused, nothing registered.
	b2.Delta = nil
	if _, err := r.Register(ctx, Release{Bundle: b2, URL: hosted.URL + "/b3.zip", FilesURL: hosted.URL + "/v3", Channel: "production"}); err == nil {
		t.Fatal("registered a files URL without objects")
	}
	if _, err := reg.Release(ctx, appID, "3.2.0"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("3.2.0 after a refused registration: %v", err)
	}
}

// keyedRunner writes an app project into dir and returns a real Runner
// (with o, and a keychain service of its own) whose app has a key in the
// keychain, and the loaded project. Both go when the test ends.
func keyedRunner(t *testing.T, dir, appID string, o RunnerOptions) (*RealRunner, Project) {
	t.Helper()
	writeProject(t, dir, appID)
	o.KeychainService = fmt.Sprintf("capship-test-runner-%s-%d", appID, time.Now().UnixNano())
	t.Cleanup(func() { _ = store.NewKeychain(o.KeychainService).Delete(appID) })
	r := NewRunner(o)
	t.Cleanup(func() { r.Close() })
	p, err := r.LoadProject(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateKey(p); err != nil {
		t.Fatal(err)
	}
	return r, p
}

// Through a capship server the wizard compares a new delta with what each
// channel serves, as with a local registry, and reading never creates a
// local registry file.
func TestRealRunnerServerDownloads(t *testing.T) {
	needKeychain(t)
	ctx := context.Background()
	dir := t.TempDir()
	appID := "com.capship.runner.remote"
	backing, api := servertest.Start(t)
	secret, _, err := backing.CreateToken(ctx, "wizard", appID)
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(dir, "must-not-exist.db")
	r, p := keyedRunner(t, dir, appID, RunnerOptions{DB: local, Server: api.URL, Token: secret})
	b1, err := r.Build(ctx, BuildRequest{Project: p, Dir: p.WebDir, Version: "3.1.0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(ctx, Release{Bundle: b1, URL: "https://cdn.example.com/b1.zip", FilesURL: "https://cdn.example.com/v1", Channel: "production"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.WebDir, "main.js"), []byte("window.CapacitorUpdater?.notifyAppReady() // 3.2.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b2, err := r.Build(ctx, BuildRequest{Project: p, Dir: p.WebDir, Version: "3.2.0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Downloads(ctx, b2)
	if err != nil || d.NoCompare != "" || len(d.Channels) != 1 || d.Channels[0].Current != "3.1.0" ||
		d.Channels[0].Download.Files != 1 || d.Channels[0].Download.TotalFiles != 2 {
		t.Fatalf("downloads through the server: %+v, %v", d, err)
	}
	if _, err := os.Stat(local); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the wizard created a local registry while working through a server")
	}
}

// Reading where releases go (the latest version, what phones download)
// never creates the local registry file; registering does.
func TestRealRunnerReadsCreateNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", "registry.db")
	r := NewRunner(RunnerOptions{DB: path, KeychainService: "unused"})
	defer r.Close()
	if v, err := r.LatestVersion(ctx, "com.capship.fresh"); err != nil || v != "" {
		t.Fatalf("latest without a registry: %q, %v", v, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("reading created %s: %v", path, err)
	}
	if _, err := r.manager(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("opening to write: %v", err)
	}
}
