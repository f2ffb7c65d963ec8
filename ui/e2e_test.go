package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"capship/store"
	"capship/workflow"
)

// need returns the value of an environment variable the end-to-end test
// depends on; without it the test skips, or fails under CAPSHIP_TEST_STRICT.
func need(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatalf("%s is not set (scripts/test sets it)", name)
		}
		t.Skipf("%s is not set; run scripts/test", name)
	}
	return v
}

// term is the built binary running in a real terminal: a tmux session on a
// private server socket.
type term struct {
	t      *testing.T
	socket string
}

func (tm *term) tmux(args ...string) string {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "tmux", append([]string{"-L", tm.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (tm *term) screen() string { return tm.tmux("capture-pane", "-p", "-t", "e2e") }

// keys sends tmux key names ("Enter", "Escape", "C-u") or literal text.
func (tm *term) keys(keys ...string) { tm.tmux(append([]string{"send-keys", "-t", "e2e"}, keys...)...) }

func (tm *term) text(s string) { tm.tmux("send-keys", "-t", "e2e", "-l", s) }

// waitFor polls the screen until it shows every one of texts.
func (tm *term) waitFor(texts ...string) string {
	tm.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := tm.screen()
		ok := true
		for _, want := range texts {
			ok = ok && strings.Contains(s, want)
		}
		if ok {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the screen never showed %q; it shows:\n%s", texts, s)
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// writeApp makes a Capacitor app folder: a big build folder (dist, slow
// enough to cancel) and a small one (www).
func writeApp(t *testing.T, dir, appID string) {
	t.Helper()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "capacitor.config.json"), []byte(`{
  "appId": "`+appID+`",
  "appName": "E2E",
  "webDir": "dist"
}
`), 0o644))
	must(os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name": "e2e", "version": "1.0.0"}`+"\n"), 0o644))
	index := []byte("<!doctype html><title>e2e</title><script src=\"app.js\"></script>\n")
	app := []byte("import { CapacitorUpdater } from '@capgo/capacitor-updater';\nCapacitorUpdater.notifyAppReady();\n")
	for _, sub := range []string{"dist", "www"} {
		must(os.MkdirAll(filepath.Join(dir, sub), 0o755))
		must(os.WriteFile(filepath.Join(dir, sub, "index.html"), index, 0o644))
		must(os.WriteFile(filepath.Join(dir, sub, "app.js"), app, 0o644))
	}
	// Incompressible data keeps the deflate workers busy for a few seconds.
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	buf := make([]byte, 8<<20)
	for i := range 48 {
		for j := 0; j < len(buf); j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				buf[j+k] = byte(v >> (8 * k))
			}
		}
		must(os.WriteFile(filepath.Join(dir, "dist", fmt.Sprintf("blob-%02d.bin", i)), buf, 0o644))
	}
}

// TestWizardEndToEnd drives the built binary in tmux at 80x24 through every
// step against the real keychain, a real registry file and a real loopback
// HTTP server: a new key written into the config, a pack cancelled with
// esc (nothing left behind), another folder chosen with the picker, a URL
// that is refused, a URL that serves the wrong thing, the right URL, and
// the registration.
func TestWizardEndToEnd(t *testing.T) {
	bin := need(t, "CAPSHIP_TEST_BINARY")
	need(t, "DBUS_SESSION_BUS_ADDRESS")
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatal("tmux is not installed")
		}
		t.Skip("tmux is not installed")
	}

	root := t.TempDir()
	appDir, served := filepath.Join(root, "app"), filepath.Join(root, "served")
	for _, d := range []string{appDir, served} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	appID := fmt.Sprintf("com.capship.e2e.t%d", time.Now().UnixNano())
	writeApp(t, appDir, appID)
	db := filepath.Join(root, "registry.db")
	// A keychain service of its own, never the user's "capship" entries.
	service := fmt.Sprintf("capship-test-e2e-%d", time.Now().UnixNano())
	keys := store.NewKeychain(service)
	t.Cleanup(func() { _ = keys.Delete(appID) })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(served)), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	base := "http://" + ln.Addr().String()

	tm := &term{t: t, socket: fmt.Sprintf("capship-e2e-%d", os.Getpid())}
	shell := fmt.Sprintf("cd %q && %q; echo \"[capship exited $?]\"; sleep 600", appDir, bin)
	tm.tmux("new-session", "-d", "-s", "e2e", "-x", "80", "-y", "24",
		"-e", "CAPSHIP_DB="+db, "-e", "CAPSHIP_KEYCHAIN_SERVICE="+service, "-e", "TERM=xterm-256color",
		"-e", "DBUS_SESSION_BUS_ADDRESS="+os.Getenv("DBUS_SESSION_BUS_ADDRESS"),
		"sh", "-c", shell)
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.socket, "kill-server").Run() })

	// 1. project
	tm.waitFor("App id", appID, "none yet")
	tm.keys("Enter")
	// 2. keys: create writes the public key into the config in the same
	// step; then the server URLs go into the config too
	tm.waitFor("Create a new keypair")
	tm.keys("Enter")
	tm.waitFor("Public key written", "Update server")
	p, err := workflow.LoadProject(appDir)
	if err != nil || !strings.HasPrefix(p.PublicKey, "-----BEGIN RSA PUBLIC KEY-----") {
		t.Fatalf("config after create: %v, public key %q", err, p.PublicKey)
	}
	tm.text("https://updates.example.com")
	tm.keys("Enter")
	tm.waitFor("updateUrl, statsUrl and channelUrl written")
	if p, err := workflow.LoadProject(appDir); err != nil || p.UpdateURL != "https://updates.example.com/updates" ||
		p.StatsURL != "https://updates.example.com/stats" || p.ChannelURL != "https://updates.example.com/channel_self" {
		t.Fatalf("config after the server URL: %v, %q %q %q", err, p.UpdateURL, p.StatsURL, p.ChannelURL)
	}
	tm.keys("Enter")
	// 3. build folder and version
	tm.waitFor("Build folder and version", "50 files", "nothing registered yet")
	tm.keys("Enter")
	// 4. pack, cancelled with esc
	tm.waitFor("Zipping, hashing and encrypting")
	tm.keys("Escape")
	tm.waitFor("Cancelled. Nothing was written")
	out := filepath.Join(appDir, "capship-out")
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Fatalf("a cancelled pack left %d files in %s: %v", len(left), out, left)
	}
	// back to the folder step; the picker chooses www
	tm.keys("Escape")
	tm.waitFor("Build folder and version")
	tm.keys("C-o")
	tm.waitFor("Choose the web build folder", "dist", "www")
	selected := func() string {
		for _, line := range strings.Split(tm.screen(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "> ") {
				return strings.TrimSpace(line)
			}
		}
		return ""
	}
	for i := 0; selected() != "> www"; i++ {
		if i == 5 {
			t.Fatalf("the picker's cursor never reached www:\n%s", tm.screen())
		}
		before := selected()
		tm.keys("Down")
		for deadline := time.Now().Add(5 * time.Second); selected() == before; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the picker's cursor did not move from %q", before)
			}
		}
	}
	tm.keys("Enter")
	tm.waitFor("www", "2 files")
	tm.keys("Enter")
	tm.waitFor("Packed 2 files", "2 files in 2 objects", "No channel serves a release yet", "up to 2 files")
	tm.keys("Enter")

	// 5. upload: a refused URL, a wrong one, then the right one
	bundle := filepath.Join(out, workflow.BundleFileName(appID, "1.0.0"))
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatalf("the pack did not write %s: %v", bundle, err)
	}
	if err := os.WriteFile(filepath.Join(served, "bundle.zip"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 0x01
	if err := os.WriteFile(filepath.Join(served, "flipped.zip"), flipped, 0o644); err != nil {
		t.Fatal(err)
	}
	// the objects go to a folder of their own, first one short
	objects := filepath.Join(out, workflow.DeltaDirName(appID, "1.0.0"))
	entries, err := os.ReadDir(objects)
	if err != nil || len(entries) != 2 {
		t.Fatalf("the pack wrote %d objects to %s: %v", len(entries), objects, err)
	}
	if err := os.Mkdir(filepath.Join(served, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyObject := func(name string) {
		b, err := os.ReadFile(filepath.Join(objects, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(served, "files", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyObject(entries[0].Name())
	// enter on the zip URL goes on to the files URL, enter there checks
	// the config names a capship server now: three ways, by hand is the last
	tm.waitFor("Upload to the capship server", "Upload to an S3 bucket", "I uploaded it myself")
	tm.keys("Down", "Down", "Enter")
	tm.waitFor("Its public URL", "Base URL of the objects")
	tm.text("http://updates.example.com/bundle.zip")
	tm.keys("Enter", "Enter")
	tm.waitFor("devices require HTTPS")
	tm.keys("C-u")
	tm.text(base + "/nothing-here.zip")
	tm.keys("Enter", "Enter")
	tm.waitFor("does not serve the built file", "404")
	// issue 13: a copy of the built size with one byte flipped is refused
	tm.keys("e", "C-u")
	tm.text(base + "/flipped.zip")
	tm.keys("Enter", "Enter")
	tm.waitFor("does not serve the built file", "same size but different bytes")
	if !strings.Contains(tm.screen(), "✓ 200") {
		t.Fatalf("the flipped copy was not served whole:\n%s", tm.screen())
	}
	tm.keys("Enter") // enter does not go on from a mismatch
	tm.waitFor("does not serve the built file")
	tm.keys("e", "C-u")
	tm.text(base + "/bundle.zip")
	tm.keys("Enter")
	tm.text(base + "/files/")
	tm.keys("Enter")
	tm.waitFor("1 of 2 objects at the files URL are not the built ones", "404")
	copyObject(entries[1].Name())
	tm.keys("r")
	tm.waitFor("serves exactly the built file", "2 of 2 (2 files", "are the built ones", "loopback")
	tm.keys("Enter")

	// 6. register
	tm.waitFor("Channel", "production")
	tm.keys("Enter", "Enter")
	tm.waitFor("About to register", base+"/files/", "2 files; phones fetch only those they lack")
	tm.keys("Enter")
	// 7. done
	tm.waitFor("is live on channel production", "capship release rollback", "--app "+appID+" --channel production", "d details")
	tm.keys("Enter")
	tm.waitFor("[capship exited 0]")
	all := tm.tmux("capture-pane", "-p", "-t", "e2e", "-S", "-200")
	if !strings.Contains(all, "registered on channel production") || !strings.Contains(all, "URLs, key id, session key and checksum:") {
		t.Fatalf("after the wizard, the terminal shows no summary:\n%s", all)
	}

	reg, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	rel, err := reg.Release(context.Background(), appID, "1.0.0")
	if err != nil {
		t.Fatalf("the release is not in the registry: %v", err)
	}
	m, err := workflow.ReadManifest(filepath.Join(out, workflow.ManifestFileName(appID, "1.0.0")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(all, m.SessionKey[:24]) {
		t.Error("the session key stayed on the terminal after the wizard")
	}
	if rel.URL != base+"/bundle.zip" || rel.SHA256 != m.SHA256 || rel.Checksum != m.Checksum || rel.SessionKey != m.SessionKey ||
		rel.FilesURL != base+"/files" || rel.FileCount != 2 {
		got, _ := json.Marshal(rel)
		t.Fatalf("registered %s, manifest sha256 %s", got, m.SHA256)
	}
	files, err := reg.ReleaseFiles(context.Background(), appID, "1.0.0")
	if err != nil || len(files) != len(m.Delta.Files) {
		t.Fatalf("the registry has %d files of 1.0.0, the manifest %d: %v", len(files), len(m.Delta.Files), err)
	}
	for i, f := range files {
		if df := m.Delta.Files[i]; f.Path != df.Path || f.FileHash != df.FileHash || f.Object != df.Object || f.Size != df.Size {
			t.Fatalf("file %d: registered %+v, built %+v", i, f, df)
		}
	}
	ch, err := reg.Channel(context.Background(), appID, "production")
	if err != nil || ch == nil {
		t.Fatalf("channel production: %v", err)
	}
	pem, err := keys.Get(appID)
	if err != nil || !bytes.Contains(pem, []byte("BEGIN RSA PRIVATE KEY")) {
		t.Fatalf("the keychain has no private key for %s: %v", appID, err)
	}
	// no private key anywhere in the app folder
	filepath.WalkDir(appDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), "blob-") {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("PRIVATE KEY")) {
				t.Errorf("%s holds a private key", path)
			}
		}
		return nil
	})
}
