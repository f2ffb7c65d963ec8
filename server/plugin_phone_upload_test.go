package server_test

// Issue 11's promise end to end, through the built binary only: a web
// build goes to an encrypted bundle (`capship bundle build`), to hosted
// objects (`capship bundle upload`, to capship serve's storage or to an
// S3-protocol server), to a registered release (`capship release
// register`), and a phone running the plugin's own Java code installs it
// from there, file by file and, on an old plugin, as the zip.

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"capship/server/plugintest"
	"capship/store"
	"capship/workflow"
	"capship/workflow/uploadtest"
)

// uploadAnswer is the --json of `capship bundle upload`.
type uploadAnswer struct {
	URL      string `json:"url"`
	FilesURL string `json:"files_url"`
	Objects  int    `json:"objects"`
	Uploaded int    `json:"uploaded"`
	Skipped  int    `json:"skipped"`
	Bytes    int64  `json:"bytes"`
	Checked  bool   `json:"checked"`
}

// fetchCounter is a reverse proxy in front of where bundles are hosted,
// as a CDN or TLS proxy would be; devices and the download-back checks go
// through it, and it counts the GETs of each path.
type fetchCounter struct {
	URL    string
	mu     sync.Mutex
	origin *url.URL // set by forward
	gets   map[string]int
}

// newFetchCounter starts the proxy; it answers 502 until forward names
// the origin (whose address may be known only once it runs behind it).
func newFetchCounter(t *testing.T) *fetchCounter {
	t.Helper()
	c := &fetchCounter{gets: map[string]int{}}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.origin != nil {
			r.SetURL(c.origin)
			r.Out.Host = r.In.Host // an S3 signature covers the Host the client saw
		}
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		if r.Method == http.MethodGet {
			c.gets[r.URL.Path]++
		}
		c.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// forward points the proxy at origin.
func (c *fetchCounter) forward(t *testing.T, origin string) {
	t.Helper()
	u, err := url.Parse(origin)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.origin = u
	c.mu.Unlock()
}

// take returns and resets the GETs so far: of the zips, and of each
// delta object by its name.
func (c *fetchCounter) take() (zips int, objects map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	objects = map[string]int{}
	for p, n := range c.gets {
		switch dir, name := filepath.Split(p); {
		case strings.HasSuffix(name, ".zip"):
			zips += n
		case strings.HasSuffix(dir, ".files/"):
			objects[name] += n
		}
	}
	clear(c.gets)
	return zips, objects
}

// newKeyFiles makes a key pair with the binary and returns the private
// key's file and the public key's PEM (what the app's config carries).
func newKeyFiles(t *testing.T, bin string) (keyFile, publicKey string) {
	t.Helper()
	dir := t.TempDir()
	keyFile, pubFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "key.pub")
	capship(t, bin, nil, "key", "generate", "--private-out", keyFile, "--public-out", pubFile, "--json")
	pub, err := os.ReadFile(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	return keyFile, string(pub)
}

// buildBundle runs `capship bundle build` on web and reads the manifest
// it wrote.
func buildBundle(t *testing.T, bin, keyFile, app, version, web string) *workflow.Manifest {
	t.Helper()
	out := t.TempDir()
	capship(t, bin, nil, "bundle", "build", "--out", out, "--app", app, "--dir", web, "--version", version, "--key-file", keyFile, "--json")
	m, err := workflow.ReadManifest(filepath.Join(out, workflow.ManifestFileName(app, version)))
	if err != nil {
		t.Fatal(err)
	}
	if m.Delta == nil {
		t.Fatalf("build %s: no delta (%s)", version, m.DeltaSkipped)
	}
	return m
}

// uploadBundle runs `capship bundle upload --json` with the target's
// flags and checks that it downloaded everything back.
func uploadBundle(t *testing.T, bin string, m *workflow.Manifest, target ...string) uploadAnswer {
	t.Helper()
	var up uploadAnswer
	capship(t, bin, &up, append([]string{"bundle", "upload", "--manifest", m.Manifest, "--json"}, target...)...)
	if !up.Checked || up.URL == "" || up.FilesURL == "" || up.Objects != 1+len(objectsOf(m)) {
		t.Fatalf("upload %s: %+v; want checked, url and files_url, the zip and %d objects", m.Version, up, len(objectsOf(m)))
	}
	return up
}

// uploadFlow is one way to host and register a release.
type uploadFlow struct {
	app      string
	upload   []string // the flags of `bundle upload` after --manifest
	register []string // where `release register` writes: --db or --server and --token
	serve    *serveProcess
	cdn      *fetchCounter // in front of the hosted objects
}

// phoneInstallsUploaded builds, uploads and registers two releases with
// the binary; phones install the first file by file and as the zip, then
// the second fetching only the object of its one changed file.
func phoneInstallsUploaded(t *testing.T, h *plugintest.Harness, bin string, f uploadFlow) {
	keyFile, publicKey := newKeyFiles(t, bin)
	ship := func(version, web string) (*workflow.Manifest, uploadAnswer) {
		t.Helper()
		m := buildBundle(t, bin, keyFile, f.app, version, web)
		up := uploadBundle(t, bin, m, f.upload...)
		if !strings.HasPrefix(up.URL, f.cdn.URL+"/") || !strings.HasPrefix(up.FilesURL, f.cdn.URL+"/") {
			t.Fatalf("upload %s answered %s and %s, not below the public base %s", version, up.URL, up.FilesURL, f.cdn.URL)
		}
		// The registration downloads every object back again.
		var reg struct {
			Release *store.Release `json:"release"`
		}
		capship(t, bin, &reg, append([]string{"release", "register", "--manifest", m.Manifest, "--url", up.URL, "--files-url", up.FilesURL, "--json"}, f.register...)...)
		if reg.Release == nil || reg.Release.Version != version || reg.Release.URL != up.URL || reg.Release.FilesURL != up.FilesURL {
			t.Fatalf("register %s: %+v", version, reg.Release)
		}
		if zips, objects := f.cdn.take(); zips != 2 || len(objects) != len(objectsOf(m)) {
			t.Errorf("the upload and the registration fetched the zip %d times and %d of %d objects; want twice and all", zips, len(objects), len(objectsOf(m)))
		}
		return m, up
	}
	web1 := deltaWebFolder(t, "1.0.1", nil)
	web2 := deltaWebFolder(t, "1.0.1", map[string]string{"assets/app.js": "// 1.0.2: the one fix\nexport const fixed = true;\n"})
	m1, up1 := ship("1.0.1", web1)
	if up1.Uploaded != up1.Objects || up1.Skipped != 0 {
		t.Errorf("first upload: uploaded %d, skipped %d of %d; want all uploaded", up1.Uploaded, up1.Skipped, up1.Objects)
	}

	newPhone := func() *plugintest.Phone {
		p := h.NewPhone(t.TempDir())
		p.AppID, p.NativeVersion, p.PublicKey = f.app, "1.0.0", publicKey
		p.BuiltinDir = deltaWebFolder(t, "1.0.0", nil)
		p.UpdateURL, p.StatsURL, p.ChannelURL = f.serve.URL+"/updates", f.serve.URL+"/stats", f.serve.URL+"/channel_self"
		return p
	}
	phone := newPhone()
	if !t.Run("phone installs 1.0.1 file by file", func(t *testing.T) {
		r := phone.Check(t)
		logCheck(t, r)
		if r.Answer["manifest"] == nil {
			t.Fatalf("the answer carried no manifest: %v", r.Answer)
		}
		mustInstall(t, r, "1.0.1", web1)
		zips, objects := f.cdn.take()
		for obj, n := range objects {
			if _, ok := objectsOf(m1)[obj]; !ok || n != 1 {
				t.Errorf("object %s fetched %d times (of 1.0.1: %v)", obj, n, ok)
			}
		}
		if zips != 0 || len(objects) == 0 || len(objects) >= len(objectsOf(m1)) {
			t.Errorf("fetched the zip %d times and %d of %d objects: want no zip, and fewer objects than all (the APK holds some files)", zips, len(objects), len(objectsOf(m1)))
		}
	}) {
		t.FailNow()
	}
	t.Run("an old plugin installs 1.0.1 as the zip", func(t *testing.T) {
		old := newPhone()
		old.PluginVersion = "7.0.34"
		r := old.Check(t)
		logCheck(t, r)
		if r.Answer["manifest"] != nil || r.Answer["url"] != up1.URL {
			t.Errorf("plugin 7.0.34 was answered %v, want the zip at %s", r.Answer, up1.URL)
		}
		mustInstall(t, r, "1.0.1", web1)
		if zips, objects := f.cdn.take(); zips != 1 || len(objects) != 0 {
			t.Errorf("fetched the zip %d times and %d objects, want the zip once", zips, len(objects))
		}
	})

	t.Run("uploading 1.0.1 again sends nothing", func(t *testing.T) {
		again := uploadBundle(t, bin, m1, f.upload...)
		if again.Skipped != again.Objects || again.Uploaded != 0 || again.URL != up1.URL || again.FilesURL != up1.FilesURL {
			t.Errorf("second upload of 1.0.1: %+v; want every object skipped, the same URLs as %+v", again, up1)
		}
		f.cdn.take()
	})

	t.Run("phone updates to 1.0.2 fetching the changed file only", func(t *testing.T) {
		m2, up2 := ship("1.0.2", web2)
		// Objects live below their bundle's zip SHA-256: a new release
		// uploads all of its own, even those 1.0.1 holds too.
		if up2.Uploaded != up2.Objects || up2.Skipped != 0 || up2.FilesURL == up1.FilesURL {
			t.Errorf("upload of 1.0.2: %+v", up2)
		}
		r := phone.Check(t)
		logCheck(t, r)
		mustInstall(t, r, "1.0.2", web2)
		zips, objects := f.cdn.take()
		if changed := objectOf(m2, "assets/app.js"); zips != 0 || len(objects) != 1 || objects[changed] != 1 {
			t.Errorf("the phone fetched the zip %d times and objects %v; want only %s (assets/app.js) once", zips, objects, changed)
		}
	})

	// With the registration's flags: on serve, through the admin API from
	// wherever the release manager is, as a laptop with a token would.
	t.Run("a rollback reaches the very next check", func(t *testing.T) {
		var move struct{ From, To string }
		capship(t, bin, &move, append([]string{"release", "rollback", "--channel", "production", "--app", f.app, "--json"}, f.register...)...)
		if move.From != "1.0.2" || move.To != "1.0.1" {
			t.Fatalf("rollback: %+v", move)
		}
		r := phone.Check(t) // no pause: the server must see the rollback at once
		logCheck(t, r)
		mustInstall(t, r, "1.0.1", web1)
		if r.Request["version_name"] != "1.0.2" {
			t.Errorf("the phone sent version_name %v, want 1.0.2", r.Request["version_name"])
		}
	})
}

func TestPhoneAndroidUploadToServe(t *testing.T) {
	h := plugintest.Compile(t)
	bin := capshipBinary(t)
	const app = "com.example.uploaded"
	db := filepath.Join(t.TempDir(), "registry.db")
	// Devices reach the bundles through a proxy in front of serve, as
	// behind a TLS proxy: --public-url names it.
	cdn := newFetchCounter(t)
	serve := startServe(t, bin, db, "--storage", t.TempDir(), "--public-url", cdn.URL+"/bundles")
	cdn.forward(t, serve.URL)
	var tok struct{ Token string }
	capship(t, bin, &tok, "token", "create", "uploader", "--app", app, "--db", db, "--json")
	onServe := []string{"--server", serve.URL, "--token", tok.Token}
	phoneInstallsUploaded(t, h, bin, uploadFlow{app: app, upload: onServe, register: onServe, serve: serve, cdn: cdn})
}

func TestPhoneAndroidUploadToS3(t *testing.T) {
	h := plugintest.Compile(t)
	bin := capshipBinary(t)
	s3 := uploadtest.S3(t) // AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the binary
	bucket := s3.NewBucket(t)
	const app = "com.example.bucket"
	db := filepath.Join(t.TempDir(), "registry.db")
	serve := startServe(t, bin, db)
	// The endpoint is a proxy in front of the S3 server, so the test sees
	// what devices fetch; the SDK signs its requests for it as for any
	// endpoint, and the public URLs are ENDPOINT/BUCKET/KEY.
	cdn := newFetchCounter(t)
	cdn.forward(t, s3.Endpoint)
	upload := []string{"--to", "s3://" + bucket + "/live", "--endpoint", cdn.URL, "--path-style", "--region", "us-east-1"}
	phoneInstallsUploaded(t, h, bin, uploadFlow{app: app, upload: upload, register: []string{"--db", db}, serve: serve, cdn: cdn})
}
