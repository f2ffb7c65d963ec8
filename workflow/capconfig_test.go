package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two distinct PKCS#1 public PEMs with realistic length (the base64 body of
// a 2048-bit key is 360 characters). The config code treats them as text.
var (
	testPubA = fakePublicPEM('A')
	testPubB = fakePublicPEM('B')
)

func fakePublicPEM(fill byte) string {
	body := "MIIBCgKCAQEA" + strings.Repeat(string(fill), 348) + "IDAQAB"
	var b strings.Builder
	b.WriteString("-----BEGIN RSA PUBLIC KEY-----\n")
	for len(body) > 64 {
		b.WriteString(body[:64] + "\n")
		body = body[64:]
	}
	b.WriteString(body + "\n-----END RSA PUBLIC KEY-----\n")
	return b.String()
}

// copyConfig copies testdata/configs/name into a fresh folder as the
// capacitor config file it stands for, with mode 0640.
func copyConfig(t *testing.T, name string, crlf bool) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	if crlf {
		data = bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
	}
	ext := filepath.Ext(name)
	path := filepath.Join(t.TempDir(), "capacitor.config"+ext)
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	return path
}

// changedSpan returns the byte ranges where a and b differ, after removing
// their common prefix and suffix.
func changedSpan(a, b []byte) (oldPart, newPart []byte) {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	return a[p : len(a)-s], b[p : len(b)-s]
}

func onlyFile(t *testing.T, path string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(path) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("folder holds %v, want only %s (a temp file was left behind)", names, filepath.Base(path))
	}
}

func TestEditConfigFixtures(t *testing.T) {
	tests := []struct {
		file      string
		appID     string // appId read before and after the edit
		webDir    string
		oldKey    bool     // the fixture already has a publicKey (replaced in place)
		canonical string   // JSON indent unit the file is canonical in, if any
		dynamic   []string // keys a .ts config sets by expression
	}{
		{file: "cap-init.json", appID: "com.example.app", webDir: "dist", canonical: "  "},
		{file: "plugins-4space.json", appID: "io.ionic.starter", webDir: "www"},
		{file: "updater-existing.json", appID: "com.acme.shop", webDir: "build", oldKey: true, canonical: "  "},
		{file: "empty-plugins.json", appID: "com.example.empty", webDir: "dist", canonical: "  "},
		{file: "compact.json", appID: "com.example.compact", webDir: "public"},
		{file: "tabs.json", appID: "com.example.tabs", webDir: "dist", canonical: "\t"},
		{file: "cap-init.ts", appID: "com.example.app", webDir: "dist"},
		{file: "legacy-trailing.ts", appID: "io.ionic.starter", webDir: "www"},
		{file: "plugins-doublequote.ts", appID: "com.morelitea.initiative", webDir: "dist"},
		{file: "updater-template.ts", appID: "com.acme.shop", webDir: "build", oldKey: true},
		{file: "export-default.ts", appID: "com.example.direct", webDir: "out"},
		{file: "satisfies.ts", appID: "com.cling.serial", webDir: "out"},
		{file: "env-appid.ts", webDir: "dist", dynamic: []string{"appId", "appName"}},
		{file: "commonjs.js", appID: "com.example.cjs", webDir: "www"},
	}
	for _, tt := range tests {
		for _, crlf := range []bool{false, true} {
			name := tt.file
			if crlf {
				name += "/crlf"
			}
			t.Run(name, func(t *testing.T) {
				path := copyConfig(t, tt.file, crlf)
				orig, _ := os.ReadFile(path)
				before, err := ReadCapConfig(path)
				if err != nil {
					t.Fatalf("read before edit: %v", err)
				}
				if before.AppID != tt.appID || before.WebDir != tt.webDir {
					t.Fatalf("read appId %q webDir %q, want %q %q", before.AppID, before.WebDir, tt.appID, tt.webDir)
				}
				if strings.Join(before.Dynamic, ",") != strings.Join(tt.dynamic, ",") {
					t.Fatalf("dynamic keys %v, want %v", before.Dynamic, tt.dynamic)
				}
				if tt.oldKey != (before.PublicKey != "") {
					t.Fatalf("public key before edit: %q", before.PublicKey)
				}

				if err := SetPublicKey(path, testPubA); err != nil {
					t.Fatalf("SetPublicKey: %v", err)
				}
				edited, _ := os.ReadFile(path)
				after, err := ReadCapConfig(path)
				if err != nil {
					t.Fatalf("read after edit: %v\n%s", err, edited)
				}
				if after.PublicKey != testPubA {
					t.Fatalf("public key read back %q\nfile:\n%s", after.PublicKey, edited)
				}
				after.PublicKey, before.PublicKey = "", ""
				if !equalConfig(before, after) {
					t.Fatalf("other values changed: %+v -> %+v", before, after)
				}
				// The edit is one insertion, or a replacement of the old key only.
				oldPart, newPart := changedSpan(orig, edited)
				if tt.oldKey {
					if !bytes.Contains(oldPart, []byte("OLDKEY")) || bytes.Contains(newPart, []byte("OLDKEY")) {
						t.Fatalf("replaced %q with %q", oldPart, newPart)
					}
				} else if len(bytes.TrimSpace(oldPart)) != 0 {
					t.Fatalf("edit removed %q", oldPart)
				}
				if bytes.Contains(newPart, []byte("\r")) != crlf && bytes.Contains(newPart, []byte("\n")) {
					t.Fatalf("inserted text %q does not follow the file's line endings (crlf=%v)", newPart, crlf)
				}
				if crlf && bytes.Contains(bytes.ReplaceAll(edited, []byte("\r\n"), nil), []byte("\n")) {
					t.Fatalf("bare LF in a CRLF file:\n%q", edited)
				}
				if tt.canonical != "" && !crlf {
					var buf bytes.Buffer
					if err := json.Indent(&buf, edited, "", tt.canonical); err != nil {
						t.Fatal(err)
					}
					if buf.String() != string(edited) {
						t.Fatalf("edited JSON lost its formatting:\n%s\nwant:\n%s", edited, buf.String())
					}
				}
				if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
					t.Fatalf("mode %v after edit, want 0640", st.Mode().Perm())
				}
				onlyFile(t, path)

				// A second key replaces the first in place; setting the same
				// key again changes nothing.
				if err := SetPublicKey(path, testPubB); err != nil {
					t.Fatal(err)
				}
				again, _ := os.ReadFile(path)
				oldPart, newPart = changedSpan(edited, again)
				if !strings.Contains(string(oldPart), "AAAA") || strings.Contains(string(newPart), "AAAA") || len(again)-len(edited) != len(newPart)-len(oldPart) {
					t.Fatalf("second key edit replaced %q with %q", oldPart, newPart)
				}
				if err := SetPublicKey(path, testPubB); err != nil {
					t.Fatal(err)
				}
				if same, _ := os.ReadFile(path); !bytes.Equal(same, again) {
					t.Fatal("setting the same key twice changed the file")
				}

				if err := SetServer(path, "https://updates.example.com/capship/"); err != nil {
					t.Fatalf("SetServer: %v", err)
				}
				srv, err := ReadCapConfig(path)
				if err != nil {
					t.Fatal(err)
				}
				want := CapConfig{PublicKey: testPubB, UpdateURL: "https://updates.example.com/capship/updates",
					StatsURL: "https://updates.example.com/capship/stats", ChannelURL: "https://updates.example.com/capship/channel_self"}
				if srv.PublicKey != want.PublicKey || srv.UpdateURL != want.UpdateURL || srv.StatsURL != want.StatsURL || srv.ChannelURL != want.ChannelURL {
					t.Fatalf("after SetServer: %+v", srv)
				}
				onlyFile(t, path)
			})
		}
	}
}

func equalConfig(a, b *CapConfig) bool {
	return a.AppID == b.AppID && a.AppName == b.AppName && a.WebDir == b.WebDir && a.PublicKey == b.PublicKey &&
		a.UpdateURL == b.UpdateURL && a.StatsURL == b.StatsURL && a.ChannelURL == b.ChannelURL &&
		strings.Join(a.Dynamic, ",") == strings.Join(b.Dynamic, ",")
}

func TestEditConfigRefusals(t *testing.T) {
	tests := []struct {
		file   string
		reason string // part of the error
	}{
		{"bad-plugins-array.json", `"plugins" is not an object`},
		{"bad-updater-string.json", `"plugins.CapacitorUpdater" is not an object`},
		{"bad-comments.json", "not valid JSON"},
		{"bad-toplevel-array.json", "top level is not an object"},
		{"bad-spread.ts", "spread"},
		{"bad-plugins-ident.ts", "plugins is not a plain object literal"},
		{"bad-updater-call.ts", "plugins.CapacitorUpdater is not a plain object literal"},
		{"bad-define.ts", "export default"},
		{"bad-unterminated.ts", "unterminated string"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := copyConfig(t, tt.file, false)
			orig, _ := os.ReadFile(path)
			err := SetPublicKey(path, testPubA)
			var ce *ConfigEditError
			if !errors.As(err, &ce) || !errors.Is(err, ErrConfigShape) {
				t.Fatalf("got %v, want a ConfigEditError", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("error %q does not say %q", err, tt.reason)
			}
			if !strings.Contains(ce.Snippet, "CapacitorUpdater") || !strings.Contains(ce.Snippet, `-----BEGIN RSA PUBLIC KEY-----\n`) {
				t.Fatalf("snippet:\n%s", ce.Snippet)
			}
			if !strings.Contains(err.Error(), ce.Snippet) {
				t.Fatal("the error message does not carry the snippet")
			}
			if now, _ := os.ReadFile(path); !bytes.Equal(now, orig) {
				t.Fatal("a refused edit changed the file")
			}
			onlyFile(t, path)
		})
	}
}

// The snippet of a refused edit is valid where it goes: pasted into an empty
// config object, it yields the requested values.
func TestEditConfigSnippetPastes(t *testing.T) {
	for _, ext := range []string{".json", ".ts"} {
		path := "capacitor.config" + ext
		snippet := snippetFor(path, []configEdit{{"publicKey", testPubA}, {"updateUrl", "https://x.example/updates"}})
		var src string
		if ext == ".json" {
			src = "{\n" + snippet + "\n}\n"
		} else {
			src = "export default {\n" + snippet + "\n};\n"
		}
		var cfg *CapConfig
		var err error
		if ext == ".json" {
			cfg, err = parseJSONConfig(path, []byte(src))
		} else {
			cfg, err = parseTSConfig(path, []byte(src))
		}
		if err != nil {
			t.Fatalf("%s snippet does not parse: %v\n%s", ext, err, src)
		}
		if cfg.PublicKey != testPubA || cfg.UpdateURL != "https://x.example/updates" {
			t.Fatalf("%s snippet reads back %+v", ext, cfg)
		}
	}
}

func TestEditConfigExact(t *testing.T) {
	pem := "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n"
	tests := []struct{ file, want string }{
		{"cap-init.ts", `import type { CapacitorConfig } from '@capacitor/cli';

const config: CapacitorConfig = {
  appId: 'com.example.app',
  appName: 'example',
  webDir: 'dist',
  plugins: {
    CapacitorUpdater: {
      publicKey: '-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n'
    }
  }
};

export default config;
`},
		{"legacy-trailing.ts", `import { CapacitorConfig } from '@capacitor/cli';

const config: CapacitorConfig = {
  appId: 'io.ionic.starter',
  appName: 'init',
  webDir: 'www',
  bundledWebRuntime: false,
  server: {
    androidScheme: 'https',
  },
  plugins: {
    CapacitorUpdater: {
      publicKey: '-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n',
    },
  },
};

export default config;
`},
		{"cap-init.json", `{
  "appId": "com.example.app",
  "appName": "example",
  "webDir": "dist",
  "plugins": {
    "CapacitorUpdater": {
      "publicKey": "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n"
    }
  }
}
`},
		{"empty-plugins.json", `{
  "appId": "com.example.empty",
  "webDir": "dist",
  "plugins": {
    "CapacitorUpdater": {
      "publicKey": "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n"
    }
  },
  "ios": {
    "contentInset": "always"
  }
}
`},
		{"compact.json", `{"appId":"com.example.compact","appName":"compact","webDir":"public", "plugins": {"CapacitorUpdater": {"publicKey": "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n"}}}
`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := copyConfig(t, tt.file, false)
			if err := SetPublicKey(path, pem); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tt.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestSetPublicKeyRejectsBadPEM(t *testing.T) {
	path := copyConfig(t, "cap-init.json", false)
	for _, pem := range []string{
		strings.ReplaceAll(testPubA, "\n", "\r\n"),
		strings.ReplaceAll(testPubA, "RSA PUBLIC KEY", "PUBLIC KEY"),
	} {
		if err := SetPublicKey(path, pem); err == nil {
			t.Fatalf("accepted %q", pem[:40])
		}
	}
}

func TestServerURLsFor(t *testing.T) {
	tests := []struct {
		in, update, warn, err string
	}{
		{in: "https://updates.example.com", update: "https://updates.example.com/updates"},
		{in: "https://updates.example.com/", update: "https://updates.example.com/updates"},
		{in: " https://example.com/capship// ", update: "https://example.com/capship/updates"},
		{in: "https://example.com:8443/a", update: "https://example.com:8443/a/updates"},
		{in: "http://127.0.0.1:8080", update: "http://127.0.0.1:8080/updates", warn: "real devices need https"},
		{in: "http://[::1]:8080", update: "http://[::1]:8080/updates", warn: "real devices need https"},
		{in: "http://localhost", update: "http://localhost/updates", warn: "real devices need https"},
		{in: "http://updates.example.com", err: "only talk to https"},
		{in: "ftp://example.com", err: "want an absolute https"},
		{in: "updates.example.com", err: "want an absolute https"},
		{in: "https://user:pw@example.com", err: "leave out user info"},
		{in: "https://example.com/?x=1", err: "leave out user info"},
	}
	for _, tt := range tests {
		urls, warn, err := ServerURLsFor(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if urls.UpdateURL != tt.update || !strings.Contains(warn, tt.warn) || (tt.warn == "") != (warn == "") {
			t.Errorf("%q: %+v warning %q", tt.in, urls, warn)
		}
		base := strings.TrimSuffix(urls.UpdateURL, "/updates")
		if urls.StatsURL != base+"/stats" || urls.ChannelURL != base+"/channel_self" {
			t.Errorf("%q: %+v", tt.in, urls)
		}
	}
}

func TestReadTSStringForms(t *testing.T) {
	src := "export default {\n" +
		"  appId: \"com.example.\\u0061pp\",\n" +
		"  appName: 'it\\'s \\x41 \\u{1F600}',\n" +
		"  webDir: `dist`,\n" +
		"  plugins: { CapacitorUpdater: { publicKey: `-----BEGIN RSA PUBLIC KEY-----\r\nAB\r\n-----END RSA PUBLIC KEY-----\r\n`, updateUrl: 'https://a' + '/b' } },\n" +
		"};\n"
	cfg, err := parseTSConfig("capacitor.config.ts", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AppID != "com.example.app" || cfg.AppName != "it's A \U0001F600" || cfg.WebDir != "dist" {
		t.Fatalf("%+v", cfg)
	}
	if cfg.PublicKey != "-----BEGIN RSA PUBLIC KEY-----\nAB\n-----END RSA PUBLIC KEY-----\n" {
		t.Fatalf("template literal CRLF not normalized: %q", cfg.PublicKey)
	}
	if cfg.UpdateURL != "" || strings.Join(cfg.Dynamic, ",") != "plugins.CapacitorUpdater.updateUrl" {
		t.Fatalf("concatenation should be dynamic: %+v", cfg)
	}
}

func TestLoadProjectPrefersTS(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "capacitor.config.json"), []byte(`{"appId":"com.json","webDir":"www"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "capacitor.config.ts"), []byte("export default { appId: 'com.ts', webDir: 'dist' };\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"version":"1.4.0"}`), 0o644)
	p, err := LoadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.AppID != "com.ts" || p.WebDir != "dist" || p.Version != "1.4.0" || filepath.Base(p.ConfigPath) != "capacitor.config.ts" {
		t.Fatalf("%+v", p)
	}
	p, err = LoadProjectConfig(dir, filepath.Join(dir, "capacitor.config.json"))
	if err != nil || p.AppID != "com.json" {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := LoadProject(t.TempDir()); !errors.Is(err, ErrNoConfig) {
		t.Fatalf("empty folder: %v", err)
	}
}

func fuzzSeeds(f *testing.F, ext string) {
	entries, _ := os.ReadDir(filepath.Join("..", "testdata", "configs"))
	for _, e := range entries {
		if (ext == ".json") == (filepath.Ext(e.Name()) == ".json") {
			data, _ := os.ReadFile(filepath.Join("..", "testdata", "configs", e.Name()))
			f.Add(data)
		}
	}
}

// FuzzEditTSConfig: any input either is refused or yields a file that reads
// back with the new key and the same other values.
func FuzzEditTSConfig(f *testing.F) {
	fuzzSeeds(f, ".ts")
	f.Add([]byte("export default{0:  }")) // found by fuzzing: a key without a value
	f.Fuzz(func(t *testing.T, data []byte) {
		before, rerr := parseTSConfig("c.ts", data)
		out, err := editTSConfig("c.ts", data, []configEdit{{"publicKey", testPubA}})
		if err != nil {
			if !errors.Is(err, ErrConfigShape) {
				t.Fatalf("error %v is not ErrConfigShape", err)
			}
			return
		}
		after, err := parseTSConfig("c.ts", out)
		if err != nil || rerr != nil {
			t.Fatalf("edited file does not read: %v / before: %v", err, rerr)
		}
		if after.PublicKey != testPubA {
			t.Fatalf("public key %q", after.PublicKey)
		}
		after.PublicKey, before.PublicKey = "", ""
		after.Dynamic, before.Dynamic = nil, nil
		if !equalConfig(before, after) {
			t.Fatalf("%+v -> %+v", before, after)
		}
	})
}

func FuzzEditJSONConfig(f *testing.F) {
	fuzzSeeds(f, ".json")
	// found by fuzzing: encoding/json matches struct fields case-insensitively
	f.Add([]byte(`{"":"x","plugins":{"CApACitorUpdAter":""}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := editJSONConfig("c.json", data, []configEdit{{"publicKey", testPubA}})
		if err != nil {
			if !errors.Is(err, ErrConfigShape) {
				t.Fatalf("error %v is not ErrConfigShape", err)
			}
			return
		}
		cfg, err := parseJSONConfig("c.json", out)
		if err != nil || cfg.PublicKey != testPubA {
			t.Fatalf("edited JSON reads %+v, %v", cfg, err)
		}
	})
}
