package server_test

// Delta releases through the plugin's own manifest code
// (DownloadService.handleManifestDownload / downloadAndVerify): a phone
// installs a release file by file, and after a one-file change fetches
// that one file.

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"capship/server/plugintest"
	"capship/store"
	"capship/workflow"
)

const deltaApp = "com.example.delta"

// putDelta hosts the bundle's objects below the bundle and returns their
// base URL (what --files-url takes).
func (h *bundleHost) putDelta(t *testing.T, m *workflow.Manifest) string {
	t.Helper()
	if m.Delta == nil {
		t.Fatalf("bundle %s %s was built without its files: %s", m.AppID, m.Version, m.DeltaSkipped)
	}
	base := "/bundles/" + filepath.Base(m.Delta.Dir)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range m.Delta.Files {
		data, err := os.ReadFile(filepath.Join(m.Delta.Dir, f.Object))
		if err != nil {
			t.Fatal(err)
		}
		h.files[base+"/"+f.Object] = data
	}
	return h.srv.URL + base
}

// objectGets returns and resets the GET counts of delta objects.
func (h *bundleHost) objectGets() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for p, n := range h.gets {
		if strings.Contains(p, ".files/") {
			out[p[strings.LastIndexByte(p, '/')+1:]] += n
		}
	}
	clear(h.gets)
	return out
}

// zipGets returns and resets the GET count of the zips.
func (h *bundleHost) zipGets() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for p, c := range h.gets {
		if strings.HasSuffix(p, ".zip") {
			n += c
			delete(h.gets, p)
		}
	}
	return n
}

// releaseDelta builds web as version with its files, hosts both forms and
// registers them with the binary (which downloads every object back).
func releaseDelta(t *testing.T, bin, db string, host *bundleHost, m *workflow.Manifest) {
	t.Helper()
	url := host.put(t, m)
	filesURL := host.putDelta(t, m)
	var reg struct {
		Release *store.Release `json:"release"`
	}
	capship(t, bin, &reg, "release", "register", "--manifest", m.Manifest, "--url", url, "--files-url", filesURL, "--db", db, "--json")
	if reg.Release == nil || reg.Release.Version != m.Version || reg.Release.FilesURL != filesURL || reg.Release.FileCount != len(m.Delta.Files) {
		t.Fatalf("register %s with files: %+v", m.Version, reg.Release)
	}
	if gets := host.objectGets(); len(gets) != len(objectsOf(m)) { // the registration's check, not a phone's
		t.Fatalf("the registration fetched %d of %d objects back", len(gets), len(objectsOf(m)))
	}
	host.zipGets()
}

// objectsOf maps a bundle's objects to a path of each.
func objectsOf(m *workflow.Manifest) map[string]string {
	out := map[string]string{}
	for _, f := range m.Delta.Files {
		out[f.Object] = f.Path
	}
	return out
}

func TestPhoneAndroidDelta(t *testing.T) {
	h := plugintest.Compile(t)
	bin := capshipBinary(t)
	db := filepath.Join(t.TempDir(), "registry.db")
	key, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	build := func(version, web string) *workflow.Manifest {
		t.Helper()
		m, err := workflow.Build(t.Context(), workflow.BuildOptions{Dir: web, AppID: deltaApp, Version: version, OutDir: t.TempDir(), Key: key}, nil)
		if err != nil {
			t.Fatalf("build %s: %v", version, err)
		}
		return m
	}
	host := newBundleHost(t)
	// The app as built into the APK (native 1.0.0), then 1.0.1 with every
	// file changed, then 1.0.2 with one file changed.
	builtin := deltaWebFolder(t, "1.0.0", nil)
	web1 := deltaWebFolder(t, "1.0.1", nil)
	web2 := deltaWebFolder(t, "1.0.1", map[string]string{"assets/app.js": "// 1.0.2: the one fix\nexport const fixed = true;\n"})
	m1 := build("1.0.1", web1)
	releaseDelta(t, bin, db, host, m1)
	serve := startServe(t, bin, db)
	publicKey := string(workflow.EncodePublicKey(&key.PublicKey))
	newPhone := func() *plugintest.Phone {
		p := h.NewPhone(t.TempDir())
		p.AppID, p.NativeVersion, p.PublicKey, p.BuiltinDir = deltaApp, "1.0.0", publicKey, builtin
		p.UpdateURL, p.StatsURL, p.ChannelURL = serve.URL+"/updates", serve.URL+"/stats", serve.URL+"/channel_self"
		return p
	}
	phone := newPhone()

	if !t.Run("phone installs 1.0.1 file by file", func(t *testing.T) {
		r := phone.Check(t)
		logCheck(t, r)
		mustInstall(t, r, "1.0.1", web1)
		if r.Answer["manifest"] == nil {
			t.Fatalf("the answer carried no manifest: %v", r.Answer)
		}
		if !strings.Contains(fmt.Sprint(r.Answer["manifest"]), "assets/data.bin.br.br") {
			t.Errorf("assets/data.bin.br is not sent wrapped (as data.bin.br.br): %v", r.Answer["manifest"])
		}
		gets := host.objectGets()
		if host.zipGets() != 0 {
			t.Errorf("the phone downloaded the zip as well")
		}
		// Every object it fetched is one of 1.0.1's, at most once; what the
		// APK already holds (same content) is not fetched.
		for obj, n := range gets {
			if _, ok := objectsOf(m1)[obj]; !ok || n != 1 {
				t.Errorf("object %s fetched %d times (of 1.0.1: %v)", obj, n, ok)
			}
		}
		if len(gets) == 0 || len(gets) >= len(objectsOf(m1)) {
			t.Errorf("fetched %d of %d objects: want fewer than all (the APK holds some files) and more than none", len(gets), len(objectsOf(m1)))
		}
		if r.Sent("download_manifest_complete") == 0 && r.Sent("download_complete") == 0 {
			t.Errorf("no download completion reported: %v", r.Actions())
		}
	}) {
		t.FailNow()
	}

	m2 := build("1.0.2", web2)
	t.Run("after a one-file change the phone fetches that file only", func(t *testing.T) {
		releaseDelta(t, bin, db, host, m2)
		r := phone.Check(t)
		logCheck(t, r)
		mustInstall(t, r, "1.0.2", web2)
		gets := host.objectGets()
		var changed []string
		for obj, path := range objectsOf(m2) {
			if _, old := objectsOf(m1)[obj]; !old {
				changed = append(changed, path)
			}
		}
		if len(changed) != 1 || changed[0] != "assets/app.js" {
			t.Fatalf("1.0.2 should differ from 1.0.1 in assets/app.js only, differs in %v", changed)
		}
		if len(gets) != 1 || gets[objectOf(m2, "assets/app.js")] != 1 {
			t.Errorf("the phone fetched %v, want the object of assets/app.js once", gets)
		}
		t.Logf("1.0.2: fetched %d object(s) of %d files", len(gets), len(m2.Delta.Files))
	})

	t.Run("a corrupt object is refused", func(t *testing.T) {
		web3 := deltaWebFolder(t, "1.0.1", map[string]string{"assets/app.js": "// 1.0.3\nexport const fixed = 3;\n"})
		m3 := build("1.0.3", web3)
		releaseDelta(t, bin, db, host, m3)
		obj := objectOf(m3, "assets/app.js")
		host.corrupt(host.srv.URL+"/bundles/"+filepath.Base(m3.Delta.Dir)+"/"+obj, 0)
		r := phone.Check(t)
		logCheck(t, r)
		if r.Current.Version != "1.0.2" {
			t.Errorf("the phone runs %+v after a corrupt object, want 1.0.2 kept", r.Current)
		}
		if r.Sent("set") != 0 || r.Sent("download_fail")+r.Sent("download_manifest_checksum_fail")+r.Sent("download_manifest_file_fail")+r.Sent("decrypt_fail") == 0 {
			t.Errorf("want a refusal reported and nothing set, got %v", r.Actions())
		}
		host.objectGets()
		capship(t, bin, nil, "release", "rollback", "--channel", "production", "--app", deltaApp, "--db", db, "--json")
	})

	t.Run("an old plugin gets the zip", func(t *testing.T) {
		old := newPhone()
		old.PluginVersion = "7.0.34"
		r := old.Check(t)
		logCheck(t, r)
		if r.Answer["manifest"] != nil || host.zipGets() != 1 {
			t.Errorf("plugin 7.0.34: answer with manifest %v, zip downloads %d; want the zip", r.Answer["manifest"] != nil, host.zipGets())
		}
		mustInstall(t, r, "1.0.2", web2)
		host.objectGets()
	})

	t.Run("delta off on the channel gets the zip", func(t *testing.T) {
		capship(t, bin, nil, "channel", "set", "production", "--delta=false", "--app", deltaApp, "--db", db, "--json")
		r := newPhone().Check(t)
		logCheck(t, r)
		if r.Answer["manifest"] != nil || host.zipGets() != 1 || len(host.objectGets()) != 0 {
			t.Errorf("channel --delta=false: the answer carried a manifest or objects were fetched")
		}
		mustInstall(t, r, "1.0.2", web2)
		capship(t, bin, nil, "channel", "set", "production", "--delta=true", "--app", deltaApp, "--db", db, "--json")
	})

	t.Run("a release with an empty file goes as a zip", func(t *testing.T) {
		web4 := deltaWebFolder(t, "1.0.1", map[string]string{"assets/app.js": "// 1.0.4\n", "assets/empty.txt": ""})
		m4, _ := release(t, bin, db, host, key, deltaApp, "1.0.4", web4)
		if m4.Delta != nil || !strings.Contains(m4.DeltaSkipped, "assets/empty.txt") {
			t.Fatalf("a build with an empty file: delta %v, skipped %q; want no delta, naming the file", m4.Delta != nil, m4.DeltaSkipped)
		}
		host.zipGets() // the registration's check
		r := phone.Check(t)
		logCheck(t, r)
		if r.Answer["manifest"] != nil || host.zipGets() != 1 || len(host.objectGets()) != 0 {
			t.Errorf("a zip-only release: the answer carried a manifest or objects were fetched")
		}
		mustInstall(t, r, "1.0.4", web4)
	})
}

// deltaWebFolder writes a web build: vendor code, images and fonts that
// every version shares, an index.html naming version, and an app.js; files
// replace or add files.
func deltaWebFolder(t *testing.T, version string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "www")
	all := map[string]string{
		"index.html":               `<!doctype html><html><head><meta charset="utf-8"><title>Shop ` + version + `</title><script type="module" src="assets/app.js"></script></head><body></body></html>` + "\n",
		"assets/app.js":            "import { CapacitorUpdater } from './vendor/updater.js';\nCapacitorUpdater.notifyAppReady();\nexport const release = '" + version + "';\n",
		"assets/vendor/updater.js": "export const CapacitorUpdater = { notifyAppReady() { return Promise.resolve(); } };\n",
		"assets/vendor/big.js":     strings.Repeat("export function helper(a, b) { return a + b; }\n", 2000), // brotli pays
		"assets/style.css":         strings.Repeat(".button { color: #336699; padding: 4px 8px; }\n", 400),
		"assets/img/logo.svg":      `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>` + "\n",
		"assets/fonts/ñandú.woff2": "wOF2" + strings.Repeat("\x01\x02\x03", 3000),
		"manifest.webmanifest":     `{"name":"Shop"}` + "\n",
		// Named .br but not a brotli stream: the plugin decodes every
		// .br name, so the build wraps it (devices get data.bin.br.br).
		"assets/data.bin.br": "plain bytes under a .br name, " + version + "\n",
	}
	maps.Copy(all, files)
	for name, data := range all {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// objectOf is the object of a path in a bundle's delta.
func objectOf(m *workflow.Manifest, path string) string {
	for _, f := range m.Delta.Files {
		if f.Path == path {
			return f.Object
		}
	}
	return ""
}
