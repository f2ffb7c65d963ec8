package workflow

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// doctorApp is the fixture app with the test key's public half and a
// server's URLs in its config.
func doctorApp(t *testing.T, server string) (string, *Project) {
	t.Helper()
	dir := shopApp(t)
	config := filepath.Join(dir, "capacitor.config.json")
	if err := SetPublicKey(config, string(mustRead(t, filepath.Join("..", "testdata", "keys", "test.pub.pem")))); err != nil {
		t.Fatal(err)
	}
	if err := SetServer(config, server); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, p
}

func findingOf(t *testing.T, findings []Finding, check string) Finding {
	t.Helper()
	for _, f := range findings {
		if f.Check == check {
			return f
		}
	}
	t.Fatalf("no %s finding in %+v", check, findings)
	return Finding{}
}

func TestDoctorOffline(t *testing.T) {
	key, err := ParsePrivateKey(mustRead(t, filepath.Join("..", "testdata", "keys", "test.pem")))
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := string(mustRead(t, filepath.Join("..", "testdata", "keys", "test.pub.pem")))
	otherPEM := string(mustRead(t, filepath.Join("..", "testdata", "keys", "other.pub.pem")))
	editConfig := func(t *testing.T, dir string, edits []configEdit) {
		t.Helper()
		if err := EditUpdaterConfig(filepath.Join(dir, "capacitor.config.json"), edits); err != nil {
			t.Fatal(err)
		}
	}
	write := func(t *testing.T, dir, name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		server string
		change func(t *testing.T, dir string)
		noKey  bool
		check  string
		status string
		says   string
	}{
		{"good app", "https://updates.example.com", nil, false, "", StatusOK, ""},
		{"public key of another pair", "https://updates.example.com", func(t *testing.T, dir string) {
			editConfig(t, dir, []configEdit{{"publicKey", otherPEM}})
		}, false, CheckPublicKey, StatusFail, "not the half of the private key"},
		{"CR line breaks in the key", "https://updates.example.com", func(t *testing.T, dir string) {
			editConfig(t, dir, []configEdit{{"publicKey", strings.ReplaceAll(pubPEM, "\n", "\r\n")}})
		}, false, CheckPublicKey, StatusFail, "device rule"},
		{"indented key", "https://updates.example.com", func(t *testing.T, dir string) {
			editConfig(t, dir, []configEdit{{"publicKey", strings.ReplaceAll(pubPEM, "\n", "\n    ")}})
		}, false, CheckPublicKey, StatusFail, "device rule"},
		{"no public key", "https://updates.example.com", func(t *testing.T, dir string) {
			editConfig(t, dir, []configEdit{{"publicKey", ""}})
		}, false, CheckPublicKey, StatusFail, "not set"},
		{"no private key to compare", "https://updates.example.com", nil, true, CheckPublicKey, StatusWarn, "no private key was found"},
		{"leaked private key", "https://updates.example.com", func(t *testing.T, dir string) {
			editConfig(t, dir, []configEdit{{"privateKey", string(EncodePrivateKey(key))}})
		}, false, CheckLeakedKey, StatusFail, "carries the private key"},
		{"no updateUrl", "https://updates.example.com", func(t *testing.T, dir string) {
			editConfig(t, dir, []configEdit{{"updateUrl", ""}})
		}, false, CheckUpdateURL, StatusFail, "Capgo's cloud"},
		{"no statsUrl", "https://updates.example.com", func(t *testing.T, dir string) {
			editConfig(t, dir, []configEdit{{"statsUrl", ""}})
		}, false, CheckStatsURL, StatusFail, "Capgo's cloud"},
		{"channelUrl over plain http", "https://updates.example.com", func(t *testing.T, dir string) {
			editConfig(t, dir, []configEdit{{"channelUrl", "http://updates.example.com/channel_self"}})
		}, false, CheckChannelURL, StatusFail, "plain http"},
		{"loopback http", "http://127.0.0.1:8080", nil, false, CheckUpdateURL, StatusWarn, "simulator"},
		{"old plugin installed", "https://updates.example.com", func(t *testing.T, dir string) {
			write(t, dir, "node_modules/@capgo/capacitor-updater/package.json", `{"name":"@capgo/capacitor-updater","version":"8.40.2"}`)
		}, false, CheckPluginVersion, StatusWarn, "8.40.2 (installed: 8.40.2) is older than 8.45.11"},
		{"old plugin asked for, not installed", "https://updates.example.com", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "node_modules"))
			write(t, dir, "package.json", `{"version":"1.0.0","dependencies":{"@capgo/capacitor-updater":"~7.2"}}`)
		}, false, CheckPluginVersion, StatusWarn, "7.2.0 (package.json asks for ~7.2)"},
		{"no plugin", "https://updates.example.com", func(t *testing.T, dir string) {
			write(t, dir, "package.json", `{"version":"1.0.0","dependencies":{"@capacitor/core":"^6.0.0"}}`)
		}, false, CheckPluginVersion, StatusFail, "not a dependency"},
		{"no notifyAppReady", "https://updates.example.com", func(t *testing.T, dir string) {
			write(t, dir, "www/js/app.js", "console.log('ready?')\n")
		}, false, CheckNotifyAppReady, StatusFail, "rolls every update back"},
		{"no web build", "https://updates.example.com", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "www"))
		}, false, CheckNotifyAppReady, StatusWarn, "no web build"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, _ := doctorApp(t, c.server)
			if c.change != nil {
				c.change(t, dir)
			}
			p, err := LoadProject(dir)
			if err != nil {
				t.Fatal(err)
			}
			facts := DoctorFacts{Project: p, Key: key, KeySource: "test.pem"}
			if c.noKey {
				facts = DoctorFacts{Project: p, KeySource: "no key in the keychain"}
			}
			findings := DoctorOffline(facts)
			if c.check == "" {
				if Failed(findings) {
					t.Fatalf("a good app fails: %+v", findings)
				}
				for _, f := range findings {
					if f.Status != StatusOK {
						t.Fatalf("a good app: %+v", f)
					}
				}
				return
			}
			f := findingOf(t, findings, c.check)
			if f.Status != c.status || !strings.Contains(f.Message, c.says) || f.Fix == "" {
				t.Fatalf("%s: %+v; want %s saying %q, with a fix", c.check, f, c.status, c.says)
			}
			// Each misconfiguration is its own finding: the others stay ok.
			for _, other := range findings {
				if other.Check != c.check && other.Status != StatusOK && !(c.server != "" && strings.HasPrefix(c.server, "http:") && strings.HasSuffix(other.Check, "_url")) {
					t.Errorf("%s is also %s: %s", other.Check, other.Status, other.Message)
				}
			}
		})
	}
}

func TestDoctorNoConfig(t *testing.T) {
	p, _ := LoadProject(t.TempDir())
	f := DoctorOffline(DoctorFacts{Project: p})
	if len(f) != 1 || f[0].Check != CheckConfig || f[0].Status != StatusFail || !Failed(f) {
		t.Fatalf("no config: %+v", f)
	}
}

// A config setting privateKey from an expression (a .ts config reading the
// environment) ships the key just the same.
func TestDoctorLeakedKeyFromExpression(t *testing.T) {
	dir := t.TempDir()
	ts := `import type { CapacitorConfig } from '@capacitor/cli';
const config: CapacitorConfig = {
  appId: 'com.example.shop',
  webDir: 'www',
  plugins: { CapacitorUpdater: { privateKey: process.env.UPDATER_KEY } },
};
export default config;
`
	if err := os.WriteFile(filepath.Join(dir, "capacitor.config.ts"), []byte(ts), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f := findingOf(t, DoctorOffline(DoctorFacts{Project: p}), CheckLeakedKey); f.Status != StatusFail {
		t.Fatalf("privateKey from an expression: %+v", f)
	}
}

func TestLowestOf(t *testing.T) {
	for spec, want := range map[string]string{
		"^8.45.11": "8.45.11", "~8.45.0": "8.45.0", ">=8.45.11 <9": "8.45.11", ">= 8.46.0": "8.46.0",
		"8.45.11": "8.45.11", "8.x": "", "latest": "", "*": "", "^7.2": "7.2.0", "^8.0.0 || ^9.0.0": "8.0.0",
		"github:Cap-go/capacitor-updater": "",
	} {
		if got := lowestOf(spec); got != want {
			t.Errorf("lowestOf(%q) = %q, want %q", spec, got, want)
		}
	}
}

// An answer of kind failed (a server that could not read the request, or
// its registry) is a failure; one without a kind too, as the plugin reads
// it. The capship server's own answers are tested from cli against a
// real one.
func TestDoctorDeviceAnswerFailures(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		want   string
	}{
		{http.StatusServiceUnavailable, `{"error":"server_unavailable","message":"the registry does not answer","kind":"failed"}`, StatusFail},
		{http.StatusOK, `{"error":"something","message":"no kind"}`, StatusFail},
		{http.StatusOK, `<html>hello</html>`, StatusFail},
		{http.StatusOK, `{"error":"disable_emulator","message":"channel production does not serve emulators","kind":"blocked"}`, StatusWarn},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			w.Write([]byte(c.body))
		}))
		f := DoctorDeviceAnswer(context.Background(), srv.Client(), DeviceCheck{UpdateURL: srv.URL + "/updates", AppID: "com.example.shop", NativeVersion: "1.0.0"})
		srv.Close()
		if f.Status != c.want || f.Fix == "" {
			t.Errorf("answer %s: %+v, want %s", c.body, f, c.want)
		}
	}
}

// The Capacitor CLI syncs the plugins of devDependencies too: the plugin
// there is the app's plugin, not a missing one.
func TestDoctorPluginInDevDependencies(t *testing.T) {
	dir, _ := doctorApp(t, "https://updates.example.com")
	pkg := `{"version":"1.0.0","dependencies":{"@capacitor/core":"^6.1.0"},"devDependencies":{"@capgo/capacitor-updater":"^8.45.11"}}`
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(pkg), 0o644); err != nil {
		t.Fatal(err)
	}
	if f := checkPluginVersion(dir); f.Status != StatusOK || !strings.Contains(f.Message, "installed: 8.45.11") {
		t.Fatalf("%+v; want ok, installed 8.45.11", f)
	}
}
