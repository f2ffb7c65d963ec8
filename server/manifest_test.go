package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"capship/store"
)

func deltaFiles(brotli bool) []store.ReleaseFile {
	return []store.ReleaseFile{
		{Path: "assets/app.js", FileHash: strings.Repeat("a1", 256), Object: strings.Repeat("1", 64), Size: 4096, Brotli: brotli},
		{Path: "index.html", FileHash: strings.Repeat("b2", 256), Object: strings.Repeat("2", 64), Size: 512},
	}
}

// withDelta gives production's current release a delta form.
func withDelta(brotli bool) func(*appSnapshot) {
	return func(a *appSnapshot) {
		ch := a.channel("production")
		ch.Delta = true
		r := ch.Current
		r.FilesURL, r.FileCount = "https://cdn.example.com/com.example.app/1.2.0.files/", 2
		r.delta = newDeltaForm(r, r.FilesURL, deltaFiles(brotli))
	}
}

func TestManifestAnswer(t *testing.T) {
	tests := []struct {
		name     string
		app      func(*appSnapshot)
		plugin   string
		manifest bool
	}{
		{"plugin 8.51 gets the manifest", withDelta(true), "8.51.23", true},
		{"every 8.x", withDelta(true), "8.0.0", true},
		{"7.0.35 and later 7.x", withDelta(true), "7.0.35", true},
		{"7.0.34 gets the zip", withDelta(true), "7.0.34", false},
		{"6.25 without brotli files", withDelta(false), "6.25.0", true},
		{"6.25 cannot decode .br names", withDelta(true), "6.25.0", false},
		{"6.24 gets the zip", withDelta(false), "6.24.9", false},
		{"5.10 without brotli files", withDelta(false), "5.10.0", true},
		{"5.9 gets the zip", withDelta(false), "5.9.0", false},
		{"4.x gets the zip", withDelta(false), "4.99.0", false},
		{"unreadable plugin version gets the zip", withDelta(false), "unknown", false},
		{"channel with delta off", func(a *appSnapshot) { withDelta(true)(a); a.channel("production").Delta = false }, "8.51.23", false},
		{"zip-only release", nil, "8.51.23", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := fixture()
			if tt.app != nil {
				tt.app(app)
			}
			ans := decide(app, device(func(d *DeviceInfo) { d.PluginVersion = tt.plugin }), "")
			if ans.Release == nil || ans.Release.Version != "1.2.0" || ans.Manifest != tt.manifest {
				t.Fatalf("decide = release %v manifest %v, want 1.2.0 with manifest %v", ans.Release, ans.Manifest, tt.manifest)
			}
			body := ans.JSON()
			checkAnswerJSON(t, body, true)
			var m struct {
				updateBody
				Manifest []map[string]any `json:"manifest"`
			}
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			if m.URL == "" || m.Checksum == "" || m.SessionKey == "" {
				t.Fatalf("a manifest answer still carries the zip's url, checksum and session key: %s", body)
			}
			if !tt.manifest {
				if m.Manifest != nil {
					t.Fatalf("zip answer carries a manifest: %s", body)
				}
				return
			}
			brotli := strings.HasSuffix(m.Manifest[0]["file_name"].(string), ".br")
			want := []map[string]any{
				{"file_name": "assets/app.js", "file_hash": strings.Repeat("a1", 256), "download_url": "https://cdn.example.com/com.example.app/1.2.0.files/" + strings.Repeat("1", 64)},
				{"file_name": "index.html", "file_hash": strings.Repeat("b2", 256), "download_url": "https://cdn.example.com/com.example.app/1.2.0.files/" + strings.Repeat("2", 64)},
			}
			if brotli {
				want[0]["file_name"] = "assets/app.js.br"
			}
			if got, _ := json.Marshal(m.Manifest); !bytes.Equal(got, must(json.Marshal(want))) {
				t.Fatalf("manifest %s, want %s", got, must(json.Marshal(want)))
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestManifestGzip(t *testing.T) {
	app := fixture()
	withDelta(true)(app)
	d := app.channel("production").Current.delta
	gz := d.gzip()
	if gz == nil || len(gz) >= len(d.answer) {
		t.Fatalf("gzip of a %d-byte manifest answer: %d bytes", len(d.answer), len(gz))
	}
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := io.ReadAll(r); err != nil || !bytes.Equal(plain, d.answer) {
		t.Fatalf("gzip does not inflate to the answer: %v", err)
	}
	for header, want := range map[string]bool{
		"gzip": true, "gzip, deflate, br": true, "br;q=1.0, GZIP;q=0.5": true, "deflate": false, "": false,
		"gzip;q=0": false, "gzip; q=0.000": false, "identity": false,
	} {
		req, _ := http.NewRequest("POST", "/updates", nil)
		if header != "" {
			req.Header.Set("Accept-Encoding", header)
		}
		if got := acceptsGzip(req); got != want {
			t.Errorf("Accept-Encoding %q: acceptsGzip = %v, want %v", header, got, want)
		}
	}
}
