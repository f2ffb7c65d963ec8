package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"capship/store"
)

// backends returns the registries the suite runs against: a real SQLite
// file always, and PostgreSQL when CAPSHIP_TEST_POSTGRES names one
// (scripts/test starts it; with CAPSHIP_TEST_STRICT=1 it must be there).
func backends(t *testing.T) []string {
	dsns := []string{"sqlite"}
	if os.Getenv("CAPSHIP_TEST_POSTGRES") != "" {
		dsns = append(dsns, "postgres")
	} else if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
		t.Fatal("CAPSHIP_TEST_POSTGRES is not set (run scripts/test)")
	}
	return dsns
}

// forEachBackend runs f once per registry backend.
func forEachBackend(t *testing.T, f func(t *testing.T, reg store.Registry)) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			f(t, openRegistry(t, b))
		})
	}
}

func openRegistry(t *testing.T, backend string) store.Registry {
	t.Helper()
	return openDSN(t, backendDSN(t, backend))
}

// backendDSN is a new SQLite file, or the test PostgreSQL database (tests
// keep apart there by app id).
func backendDSN(t *testing.T, backend string) string {
	if backend == "postgres" {
		return os.Getenv("CAPSHIP_TEST_POSTGRES")
	}
	return filepath.Join(t.TempDir(), "registry.db")
}

// openDSN opens a registry (a connection pool of its own) on dsn.
func openDSN(t *testing.T, dsn string) store.Registry {
	t.Helper()
	reg, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open registry %s: %v", store.RedactDSN(dsn), err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

// uniqueAppID keeps tests apart on the shared PostgreSQL database.
func uniqueAppID(t *testing.T) string {
	var b [5]byte
	rand.Read(b[:])
	return "com.capship.t" + hex.EncodeToString(b[:])
}

func randHex(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testKey is an app's key identity for release records: key id and
// fingerprint as workflow computes them for a real key (the decision only
// compares them).
type testKey struct{ id, fingerprint string }

func newTestKey() testKey {
	return testKey{id: "MIIBCgKCAQEA" + randHex(8), fingerprint: "sha256:" + randHex(64)}
}

// releaseInput is a well-formed release record (random but valid session
// key and checksum; decryption is covered by TestEndToEndRealBundle).
func releaseInput(appID, version, channel string, key testKey) store.RegisterInput {
	iv := make([]byte, 16)
	block := make([]byte, 256)
	rand.Read(iv)
	rand.Read(block)
	return store.RegisterInput{
		AppID:          appID,
		Version:        version,
		URL:            "https://cdn.example.com/" + appID + "/" + version + ".zip.enc",
		SessionKey:     base64.StdEncoding.EncodeToString(iv) + ":" + base64.StdEncoding.EncodeToString(block),
		Checksum:       randHex(512),
		Size:           1234,
		SHA256:         randHex(64),
		ZipSHA256:      randHex(64),
		KeyID:          key.id,
		KeyFingerprint: key.fingerprint,
		Channel:        channel,
	}
}

type harness struct {
	t     *testing.T
	reg   store.Registry
	srv   *Server
	url   string
	token string
	app   string
	key   testKey
}

func newHarness(t *testing.T, reg store.Registry, cfg Config) *harness {
	t.Helper()
	cfg.Registry = reg
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = 50 * time.Millisecond
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	app := uniqueAppID(t)
	secret, _, err := reg.CreateToken(context.Background(), "test-"+app, "")
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, reg: reg, srv: srv, url: hs.URL, token: secret, app: app, key: newTestKey()}
}

// do sends a request and returns the status and body.
func (h *harness) do(method, path, token string, body []byte) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return res.StatusCode, out
}

func (h *harness) register(version, channel string) store.RegisterInput {
	h.t.Helper()
	in := releaseInput(h.app, version, channel, h.key)
	body, _ := json.Marshal(in)
	status, out := h.do("POST", "/admin/v1/releases", h.token, body)
	if status != http.StatusCreated {
		h.t.Fatalf("register %s: HTTP %d %s", version, status, out)
	}
	var rel store.Release
	if err := json.Unmarshal(out, &rel); err != nil || rel.Version != version || rel.URL != in.URL {
		h.t.Fatalf("register answer %s (%v)", out, err)
	}
	return in
}

// deviceBody is the Android plugin's request body for this app.
func (h *harness) deviceBody(mod func(map[string]any)) []byte {
	var m map[string]any
	if err := json.Unmarshal([]byte(androidUpdateBody), &m); err != nil {
		h.t.Fatal(err)
	}
	m["app_id"] = h.app
	m["key_id"] = h.key.id
	if mod != nil {
		mod(m)
	}
	b, _ := json.Marshal(m)
	return b
}

// check POSTs /updates and returns the decoded answer, after checking the
// spec §3 shape (HTTP 200, exact types, no error fields in an update).
func (h *harness) check(body []byte) map[string]any {
	h.t.Helper()
	status, out := h.do("POST", "/updates", "", body)
	if status != http.StatusOK {
		h.t.Fatalf("POST /updates: HTTP %d %s", status, out)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		h.t.Fatalf("answer %s: %v", out, err)
	}
	_, isErr := m["error"]
	checkAnswerJSON(h.t, out, !isErr)
	return m
}

func TestUpdatesProtocol(t *testing.T) {
	forEachBackend(t, func(t *testing.T, reg store.Registry) {
		h := newHarness(t, reg, Config{})
		rel := h.register("1.0.0", "production")

		// unknown app before anything else
		got := h.check([]byte(strings.Replace(androidUpdateBody, "com.example.app", "com.nobody.here", 1)))
		if got["error"] != codeAppNotFound {
			t.Fatalf("unknown app: %v", got)
		}

		// Android fresh install: the update, exactly as registered
		got = h.check(h.deviceBody(nil))
		want := map[string]any{"version": "1.0.0", "url": rel.URL, "session_key": rel.SessionKey, "checksum": rel.Checksum}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("android update:\n got %v\nwant %v", got, want)
		}

		// iOS body (upper-case device id, defaultChannel naming a channel that
		// does not exist: falls back to the public default)
		ios := []byte(strings.NewReplacer("com.example.app", h.app, "MIIBCgKCAQEAyRxnUWrb", h.key.id).Replace(iosUpdateBody))
		if got := h.check(ios); got["version"] != "1.0.0" {
			t.Fatalf("ios update: %v", got)
		}

		// already on it
		got = h.check(h.deviceBody(func(m map[string]any) { m["version_name"] = "1.0.0" }))
		if got["error"] != codeNoNewVersion {
			t.Fatalf("device on 1.0.0: %v", got)
		}

		// another key: never send what the device cannot decrypt
		got = h.check(h.deviceBody(func(m map[string]any) { m["key_id"] = "MIIBCgKCAQEAother000" }))
		if got["error"] != codeKeyMismatch {
			t.Fatalf("key mismatch: %v", got)
		}

		// min native version, read from the registry
		in := releaseInput(h.app, "2.5.0", "production", h.key)
		in.MinNative = "2.0.0"
		if _, err := reg.Register(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		// written past the server, as the CLI does: the next check sees it
		if got := h.check(h.deviceBody(nil)); got["error"] != codeMinNative {
			t.Fatalf("native 1.0.0, release needs native 2.0.0: %v", got)
		}
		if got := h.check(h.deviceBody(func(m map[string]any) { m["version_build"] = "2.1" })); got["version"] != "2.5.0" {
			t.Fatalf("native 2.1: %v", got)
		}

		// malformed requests
		// (a request the server cannot read is a real failure for the plugin)
		if status, out := h.do("POST", "/updates", "", []byte("{not json")); status != http.StatusBadRequest || !bytes.Contains(out, []byte(`"error":"invalid_request"`)) || !bytes.Contains(out, []byte(`"kind":"failed"`)) {
			t.Fatalf("bad JSON: HTTP %d %s", status, out)
		}
		big := h.deviceBody(func(m map[string]any) { m["padding"] = strings.Repeat("x", 70<<10) })
		if status, out := h.do("POST", "/updates", "", big); status != http.StatusRequestEntityTooLarge || !bytes.Contains(out, []byte(`"kind":"failed"`)) {
			t.Fatalf("70 KiB body: HTTP %d %s, want 413 filed as failed", status, out)
		}
		if status, _ := h.do("GET", "/updates", "", nil); status != http.StatusMethodNotAllowed {
			t.Fatalf("GET /updates: HTTP %d, want 405", status)
		}
	})
}

func TestChannelSelf(t *testing.T) {
	forEachBackend(t, func(t *testing.T, reg store.Registry) {
		ctx := context.Background()
		h := newHarness(t, reg, Config{})
		h.register("1.0.0", "production")
		yes, no := true, false
		if _, err := reg.CreateChannel(ctx, h.app, "beta", store.ChannelSettings{AllowSelfSet: &yes}); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.CreateChannel(ctx, h.app, "internal", store.ChannelSettings{}); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.CreateChannel(ctx, h.app, "ios-only", store.ChannelSettings{AllowSelfSet: &yes, Android: &no}); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Register(ctx, releaseInput(h.app, "1.1.0-beta.1", "beta", h.key)); err != nil {
			t.Fatal(err)
		}

		channelCall := func(method string, mod func(map[string]any)) map[string]any {
			t.Helper()
			status, out := h.do(method, "/channel_self", "", h.deviceBody(mod))
			if status != http.StatusOK {
				t.Fatalf("%s /channel_self: HTTP %d %s", method, status, out)
			}
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("%s /channel_self: %s", method, out)
			}
			return m
		}

		// list: what the plugin's listChannels decodes (id must be a number)
		status, out := h.do("GET", "/channel_self?app_id="+h.app+"&platform=android&is_emulator=false&is_prod=true&device_id=X", "", nil)
		var list []map[string]any
		if status != http.StatusOK || json.Unmarshal(out, &list) != nil {
			t.Fatalf("GET /channel_self: HTTP %d %s", status, out)
		}
		names := []string{}
		for _, c := range list {
			if _, ok := c["id"].(float64); !ok {
				t.Fatalf("channel id %v is not a number", c["id"])
			}
			if _, ok := c["public"].(bool); !ok {
				t.Fatalf("public %v is not a boolean", c["public"])
			}
			names = append(names, c["name"].(string))
		}
		if strings.Join(names, ",") != "beta,production" {
			t.Fatalf("android device may see %v, want beta and production (not internal, not ios-only)", names)
		}

		if got := channelCall("PUT", nil); got["channel"] != "production" || got["status"] != statusDefault {
			t.Fatalf("PUT before any choice: %v", got)
		}
		if got := channelCall("POST", func(m map[string]any) { m["channel"] = "internal" }); got["error"] != codeSelfSetDenied {
			t.Fatalf("self-set onto a private channel: %v", got)
		}
		if got := channelCall("POST", func(m map[string]any) { m["channel"] = "ios-only" }); got["error"] != codeChannelPlatform {
			t.Fatalf("android onto an ios-only channel: %v", got)
		}
		if got := channelCall("POST", func(m map[string]any) { m["channel"] = "nope" }); got["error"] != codeChannelNotFound {
			t.Fatalf("unknown channel: %v", got)
		}
		if got := channelCall("POST", func(m map[string]any) { m["channel"] = "beta" }); got["status"] != "ok" {
			t.Fatalf("self-set onto beta: %v", got)
		}
		if got := channelCall("PUT", nil); got["channel"] != "beta" || got["status"] != statusOverride || got["allowSet"] != true {
			t.Fatalf("PUT after choosing beta: %v", got)
		}
		if got := h.check(h.deviceBody(nil)); got["version"] != "1.1.0-beta.1" {
			t.Fatalf("update check on beta: %v", got)
		}
		if got := channelCall("DELETE", nil); got["status"] != "ok" {
			t.Fatalf("DELETE: %v", got)
		}
		if got := h.check(h.deviceBody(nil)); got["version"] != "1.0.0" {
			t.Fatalf("update check after leaving beta: %v", got)
		}

		// An operator pins the device (past the server, like the CLI): the
		// server serves it at the next check, and the device cannot leave.
		dev := h.deviceID()
		if err := reg.SetDeviceChannel(ctx, h.app, dev, "internal", false, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Register(ctx, releaseInput(h.app, "1.2.0-rc.1", "internal", h.key)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for h.check(h.deviceBody(nil))["version"] != "1.2.0-rc.1" {
			if time.Now().After(deadline) {
				t.Fatal("operator override not served within 5 s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got := channelCall("POST", func(m map[string]any) { m["channel"] = "beta" }); got["error"] != codeCannotOverride {
			t.Fatalf("device leaving an operator's channel: %v", got)
		}
		if got := channelCall("DELETE", nil); got["error"] != codeCannotOverride {
			t.Fatalf("device unsetting an operator's channel: %v", got)
		}
	})
}

func (h *harness) deviceID() string {
	d, err := DecodeUpdateRequest(h.deviceBody(nil))
	if err != nil {
		h.t.Fatal(err)
	}
	return d.DeviceID
}

func TestStatsStoredAndFlushedOnClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, reg store.Registry) {
		h := newHarness(t, reg, Config{StatsFlushInterval: time.Hour}) // only Close flushes
		h.register("1.2.0", "production")
		body := strings.ReplaceAll(androidStatsBody, "com.example.app", h.app)
		status, out := h.do("POST", "/stats", "", []byte(body))
		if status != http.StatusOK || strings.TrimSpace(string(out)) != `{"status":"ok"}` {
			t.Fatalf("POST /stats: HTTP %d %s", status, out)
		}
		if err := h.srv.Close(); err != nil {
			t.Fatal(err)
		}
		stats, err := reg.Stats(context.Background(), h.app, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(stats) != 1 || stats[0].Version != "1.2.0" || stats[0].Downloads != 1 || stats[0].Installs != 1 {
			t.Fatalf("stats after close: %+v", stats)
		}
		if status, _ := h.do("POST", "/stats", "", []byte(body)); status != http.StatusServiceUnavailable {
			t.Fatalf("stats after close: HTTP %d, want 503", status)
		}
	})
}

func TestStatsQueueFullAsksToRetry(t *testing.T) {
	h := newHarness(t, openRegistry(t, "sqlite"), Config{StatsQueue: 1, StatsFlushInterval: time.Hour})
	req, _ := http.NewRequest("POST", h.url+"/stats", strings.NewReader(androidStatsBody))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("two events into a queue of one: HTTP %d Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
}

func TestAdminAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, reg store.Registry) {
		ctx := context.Background()
		h := newHarness(t, reg, Config{})
		in := releaseInput(h.app, "1.0.0", "production", h.key)
		body, _ := json.Marshal(in)

		for _, tc := range []struct {
			token string
			want  int
		}{{"", 401}, {"capship_not-a-real-token", 401}} {
			if status, out := h.do("POST", "/admin/v1/releases", tc.token, body); status != tc.want || !bytes.Contains(out, []byte(`"error":"unauthorized"`)) {
				t.Fatalf("token %q: HTTP %d %s", tc.token, status, out)
			}
		}
		other, _, err := reg.CreateToken(ctx, "other-"+h.app, "com.someone.else")
		if err != nil {
			t.Fatal(err)
		}
		if status, out := h.do("POST", "/admin/v1/releases", other, body); status != http.StatusForbidden {
			t.Fatalf("token of another app: HTTP %d %s", status, out)
		}
		h.register("1.0.0", "production")
		if status, out := h.do("POST", "/admin/v1/releases", h.token, body); status != http.StatusConflict || !bytes.Contains(out, []byte(`"error":"duplicate_version"`)) {
			t.Fatalf("duplicate: HTTP %d %s", status, out)
		}
		bad := releaseInput(h.app, "1.0.1", "production", h.key)
		bad.Checksum = "abc"
		badBody, _ := json.Marshal(bad)
		if status, out := h.do("POST", "/admin/v1/releases", h.token, badBody); status != http.StatusBadRequest || !bytes.Contains(out, []byte(`"error":"invalid"`)) {
			t.Fatalf("bad checksum: HTTP %d %s", status, out)
		}
		if status, out := h.do("POST", "/admin/v1/releases", h.token, []byte(`{"app_id":"`+h.app+`","versoin":"1.0.2"}`)); status != http.StatusBadRequest || !bytes.Contains(out, []byte("versoin")) {
			t.Fatalf("unknown field: HTTP %d %s", status, out)
		}
		otherKey := releaseInput(h.app, "1.0.3", "production", newTestKey())
		okBody, _ := json.Marshal(otherKey)
		if status, out := h.do("POST", "/admin/v1/releases", h.token, okBody); status != http.StatusConflict || !bytes.Contains(out, []byte(`"error":"key_mismatch"`)) {
			t.Fatalf("other key: HTTP %d %s", status, out)
		}

		h.register("1.1.0", "production")
		status, out := h.do("GET", "/admin/v1/releases?app_id="+h.app, h.token, nil)
		var rels []store.Release
		if status != 200 || json.Unmarshal(out, &rels) != nil || len(rels) != 2 || rels[0].Version != "1.1.0" {
			t.Fatalf("list releases: HTTP %d %s", status, out)
		}
		if got := h.check(h.deviceBody(nil)); got["version"] != "1.1.0" {
			t.Fatalf("after register 1.1.0: %v", got)
		}

		// rollback: devices on 1.1.0 are sent 1.0.0
		status, out = h.do("POST", "/admin/v1/channels/rollback", h.token, []byte(`{"app_id":"`+h.app+`","channel":"production"}`))
		if status != 200 || !bytes.Contains(out, []byte(`"version":"1.0.0"`)) {
			t.Fatalf("rollback: HTTP %d %s", status, out)
		}
		if got := h.check(h.deviceBody(func(m map[string]any) { m["version_name"] = "1.1.0" })); got["version"] != "1.0.0" {
			t.Fatalf("device on 1.1.0 after rollback: %v", got)
		}
		status, out = h.do("POST", "/admin/v1/channels/rollback", h.token, []byte(`{"app_id":"`+h.app+`","channel":"production"}`))
		if status != http.StatusConflict || !bytes.Contains(out, []byte("nothing_to_roll_back")) {
			t.Fatalf("second rollback: HTTP %d %s", status, out)
		}

		// promote forward again
		h.register("1.2.0", "")
		status, out = h.do("POST", "/admin/v1/channels/promote", h.token, []byte(`{"app_id":"`+h.app+`","channel":"production","version":"1.2.0"}`))
		if status != 200 {
			t.Fatalf("promote: HTTP %d %s", status, out)
		}
		if got := h.check(h.deviceBody(nil)); got["version"] != "1.2.0" {
			t.Fatalf("after promote: %v", got)
		}
		status, out = h.do("GET", "/admin/v1/channels?app_id="+h.app, h.token, nil)
		if status != 200 || !bytes.Contains(out, []byte(`"name":"production"`)) {
			t.Fatalf("list channels: HTTP %d %s", status, out)
		}
	})
}

// TestRegisterWhileServing registers releases through the admin API while
// devices keep checking: every answer is a whole release as registered
// (never a URL of one and a checksum of another), and the newest release
// is served as soon as its registration returns.
func TestRegisterWhileServing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, reg store.Registry) {
		h := newHarness(t, reg, Config{CacheTTL: 10 * time.Millisecond})
		first := h.register("1.0.0", "production")
		byVersion := map[string]store.RegisterInput{"1.0.0": first}
		var mu sync.Mutex

		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 8)
		for w := range 8 {
			go func() {
				client := &http.Client{}
				for i := 0; ctx.Err() == nil; i++ {
					body := h.deviceBody(func(m map[string]any) { m["device_id"] = fmt.Sprintf("w%d-d%d", w, i%50) })
					res, err := client.Post(h.url+"/updates", "application/json", bytes.NewReader(body))
					if err != nil {
						errs <- err
						return
					}
					out, _ := io.ReadAll(res.Body)
					res.Body.Close()
					var m map[string]string
					if res.StatusCode != 200 || json.Unmarshal(out, &m) != nil {
						errs <- fmt.Errorf("HTTP %d %s", res.StatusCode, out)
						return
					}
					mu.Lock()
					want, ok := byVersion[m["version"]]
					mu.Unlock()
					if !ok || want.URL != m["url"] || want.Checksum != m["checksum"] || want.SessionKey != m["session_key"] {
						errs <- fmt.Errorf("answer %s is not a registered release", out)
						return
					}
				}
				errs <- nil
			}()
		}
		for i := 1; i <= 15; i++ {
			v := fmt.Sprintf("1.%d.0", i)
			in := releaseInput(h.app, v, "production", h.key)
			mu.Lock()
			byVersion[v] = in
			mu.Unlock()
			body, _ := json.Marshal(in)
			if status, out := h.do("POST", "/admin/v1/releases", h.token, body); status != http.StatusCreated {
				t.Fatalf("register %s: HTTP %d %s", v, status, out)
			}
			if got := h.check(h.deviceBody(nil)); got["version"] != v {
				t.Fatalf("right after registering %s the server sent %v", v, got)
			}
		}
		cancel()
		for range 8 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestHealth(t *testing.T) {
	reg := openRegistry(t, "sqlite")
	h := newHarness(t, reg, Config{})
	for _, p := range []string{"/livez", "/readyz"} {
		if status, out := h.do("GET", p, "", nil); status != 200 || !bytes.Contains(out, []byte(`"ok"`)) {
			t.Fatalf("%s: HTTP %d %s", p, status, out)
		}
	}
	reg.Close()
	if status, _ := h.do("GET", "/readyz", "", nil); status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with a closed registry: HTTP %d, want 503", status)
	}
	if status, _ := h.do("GET", "/livez", "", nil); status != 200 {
		t.Fatalf("/livez with a closed registry: HTTP %d, want 200", status)
	}
	// An update check the registry cannot answer is a real failure.
	if status, out := h.do("POST", "/updates", "", h.deviceBody(nil)); status != http.StatusServiceUnavailable ||
		!bytes.Contains(out, []byte(`"error":"server_unavailable"`)) || !bytes.Contains(out, []byte(`"kind":"failed"`)) {
		t.Fatalf("update check with a closed registry: HTTP %d %s, want 503 filed as failed", status, out)
	}
}

// lineLog collects log lines written by the server's goroutines.
type lineLog struct {
	mu    sync.Mutex
	lines chan string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines <- string(p)
	return len(p), nil
}

// next waits for the next request line (other lines are skipped).
func (l *lineLog) next(t *testing.T) (string, map[string]any) {
	t.Helper()
	for {
		select {
		case s := <-l.lines:
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				t.Fatalf("log line is not JSON: %q", s)
			}
			if m["msg"] == "request" {
				return s, m
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no request log line within 5 s")
		}
	}
}

func TestRequestLogLine(t *testing.T) {
	logs := &lineLog{lines: make(chan string, 100)}
	h := newHarness(t, openRegistry(t, "sqlite"), Config{AccessLog: logs})
	h.register("1.0.0", "production")
	logs.next(t)
	h.check(h.deviceBody(nil))
	raw, line := logs.next(t)
	for k, want := range map[string]any{"method": "POST", "path": "/updates", "status": float64(200), "app_id": h.app, "answer": "update"} {
		if line[k] != want {
			t.Errorf("log %s = %v, want %v", k, line[k], want)
		}
	}
	if _, ok := line["ms"].(float64); !ok {
		t.Error("log line has no duration")
	}
	dev := h.deviceID()
	if strings.Contains(raw, dev) || strings.Contains(raw, h.key.id) {
		t.Fatalf("log line carries the raw device id or key id: %s", raw)
	}
	sum := sha256.Sum256([]byte(dev))
	if line["device"] != hex.EncodeToString(sum[:6]) {
		t.Errorf("device = %v, want the short hash", line["device"])
	}
	h.do("POST", "/admin/v1/releases", h.token, []byte("{}"))
	if raw, _ := logs.next(t); strings.Contains(raw, h.token) || strings.Contains(raw, "capship_") {
		t.Fatalf("the admin token reached the log: %s", raw)
	}
}

// BenchmarkUpdateCheck measures one update check through the whole handler
// (decode, cached decision, encode, request log line) without the network.
func BenchmarkUpdateCheck(b *testing.B) {
	reg, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "registry.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	key := newTestKey()
	app := "com.capship.bench"
	if _, err := reg.Register(context.Background(), releaseInput(app, "1.0.0", "production", key)); err != nil {
		b.Fatal(err)
	}
	srv, err := New(Config{Registry: reg, AccessLog: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	h := srv.Handler()
	bodies := make([][]byte, 1000)
	for i := range bodies {
		bodies[i] = []byte(strings.NewReplacer("com.example.app", app, "MIIBCgKCAQEAyRxnUWrb", key.id,
			"3f2504e0-4f89-41d3-9a0c-0305e82c3301", fmt.Sprintf("3f2504e0-4f89-41d3-9a0c-%012d", i)).Replace(androidUpdateBody))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			req := httptest.NewRequest("POST", "/updates", bytes.NewReader(bodies[i%len(bodies)]))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 || !bytes.Contains(w.Body.Bytes(), []byte(`"version":"1.0.0"`)) {
				b.Fatalf("HTTP %d %s", w.Code, w.Body)
			}
		}
	})
}

// TestCacheBoundedByUnknownApps: devices (or someone probing) sending
// random app ids cannot grow the snapshot cache without limit, and known
// apps stay answerable.
func TestCacheBoundedByUnknownApps(t *testing.T) {
	reg := openRegistry(t, "sqlite")
	h := newHarness(t, reg, Config{CacheTTL: time.Hour})
	h.register("1.0.0", "production")
	ctx := context.Background()
	for i := range maxCachedApps + 100 {
		snap, err := h.srv.apps.get(ctx, fmt.Sprintf("com.unknown.app%d", i))
		if err != nil || snap != nil {
			t.Fatalf("unknown app %d: %v %v", i, snap, err)
		}
	}
	h.srv.apps.mu.RLock()
	n := len(h.srv.apps.entries)
	h.srv.apps.mu.RUnlock()
	if n > maxCachedApps {
		t.Fatalf("%d cached entries, limit %d", n, maxCachedApps)
	}
	if got := h.check(h.deviceBody(nil)); got["version"] != "1.0.0" {
		t.Fatalf("known app after the flood: %v", got)
	}
}

func TestLogBuffer(t *testing.T) {
	logs := &lineLog{lines: make(chan string, 10)}
	b := NewLogBuffer(logs, 20*time.Millisecond)
	b.Write([]byte("one\n"))
	b.Write([]byte("two\n"))
	select {
	case got := <-logs.lines:
		if got != "one\ntwo\n" {
			t.Fatalf("flushed %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("buffered lines not flushed within the interval")
	}
	b.Write([]byte("three\n"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := <-logs.lines; got != "three\n" {
		t.Fatalf("Close flushed %q", got)
	}
	b.Close() // twice is fine
}

// TestChannelSelfLegacyForms: DELETE with the device fields in the query
// (older plugins), and channel requests for an unknown app.
func TestChannelSelfLegacyForms(t *testing.T) {
	ctx := context.Background()
	reg := openRegistry(t, "sqlite")
	h := newHarness(t, reg, Config{})
	h.register("1.0.0", "production")
	yes := true
	if _, err := reg.CreateChannel(ctx, h.app, "beta", store.ChannelSettings{AllowSelfSet: &yes}); err != nil {
		t.Fatal(err)
	}
	dev := h.deviceID()
	if err := reg.SetDeviceChannel(ctx, h.app, dev, "beta", true, 0); err != nil {
		t.Fatal(err)
	}
	status, out := h.do("DELETE", "/channel_self?app_id="+h.app+"&device_id="+strings.ToUpper(dev)+"&platform=android&version_build=1.0.0", "", nil)
	if status != 200 || !bytes.Contains(out, []byte(`"status":"ok"`)) {
		t.Fatalf("DELETE with query: HTTP %d %s", status, out)
	}
	if _, err := reg.DeviceChannel(ctx, h.app, dev); err == nil {
		t.Fatal("override still there after DELETE")
	}
	if status, out := h.do("DELETE", "/channel_self?app_id="+h.app, "", nil); status != http.StatusBadRequest {
		t.Fatalf("DELETE without device: HTTP %d %s", status, out)
	}
	for _, method := range []string{"PUT", "POST"} {
		status, out := h.do(method, "/channel_self", "", []byte(strings.Replace(androidUpdateBody, "com.example.app", "com.nobody.here", 1)))
		if status != 200 || !bytes.Contains(out, []byte(`"error":"app_not_found"`)) {
			t.Fatalf("%s for an unknown app: HTTP %d %s", method, status, out)
		}
	}
	status, out = h.do("GET", "/channel_self?app_id=com.nobody.here&platform=ios", "", nil)
	if status != 200 || !bytes.Contains(out, []byte(`"error":"app_not_found"`)) {
		t.Fatalf("GET for an unknown app: HTTP %d %s", status, out)
	}
}
