package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is an io.Writer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServeRunsUntilCancelled(t *testing.T) {
	db := filepath.Join(t.TempDir(), "registry.db")
	outR, outW := io.Pipe()
	var errBuf lockedBuffer
	s := IO{In: strings.NewReader(""), Out: outW, Err: &errBuf, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := make(chan int, 1)
	go func() {
		code <- Run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--json"}, s)
		outW.Close()
	}()
	var ready struct{ URL string }
	if err := json.NewDecoder(outR).Decode(&ready); err != nil || !strings.HasPrefix(ready.URL, "http://127.0.0.1:") {
		t.Fatalf("serve --json printed %+v (%v); stderr:\n%s", ready, err, errBuf.String())
	}
	go io.Copy(io.Discard, outR)

	res, err := http.Get(ready.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/readyz: HTTP %d", res.StatusCode)
	}
	res, err = http.Post(ready.URL+"/updates", "application/json", strings.NewReader(`{"app_id":"com.example.none","device_id":"d1","platform":"android","version_name":"builtin","version_build":"1.0.0"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"error":"app_not_found"`) {
		t.Fatalf("/updates for an unknown app: HTTP %d %s", res.StatusCode, body)
	}

	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("serve exited %d after cancel; stderr:\n%s", c, errBuf.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15 s of cancel")
	}
	logs := errBuf.String()
	if !strings.Contains(logs, "config set-server "+ready.URL) || !strings.Contains(logs, `"path":"/updates"`) {
		t.Fatalf("stderr lacks the hint or the request log:\n%s", logs)
	}
}

func TestServeUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--tls-cert", "c.pem"},
		{"serve", "--cache-ttl", "-1s"},
		{"serve", "--max-overrides", "-1"},
		{"serve", "--override-expiry", "-1h"},
		{"serve", "extra"},
	} {
		r := run(t, map[string]string{"CAPSHIP_DB": filepath.Join(t.TempDir(), "r.db")}, args...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2; stderr %s", args, r.code, r.err)
		}
	}
	r := run(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "r.db"), "--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem")
	if r.code != 1 || !strings.Contains(r.err, "load TLS certificate") {
		t.Errorf("missing certificate: exit %d, stderr %s", r.code, r.err)
	}
}

// TestServeBinarySIGTERM runs the built binary as an operator would and
// stops it with SIGTERM: it must exit 0 after a clean shutdown.
func TestServeBinarySIGTERM(t *testing.T) {
	bin := os.Getenv("CAPSHIP_TEST_BINARY")
	if bin == "" {
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatal("CAPSHIP_TEST_BINARY is not set (run scripts/test)")
		}
		t.Skip("CAPSHIP_TEST_BINARY not set")
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "r.db"), "--json")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var ready struct{ URL string }
	if err := json.NewDecoder(bufio.NewReader(out)).Decode(&ready); err != nil {
		t.Fatalf("no URL on stdout: %v; stderr:\n%s", err, stderr.String())
	}
	res, err := http.Get(ready.URL + "/livez")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit within 15 s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), "capship serve: stopped") {
		t.Fatalf("stderr:\n%s", stderr.String())
	}
}
