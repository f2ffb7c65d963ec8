package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"capship/store"
	"capship/workflow"
)

// TestGracefulShutdown: cancelling Serve's context lets a request that is
// still being sent finish, flushes queued stats to the registry, and closes
// the listener.
func TestGracefulShutdown(t *testing.T) {
	reg := openRegistry(t, "sqlite")
	ctx := context.Background()
	app := uniqueAppID(t)
	key := newTestKey()
	if _, err := reg.Register(ctx, releaseInput(app, "1.0.0", "production", key)); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Registry: reg, StatsFlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()

	stats := strings.ReplaceAll(androidStatsBody, "com.example.app", app)
	res, err := http.Post(base+"/stats", "application/json", strings.NewReader(stats))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("stats: HTTP %d", res.StatusCode)
	}

	// A device is halfway through sending its update check.
	body := strings.NewReplacer("com.example.app", app, "MIIBCgKCAQEAyRxnUWrb", key.id).Replace(androidUpdateBody)
	pr, pw := io.Pipe()
	type result struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", base+"/updates", pr)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		done <- result{res.StatusCode, b, err}
	}()
	if _, err := pw.Write([]byte(body[:40])); err != nil {
		t.Fatal(err)
	}
	// Shut down only once the handler is reading it (not after a guess at
	// how long that takes: a connection not yet accepted would be refused).
	waitInFlight(t, srv)

	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) while a request was in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := pw.Write([]byte(body[40:])); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-done
	if r.err != nil || r.status != 200 || !bytes.Contains(r.body, []byte(`"version":"1.0.0"`)) {
		t.Fatalf("in-flight request: HTTP %d %s %v", r.status, r.body, r.err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	st, err := reg.Stats(ctx, app, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Downloads != 1 || st[0].Installs != 1 {
		t.Fatalf("stats queued before shutdown were not flushed: %+v", st)
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Fatal("listener still accepts connections after shutdown")
	}
}

// TestEndToEndRealBundle is what a device does with the server's answer: a
// real bundle built and sealed by workflow, hosted on loopback, registered
// through the admin API; the update answer must let the device-side Open
// decrypt, verify and extract it with the app's public key.
func TestEndToEndRealBundle(t *testing.T) {
	ctx := context.Background()
	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "index.html"), []byte("<!doctype html><script>CapacitorUpdater.notifyAppReady()</script>"), 0o644); err != nil {
		t.Fatal(err)
	}
	priv, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, openRegistry(t, "sqlite"), Config{})
	m, err := workflow.Build(ctx, workflow.BuildOptions{Dir: web, AppID: h.app, Version: "1.0.0", OutDir: t.TempDir(), Key: priv, NoCodeCheck: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cdn := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(m.File))))
	defer cdn.Close()
	in := store.RegisterInput{
		AppID: h.app, Version: m.Version, URL: cdn.URL + "/" + filepath.Base(m.File),
		SessionKey: m.SessionKey, Checksum: m.Checksum, Size: m.Size, SHA256: m.SHA256, ZipSHA256: m.ZipSHA256,
		KeyID: m.KeyID, KeyFingerprint: m.KeyFingerprint, Channel: "production",
	}
	reqBody, _ := json.Marshal(in)
	if status, out := h.do("POST", "/admin/v1/releases", h.token, reqBody); status != http.StatusCreated {
		t.Fatalf("register: HTTP %d %s", status, out)
	}

	h.key.id = workflow.KeyID(&priv.PublicKey) // what the plugin computes from its config
	got := h.check(h.deviceBody(nil))
	url, _ := got["url"].(string)
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	file := filepath.Join(t.TempDir(), "download.zip.enc")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(t.TempDir(), "www")
	if _, err := workflow.Open(ctx, workflow.OpenOptions{
		File: file, SessionKey: got["session_key"].(string), Checksum: got["checksum"].(string),
		PublicKey: &priv.PublicKey, ExtractDir: out,
	}, nil); err != nil {
		t.Fatalf("device could not open what the server sent: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "index.html")); err != nil || !bytes.Contains(b, []byte("notifyAppReady")) {
		t.Fatalf("extracted index.html: %q %v", b, err)
	}
}

// TestServeTLS: with a TLS config the same listener speaks HTTPS only.
// serveLoopback runs Serve on a free loopback port until the test ends
// (then checks that it stopped cleanly) and returns host:port.
func serveLoopback(t *testing.T, cfg Config) string {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestServeTLS(t *testing.T) {
	// httptest makes a certificate for 127.0.0.1 and a client that trusts it.
	donor := httptest.NewUnstartedServer(http.NotFoundHandler())
	donor.StartTLS()
	defer donor.Close()
	client := donor.Client()

	addr := serveLoopback(t, Config{Registry: openRegistry(t, "sqlite"), TLSConfig: &tls.Config{Certificates: donor.TLS.Certificates}})
	res, err := client.Get("https://" + addr + "/livez")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.TLS == nil {
		t.Fatalf("https /livez: HTTP %d, TLS %v", res.StatusCode, res.TLS != nil)
	}
	res, err = http.Get("http://" + addr + "/livez")
	if err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Fatal("plain HTTP answered on the TLS listener")
		}
	}
}

// TestBusyServerAsksDevicesToBackOff: past MaxInFlight device requests the
// answer is 429 with Retry-After (the plugin's back-off signal), and health
// checks still answer.
func TestBusyServerAsksDevicesToBackOff(t *testing.T) {
	h := newHarness(t, openRegistry(t, "sqlite"), Config{MaxInFlight: 1})
	h.register("1.0.0", "production")
	// Hold one device request open: its body never finishes.
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		req, _ := http.NewRequest("POST", h.url+"/updates", pr)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	pw.Write([]byte(`{"app_id":`))
	waitInFlight(t, h.srv)
	req, _ := http.NewRequest("POST", h.url+"/updates", bytes.NewReader(h.deviceBody(nil)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !bytes.Contains(body, []byte(`"error":"too_many_requests"`)) ||
		!bytes.Contains(body, []byte(`"kind":"blocked"`)) { // the plugin backs off and reports rate_limit_reached itself
		t.Fatalf("busy server: HTTP %d Retry-After %q %s", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	if status, _ := h.do("GET", "/livez", "", nil); status != 200 {
		t.Fatalf("/livez while busy: HTTP %d", status)
	}
}

// waitInFlight waits until a device request is inside a handler of srv.
func waitInFlight(t *testing.T, srv *Server) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); srv.inFlight.Load() < 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the handler")
		}
	}
}
