package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"capship/server/servertest"
	"capship/store"
	"capship/workflow"
)

// writeDeltaBundle writes a bundle as writeBundle does, with a delta form
// of the given files (path -> content; files of one content share an
// object), and returns the manifest path, the bundle bytes and the
// objects (name -> bytes).
func writeDeltaBundle(t *testing.T, dir, version string, key *rsa.PrivateKey, files map[string]string) (string, []byte, map[string][]byte) {
	t.Helper()
	path, data := writeBundle(t, dir, version, key)
	m, err := workflow.ReadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{}
	d := &workflow.Delta{Dir: workflow.DeltaDirName(m.AppID, m.Version)}
	for p, content := range files {
		plain := sha256.Sum256([]byte(content))
		// An "encrypted object": random, but one per content.
		name := hex.EncodeToString(plain[:8]) + ".br"
		if _, ok := objects[name]; !ok {
			obj := make([]byte, 16*(1+len(content)/16))
			rand.Read(obj)
			objects[name] = obj
		}
		objSum := sha256.Sum256(objects[name])
		fileHash := make([]byte, 256)
		copy(fileHash, plain[:])
		d.Files = append(d.Files, workflow.DeltaFile{Path: p, SHA256: hex.EncodeToString(plain[:]),
			FileHash: hex.EncodeToString(fileHash), Object: name, Size: int64(len(objects[name])),
			ObjectSHA256: hex.EncodeToString(objSum[:]), Brotli: true})
	}
	sortDeltaFiles(d.Files)
	m.Delta = d
	m.File, m.Manifest = filepath.Base(m.File), filepath.Base(path)
	text, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data, objects
}

// regexpLine reports whether a line of text matches the pattern.
func regexpLine(text, pattern string) bool {
	return regexp.MustCompile(`(?m)` + pattern).MatchString(text)
}

func sortDeltaFiles(files []workflow.DeltaFile) {
	for i := 1; i < len(files); i++ {
		for j := i; j > 0 && files[j].Path < files[j-1].Path; j-- {
			files[j], files[j-1] = files[j-1], files[j]
		}
	}
}

// hostObjects puts the objects under prefix and returns the base URL.
func (h *hosted) hostObjects(prefix string, objects map[string][]byte) string {
	for name, data := range objects {
		h.put(prefix+"/"+name, data)
	}
	return h.srv.URL + prefix
}

var deltaFiles = map[string]string{
	"index.html":         "<!doctype html><script src=app.js></script>",
	"app.js":             "console.log('hello')",
	"assets/logo.svg":    "<svg/>",
	"assets/copy/app.js": "console.log('hello')", // same content as app.js: one object
	"assets/style.css":   "body{margin:0}",
}

func TestRegisterDelta(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "r.db")
	env := map[string]string{"CAPSHIP_DB": db}
	h := newHosted(t)
	key := testKey(t, 0)

	m1, b1, objects := writeDeltaBundle(t, dir, "1.0.0", key, deltaFiles)
	url1 := h.put("/b/1.0.0.zip.enc", b1)
	base := h.hostObjects("/b/1.0.0.files", objects)
	var res registerResult
	r := run(t, env, "release", "register", "--manifest", m1, "--url", url1, "--files-url", base+"/", "--json")
	r.decode(t, &res)
	if res.FilesURL != base || res.FileCount != 5 || res.Release.FilesURL != base || res.Release.FileCount != 5 {
		t.Fatalf("register result %+v / release %+v; want files URL %s (no trailing /) and 5 files", res, res.Release, base)
	}
	if c := res.ObjectsCheck; c == nil || !c.OK() || c.Objects != 4 || c.Files != 5 || c.Checked != 4 {
		t.Fatalf("objects check %+v", res.ObjectsCheck)
	}
	if !strings.Contains(r.err, "4 objects") || !strings.Contains(r.err, "are the built ones") {
		t.Fatalf("stderr does not tell about the objects check:\n%s", r.err)
	}
	reg, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	files, err := reg.ReleaseFiles(context.Background(), testApp, "1.0.0")
	reg.Close()
	if err != nil || len(files) != 5 {
		t.Fatalf("registry files: %+v, %v", files, err)
	}
	manifest, _ := workflow.ReadManifest(m1)
	for i, f := range files {
		df := manifest.Delta.Files[i]
		if f != (store.ReleaseFile{Path: df.Path, FileHash: df.FileHash, Object: df.Object, Size: df.Size, Brotli: df.Brotli}) {
			t.Fatalf("file %d registered as %+v, manifest has %+v", i, f, df)
		}
	}

	// A manifest with objects, registered without --files-url: zip only,
	// said in one line.
	m2, b2, _ := writeDeltaBundle(t, dir, "1.1.0", key, deltaFiles)
	r = run(t, env, "release", "register", "--manifest", m2, "--url", h.put("/b/1.1.0.zip.enc", b2))
	if r.code != 0 || strings.Count(r.err, "zip only") != 1 || !strings.Contains(r.err, "--files-url") || !strings.Contains(r.err, "com.example.shop-1.1.0.files/") {
		t.Fatalf("zip only: exit %d\n%s", r.code, r.err)
	}
	var list struct {
		Releases []releaseRow `json:"releases"`
	}
	run(t, env, "release", "list", "--app", testApp, "--json").decode(t, &list)
	if len(list.Releases) != 2 || list.Releases[0].FileCount != 0 || list.Releases[1].FileCount != 5 || list.Releases[1].FilesURL != base {
		t.Fatalf("release list %+v", list.Releases)
	}
	r = runTerminal(t, env, "release", "list", "--app", testApp)
	if !strings.Contains(r.out, "FILES") || !regexpLine(r.out, `^1\.0\.0 .* 5 `) || !regexpLine(r.out, `^1\.1\.0 .* - `) {
		t.Fatalf("release list table:\n%s", r.out)
	}

	// Objects that are not the built ones: refused, each named, nothing
	// recorded.
	m3, b3, objects3 := writeDeltaBundle(t, dir, "1.2.0", key, deltaFiles)
	url3 := h.put("/b/1.2.0.zip.enc", b3)
	base3 := h.hostObjects("/b/1.2.0.files", objects3)
	var flipped, missing string
	for name := range objects3 {
		switch {
		case flipped == "":
			flipped = name
		case missing == "":
			missing = name
		}
	}
	bad := bytes.Clone(objects3[flipped])
	bad[3] ^= 1
	h.put("/b/1.2.0.files/"+flipped, bad)
	h.mu.Lock()
	delete(h.files, "/b/1.2.0.files/"+missing)
	h.mu.Unlock()
	r = run(t, env, "release", "register", "--manifest", m3, "--url", url3, "--files-url", base3)
	if r.code != 1 || !strings.Contains(r.err, "2 of 4 objects") || !strings.Contains(r.err, flipped) || !strings.Contains(r.err, missing) ||
		!strings.Contains(r.err, "SHA-256") || !strings.Contains(r.err, "404") || !strings.Contains(r.err, "--skip-url-check") {
		t.Fatalf("bad objects: exit %d\n%s", r.code, r.err)
	}
	if !regexpLine(r.err, `^  - [0-9a-f]+\.br \((index\.html|app\.js|assets/[a-z/.]+)( and 1 more)?\): `) {
		t.Fatalf("bad objects: not named with their files\n%s", r.err)
	}
	run(t, env, "release", "list", "--app", testApp, "--json").decode(t, &list)
	if len(list.Releases) != 2 {
		t.Fatalf("a refused registration recorded something: %+v", list.Releases)
	}
	// Unless told not to check.
	r = run(t, env, "release", "register", "--manifest", m3, "--url", url3, "--files-url", base3, "--skip-url-check")
	if r.code != 0 || !strings.Contains(r.err, "not checking the URL and the objects") || !strings.Contains(r.err, "with 5 files") {
		t.Fatalf("skip check: exit %d\n%s", r.code, r.err)
	}

	// The files URL of another release: the registry refuses it.
	m5, b5, _ := writeDeltaBundle(t, dir, "1.4.0", key, deltaFiles)
	url5 := h.put("/b/1.4.0.zip.enc", b5)
	if r := run(t, env, "release", "register", "--manifest", m5, "--url", url5, "--files-url", base, "--skip-url-check"); r.code != 1 || !strings.Contains(r.err, "files URL of "+testApp+" 1.0.0") {
		t.Errorf("files URL of 1.0.0 again: exit %d\n%s", r.code, r.err)
	}

	// --files-url for a manifest without objects, a bad base, a bad
	// path: refused before any download.
	m4, b4 := writeBundle(t, dir, "1.3.0", key)
	url4 := h.put("/b/1.3.0.zip.enc", b4)
	before := h.gets.Load()
	r = run(t, env, "release", "register", "--manifest", m4, "--url", url4, "--files-url", base)
	if r.code != 1 || !strings.Contains(r.err, "no per-file objects") || !strings.Contains(r.err, "without --files-url") {
		t.Fatalf("--files-url without objects: exit %d\n%s", r.code, r.err)
	}
	for _, bad := range []string{"http://cdn.example.com/files", "https://cdn.example.com/files?sig=1", "https://cdn.example.com/f#x"} {
		if r := run(t, env, "release", "register", "--manifest", m5, "--url", url5, "--files-url", bad); r.code != 1 || !strings.Contains(r.err, "files url") {
			t.Errorf("--files-url %s: exit %d\n%s", bad, r.code, r.err)
		}
	}
	// A path the plugin refuses, in a hand-edited manifest.
	mm, _ := workflow.ReadManifest(m5)
	mm.Delta.Files[0].Path = "../escape.js"
	mm.File, mm.Manifest = filepath.Base(mm.File), filepath.Base(m5)
	text, _ := json.Marshal(mm)
	os.WriteFile(m5, text, 0o644)
	if r := run(t, env, "release", "register", "--manifest", m5, "--url", url5, "--files-url", base+"-other"); r.code != 1 || !strings.Contains(r.err, "../escape.js") {
		t.Errorf("path with ..: exit %d\n%s", r.code, r.err)
	}
	if n := h.gets.Load() - before; n != 0 {
		t.Fatalf("refused registrations downloaded %d files", n)
	}
}

func TestRegisterDeltaThroughServer(t *testing.T) {
	dir := t.TempDir()
	reg, api := servertest.Start(t)
	secret, _, err := reg.CreateToken(context.Background(), "ci", testApp)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for i := range 300 {
		files[fmt.Sprintf("assets/chunk-%03d.js", i)] = fmt.Sprint("chunk ", i%250) // some shared
	}
	h := newHosted(t)
	m, b, objects := writeDeltaBundle(t, dir, "2.0.0", testKey(t, 0), files)
	url := h.put("/2.0.0.zip.enc", b)
	base := h.hostObjects("/2.0.0.files", objects)
	env := map[string]string{"CAPSHIP_TOKEN": secret}
	var res registerResult
	run(t, env, "release", "register", "--manifest", m, "--url", url, "--files-url", base, "--server", api.URL, "--json").decode(t, &res)
	if res.Release.FileCount != 300 || res.Release.FilesURL != base || res.ObjectsCheck == nil || res.ObjectsCheck.Objects != 250 {
		t.Fatalf("register via server: %+v, objects %+v", res.Release, res.ObjectsCheck)
	}
	got, err := reg.ReleaseFiles(context.Background(), testApp, "2.0.0")
	if err != nil || len(got) != 300 {
		t.Fatalf("server registry: %d files, %v", len(got), err)
	}
	// The server refuses what the registry refuses, with the same words.
	m2, b2, objects2 := writeDeltaBundle(t, dir, "2.1.0", testKey(t, 0), files)
	r := run(t, env, "release", "register", "--manifest", m2, "--url", h.put("/2.1.0.zip.enc", b2), "--files-url", h.hostObjects("/2.0.0.files", objects2), "--server", api.URL)
	if r.code != 1 || !strings.Contains(r.err, "files URL of") {
		t.Fatalf("files URL of another release via server: exit %d\n%s", r.code, r.err)
	}
}

func TestChannelDeltaFlag(t *testing.T) {
	env := map[string]string{"CAPSHIP_DB": filepath.Join(t.TempDir(), "r.db")}
	var c store.Channel
	run(t, env, "channel", "create", "beta", "--app", testApp, "--json").decode(t, &c)
	if !c.Delta {
		t.Fatalf("new channel %+v: want delta on by default", c)
	}
	run(t, env, "channel", "create", "legacy", "--app", testApp, "--delta=false", "--json").decode(t, &c)
	if c.Delta {
		t.Fatalf("created with --delta=false: %+v", c)
	}
	run(t, env, "channel", "set", "beta", "--app", testApp, "--delta=false", "--json").decode(t, &c)
	if c.Delta || c.Rollout != 100 {
		t.Fatalf("after --delta=false: %+v", c)
	}
	r := runTerminal(t, env, "channel", "set", "legacy", "--app", testApp, "--delta")
	if r.code != 0 || !strings.Contains(r.out, "DELTA") || !regexpLine(r.out, `^legacy .* yes$`) {
		t.Fatalf("channel set --delta:\n%s", r.out)
	}
	r = runTerminal(t, env, "channel", "list", "--app", testApp)
	if !regexpLine(r.out, `^beta .* no$`) || !regexpLine(r.out, `^legacy .* yes$`) {
		t.Fatalf("channel list:\n%s", r.out)
	}
	if r := run(t, env, "channel", "set", "beta", "--app", testApp); r.code != 2 || !strings.Contains(r.err, "--delta") {
		t.Fatalf("nothing to change: %+v", r)
	}
}

func TestStatsDeltaColumn(t *testing.T) {
	db := filepath.Join(t.TempDir(), "r.db")
	reg, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateChannel(context.Background(), testApp, "production", store.ChannelSettings{}); err != nil {
		t.Fatal(err)
	}
	ev := func(device, action, version string) store.StatEvent {
		return store.StatEvent{AppID: testApp, DeviceID: device, Action: action, VersionName: version}
	}
	if _, err := reg.RecordEvents(context.Background(), []store.StatEvent{
		ev("a", "download_manifest_start", "2.0.0"), ev("a", "download_manifest_complete", "2.0.0"), ev("a", "set", "2.0.0"),
		ev("b", "download_manifest_start", "2.0.0"), ev("b", "download_manifest_checksum_fail", "2.0.0:assets/app.js"),
		ev("c", "download_complete", "1.0.0"), ev("c", "set", "1.0.0"),
	}); err != nil {
		t.Fatal(err)
	}
	reg.Close()
	r := runTerminal(t, map[string]string{"CAPSHIP_DB": db}, "stats", "--app", testApp)
	if r.code != 0 || !strings.Contains(r.out, "DELTA") || !regexpLine(r.out, `^2\.0\.0 +2 +0 +1/2 +1 +1 +download_manifest_checksum_fail 1 `) ||
		!regexpLine(r.out, `^1\.0\.0 +1 +1 +- +1 +0 +- `) {
		t.Fatalf("stats table:\n%s", r.out)
	}
}
