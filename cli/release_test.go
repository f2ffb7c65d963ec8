package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"capship/server/servertest"
	"capship/store"
	"capship/workflow"
)

const testApp = "com.example.shop"

var (
	keyOnce sync.Once
	keys    [2]*rsa.PrivateKey
)

func testKey(t *testing.T, n int) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		for i := range keys {
			k, err := workflow.GenerateKey()
			if err != nil {
				panic(err)
			}
			keys[i] = k
		}
	})
	return keys[n]
}

// hosted is a loopback HTTP server for bundle files: path -> bytes.
type hosted struct {
	mu    sync.Mutex
	files map[string][]byte
	srv   *httptest.Server
	gets  atomic.Int64 // requests answered
}

func newHosted(t *testing.T) *hosted {
	h := &hosted{files: map[string][]byte{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.gets.Add(1)
		h.mu.Lock()
		data, ok := h.files[r.URL.Path]
		h.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(data)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hosted) put(path string, data []byte) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.files[path] = data
	return h.srv.URL + path
}

// writeBundle writes an "encrypted bundle" and its manifest into dir, as
// 'capship bundle build' would leave them, and returns the manifest path
// and the bundle bytes. Registration only reads the manifest and compares
// the hosted bytes, so the bundle content is random.
func writeBundle(t *testing.T, dir, version string, key *rsa.PrivateKey) (string, []byte) {
	t.Helper()
	data := make([]byte, 4096+16*len(version))
	rand.Read(data)
	iv, block := make([]byte, 16), make([]byte, 256)
	rand.Read(iv)
	rand.Read(block)
	checksum := make([]byte, 256)
	rand.Read(checksum)
	sum := sha256.Sum256(data)
	zipSum := sha256.Sum256(append([]byte("zip"), data...))
	m := workflow.Manifest{
		Schema: workflow.ManifestSchema, AppID: testApp, Version: version,
		File: version + ".zip.enc", Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]),
		ZipSHA256: hex.EncodeToString(zipSum[:]), ZipSize: 1000,
		SessionKey: base64.StdEncoding.EncodeToString(iv) + ":" + base64.StdEncoding.EncodeToString(block),
		Checksum:   hex.EncodeToString(checksum), KeyID: workflow.KeyID(&key.PublicKey),
		KeyFingerprint: workflow.Fingerprint(&key.PublicKey), Files: 3, Bytes: 900, CreatedAt: time.Now().UTC(),
	}
	if err := os.WriteFile(filepath.Join(dir, m.File), data, 0o644); err != nil {
		t.Fatal(err)
	}
	text, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, version+".manifest.json")
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

type runResult struct {
	code     int
	out, err string
}

func run(t *testing.T, env map[string]string, args ...string) runResult {
	t.Helper()
	return runIO(t, env, false, args...)
}

// runTerminal runs a command line as with stdout on a terminal: tables
// then have a header and aligned columns.
func runTerminal(t *testing.T, env map[string]string, args ...string) runResult {
	t.Helper()
	return runIO(t, env, true, args...)
}

func runIO(t *testing.T, env map[string]string, stdoutTTY bool, args ...string) runResult {
	t.Helper()
	var out, errb bytes.Buffer
	s := IO{In: strings.NewReader(""), Out: &out, Err: &errb, StdoutTTY: stdoutTTY, Getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := Run(ctx, args, s)
	checkJSONOutput(t, args, code, out.String())
	return runResult{code, out.String(), errb.String()}
}

func (r runResult) decode(t *testing.T, v any) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.err)
	}
	if err := json.Unmarshal([]byte(r.out), v); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.out)
	}
}

func TestReleaseLifecycle(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "state", "registry.db")
	env := map[string]string{"CAPSHIP_DB": db}
	h := newHosted(t)
	key := testKey(t, 0)

	m1, b1 := writeBundle(t, dir, "1.0.0", key)
	url1 := h.put("/b/1.0.0.zip.enc", b1)
	var reg1 registerResult
	run(t, env, "release", "register", "--manifest", m1, "--url", url1, "--json").decode(t, &reg1)
	if reg1.Release.Version != "1.0.0" || reg1.Release.URL != url1 || reg1.URLCheck == nil || !reg1.URLCheck.OK() {
		t.Fatalf("register result %+v", reg1)
	}
	if len(reg1.Warnings) != 1 || !strings.Contains(reg1.Warnings[0], "HTTPS") {
		t.Fatalf("loopback URL must come with a warning: %v", reg1.Warnings)
	}

	// The same version again: refused, with what to do.
	r := run(t, env, "release", "register", "--manifest", m1, "--url", url1)
	if r.code != 1 || !strings.Contains(r.err, "already registered") || !strings.Contains(r.err, "bump the version") {
		t.Fatalf("duplicate: exit %d: %s", r.code, r.err)
	}

	// Hosted bytes that are not the build: refused before registering.
	m2, b2 := writeBundle(t, dir, "1.1.0", key)
	tampered := append([]byte(nil), b2...)
	tampered[100] ^= 1
	r = run(t, env, "release", "register", "--manifest", m2, "--url", h.put("/b/bad", tampered))
	if r.code != 1 || !strings.Contains(r.err, "SHA-256") || !strings.Contains(r.err, "--skip-url-check") {
		t.Fatalf("tampered upload: exit %d: %s", r.code, r.err)
	}
	r = run(t, env, "release", "register", "--manifest", m2, "--url", h.put("/b/short", b2[:1000]))
	if r.code != 1 || !strings.Contains(r.err, "incomplete") {
		t.Fatalf("short upload: exit %d: %s", r.code, r.err)
	}
	// Unless told not to check.
	r = run(t, env, "release", "register", "--manifest", m2, "--url", "https://cdn.invalid/1.1.0.zip.enc", "--skip-url-check", "--min-native", "2.0.0")
	if r.code != 0 || !strings.Contains(r.err, "1.0.0 -> 1.1.0") || r.out != "" {
		t.Fatalf("skip url check: exit %d\nstdout %q\nstderr %s", r.code, r.out, r.err)
	}

	var list struct {
		AppID    string       `json:"app_id"`
		Releases []releaseRow `json:"releases"`
	}
	run(t, env, "release", "list", "--app", testApp, "--json").decode(t, &list)
	if len(list.Releases) != 2 || list.Releases[0].Version != "1.1.0" || list.Releases[0].MinNative != "2.0.0" ||
		strings.Join(list.Releases[0].Channels, ",") != "production" || len(list.Releases[1].Channels) != 0 {
		t.Fatalf("release list: %+v", list)
	}
	if r := runTerminal(t, env, "release", "list", "--app", testApp); r.code != 0 || !strings.Contains(r.out, "VERSION") || !strings.Contains(r.out, "production") {
		t.Fatalf("release list table: %+v", r)
	}

	var move channelMove
	run(t, env, "release", "rollback", "--channel", "production", "--app", testApp, "--json").decode(t, &move)
	if move.From != "1.1.0" || move.To != "1.0.0" {
		t.Fatalf("rollback moved %s -> %s", move.From, move.To)
	}
	r = run(t, env, "release", "rollback", "--channel", "production", "--app", testApp)
	if r.code != 1 || !strings.Contains(r.err, "no earlier release") {
		t.Fatalf("second rollback: %+v", r)
	}
	run(t, env, "release", "promote", "1.1.0", "--channel", "production", "--app", testApp, "--json").decode(t, &move)
	if move.From != "1.0.0" || move.To != "1.1.0" || move.State.Previous.Version != "1.0.0" {
		t.Fatalf("promote moved %s -> %s", move.From, move.To)
	}
	r = run(t, env, "release", "promote", "1.0.0", "--channel", "production", "--app", testApp)
	if r.code != 1 || !strings.Contains(r.err, "not newer") || !strings.Contains(r.err, "rollback") {
		t.Fatalf("promote older: %+v", r)
	}
	var history struct {
		History []store.HistoryEntry `json:"history"`
	}
	run(t, env, "channel", "history", "production", "--app", testApp, "--json").decode(t, &history)
	if len(history.History) != 4 || history.History[1].RolledBackAt == nil || history.History[3].Action != store.ActionPromote {
		t.Fatalf("history %+v", history)
	}

	// A bundle sealed with another key is refused by the registry.
	m3, b3 := writeBundle(t, dir, "1.2.0", testKey(t, 1))
	r = run(t, env, "release", "register", "--manifest", m3, "--url", h.put("/b/1.2.0", b3))
	if r.code != 1 || !strings.Contains(r.err, "key") {
		t.Fatalf("other key: %+v", r)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("CAPSHIP_DB not used: %v", err)
	}
}

func TestChannelCommands(t *testing.T) {
	env := map[string]string{"CAPSHIP_DB": filepath.Join(t.TempDir(), "r.db")}
	var c store.Channel
	run(t, env, "channel", "create", "beta", "--app", testApp, "--self-set", "--platforms", "ios,android", "--rollout", "10", "--json").decode(t, &c)
	if c.Name != "beta" || !c.AllowSelfSet || c.Electron || !c.IOS || c.Rollout != 10 || c.Public || !c.AllowDev {
		t.Fatalf("created %+v", c)
	}
	run(t, env, "channel", "set", "beta", "--app", testApp, "--public", "--dev=false", "--json").decode(t, &c)
	if !c.Public || c.AllowDev || c.Rollout != 10 || !c.AllowSelfSet {
		t.Fatalf("after set %+v", c)
	}
	if r := run(t, env, "channel", "create", "beta", "--app", testApp); r.code != 1 || !strings.Contains(r.err, "already exists") {
		t.Fatalf("duplicate channel: %+v", r)
	}
	var list struct {
		Channels []store.Channel `json:"channels"`
	}
	run(t, env, "channel", "list", "--app", testApp, "--json").decode(t, &list)
	if len(list.Channels) != 1 || list.Channels[0].Name != "beta" {
		t.Fatalf("channel list %+v", list)
	}
	if r := run(t, env, "channel", "list", "--app", testApp); r.code != 0 || !strings.Contains(r.out, "ios,android") || r.err != "" {
		t.Fatalf("channel list table: %+v", r)
	}
	for _, bad := range [][]string{
		{"channel", "set", "beta", "--app", testApp},
		{"channel", "set", "beta", "--app", testApp, "--platforms", "windows"},
		{"channel", "create", "--app", testApp},
		{"channel", "set", "beta", "--app", testApp, "--rollout", "many"},
	} {
		if r := run(t, env, bad...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)\n%s", bad, r.code, r.err)
		}
	}
	if r := run(t, env, "channel", "set", "beta", "--app", testApp, "--rollout", "150"); r.code != 1 || !strings.Contains(r.err, "0 to 100") {
		t.Fatalf("rollout 150: %+v", r)
	}
	if r := run(t, env, "channel", "set", "nightly", "--app", testApp, "--public"); r.code != 1 || !strings.Contains(r.err, "capship channel create nightly") {
		t.Fatalf("unknown channel: %+v", r)
	}
}

func TestTokenCommands(t *testing.T) {
	env := map[string]string{"CAPSHIP_DB": filepath.Join(t.TempDir(), "r.db")}
	r := run(t, env, "token", "create", "ci")
	secret := strings.TrimSpace(r.out)
	if r.code != 0 || !strings.HasPrefix(secret, "capship_") || strings.Contains(r.err, secret) {
		t.Fatalf("token create: %+v", r)
	}
	var created struct {
		store.Token
		Secret string `json:"token"`
	}
	run(t, env, "token", "create", "shop", "--app", testApp, "--json").decode(t, &created)
	if created.Secret == "" || created.Secret == secret || created.AppID != testApp {
		t.Fatalf("token create --json: %+v", created)
	}
	r = run(t, env, "token", "list")
	if r.code != 0 || strings.Contains(r.err, secret) || strings.Contains(r.out, secret) || !strings.Contains(r.out, "shop") {
		t.Fatalf("token list: %+v", r)
	}
	if r := run(t, env, "token", "revoke", "ci"); r.code != 0 {
		t.Fatalf("revoke: %+v", r)
	}
	var list struct {
		Tokens []store.Token `json:"tokens"`
	}
	run(t, env, "token", "list", "--json").decode(t, &list)
	if len(list.Tokens) != 2 || list.Tokens[0].RevokedAt == nil || list.Tokens[1].RevokedAt != nil {
		t.Fatalf("tokens %+v", list.Tokens)
	}
	if r := run(t, env, "token", "revoke", "ci"); r.code != 1 || !strings.Contains(r.err, "token list") {
		t.Fatalf("revoke twice: %+v", r)
	}
}

func TestStatsCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "r.db")
	env := map[string]string{"CAPSHIP_DB": db}
	if r := run(t, env, "stats", "--app", testApp); r.code != 1 || !strings.Contains(r.err, "no registry at "+db) || !strings.Contains(r.err, "--server") {
		t.Fatalf("stats without a registry: %+v", r)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("stats created the registry: %v", err)
	}
	reg, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if r := run(t, env, "stats", "--app", testApp); r.code != 1 || !strings.Contains(r.err, "release register") {
		t.Fatalf("stats of unknown app: %+v", r)
	}
	if _, err := reg.CreateChannel(context.Background(), testApp, "production", store.ChannelSettings{}); err != nil {
		t.Fatal(err)
	}
	var events []store.StatEvent
	for i, action := range []string{"download_complete", "set", "download_complete", "decrypt_fail", "download_fail", "download_fail"} {
		events = append(events, store.StatEvent{AppID: testApp, DeviceID: string(rune('a' + i%3)), Action: action, VersionName: "1.0.0"})
	}
	events = append(events, store.StatEvent{AppID: testApp, DeviceID: "old", Action: "set", VersionName: "0.9.0", At: time.Now().Add(-72 * time.Hour)})
	if _, err := reg.RecordEvents(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	reg.Close()
	var stats struct {
		Releases []store.ReleaseStats `json:"releases"`
	}
	run(t, env, "stats", "--app", testApp, "--since", "24h", "--json").decode(t, &stats)
	if len(stats.Releases) != 1 || stats.Releases[0].Downloads != 2 || stats.Releases[0].Installs != 1 || stats.Releases[0].Failures != 3 {
		t.Fatalf("stats %+v", stats.Releases)
	}
	r := run(t, env, "stats", "--app", testApp)
	if r.code != 0 || !strings.Contains(r.out, "download_fail 2") || !strings.Contains(r.out, "decrypt_fail 1") || !strings.Contains(r.out, "0.9.0") {
		t.Fatalf("stats table: %+v", r)
	}
	if r := run(t, env, "stats", "--app", testApp, "--since", "yesterday"); r.code != 2 {
		t.Fatalf("bad --since: %+v", r)
	}
}

func TestRegisterThroughServer(t *testing.T) {
	dir := t.TempDir()
	reg, api := servertest.Start(t)
	secret, _, err := reg.CreateToken(context.Background(), "ci", testApp)
	if err != nil {
		t.Fatal(err)
	}

	h := newHosted(t)
	m, b := writeBundle(t, dir, "2.0.0", testKey(t, 0))
	url := h.put("/2.0.0", b)
	// The token comes from CAPSHIP_TOKEN; no local registry is touched.
	env := map[string]string{"CAPSHIP_TOKEN": secret, "CAPSHIP_DB": filepath.Join(dir, "local.db")}
	var res registerResult
	run(t, env, "release", "register", "--manifest", m, "--url", url, "--server", api.URL, "--json").decode(t, &res)
	if res.Release.Version != "2.0.0" || res.Server != api.URL {
		t.Fatalf("register via server: %+v", res)
	}
	if c, err := reg.Channel(context.Background(), testApp, "production"); err != nil || c.Release.Version != "2.0.0" {
		t.Fatalf("server registry: %+v, %v", c, err)
	}
	if _, err := os.Stat(env["CAPSHIP_DB"]); err == nil {
		t.Fatal("--server must not create a local registry")
	}
	// release list reads the same server, with the same token.
	var list struct {
		AppID    string       `json:"app_id"`
		Releases []releaseRow `json:"releases"`
	}
	run(t, env, "release", "list", "--app", testApp, "--server", api.URL, "--json").decode(t, &list)
	if list.AppID != testApp || len(list.Releases) != 1 || list.Releases[0].Version != "2.0.0" ||
		strings.Join(list.Releases[0].Channels, ",") != "production" {
		t.Fatalf("release list via server: %+v", list)
	}
	if r := run(t, env, "release", "list", "--app", "com.example.elsewhere", "--server", api.URL); r.code != 1 || !strings.Contains(r.err, "may only act on app "+testApp) {
		t.Fatalf("release list of another app: %+v", r)
	}
	if r := run(t, nil, "release", "list", "--app", testApp, "--server", api.URL, "--token", "capship_wrong"); r.code != 1 || !strings.Contains(r.err, "invalid or revoked token") {
		t.Fatalf("release list with a wrong token: %+v", r)
	}
	r := run(t, env, "release", "register", "--manifest", m, "--url", url, "--server", api.URL)
	if r.code != 1 || !strings.Contains(r.err, "already registered") {
		t.Fatalf("duplicate via server: %+v", r)
	}
	r = run(t, nil, "release", "register", "--manifest", m, "--url", url, "--server", api.URL, "--token", "capship_wrong")
	if r.code != 1 || !strings.Contains(r.err, "token") {
		t.Fatalf("wrong token: %+v", r)
	}
	r = run(t, nil, "release", "register", "--manifest", m, "--url", url, "--server", "http://updates.example.com", "--token", secret)
	if r.code != 1 || !strings.Contains(r.err, "https://") || strings.Contains(r.err, secret) {
		t.Fatalf("cleartext server: %+v", r)
	}
}

func TestRegisterUsageAndProjectDefaults(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CAPSHIP_DB": filepath.Join(dir, "r.db")}
	for _, bad := range [][]string{
		{"release", "register", "--url", "https://x/y"},
		{"release", "register", "--manifest", "m.json"},
		{"release", "register", "--manifest", "m.json", "--url", "https://x/y", "--db", "a.db", "--server", "https://s"},
		{"release", "register", "--manifest", "m.json", "--url", "https://x/y", "--token", "t"},
		{"release", "promote", "--channel", "production", "--app", testApp},
		{"release", "rollback", "--app", testApp},
		{"release", "list", "--app", testApp, "extra"},
		{"release", "list", "--app", testApp, "--db", "a.db", "--server", "https://s"},
		{"release", "list", "--app", testApp, "--token", "t"},
		{"token", "create"},
	} {
		if r := run(t, env, bad...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", bad, r.code, r.err)
		}
	}
	// Without --app, the Capacitor config of the current folder names the
	// app; its public key must match the bundle's.
	key := testKey(t, 0)
	project := t.TempDir()
	config := map[string]any{"appId": testApp, "webDir": "dist", "plugins": map[string]any{
		"CapacitorUpdater": map[string]any{"publicKey": string(workflow.EncodePublicKey(&testKey(t, 1).PublicKey))}}}
	text, _ := json.Marshal(config)
	if err := os.WriteFile(filepath.Join(project, "capacitor.config.json"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(project)
	m, b := writeBundle(t, dir, "1.0.0", key)
	h := newHosted(t)
	r := run(t, env, "release", "register", "--manifest", m, "--url", h.put("/x", b))
	if r.code != 1 || !strings.Contains(r.err, "Capacitor config") {
		t.Fatalf("bundle for another key than the config's: %+v", r)
	}
	config["plugins"].(map[string]any)["CapacitorUpdater"].(map[string]any)["publicKey"] = string(workflow.EncodePublicKey(&key.PublicKey))
	text, _ = json.Marshal(config)
	if err := os.WriteFile(filepath.Join(project, "capacitor.config.json"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, env, "release", "register", "--manifest", m, "--url", h.put("/x", b)); r.code != 0 {
		t.Fatalf("register: %+v", r)
	}
	var list struct {
		AppID    string       `json:"app_id"`
		Releases []releaseRow `json:"releases"`
	}
	run(t, env, "release", "list", "--json").decode(t, &list)
	if list.AppID != testApp || len(list.Releases) != 1 {
		t.Fatalf("list without --app: %+v", list)
	}
	if r := run(t, env, "release", "register", "--manifest", m, "--url", h.put("/x", b), "--app", "com.other"); r.code != 1 || !strings.Contains(r.err, "com.other") {
		t.Fatalf("--app differing from the manifest: %+v", r)
	}
	t.Chdir(t.TempDir())
	if r := run(t, env, "release", "list"); r.code != 2 || !strings.Contains(r.err, "--app") {
		t.Fatalf("no config, no --app: %+v", r)
	}
}
