package workflow_test

// Interop with the real Capgo CLI (@capgo/cli 8.68.1, installed by
// scripts/test, which exports CAPSHIP_CAPGO_CLI = the path of its `capgo`
// binary). These tests prove, in both directions, that capship and Capgo
// agree on every byte that devices check: key files, zip checksum, session
// key string and the V3 encrypted checksum.
//
// What the Capgo CLI needs (read from its dist/index.js, 8.68.1):
//   - `bundle decrypt ZIP IVSESSIONKEY --checksum CHECKSUM` takes the public
//     key from ./.capgo_key_v2.pub if that file exists, else from
//     plugins.CapacitorUpdater.publicKey in ./capacitor.config.json. It writes
//     ZIP + "_decrypted.zip" (even when the checksum then fails). It decrypts
//     the checksum as V3 only when it finds the @capgo/capacitor-updater
//     version (node_modules, then package.json) and it is not below
//     5.30/6.30/7.30 in its major (8.x always V3); otherwise it silently uses
//     V2, so the app folder must name updater 8.x. It has no --json flag:
//     success is exit 0 and "Checksum matches" on stdout.
//   - `bundle zip --json` refuses to run unless @capgo/capacitor-updater is
//     declared in package.json AND resolvable in node_modules, and only uses
//     SHA-256 (not CRC32) for updater >= 7.0.0.
//   - `bundle encrypt ZIP CHECKSUM --json` reads ./.capgo_key_v2 and prints
//     {"checksum", "filename", "ivSessionKey"}; output is ZIP + "_encrypted.zip".
//   - With stdin not a terminal (and CI=1) it never prompts; `key create`
//     offers a `cap sync` that is cancelled by the closed stdin.

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"capship/workflow"
)

const (
	capgoVersion   = "8.68.1"
	interopAppID   = "com.example.interop"
	interopVersion = "1.4.2"
	// updaterVersion is what the fake app declares and "installs"; Capgo picks
	// its checksum format from it (V3 for 8.x).
	updaterVersion = "8.51.0"
	// toolTimeout bounds every run of the Capgo CLI or capship (a Capgo run
	// takes about half a second; `bundle decrypt` also asks the npm registry
	// for a newer CLI and gives up silently without network).
	toolTimeout = 90 * time.Second
)

// needEnv returns the environment variable name, or skips the test when it
// is unset (fails under CAPSHIP_TEST_STRICT=1, as scripts/test sets it).
func needEnv(t *testing.T, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		msg := fmt.Sprintf("%s is not set: %s; scripts/test sets it", name, what)
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return v
}

// capgoCLI returns the Capgo CLI binary, after checking its version.
func capgoCLI(t *testing.T) string {
	t.Helper()
	bin := needEnv(t, "CAPSHIP_CAPGO_CLI", "the path of the `capgo` binary of @capgo/cli "+capgoVersion+" is needed to prove interop")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("CAPSHIP_CAPGO_CLI: %v", err)
	}
	// The behaviours noted above were read from and checked against this
	// exact release; a new one must be checked again before the pin moves.
	r := runCapgo(t, bin, t.TempDir(), "--version")
	if got := strings.TrimSpace(r.stdout); r.err != nil || got != capgoVersion {
		t.Fatalf("CAPSHIP_CAPGO_CLI is Capgo CLI %q, these tests are written for %s:\n%s", got, capgoVersion, r)
	}
	return bin
}

// toolRun is one finished run of the Capgo CLI or of capship.
type toolRun struct {
	name           string
	args           []string
	stdout, stderr string
	err            error // nil on exit 0
}

func (r toolRun) String() string {
	return fmt.Sprintf("%s %s: %v\n--- stdout\n%s\n--- stderr\n%s", r.name, strings.Join(r.args, " "), r.err, r.stdout, r.stderr)
}

// runTool runs bin in dir with no stdin and the given environment (nil:
// the test's own), bounded by toolTimeout.
func runTool(t *testing.T, name, bin, dir string, env []string, args ...string) toolRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Stdin = nil // /dev/null: Capgo never prompts without a terminal
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("did not finish within %v: %w (%v)", toolTimeout, ctx.Err(), err)
	}
	return toolRun{name: name, args: args, stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// runCapgo runs the Capgo CLI in dir with no stdin, no terminal, no Capgo
// account and telemetry off.
func runCapgo(t *testing.T, bin, dir string, args ...string) toolRun {
	t.Helper()
	return runTool(t, "capgo", bin, dir, capgoEnv(t), args...)
}

// capgoEnv is the environment for the Capgo CLI: the test's own, minus any
// Capgo credentials, with a private HOME (no ~/.capgo API key), CI mode and
// telemetry off.
func capgoEnv(t *testing.T) []string {
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "CAPGO_"), name == "HOME", name == "CI", name == "NO_COLOR":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		"CI=1",
		"NO_COLOR=1",
		"CAPGO_DISABLE_TELEMETRY=1",
		"CAPGO_DISABLE_POSTHOG=1",
		"npm_config_update_notifier=false",
	)
}

// writeCapacitorApp makes the smallest Capacitor app folder the Capgo CLI
// accepts: capacitor.config.json (with publicKey when non-empty), a
// package.json naming @capgo/capacitor-updater 8.x, and that package's
// package.json under node_modules. The web build goes in app/www.
func writeCapacitorApp(t *testing.T, dir, publicKeyPEM string) {
	t.Helper()
	cfg := map[string]any{"appId": interopAppID, "appName": "Interop", "webDir": "www"}
	if publicKeyPEM != "" {
		cfg["plugins"] = map[string]any{"CapacitorUpdater": map[string]any{"publicKey": publicKeyPEM}}
	}
	writeJSONFile(t, filepath.Join(dir, "capacitor.config.json"), cfg)
	writeJSONFile(t, filepath.Join(dir, "package.json"), map[string]any{
		"name":         "interop-app",
		"version":      interopVersion,
		"private":      true,
		"dependencies": map[string]string{"@capacitor/core": "^7.0.0", "@capgo/capacitor-updater": "^" + updaterVersion},
	})
	writeJSONFile(t, filepath.Join(dir, "node_modules", "@capgo", "capacitor-updater", "package.json"), map[string]any{
		"name":    "@capgo/capacitor-updater",
		"version": updaterVersion,
	})
}

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeWebBuild fills dir with a small but realistic web build: hashed JS and
// CSS chunks (compressible text, one above 64 KiB), images and a font
// (incompressible bytes, stored by capship), nested folders, names with
// spaces and non-ASCII characters. Content is pseudo-random from a fixed
// seed, so a failure reproduces.
func writeWebBuild(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(0xca95, 0x1e7))
	binary := func(header string, n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return append([]byte(header), b...)
	}
	var js strings.Builder
	js.WriteString("import { CapacitorUpdater } from './vendor/capacitor-updater-9c1e.js';\n")
	js.WriteString("CapacitorUpdater.notifyAppReady();\n")
	for i := range 3000 {
		fmt.Fprintf(&js, "export const route%d = { path: '/page/%d', title: 'Seite %d – ページ', weight: %d };\n", i, i, i, rng.IntN(1000))
	}
	var css strings.Builder
	for i := range 400 {
		fmt.Fprintf(&css, ".c%d{margin:%dpx;color:#%06x}\n", i, rng.IntN(64), rng.IntN(1<<24))
	}
	files := map[string][]byte{
		"index.html": []byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Interop</title>
<link rel="stylesheet" href="assets/index-4b8d.css"><link rel="manifest" href="manifest.webmanifest">
<script type="module" src="assets/index-7f3a.js"></script></head>
<body><div id="app"></div></body></html>
`),
		"assets/index-7f3a.js":                    []byte(js.String()),
		"assets/index-4b8d.css":                   []byte(css.String()),
		"assets/vendor/capacitor-updater-9c1e.js": []byte("export const CapacitorUpdater = { notifyAppReady() { return Promise.resolve(); } };\n"),
		"assets/img/logo.png":                     binary("\x89PNG\r\n\x1a\n", 9000),
		"assets/img/backgrounds/2026/hero.jpg":    binary("\xff\xd8\xff\xe0", 70000),
		"assets/fonts/inter-latin.woff2":          binary("wOF2", 20000),
		"assets/i18n/français.json":               []byte(`{"hello":"Bonjour, ça va ?"}` + "\n"),
		"assets/i18n/日本語.json":                    []byte(`{"hello":"こんにちは"}` + "\n"),
		"assets/icons/icon with spaces.svg":       []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>` + "\n"),
		"manifest.webmanifest":                    []byte(`{"name":"Interop","start_url":"."}` + "\n"),
		"favicon.ico":                             binary("\x00\x00\x01\x00", 1500),
	}
	for name, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree returns every regular file under dir by slash-separated path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	tree := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file (%v)", path, d.Type())
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		tree[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	return tree
}

// readZipTree reads a zip with the standard library (independently of
// capship's own reader): file entries by name; directory entries must be empty.
func readZipTree(t *testing.T, path string) map[string][]byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open zip %s: %v", path, err)
	}
	defer zr.Close()
	tree := map[string][]byte{}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			if f.UncompressedSize64 != 0 {
				t.Errorf("%s: directory entry %q has %d bytes", path, f.Name, f.UncompressedSize64)
			}
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("%s: open entry %q: %v", path, f.Name, err)
		}
		data, err := io.ReadAll(rc) // checks the CRC-32 at EOF
		rc.Close()
		if err != nil {
			t.Fatalf("%s: read entry %q: %v", path, f.Name, err)
		}
		if _, dup := tree[f.Name]; dup {
			t.Errorf("%s: entry %q appears twice", path, f.Name)
		}
		tree[f.Name] = data
	}
	return tree
}

// sameTree reports every difference between two file trees.
func sameTree(t *testing.T, what string, got, want map[string][]byte) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: %q is missing", what, name)
		case !bytes.Equal(g, w):
			t.Errorf("%s: %q differs: %d bytes, want %d bytes", what, name, len(g), len(w))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected %q", what, name)
		}
	}
	if len(want) == 0 {
		t.Errorf("%s: the expected tree is empty: the test is broken", what)
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

// copyFile copies src to dst, flipping one byte at offset flip when flip >= 0.
func copyFile(t *testing.T, src, dst string, flip int64) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if flip >= 0 {
		data[flip] ^= 0x01
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// decodeJSON decodes the one JSON object a `--json` run printed on stdout.
func decodeJSON(t *testing.T, r toolRun, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("decode the JSON %s printed: %v\n%s", r.name, err, r)
	}
}

var v3Checksum = regexp.MustCompile(`^[0-9a-f]{512}$`)

// buildCapshipBundle builds webDir with capship into a fresh folder.
func buildCapshipBundle(t *testing.T, key *rsa.PrivateKey, webDir string) *workflow.Manifest {
	t.Helper()
	m, err := workflow.Build(t.Context(), workflow.BuildOptions{
		Dir:     webDir,
		AppID:   interopAppID,
		Version: interopVersion,
		OutDir:  t.TempDir(),
		Key:     key,
	}, nil)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return m
}

// combined is what a Capgo run printed on both streams (its human log lines
// go to stdout, warnings to stderr).
func (r toolRun) combined() string { return r.stdout + "\n" + r.stderr }

// mustFail checks that a Capgo run exited non-zero on its own (not by our
// timeout) and printed want.
func (r toolRun) mustFail(t *testing.T, want string) {
	t.Helper()
	var exit *exec.ExitError
	if !errors.As(r.err, &exit) {
		t.Fatalf("Capgo accepted a bundle it must refuse (or did not run):\n%s", r)
	}
	if !strings.Contains(r.combined(), want) {
		t.Errorf("Capgo failed, but without saying %q:\n%s", want, r)
	}
}

// TestCapgoDecryptsCapshipBundle: a bundle built by capship passes the real
// `capgo bundle decrypt --checksum` with the public key taken from the app's
// capacitor.config.json (as the plugin does), checked in V3 mode, and the zip
// Capgo decrypts is byte for byte capship's plain zip.
func TestCapgoDecryptsCapshipBundle(t *testing.T) {
	bin := capgoCLI(t)
	key, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	web := t.TempDir()
	writeWebBuild(t, web)
	m := buildCapshipBundle(t, key, web)
	if !v3Checksum.MatchString(m.Checksum) {
		t.Fatalf("manifest checksum is not a V3 encrypted checksum (512 lowercase hex): %q", m.Checksum)
	}
	if got := fileSHA256(t, m.File); got != m.SHA256 {
		t.Fatalf("manifest sha256 %s, but the encrypted file hashes to %s", m.SHA256, got)
	}

	app := t.TempDir()
	writeCapacitorApp(t, app, string(workflow.EncodePublicKey(&key.PublicKey)))
	enc := filepath.Join(app, "capship-bundle.zip")
	copyFile(t, m.File, enc, -1)

	r := runCapgo(t, bin, app, "bundle", "decrypt", enc, m.SessionKey, "--checksum", m.Checksum)
	if r.err != nil {
		t.Fatalf("Capgo refuses capship's bundle:\n%s", r)
	}
	for _, want := range []string{"Decrypting checksum with V3", "Checksum matches"} {
		if !strings.Contains(r.combined(), want) {
			t.Errorf("Capgo output lacks %q:\n%s", want, r)
		}
	}
	plain := enc + "_decrypted.zip"
	if got := fileSHA256(t, plain); got != m.ZipSHA256 {
		t.Errorf("the zip Capgo decrypted hashes to %s, capship's plain zip to %s", got, m.ZipSHA256)
	}
	zipTree := readZipTree(t, plain)
	sameTree(t, "zip decrypted by Capgo", zipTree, readTree(t, web))
	if len(zipTree) != m.Files {
		t.Errorf("zip has %d files, manifest says %d", len(zipTree), m.Files)
	}

	// The same public key, as the .capgo_key_v2.pub file Capgo prefers over
	// the config: the config now holds a stranger's key, so only the file
	// can make this pass.
	other, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("public key file", func(t *testing.T) {
		dir := t.TempDir()
		writeCapacitorApp(t, dir, string(workflow.EncodePublicKey(&other.PublicKey)))
		if err := os.WriteFile(filepath.Join(dir, ".capgo_key_v2.pub"), workflow.EncodePublicKey(&key.PublicKey), 0o644); err != nil {
			t.Fatal(err)
		}
		enc := filepath.Join(dir, "bundle.zip")
		copyFile(t, m.File, enc, -1)
		if r := runCapgo(t, bin, dir, "bundle", "decrypt", enc, m.SessionKey, "--checksum", m.Checksum); r.err != nil {
			t.Fatalf("Capgo refuses capship's bundle with the key in .capgo_key_v2.pub:\n%s", r)
		}
		if got := fileSHA256(t, enc+"_decrypted.zip"); got != m.ZipSHA256 {
			t.Errorf("decrypted zip hashes to %s, want %s", got, m.ZipSHA256)
		}
	})

	// Negative interop: Capgo must refuse each of these, or the checks
	// above prove nothing.
	t.Run("tampered byte", func(t *testing.T) {
		dir := t.TempDir()
		writeCapacitorApp(t, dir, string(workflow.EncodePublicKey(&key.PublicKey)))
		enc := filepath.Join(dir, "bundle.zip")
		copyFile(t, m.File, enc, m.Size/2)
		runCapgo(t, bin, dir, "bundle", "decrypt", enc, m.SessionKey, "--checksum", m.Checksum).
			mustFail(t, "Checksum does not match")
	})
	t.Run("checksum signed by another key", func(t *testing.T) {
		forged := buildCapshipBundle(t, other, web)
		if forged.ZipSHA256 != m.ZipSHA256 {
			t.Fatalf("same folder, different zips: %s vs %s", forged.ZipSHA256, m.ZipSHA256)
		}
		dir := t.TempDir()
		writeCapacitorApp(t, dir, string(workflow.EncodePublicKey(&key.PublicKey)))
		enc := filepath.Join(dir, "bundle.zip")
		copyFile(t, m.File, enc, -1)
		// The plain zips are identical, so only the signature on the
		// checksum is wrong.
		runCapgo(t, bin, dir, "bundle", "decrypt", enc, m.SessionKey, "--checksum", forged.Checksum).
			mustFail(t, "rsa routines") // "invalid padding" or "data too large for modulus"
	})
	t.Run("app configured with another key", func(t *testing.T) {
		dir := t.TempDir()
		writeCapacitorApp(t, dir, string(workflow.EncodePublicKey(&other.PublicKey)))
		enc := filepath.Join(dir, "bundle.zip")
		copyFile(t, m.File, enc, -1)
		runCapgo(t, bin, dir, "bundle", "decrypt", enc, m.SessionKey, "--checksum", m.Checksum).
			mustFail(t, "Unable to decrypt ivSessionKey")
	})
}

// capgoKeyID is the key id as Capgo's CLI computes it (calcKeyId in its
// src/api/crypto): the public PEM without the RSA PUBLIC KEY BEGIN/END
// markers, line breaks and spaces, first 20 characters.
func capgoKeyID(pemText string) string {
	s := strings.NewReplacer(
		"-----BEGIN RSA PUBLIC KEY-----", "",
		"-----END RSA PUBLIC KEY-----", "",
		"\n", "", "\r", "", " ", "",
	).Replace(pemText)
	return s[:min(20, len(s))]
}

// TestCapshipOpensCapgoBundle: keys made by `capgo key create` parse with
// capship, and a bundle made by `capgo bundle zip` + `capgo bundle encrypt`
// opens with capship's Open (decrypt, V3 checksum, extract) to the same files.
func TestCapshipOpensCapgoBundle(t *testing.T) {
	bin := capgoCLI(t)
	app := t.TempDir()
	writeCapacitorApp(t, app, "")
	web := filepath.Join(app, "www")
	writeWebBuild(t, web)

	if r := runCapgo(t, bin, app, "key", "create"); r.err != nil {
		t.Fatalf("capgo key create:\n%s", r)
	}
	privPEM, err := os.ReadFile(filepath.Join(app, ".capgo_key_v2"))
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := os.ReadFile(filepath.Join(app, ".capgo_key_v2.pub"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := workflow.ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatalf("parse Capgo's .capgo_key_v2: %v", err)
	}
	pub, err := workflow.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatalf("parse Capgo's .capgo_key_v2.pub: %v", err)
	}
	if err := workflow.CheckPair(priv, pub); err != nil {
		t.Fatalf("Capgo's key pair: %v", err)
	}
	if got := workflow.EncodePublicKey(pub); !bytes.Equal(got, pubPEM) {
		t.Errorf("capship encodes Capgo's public key differently:\n%s\nCapgo:\n%s", got, pubPEM)
	}
	if got := workflow.EncodePrivateKey(priv); !bytes.Equal(got, privPEM) {
		t.Errorf("capship encodes Capgo's private key differently (%d bytes, Capgo %d)", len(got), len(privPEM))
	}
	proj, err := workflow.LoadProject(app)
	if err != nil {
		t.Fatal(err)
	}
	if proj.PublicKey != string(pubPEM) {
		t.Errorf("capacitor.config.json publicKey %q, want the .pub file %q", proj.PublicKey, pubPEM)
	}
	if got, want := workflow.KeyID(pub), capgoKeyID(proj.PublicKey); got != want || len(got) != 20 {
		t.Errorf("KeyID = %q, Capgo's key id is %q", got, want)
	}

	r := runCapgo(t, bin, app, "bundle", "zip", "--json")
	if r.err != nil {
		t.Fatalf("capgo bundle zip:\n%s", r)
	}
	var zipped struct{ Bundle, Filename, Checksum string }
	decodeJSON(t, r, &zipped)
	zipPath := filepath.Join(app, zipped.Filename)
	if got := fileSHA256(t, zipPath); got != zipped.Checksum {
		t.Fatalf("Capgo's zip checksum %q is not the SHA-256 of its zip (%s): is @capgo/capacitor-updater 8.x in place?", zipped.Checksum, got)
	}
	sameTree(t, "zip made by Capgo", readZipTree(t, zipPath), readTree(t, web))

	r = runCapgo(t, bin, app, "bundle", "encrypt", zipped.Filename, zipped.Checksum, "--json")
	if r.err != nil {
		t.Fatalf("capgo bundle encrypt:\n%s", r)
	}
	var sealed struct{ Checksum, Filename, IVSessionKey string }
	decodeJSON(t, r, &sealed)
	if !v3Checksum.MatchString(sealed.Checksum) {
		t.Fatalf("Capgo made no V3 checksum (is the updater 8.x?): %q", sealed.Checksum)
	}
	encPath := filepath.Join(app, sealed.Filename)

	open := func(file string, pub *rsa.PublicKey) (*workflow.OpenResult, error) {
		return workflow.Open(t.Context(), workflow.OpenOptions{
			File:       file,
			SessionKey: sealed.IVSessionKey,
			Checksum:   sealed.Checksum,
			PublicKey:  pub,
			ExtractDir: filepath.Join(t.TempDir(), "out"),
		}, nil)
	}
	res, err := open(encPath, pub)
	if err != nil {
		t.Fatalf("capship cannot open Capgo's bundle: %v", err)
	}
	webTree := readTree(t, web)
	sameTree(t, "Capgo bundle opened by capship", readTree(t, res.ExtractDir), webTree)
	if res.ZipSHA256 != zipped.Checksum || res.Files != len(webTree) || res.KeyID != capgoKeyID(string(pubPEM)) {
		t.Errorf("open result: zip_sha256 %s, files %d, key_id %q; want %s, %d, %q",
			res.ZipSHA256, res.Files, res.KeyID, zipped.Checksum, len(webTree), capgoKeyID(string(pubPEM)))
	}

	t.Run("tampered byte", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bundle.zip")
		copyFile(t, encPath, bad, fileSize(t, encPath)/2)
		if _, err := open(bad, pub); err == nil {
			t.Fatal("capship opened a Capgo bundle with a flipped byte")
		}
	})
	t.Run("another public key", func(t *testing.T) {
		other, err := workflow.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := open(encPath, &other.PublicKey); err == nil {
			t.Fatal("capship opened a Capgo bundle with a stranger's public key")
		}
	})

	// The command a person runs with what Capgo printed.
	t.Run("capship bundle verify", func(t *testing.T) {
		capship := needEnv(t, "CAPSHIP_TEST_BINARY", "the built capship binary is needed (go build -o /tmp/capship .)")
		verify := func(file string) (toolRun, string) {
			out := filepath.Join(t.TempDir(), "out")
			return runTool(t, "capship", capship, app, nil, "bundle", "verify", "--file", file,
				"--session-key", sealed.IVSessionKey, "--checksum", sealed.Checksum,
				"--public-key", filepath.Join(app, ".capgo_key_v2.pub"), "--extract", out, "--json"), out
		}
		r, out := verify(encPath)
		if r.err != nil {
			t.Fatalf("capship bundle verify refuses Capgo's bundle:\n%s", r)
		}
		var got struct {
			OK        bool   `json:"ok"`
			ZipSHA256 string `json:"zip_sha256"`
			Files     int    `json:"files"`
			KeyID     string `json:"key_id"`
		}
		decodeJSON(t, r, &got)
		if !got.OK || got.ZipSHA256 != zipped.Checksum || got.Files != len(webTree) || got.KeyID != workflow.KeyID(pub) {
			t.Errorf("verify says %+v; want ok, zip_sha256 %s, %d files, key id %s", got, zipped.Checksum, len(webTree), workflow.KeyID(pub))
		}
		sameTree(t, "extracted by capship bundle verify", readTree(t, out), webTree)

		bad := filepath.Join(t.TempDir(), "bundle.zip")
		copyFile(t, encPath, bad, fileSize(t, encPath)-1)
		r, _ = verify(bad)
		var exit *exec.ExitError
		var failed struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if !errors.As(r.err, &exit) || json.Unmarshal([]byte(r.stdout), &failed) != nil || failed.Error.Code != "decrypt_failed" {
			t.Errorf("capship bundle verify must fail on a flipped last byte, with {\"error\": {\"code\": \"decrypt_failed\"}} on stdout:\n%s", r)
		}
	})

	// capship's key file in Capgo's place: Capgo encrypts with a private key
	// capship wrote, and capship opens the result.
	t.Run("capship key used by Capgo", func(t *testing.T) {
		key, err := workflow.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		writeCapacitorApp(t, dir, string(workflow.EncodePublicKey(&key.PublicKey)))
		if err := os.WriteFile(filepath.Join(dir, ".capgo_key_v2"), workflow.EncodePrivateKey(key), 0o600); err != nil {
			t.Fatal(err)
		}
		plain := filepath.Join(dir, "app.zip")
		copyFile(t, zipPath, plain, -1)
		r := runCapgo(t, bin, dir, "bundle", "encrypt", "app.zip", zipped.Checksum, "--json")
		if r.err != nil {
			t.Fatalf("Capgo refuses capship's private key:\n%s", r)
		}
		var s struct{ Checksum, Filename, IVSessionKey string }
		decodeJSON(t, r, &s)
		out := filepath.Join(t.TempDir(), "out")
		if _, err := workflow.Open(t.Context(), workflow.OpenOptions{
			File: filepath.Join(dir, s.Filename), SessionKey: s.IVSessionKey, Checksum: s.Checksum,
			PublicKey: &key.PublicKey, ExtractDir: out,
		}, nil); err != nil {
			t.Fatalf("open: %v", err)
		}
		sameTree(t, "opened", readTree(t, out), readTree(t, web))
	})
}
