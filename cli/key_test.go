package cli

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"capship/workflow"
)

// keychainEnv returns the environment for commands that use a keychain
// service of this test's own in the real Secret Service (scripts/test
// starts one), removed again when the test ends.
func keychainEnv(t *testing.T) map[string]string {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatal("DBUS_SESSION_BUS_ADDRESS is not set: run the tests with scripts/test")
		}
		t.Skip("no session bus with a Secret Service; run scripts/test")
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	service := fmt.Sprintf("capship-clitest-%x", rnd)
	t.Cleanup(func() { keyring.DeleteAll(service) })
	return map[string]string{envKeychainService: service}
}

// secretLookup asks libsecret's secret-tool, not go-keyring, what the
// keychain holds.
func secretLookup(t *testing.T, service, user string) string {
	t.Helper()
	out, _ := exec.Command("secret-tool", "lookup", "service", service, "username", user).Output()
	return string(out)
}

// noPrivateKeyUnder fails if any file under dir holds a private key.
func noPrivateKeyUnder(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a private key", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tsApp makes an app folder with the capacitor.config.ts `npx cap init`
// writes, a package.json and a web build, and changes into it.
func tsApp(t *testing.T, appID string) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "capacitor.config.ts"), []byte(`import type { CapacitorConfig } from '@capacitor/cli';

const config: CapacitorConfig = {
  appId: '`+appID+`',
  appName: 'example',
  webDir: 'dist'
};

export default config;
`), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"example","version":"1.0.0"}`), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "dist", "assets"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "dist", "index.html"), []byte(`<script src="assets/app.js"></script>`), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "dist", "assets", "app.js"), []byte("CapacitorUpdater.notifyAppReady()"), 0o644))
	t.Chdir(dir)
	return dir
}

type keyJSON struct {
	Name           string `json:"name"`
	AppID          string `json:"app_id"`
	Archived       bool   `json:"archived"`
	KeyID          string `json:"key_id"`
	KeyFingerprint string `json:"key_fingerprint"`
	ConfigStatus   string `json:"config_status"`
}

func decodeJSON(t *testing.T, r bundleRun, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.out), v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r)
	}
}

func TestKeyCreateThenBundleBuild(t *testing.T) {
	env := keychainEnv(t)
	service := env[envKeychainService]
	const app = "com.example.keys"
	dir := tsApp(t, app)

	r := runBundleCLI(t, env, false, "key", "create", "--json")
	if r.code != 0 {
		t.Fatalf("key create: %s", r)
	}
	var created map[string]string
	decodeJSON(t, r, &created)
	if created["app_id"] != app || len(created["key_id"]) != 20 || !strings.HasPrefix(created["key_fingerprint"], "sha256:") {
		t.Fatalf("key create printed %s", r.out)
	}

	// The private key is in the real keychain, and nowhere in the project.
	stored := secretLookup(t, service, app)
	priv, err := workflow.ParsePrivateKey([]byte(stored))
	if err != nil {
		t.Fatalf("secret-tool lookup gave no key: %v (%q)", err, stored)
	}
	if workflow.Fingerprint(&priv.PublicKey) != created["key_fingerprint"] {
		t.Fatal("the keychain holds another key than the one reported")
	}
	p, err := workflow.LoadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.PublicKey != string(workflow.EncodePublicKey(&priv.PublicKey)) || strings.ContainsRune(p.PublicKey, '\r') {
		t.Fatalf("config carries %q", p.PublicKey)
	}
	noPrivateKeyUnder(t, dir)

	// bundle build takes the key from the keychain.
	r = runBundleCLI(t, env, false, "bundle", "build", "--out", "out", "--json")
	if r.code != 0 {
		t.Fatalf("bundle build: %s", r)
	}
	var m workflow.Manifest
	decodeJSON(t, r, &m)
	if m.KeyFingerprint != created["key_fingerprint"] || m.AppID != app || m.Version != "1.0.0" {
		t.Fatalf("manifest %+v", m)
	}
	noPrivateKeyUnder(t, dir)

	// A second create keeps the key.
	r = runBundleCLI(t, env, false, "key", "create")
	if r.code != 1 || !strings.Contains(r.err, "--force") || !strings.Contains(r.err, created["key_id"]) {
		t.Fatalf("second key create: %s", r)
	}
	if secretLookup(t, service, app) != stored {
		t.Fatal("a refused create changed the key")
	}

	// --force archives the old key; list shows both; export reads the old.
	r = runBundleCLI(t, env, false, "key", "create", "--force", "--json")
	if r.code != 0 || !strings.Contains(r.err, "archived the previous key") {
		t.Fatalf("key create --force: %s", r)
	}
	var replaced map[string]string
	decodeJSON(t, r, &replaced)
	archived := replaced["archived"]
	if !strings.HasPrefix(archived, app+"@archived-") || secretLookup(t, service, archived) != stored {
		t.Fatalf("archive %q does not hold the old key", archived)
	}
	r = runBundleCLI(t, env, false, "key", "list", "--json")
	var list struct{ Keys []keyJSON }
	decodeJSON(t, r, &list)
	if len(list.Keys) != 2 || list.Keys[0].Name != app || list.Keys[0].ConfigStatus != "match" ||
		list.Keys[1].Name != archived || !list.Keys[1].Archived || list.Keys[1].KeyFingerprint != created["key_fingerprint"] {
		t.Fatalf("key list: %s", r)
	}
	exported := filepath.Join(t.TempDir(), "old.pem")
	r = runBundleCLI(t, env, false, "key", "export", "--app", archived, "--private", "--out", exported)
	if r.code != 0 {
		t.Fatalf("export archived: %s", r)
	}
	if data, _ := os.ReadFile(exported); string(data) != stored {
		t.Fatal("exported archive differs from the old key")
	}
	if st, _ := os.Stat(exported); st.Mode().Perm() != 0o600 {
		t.Fatalf("exported file mode %v", st.Mode().Perm())
	}
	r = runBundleCLI(t, env, false, "key", "export", "--app", archived, "--private", "--out", exported)
	if r.code != 1 || !strings.Contains(r.err, "already exists") {
		t.Fatalf("export over an existing file: %s", r)
	}
	r = runBundleCLI(t, env, false, "key", "export", "--private")
	if r.code != 2 || strings.Contains(r.out+r.err, "PRIVATE KEY") {
		t.Fatalf("export --private without --out: %s", r)
	}
	r = runBundleCLI(t, env, false, "key", "export")
	if r.code != 0 || !strings.HasPrefix(r.out, "-----BEGIN RSA PUBLIC KEY-----\n") {
		t.Fatalf("export public: %s", r)
	}
	if p, _ := workflow.LoadProject(dir); p.PublicKey != r.out {
		t.Fatal("exported public key differs from the config's")
	}

	// A config with the old public key: a loud warning in show and list.
	oldPub := string(workflow.EncodePublicKey(&priv.PublicKey))
	must(t, workflow.SetPublicKey(filepath.Join(dir, "capacitor.config.ts"), oldPub))
	for _, cmd := range [][]string{{"key", "show"}, {"key", "list"}} {
		r = runBundleCLI(t, env, false, cmd...)
		if r.code != 0 || !strings.Contains(r.err, "KEY MISMATCH") || !strings.Contains(r.err, "reject every bundle") {
			t.Fatalf("%v with a mismatched config: %s", cmd, r)
		}
	}
	r = runBundleCLI(t, env, false, "bundle", "build", "--out", "out2")
	if r.code != 1 || !strings.Contains(r.err, "reject") {
		t.Fatalf("bundle build with a mismatched config: %s", r)
	}
	r = runBundleCLI(t, env, false, "config", "set-key")
	if r.code != 0 {
		t.Fatalf("config set-key: %s", r)
	}
	r = runBundleCLI(t, env, false, "key", "show", "--json")
	var shown keyJSON
	decodeJSON(t, r, &shown)
	if shown.ConfigStatus != "match" {
		t.Fatalf("after set-key: %s", r)
	}

	// A key missing from capship's index is still listed for this folder's app.
	keyring.Delete(service, "capship:index")
	r = runBundleCLI(t, env, false, "key", "list", "--json")
	decodeJSON(t, r, &list)
	if len(list.Keys) != 1 || list.Keys[0].Name != app || list.Keys[0].ConfigStatus != "match" {
		t.Fatalf("key list without an index: %s", r)
	}

	// delete needs --yes.
	r = runBundleCLI(t, env, false, "key", "delete")
	if r.code != 2 || secretLookup(t, service, app) == "" {
		t.Fatalf("delete without --yes: %s", r)
	}
	r = runBundleCLI(t, env, false, "key", "delete", "--yes")
	if r.code != 0 || secretLookup(t, service, app) != "" {
		t.Fatalf("delete --yes: %s", r)
	}
	r = runBundleCLI(t, env, false, "bundle", "build", "--out", "out3")
	if r.code != 1 || !strings.Contains(r.err, "key create") {
		t.Fatalf("bundle build without a key: %s", r)
	}
	noPrivateKeyUnder(t, dir)
}

func writePEM(t *testing.T, path string, bits int) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600))
	return key
}

func TestKeyImport(t *testing.T) {
	env := keychainEnv(t)
	service := env[envKeychainService]
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "capacitor.config.json"), []byte("{\n  \"appId\": \"com.example.capgo\",\n  \"webDir\": \"www\"\n}\n"), 0o644))
	t.Chdir(dir)
	capgoKey := filepath.Join(t.TempDir(), ".capgo_key_v2")
	key := writePEM(t, capgoKey, 2048)

	r := runBundleCLI(t, env, false, "key", "import", capgoKey)
	if r.code != 0 || !strings.Contains(r.err, "you can now delete "+capgoKey) {
		t.Fatalf("import: %s", r)
	}
	got, err := workflow.ParsePrivateKey([]byte(secretLookup(t, service, "com.example.capgo")))
	if err != nil || !got.Equal(key) {
		t.Fatalf("keychain holds another key: %v", err)
	}
	p, _ := workflow.LoadProject(dir)
	if p.PublicKey != string(workflow.EncodePublicKey(&key.PublicKey)) {
		t.Fatalf("import did not fill the empty publicKey: %q", p.PublicKey)
	}
	noPrivateKeyUnder(t, dir)

	other := filepath.Join(t.TempDir(), "other.pem")
	writePEM(t, other, 2048)
	r = runBundleCLI(t, env, false, "key", "import", other)
	if r.code != 1 || !strings.Contains(r.err, "--force") {
		t.Fatalf("import over an existing key: %s", r)
	}
	r = runBundleCLI(t, env, false, "key", "import", "--force", other)
	if r.code != 0 || !strings.Contains(r.err, "KEY MISMATCH") {
		t.Fatalf("import --force of a key the config does not carry: %s", r)
	}
	if p2, _ := workflow.LoadProject(dir); p2.PublicKey != p.PublicKey {
		t.Fatal("import replaced a public key in the config")
	}

	big := filepath.Join(t.TempDir(), "big.pem")
	writePEM(t, big, 4096)
	r = runBundleCLI(t, env, false, "key", "import", "--app", "com.example.big", big)
	if r.code != 1 || !strings.Contains(r.err, "2048") || secretLookup(t, service, "com.example.big") != "" {
		t.Fatalf("import of an RSA-4096 key: %s", r)
	}
}

func TestConfigSetServer(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "capacitor.config.json")
	must(t, os.WriteFile(cfg, []byte("{\n  \"appId\": \"com.example.srv\",\n  \"webDir\": \"www\"\n}\n"), 0o644))
	t.Chdir(dir)

	r := runBundleCLI(t, nil, false, "config", "set-server", "--json", "https://updates.example.com")
	if r.code != 0 {
		t.Fatalf("set-server: %s", r)
	}
	p, _ := workflow.LoadProject(dir)
	if p.UpdateURL != "https://updates.example.com/updates" || p.StatsURL != "https://updates.example.com/stats" || p.ChannelURL != "https://updates.example.com/channel_self" {
		t.Fatalf("config after set-server: %+v", p)
	}
	var urls map[string]string
	decodeJSON(t, r, &urls)
	if urls["update_url"] != p.UpdateURL {
		t.Fatalf("json %v", urls)
	}
	r = runBundleCLI(t, nil, false, "config", "set-server", "http://127.0.0.1:8080")
	if r.code != 0 || !strings.Contains(r.err, "warning") {
		t.Fatalf("loopback http: %s", r)
	}
	before, _ := os.ReadFile(cfg)
	r = runBundleCLI(t, nil, false, "config", "set-server", "http://updates.example.com")
	if r.code != 2 || !strings.Contains(r.err, "https") {
		t.Fatalf("plain http: %s", r)
	}
	if after, _ := os.ReadFile(cfg); !bytes.Equal(before, after) {
		t.Fatal("a refused URL changed the config")
	}

	// A config capship cannot edit: the snippet, exit 1, file untouched.
	ts := filepath.Join(dir, "capacitor.config.ts")
	src := []byte("import base from './base';\nexport default { ...base, webDir: 'dist' };\n")
	must(t, os.WriteFile(ts, src, 0o644))
	r = runBundleCLI(t, nil, false, "config", "set-server", "https://u.example.com")
	if r.code != 1 || !strings.Contains(r.err, "updateUrl: 'https://u.example.com/updates',") {
		t.Fatalf("unsupported shape: %s", r)
	}
	if after, _ := os.ReadFile(ts); !bytes.Equal(after, src) {
		t.Fatal("a refused edit changed the file")
	}
}

// Without a keychain, commands say why and how to get by, and write nothing.
// This runs the built binary: go-keyring keeps its D-Bus connection for the
// life of a process, so the broken bus needs a process of its own.
func TestKeyCommandsWithoutKeychain(t *testing.T) {
	bin := os.Getenv("CAPSHIP_TEST_BINARY")
	if bin == "" {
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatal("CAPSHIP_TEST_BINARY is not set")
		}
		t.Skip("CAPSHIP_TEST_BINARY not set; run scripts/test")
	}
	dir := tsApp(t, "com.example.nokeychain")
	orig, _ := os.ReadFile(filepath.Join(dir, "capacitor.config.ts"))
	for _, args := range [][]string{
		{"key", "create"},
		{"key", "list"},
		{"bundle", "build", "--out", "out"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(t.TempDir(), "no-bus"), envKeychainService+"=capship-clitest-nobus")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 1 || err == nil {
			t.Fatalf("%v: exit %d, stderr %s", args, code, stderr.String())
		}
		msg := stderr.String()
		for _, want := range []string{"cannot reach the D-Bus session bus", "--key-file", "CAPSHIP_PRIVATE_KEY"} {
			if !strings.Contains(msg, want) {
				t.Fatalf("%v: %q does not say %q", args, msg, want)
			}
		}
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "capacitor.config.ts")); !bytes.Equal(now, orig) {
		t.Fatal("the config changed without a keychain")
	}
	noPrivateKeyUnder(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Fatal("bundle build left output without a key")
	}
}
