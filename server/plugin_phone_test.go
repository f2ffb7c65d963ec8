package server_test

// Phones running the @capgo/capacitor-updater plugin's own Android code
// (server/plugintest) against a real `capship serve` child process, with
// bundles built and sealed by workflow.Build, hosted on loopback and
// registered with the capship binary, as an operator would.

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"capship/server/plugintest"
	"capship/store"
	"capship/workflow"
)

const (
	phoneApp        = "com.example.phone"
	phoneFlippedApp = "com.example.phone.flipped" // its own app, so its failures are counted apart
	phoneNative     = "1.0.0"
)

// bundleHost serves encrypted bundles and delta objects on loopback, as a
// CDN would (with Range support), and counts the GETs of each path;
// corrupt flips one byte of a hosted file.
type bundleHost struct {
	mu    sync.Mutex
	files map[string][]byte
	gets  map[string]int
	srv   *httptest.Server
}

func newBundleHost(t *testing.T) *bundleHost {
	h := &bundleHost{files: map[string][]byte{}, gets: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		data, ok := h.files[r.URL.Path]
		if ok && r.Method == http.MethodGet {
			h.gets[r.URL.Path]++
		}
		h.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *bundleHost) put(t *testing.T, m *workflow.Manifest) string {
	data, err := os.ReadFile(m.File)
	if err != nil {
		t.Fatal(err)
	}
	path := "/bundles/" + filepath.Base(m.File)
	h.mu.Lock()
	h.files[path] = data
	h.mu.Unlock()
	return h.srv.URL + path
}

func (h *bundleHost) corrupt(url string, at int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	path := strings.TrimPrefix(url, h.srv.URL)
	data := bytes.Clone(h.files[path])
	data[at] ^= 0x01
	h.files[path] = data
}

// writeWebFolder writes a web build of version into a new folder: an
// index.html and a script calling notifyAppReady, a large incompressible
// image (the zip stores it), an empty file and a non-ASCII file name.
func writeWebFolder(t *testing.T, version string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "www")
	rng := rand.New(rand.NewChaCha8(sha256.Sum256([]byte(version)))) // other bytes for each version
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	var js strings.Builder
	js.WriteString("import { CapacitorUpdater } from './vendor/updater.js';\nCapacitorUpdater.notifyAppReady();\n")
	for i := range 2000 {
		fmt.Fprintf(&js, "export const route%d = { path: '/p/%d', release: '%s' };\n", i, i, version)
	}
	files := map[string][]byte{
		"index.html":               []byte(`<!doctype html><html><head><meta charset="utf-8"><title>Shop ` + version + `</title><script type="module" src="assets/app.js"></script></head><body></body></html>` + "\n"),
		"assets/app.js":            []byte(js.String()),
		"assets/vendor/updater.js": []byte("export const CapacitorUpdater = { notifyAppReady() { return Promise.resolve(); } };\n"),
		"assets/img/photo.jpg":     append([]byte("\xff\xd8\xff\xe0"), random(300<<10)...),
		"assets/fonts/ñandú.woff2": append([]byte("wOF2"), random(5000)...),
		"assets/data/empty.json":   nil,
		"manifest.webmanifest":     []byte(`{"name":"Shop","version":"` + version + `"}` + "\n"),
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// treeFiles is a folder's files as the phone reports an installed bundle:
// path -> "size sha256".
func treeFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = fmt.Sprintf("%d %x", len(data), sha256.Sum256(data))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// release builds web as version of app with workflow.Build, hosts the
// encrypted bundle and registers it with the binary onto channel
// production (the registration downloads it back and checks it).
func release(t *testing.T, bin, db string, host *bundleHost, key *rsa.PrivateKey, app, version, web string) (*workflow.Manifest, string) {
	t.Helper()
	m, err := workflow.Build(t.Context(), workflow.BuildOptions{Dir: web, AppID: app, Version: version, OutDir: t.TempDir(), Key: key}, nil)
	if err != nil {
		t.Fatalf("build %s %s: %v", app, version, err)
	}
	url := host.put(t, m)
	var reg struct {
		Release  *store.Release     `json:"release"`
		URLCheck *workflow.URLCheck `json:"url_check"`
	}
	capship(t, bin, &reg, "release", "register", "--manifest", m.Manifest, "--url", url, "--db", db, "--json")
	if reg.Release == nil || reg.Release.Version != version || reg.URLCheck == nil || !reg.URLCheck.OK() {
		t.Fatalf("register %s %s: %+v", app, version, reg)
	}
	return m, url
}

// mustInstall checks that the phone downloaded version and runs it,
// byte for byte the web folder, with no failure reported.
func mustInstall(t *testing.T, r plugintest.Result, version, web string) {
	t.Helper()
	if r.Version != version || r.Outcome != "download" || r.Current.Version != version || r.Current.Status != "success" {
		t.Fatalf("want %s offered, downloaded and running: answer %v, outcome %s, running %+v, work %+v\n%s",
			version, r.Answer, r.Outcome, r.Current, r.Work, r.Output)
	}
	want := treeFiles(t, web)
	for name, w := range want {
		if g, ok := r.Files[name]; !ok {
			t.Errorf("installed bundle lacks %q", name)
		} else if g != w {
			t.Errorf("%q installed as %s, want %s", name, g, w)
		}
	}
	for name := range r.Files {
		if _, ok := want[name]; !ok {
			t.Errorf("installed bundle has an extra %q", name)
		}
	}
	for _, a := range []string{"download_complete", "set"} {
		if r.Sent(a) != 1 {
			t.Errorf("stat %s sent %d times, want once: %v", a, r.Sent(a), r.Actions())
		}
	}
	noFailures(t, r)
}

// noFailures checks that the phone reported no failure and that the
// server took every stat.
func noFailures(t *testing.T, r plugintest.Result) {
	t.Helper()
	for _, s := range r.Stats {
		if slices.Contains(store.FailureActions, s.Action) || s.Action == "finish_download_fail" {
			t.Errorf("the phone reported %s (version_name %q)", s.Action, s.VersionName)
		}
		if s.Status != http.StatusOK {
			t.Errorf("stat %s: the server answered HTTP %d", s.Action, s.Status)
		}
	}
}

func logCheck(t *testing.T, r plugintest.Result) {
	t.Helper()
	if os.Getenv("CAPSHIP_PHONE_LOG") != "" {
		t.Log(r.Output)
	}
	answer := "version " + r.Version
	if r.Version == "" || r.Error != "" {
		answer = fmt.Sprintf("error %q kind %q", r.Error, r.Answer["kind"])
	}
	t.Logf("%.1fs: sent version_name %v, got %s; outcome %s; running %s %s; stats %v",
		r.Took.Seconds(), r.Request["version_name"], answer, r.Outcome, r.Current.ID, r.Current.Version, r.Actions())
}

func TestPhoneAndroidAgainstServe(t *testing.T) {
	h := plugintest.Compile(t)
	bin := capshipBinary(t)
	db := filepath.Join(t.TempDir(), "registry.db")
	key, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	publicKey := string(workflow.EncodePublicKey(&key.PublicKey))
	host := newBundleHost(t)
	web1 := writeWebFolder(t, "1.0.1")
	release(t, bin, db, host, key, phoneApp, "1.0.1", web1)
	serve := startServe(t, bin, db)

	newPhone := func(app string) *plugintest.Phone {
		p := h.NewPhone(t.TempDir())
		p.AppID, p.NativeVersion, p.PublicKey = app, phoneNative, publicKey
		p.UpdateURL, p.StatsURL, p.ChannelURL = serve.URL+"/updates", serve.URL+"/stats", serve.URL+"/channel_self"
		return p
	}
	phone := newPhone(phoneApp)
	var first plugintest.Result
	cases := 0 // run so far; the final stats need all of them

	if !t.Run("fresh phone installs 1.0.1", func(t *testing.T) {
		cases++
		r := phone.Check(t)
		logCheck(t, r)
		first = r
		// The plugin's own report of a fresh install: its native version,
		// not "builtin" (BundleInfo.getVersionName of the built-in bundle).
		for k, want := range map[string]any{"version_name": phoneNative, "version_build": phoneNative,
			"plugin_version": h.PluginVersion, "app_id": phoneApp, "platform": "android", "is_emulator": false,
			"is_prod": true, "key_id": workflow.KeyID(&key.PublicKey), "device_id": r.DeviceID} {
			if r.Request[k] != want {
				t.Errorf("update check sent %s = %#v, want %#v", k, r.Request[k], want)
			}
		}
		if r.RequestStatus != http.StatusOK {
			t.Errorf("update check: HTTP %d", r.RequestStatus)
		}
		mustInstall(t, r, "1.0.1", web1)
	}) {
		t.FailNow()
	}

	t.Run("next check is up to date", func(t *testing.T) {
		cases++
		r := phone.Check(t)
		logCheck(t, r)
		if r.Request["version_name"] != "1.0.1" || r.DeviceID != first.DeviceID {
			t.Errorf("second launch sent version_name %v from device %s, want 1.0.1 from %s", r.Request["version_name"], r.DeviceID, first.DeviceID)
		}
		if r.Kind != "up_to_date" || r.Outcome != "up_to_date" || r.Current != first.Current {
			t.Errorf("want kind up_to_date and still %+v; got kind %q (answer %v), running %+v", first.Current, r.Kind, r.Answer, r.Current)
		}
		if r.Sent("download_fail") != 0 {
			t.Errorf("an up-to-date phone sent download_fail: %v", r.Actions())
		}
		noFailures(t, r)
	})

	t.Run("emulator on a channel closed to emulators is blocked", func(t *testing.T) {
		cases++
		capship(t, bin, nil, "channel", "set", "production", "--emulator=false", "--app", phoneApp, "--db", db, "--json")
		emulator := newPhone(phoneApp)
		emulator.IsEmulator = true
		r := emulator.Check(t)
		logCheck(t, r)
		if r.Request["is_emulator"] != true {
			t.Fatalf("the plugin did not take the phone for an emulator: sent is_emulator %v", r.Request["is_emulator"])
		}
		if r.Kind != "blocked" || r.Current.ID != "builtin" || len(r.Stats) != 0 {
			t.Errorf("want kind blocked, no stats, the built-in bundle; got kind %q (answer %v), stats %v, running %+v", r.Kind, r.Answer, r.Actions(), r.Current)
		}
	})

	web2 := writeWebFolder(t, "1.0.2")
	t.Run("phone installs 1.0.2", func(t *testing.T) {
		cases++
		release(t, bin, db, host, key, phoneApp, "1.0.2", web2)
		r := phone.Check(t)
		logCheck(t, r)
		mustInstall(t, r, "1.0.2", web2)
	})

	t.Run("rollback reaches the very next check", func(t *testing.T) {
		cases++
		capship(t, bin, nil, "release", "rollback", "--channel", "production", "--app", phoneApp, "--db", db, "--json")
		r := phone.Check(t) // no pause: the server must see the rollback at once
		logCheck(t, r)
		mustInstall(t, r, "1.0.1", web1)
		if r.Request["version_name"] != "1.0.2" {
			t.Errorf("the phone sent version_name %v, want 1.0.2", r.Request["version_name"])
		}
	})

	t.Run("flipped byte in the hosted bundle", func(t *testing.T) {
		cases++
		m, url := release(t, bin, db, host, key, phoneFlippedApp, "1.0.1", web1)
		host.corrupt(url, int(m.Size/2)) // after registration, as a bad CDN copy would
		r := newPhone(phoneFlippedApp).Check(t)
		logCheck(t, r)
		if r.Version != "1.0.1" || r.Current.ID != "builtin" || r.Sent("checksum_fail") != 1 || r.Sent("set") != 0 {
			t.Errorf("want 1.0.1 offered, refused with checksum_fail, the built-in bundle kept; got answer %v, stats %v, running %+v", r.Answer, r.Actions(), r.Current)
		}
		if len(r.Bundles) != 0 {
			t.Errorf("the refused bundle was kept: %+v", r.Bundles)
		}
	})

	t.Run("capship stats count the flipped byte only", func(t *testing.T) {
		if cases != 6 {
			t.Skipf("the counts need all 6 cases above to have run, not %d", cases)
		}
		// serve writes queued stats to the registry when it stops.
		serve.stop(t)
		type statsOut struct {
			Releases []store.ReleaseStats `json:"releases"`
		}
		var stats statsOut
		capship(t, bin, &stats, "stats", "--app", phoneApp, "--db", db, "--json")
		got := map[string]string{}
		for _, s := range stats.Releases {
			got[s.Version] = fmt.Sprintf("downloads %d installs %d failures %d", s.Downloads, s.Installs, s.Failures)
		}
		want := map[string]string{"1.0.1": "downloads 2 installs 2 failures 0", "1.0.2": "downloads 1 installs 1 failures 0"}
		for v, w := range want {
			if got[v] != w {
				t.Errorf("capship stats for %s %s: %s, want %s (all: %+v)", phoneApp, v, got[v], w, stats.Releases)
			}
		}
		for v, g := range got {
			if _, ok := want[v]; !ok && !strings.HasSuffix(g, "failures 0") {
				t.Errorf("capship stats for %s %s: %s", phoneApp, v, g)
			}
		}
		// The plugin files checksum_fail and download_fail under the version
		// the phone runs (its native 1.0.0), and finish_download_fail under
		// the bundle that failed: so the bad release shows its failure.
		stats = statsOut{}
		capship(t, bin, &stats, "stats", "--app", phoneFlippedApp, "--db", db, "--json")
		failures := map[string]int64{}
		for _, s := range stats.Releases {
			for a, n := range s.ByAction {
				if slices.Contains(store.FailureActions, a) {
					failures[s.Version+" "+a] += n
				}
			}
		}
		wantFailures := map[string]int64{phoneNative + " checksum_fail": 1, phoneNative + " download_fail": 1, "1.0.1 finish_download_fail": 1}
		if fmt.Sprint(failures) != fmt.Sprint(wantFailures) {
			t.Errorf("capship stats for %s: failures %v, want checksum_fail and download_fail under %s and finish_download_fail under 1.0.1 (all: %+v)", phoneFlippedApp, failures, phoneNative, stats.Releases)
		}
	})
}
