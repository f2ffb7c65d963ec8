package plugintest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"capship/server/plugintest"
)

// scripted is an update server that gives one fixed answer, serves files
// (counting the GETs) and keeps the stats it receives.
type scripted struct {
	mu      sync.Mutex
	answer  string
	files   map[string][]byte
	gets    map[string]int
	actions []string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/updates":
		s.mu.Lock()
		io.WriteString(w, s.answer)
		s.mu.Unlock()
	case "/stats":
		var events []map[string]any
		if err := json.Unmarshal(body, &events); err != nil { // DownloadService sends one object
			var one map[string]any
			json.Unmarshal(body, &one)
			events = append(events, one)
		}
		s.mu.Lock()
		for _, e := range events {
			a, _ := e["action"].(string)
			s.actions = append(s.actions, a)
		}
		s.mu.Unlock()
		io.WriteString(w, `{"status":"ok"}`)
	default:
		s.mu.Lock()
		data, ok := s.files[r.URL.Path]
		if ok {
			s.gets[r.URL.Path]++
		}
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(data)
	}
}

// downloads returns how many times each file was fetched.
func (s *scripted) downloads() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.gets)
}

// TestPhoneReadsAnswersAsThePlugin runs answers that are not updates
// through the phone: how the plugin files each one, and which stats it
// sends, as the server's answers must take into account (spec §3).
func TestPhoneReadsAnswersAsThePlugin(t *testing.T) {
	h := plugintest.Compile(t)
	for _, c := range []struct {
		name, answer    string
		kind, outcome   string
		stats           []string
		versionNameSent string
	}{
		{"no kind is a failure", `{"error":"no_new_version_available","message":"already on 1.0.0"}`,
			"failed", "failed", []string{"download_fail"}, "1.0.0"},
		{"up to date", `{"error":"no_new_version_available","message":"already on 1.0.0","kind":"up_to_date"}`,
			"up_to_date", "up_to_date", nil, ""},
		{"blocked", `{"error":"disable_emulator","message":"no emulators","kind":"blocked"}`,
			"blocked", "blocked", nil, ""},
		{"unknown kind is a failure", `{"error":"later","message":"m","kind":"postponed"}`,
			"failed", "failed", []string{"download_fail"}, "1.0.0"},
		{"same version", `{"version":"1.0.0","url":"http://127.0.0.1:9/b.zip","checksum":"00"}`,
			"", "no_update", nil, ""},
		{"bad url", `{"version":"1.0.1","url":"not a url","checksum":"00"}`,
			"", "bad_url", []string{"download_fail"}, "1.0.0"},
		// A null kind sends the answer down the error path, which keeps
		// version and message but neither kind nor url: no download, and
		// a download_fail for a missing url.
		{"null kind drops the update", `{"version":"1.0.1","url":"http://127.0.0.1:9/b.zip","checksum":"00","kind":null}`,
			"", "bad_url", []string{"download_fail"}, "1.0.0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &scripted{answer: c.answer}
			srv := httptest.NewServer(s)
			defer srv.Close()
			p := h.NewPhone(t.TempDir())
			p.AppID, p.UpdateURL, p.StatsURL = "com.example.scripted", srv.URL+"/updates", srv.URL+"/stats"
			r := p.Check(t)
			if r.Kind != c.kind || r.Outcome != c.outcome || !slices.Equal(r.Actions(), c.stats) {
				t.Fatalf("answer %s: kind %q, outcome %q, stats %v; want %q, %q, %v\n%s",
					c.answer, r.Kind, r.Outcome, r.Actions(), c.kind, c.outcome, c.stats, r.Output)
			}
			if r.Request["version_name"] != "1.0.0" || r.Current.ID != "builtin" {
				t.Errorf("sent version_name %v, runs %+v; want the built-in bundle of native 1.0.0", r.Request["version_name"], r.Current)
			}
			for _, st := range r.Stats {
				if st.VersionName != c.versionNameSent || st.Status != http.StatusOK {
					t.Errorf("stat %+v: want version_name %q, HTTP 200", st, c.versionNameSent)
				}
			}
			s.mu.Lock()
			received := slices.Clone(s.actions)
			s.mu.Unlock()
			if !slices.Equal(received, r.Actions()) {
				t.Errorf("the server received %v, the phone reports %v", received, r.Actions())
			}
		})
	}
}

// TestPhoneManifestDownload runs a delta update (spec §6), unencrypted:
// a file the APK already has is copied from its assets, the others are
// downloaded, one of them brotli-compressed (decoded by the stand-in that
// runs the brotli command).
func TestPhoneManifestDownload(t *testing.T) {
	h := plugintest.Compile(t)
	builtin := t.TempDir()
	files := map[string][]byte{
		"index.html":           []byte("<!doctype html><title>shop</title><script src=\"assets/app.js\"></script>\n"),
		"assets/app.js":        []byte(strings.Repeat("CapacitorUpdater.notifyAppReady(); // 1.0.1\n", 400)),
		"assets/img/logo.webp": []byte("RIFF\x00\x01WEBPVP8 fake image"),
	}
	if err := os.WriteFile(filepath.Join(builtin, "index.html"), files["index.html"], 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("brotli", "--stdout", "-q", "11")
	cmd.Stdin = bytes.NewReader(files["assets/app.js"])
	compressed, err := cmd.Output()
	if err != nil {
		t.Fatalf("brotli: %v", err)
	}
	s := &scripted{gets: map[string]int{}, files: map[string][]byte{
		"/f/index.html": files["index.html"], "/f/app.js.br": compressed, "/f/logo.webp": files["assets/img/logo.webp"],
	}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	hash := func(name string) string { return fmt.Sprintf("%x", sha256.Sum256(files[name])) }
	manifest := []map[string]string{
		{"file_name": "index.html", "file_hash": hash("index.html"), "download_url": srv.URL + "/f/index.html"},
		{"file_name": "assets/app.js.br", "file_hash": hash("assets/app.js"), "download_url": srv.URL + "/f/app.js.br"},
		{"file_name": "assets/img/logo.webp", "file_hash": hash("assets/img/logo.webp"), "download_url": srv.URL + "/f/logo.webp"},
	}
	answer, _ := json.Marshal(map[string]any{"version": "1.0.1", "url": srv.URL + "/unused.zip", "manifest": manifest})
	s.answer = string(answer)

	p := h.NewPhone(t.TempDir())
	p.AppID, p.UpdateURL, p.StatsURL, p.BuiltinDir = "com.example.delta", srv.URL+"/updates", srv.URL+"/stats", builtin
	r := p.Check(t)
	if r.Outcome != "download" || r.Current.Version != "1.0.1" || r.Current.Status != "success" {
		t.Fatalf("want 1.0.1 installed from the manifest: outcome %s, running %+v, work %+v\n%s", r.Outcome, r.Current, r.Work, r.Output)
	}
	for name, data := range files {
		if want := fmt.Sprintf("%d %x", len(data), sha256.Sum256(data)); r.Files[name] != want {
			t.Errorf("%s installed as %q, want %s", name, r.Files[name], want)
		}
	}
	if len(r.Files) != len(files) {
		t.Errorf("installed %d files, want %d: %v", len(r.Files), len(files), r.Files)
	}
	if gets := s.downloads(); len(gets) != 2 || gets["/f/app.js.br"] != 1 || gets["/f/logo.webp"] != 1 {
		t.Errorf("downloads %v: want index.html from the APK, the others once, never the zip url", gets)
	}
	for _, a := range []string{"download_manifest_start", "download_manifest_complete", "download_complete", "set"} {
		if r.Sent(a) != 1 {
			t.Errorf("stat %s sent %d times, want once: %v", a, r.Sent(a), r.Actions())
		}
	}

	// A truncated brotli stream: the decoder's error names Brotli, which
	// the plugin reports as download_manifest_brotli_fail.
	s.mu.Lock()
	s.files["/f/app.js.br"] = compressed[:len(compressed)/2]
	s.mu.Unlock()
	p = h.NewPhone(t.TempDir())
	p.AppID, p.UpdateURL, p.StatsURL = "com.example.delta", srv.URL+"/updates", srv.URL+"/stats"
	r = p.Check(t)
	if r.Current.ID != "builtin" || r.Sent("download_manifest_brotli_fail") != 1 || r.Sent("set") != 0 {
		t.Errorf("want the truncated stream refused with download_manifest_brotli_fail: running %+v, stats %v\n%s", r.Current, r.Actions(), r.Output)
	}
}
