package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"capship/workflow"
)

// bundleRun runs one capship command line in-process with fake streams.
type bundleRun struct {
	code     int
	out, err string
}

func runBundleCLI(t *testing.T, env map[string]string, stderrTTY bool, args ...string) bundleRun {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(t.Context(), args, IO{
		In: strings.NewReader(""), Out: &out, Err: &errb, StderrTTY: stderrTTY,
		Getenv: func(k string) string { return env[k] },
	})
	checkJSONOutput(t, args, code, out.String())
	return bundleRun{code, out.String(), errb.String()}
}

func (r bundleRun) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.err)
}

// testKeyPath is the absolute path of a committed test key.
func testKeyPath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "testdata", "keys", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// capacitorApp makes an app folder (config, package.json, www/) carrying
// the given public key and changes into it.
func capacitorApp(t *testing.T, publicKeyPEM string) string {
	t.Helper()
	dir := t.TempDir()
	config := map[string]any{"appId": "com.example.cli", "appName": "CLI", "webDir": "www",
		"plugins": map[string]any{"CapacitorUpdater": map[string]any{"publicKey": publicKeyPEM}}}
	data, _ := json.MarshalIndent(config, "", "  ")
	must(t, os.WriteFile(filepath.Join(dir, "capacitor.config.json"), data, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"cli","version":"2.3.4"}`), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "www", "js"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "www", "index.html"), []byte("<script src=js/app.js></script>"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "www", "js", "app.js"), []byte("CapacitorUpdater.notifyAppReady()"), 0o644))
	t.Chdir(dir)
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestBundleBuildAndVerify(t *testing.T) {
	keyFile, pubFile := testKeyPath(t, "test.pem"), testKeyPath(t, "test.pub.pem")
	otherPub, spkiPub := testKeyPath(t, "other.pub.pem"), testKeyPath(t, "test.spki.pem")
	pubPEM, _ := os.ReadFile(pubFile)
	app := capacitorApp(t, string(pubPEM))

	r := runBundleCLI(t, nil, false, "bundle", "build", "--out", "dist", "--key-file", keyFile, "--json")
	if r.code != 0 {
		t.Fatalf("build: %s", r)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.out), &got); err != nil {
		t.Fatalf("build --json printed %q: %v", r.out, err)
	}
	for _, k := range []string{"app_id", "version", "file", "size", "sha256", "zip_sha256", "session_key", "checksum", "key_id", "key_fingerprint", "files", "manifest"} {
		if _, ok := got[k]; !ok {
			t.Errorf("--json lacks %q", k)
		}
	}
	if got["app_id"] != "com.example.cli" || got["version"] != "2.3.4" || got["files"] != 2.0 {
		t.Fatalf("defaults from the project not used: %v", got)
	}
	if r.err != "" {
		t.Errorf("--json without a terminal printed on stderr: %q", r.err)
	}
	manifest := got["manifest"].(string)
	bundle := got["file"].(string)
	if filepath.Dir(bundle) != filepath.Join(app, "dist") {
		t.Fatalf("bundle at %s", bundle)
	}

	// Same version again: refused, then replaced with --force.
	r = runBundleCLI(t, nil, false, "bundle", "build", "--out", "dist", "--key-file", keyFile)
	if r.code != 1 || !strings.Contains(r.err, "--force") {
		t.Fatalf("rebuild: %s", r)
	}
	must(t, os.WriteFile(filepath.Join(app, "www", "js", "app.js.map"), []byte("{}"), 0o644))
	r = runBundleCLI(t, nil, false, "bundle", "build", "--out", "dist", "--key-file", keyFile, "--force")
	if r.code != 0 || r.out != "" || !strings.Contains(r.err, "built com.example.cli 2.3.4: 3 files") ||
		!strings.Contains(r.err, "warning: "+filepath.Join("www", "js", "app.js.map")+": source map") {
		t.Fatalf("rebuild --force: %s", r)
	}

	r = runBundleCLI(t, nil, false, "bundle", "verify", "--manifest", manifest, "--public-key", pubFile, "--extract", "device", "--json")
	if r.code != 0 {
		t.Fatalf("verify: %s", r)
	}
	var res map[string]any
	must(t, json.Unmarshal([]byte(r.out), &res))
	if res["ok"] != true || res["files"] != 3.0 || res["app_id"] != "com.example.cli" {
		t.Fatalf("verify --json: %v", res)
	}
	if body, err := os.ReadFile(filepath.Join(app, "device", "js", "app.js")); err != nil || !bytes.Contains(body, []byte("notifyAppReady")) {
		t.Fatalf("extracted app.js: %q, %v", body, err)
	}

	// The strings alone, as the Capgo CLI prints them.
	m, err := workflow.ReadManifest(manifest)
	must(t, err)
	r = runBundleCLI(t, nil, false, "bundle", "verify", "--file", bundle, "--session-key", m.SessionKey, "--checksum", m.Checksum, "--public-key", pubFile)
	if r.code != 0 || !strings.Contains(r.err, "checksum verified") {
		t.Fatalf("verify with strings: %s", r)
	}

	// Refusals.
	tampered := filepath.Join(t.TempDir(), "tampered.zip")
	data, _ := os.ReadFile(bundle)
	data[len(data)/2] ^= 1
	must(t, os.WriteFile(tampered, data, 0o644))
	for _, c := range []struct {
		name    string
		args    []string
		code    int
		mention string
	}{
		{"other public key", []string{"--manifest", manifest, "--public-key", otherPub}, 1, "wrong public key"},
		{"tampered file", []string{"--manifest", manifest, "--file", tampered, "--public-key", pubFile}, 1, "checksum does not match"},
		{"SPKI public key", []string{"--manifest", manifest, "--public-key", spkiPub}, 1, "SPKI"},
		{"no public key", []string{"--manifest", manifest}, 2, "--public-key"},
		{"manifest and strings", []string{"--manifest", manifest, "--checksum", m.Checksum, "--public-key", pubFile}, 2, "not both"},
		{"strings without file", []string{"--session-key", m.SessionKey, "--checksum", m.Checksum, "--public-key", pubFile}, 2, "--file"},
		{"extract into a full folder", []string{"--manifest", manifest, "--public-key", pubFile, "--extract", "device"}, 1, "not empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runBundleCLI(t, nil, false, append([]string{"bundle", "verify"}, c.args...)...)
			if r.code != c.code || !strings.Contains(r.err, c.mention) || r.out != "" {
				t.Fatalf("want exit %d mentioning %q, got %s", c.code, c.mention, r)
			}
		})
	}
}

func TestBundleBuildKeySources(t *testing.T) {
	pubPEM, _ := os.ReadFile(testKeyPath(t, "test.pub.pem"))
	privPEM, _ := os.ReadFile(testKeyPath(t, "test.pem"))
	otherKey, bigKey := testKeyPath(t, "other.pem"), testKeyPath(t, "rsa4096.pem")
	capacitorApp(t, string(pubPEM))

	r := runBundleCLI(t, map[string]string{envPrivateKey: string(privPEM)}, false, "bundle", "build", "--out", "dist", "--version", "1.0.0")
	if r.code != 0 {
		t.Fatalf("key from $%s: %s", envPrivateKey, r)
	}
	// A key pasted into a CI secret on Windows, or saved there: CRLF
	// line breaks, white space around it and its lines.
	pasted := "\r\n  " + strings.ReplaceAll(string(privPEM), "\n", "\r\n  ") + "\r\n"
	r = runBundleCLI(t, map[string]string{envPrivateKey: pasted}, false, "bundle", "build", "--out", "dist", "--version", "1.0.1")
	if r.code != 0 {
		t.Fatalf("CRLF key from $%s: %s", envPrivateKey, r)
	}
	crlfFile := filepath.Join(t.TempDir(), "crlf.pem")
	must(t, os.WriteFile(crlfFile, []byte(pasted), 0o600))
	r = runBundleCLI(t, nil, false, "bundle", "build", "--out", "dist", "--version", "1.0.2", "--key-file", crlfFile)
	if r.code != 0 {
		t.Fatalf("CRLF --key-file: %s", r)
	}
	for _, c := range []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		mention string
	}{
		{"no key anywhere", nil, nil, 1, "pass --key-file"},
		{"bad PEM in env", map[string]string{envPrivateKey: "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n"}, nil, 1, "$" + envPrivateKey},
		{"key of another app", nil, []string{"--key-file", otherKey}, 1, "devices of this app would reject"},
		{"RSA-4096 key", nil, []string{"--key-file", bigKey}, 1, "RSA-4096"},
		{"bad version", nil, []string{"--key-file", otherKey, "--version", "1.0"}, 1, "MAJOR.MINOR.PATCH"},
		{"no --out", nil, []string{"--out", ""}, 2, "--out"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"bundle", "build", "--out", "dist2", "--version", "3.0.0"}, c.args...)
			r := runBundleCLI(t, c.env, false, args...)
			if r.code != c.code || !strings.Contains(r.err, c.mention) {
				t.Fatalf("want exit %d mentioning %q, got %s", c.code, c.mention, r)
			}
			if strings.Contains(r.err, "MIIEvQIBADANBg") {
				t.Fatal("error quotes the key")
			}
			if _, err := os.Stat("dist2"); err == nil {
				if left, _ := os.ReadDir("dist2"); len(left) > 0 {
					t.Fatalf("left %v", left)
				}
			}
		})
	}
}

// A config publicKey that devices cannot read (iOS apps crash at launch
// with CR line breaks or indentation) builds, with the warning 'key show'
// gives, on stderr and in --json; a clean one gives none.
func TestBundleBuildWarnsUnusableConfigKey(t *testing.T) {
	pubPEM, _ := os.ReadFile(testKeyPath(t, "test.pub.pem"))
	keyFile := testKeyPath(t, "test.pem")
	for _, c := range []struct {
		name    string
		config  string
		mention string
	}{
		{"clean", string(pubPEM), ""},
		{"CRLF", strings.ReplaceAll(string(pubPEM), "\n", "\r\n"), "CR line breaks"},
		{"indented", strings.ReplaceAll(strings.TrimSuffix(string(pubPEM), "\n"), "\n", "\n    "), "spaces or tabs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			capacitorApp(t, c.config)
			r := runBundleCLI(t, nil, false, "bundle", "build", "--out", "dist", "--key-file", keyFile, "--no-delta", "--json")
			if r.code != 0 {
				t.Fatalf("build: %s", r)
			}
			var out struct {
				Warnings []string `json:"warnings"`
			}
			if err := json.Unmarshal([]byte(r.out), &out); err != nil {
				t.Fatalf("--json: %v\n%s", err, r.out)
			}
			if c.mention == "" {
				if strings.Contains(r.err, "WARNING") || len(out.Warnings) != 0 {
					t.Fatalf("clean key warned: %s", r)
				}
				return
			}
			if !strings.Contains(r.err, "WARNING: the publicKey in ") || !strings.Contains(r.err, c.mention) || !strings.Contains(r.err, "config set-key") {
				t.Fatalf("no loud warning on stderr: %s", r)
			}
			if len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], c.mention) {
				t.Fatalf("--json warnings = %q", out.Warnings)
			}
			m, err := workflow.ReadManifest(filepath.Join("dist", "com.example.cli-2.3.4.manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Warnings) != 0 {
				t.Fatalf("the manifest file holds warnings %q", m.Warnings)
			}
		})
	}
}

func TestBundleBuildWithoutProject(t *testing.T) {
	keyFile := testKeyPath(t, "test.pem")
	t.Chdir(t.TempDir())
	r := runBundleCLI(t, nil, false, "bundle", "build", "--out", "dist", "--key-file", keyFile)
	if r.code != 2 || !strings.Contains(r.err, "--app") {
		t.Fatalf("no project: %s", r)
	}
	web := filepath.Join(t.TempDir(), "web")
	must(t, os.MkdirAll(web, 0o755))
	must(t, os.WriteFile(filepath.Join(web, "index.html"), []byte("<script>notifyAppReady()</script>"), 0o644))
	// Everything by flags, with progress drawn as on a terminal.
	r = runBundleCLI(t, nil, true, "bundle", "build", "--out", "dist", "--key-file", keyFile,
		"--app", "com.example.flags", "--dir", web, "--version", "0.1.0-beta.1")
	if r.code != 0 || !strings.Contains(r.err, "\r\x1b[Kpack") || !strings.Contains(r.err, "com.example.flags-0.1.0-beta.1.zip") {
		t.Fatalf("build by flags: %q", r.err)
	}
}

func TestProgressText(t *testing.T) {
	got := progressText(workflow.Event{Phase: workflow.PhasePack, Files: 3, TotalFiles: 10, Bytes: 1 << 20, TotalBytes: 4 << 20})
	if got != "pack  3/10 files  1.0 MiB/4.0 MiB (25%)" {
		t.Fatalf("got %q", got)
	}
	if got := progressText(workflow.Event{Phase: workflow.PhaseScan, Files: 7}); got != "scan  7 files" {
		t.Fatalf("got %q", got)
	}
}

// TestBundleBuildDelta: the per-file objects by default (named in the
// summary and in --json), none with --no-delta.
func TestBundleBuildDelta(t *testing.T) {
	keyFile, pubFile := testKeyPath(t, "test.pem"), testKeyPath(t, "test.pub.pem")
	pubPEM, _ := os.ReadFile(pubFile)
	app := capacitorApp(t, string(pubPEM))

	r := runBundleCLI(t, nil, false, "bundle", "build", "--out", "dist", "--key-file", keyFile)
	if r.code != 0 || !strings.Contains(r.err, "delta:") || !strings.Contains(r.err, "--files-url") {
		t.Fatalf("build: want a delta line and the --files-url hint: %s", r)
	}
	objects := filepath.Join(app, "dist", workflow.DeltaDirName("com.example.cli", "2.3.4"))
	if entries, err := os.ReadDir(objects); err != nil || len(entries) != 2 {
		t.Fatalf("objects folder %s: %d entries, %v; want one per file", objects, len(entries), err)
	}

	r = runBundleCLI(t, nil, false, "bundle", "build", "--out", "dist", "--key-file", keyFile, "--force", "--no-delta", "--json")
	if r.code != 0 {
		t.Fatalf("build --no-delta: %s", r)
	}
	var got map[string]any
	must(t, json.Unmarshal([]byte(r.out), &got))
	if _, ok := got["delta"]; ok {
		t.Fatalf("--no-delta wrote a delta: %v", got["delta"])
	}
	if _, err := os.Stat(objects); !os.IsNotExist(err) {
		t.Fatalf("--no-delta --force left the earlier objects folder: %v", err)
	}
	m, err := workflow.ReadManifest(got["manifest"].(string))
	if err != nil || m.Delta != nil {
		t.Fatalf("manifest after --no-delta: delta %v, %v", m != nil && m.Delta != nil, err)
	}
}
