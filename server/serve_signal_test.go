package server_test

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The first Ctrl-C stops serve gracefully, waiting for requests in flight;
// a second one during that wait ends it at once.
func TestServeSecondInterruptExitsAtOnce(t *testing.T) {
	bin := capshipBinary(t)
	s := startServe(t, bin, filepath.Join(t.TempDir(), "registry.db"))
	// A request whose body never finishes keeps the graceful stop waiting.
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST /updates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)

	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-s.done:
		t.Fatalf("serve exited on the first Ctrl-C with a request in flight (%v); stderr:\n%s", err, s.stderr)
	case <-time.After(time.Second):
	}
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
		s.done <- nil // for stop at cleanup: the exit by signal is the point here
	case <-time.After(3 * time.Second):
		t.Fatalf("serve still running 3 s after a second Ctrl-C; stderr:\n%s", s.stderr)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("serve took %s to exit after the second Ctrl-C", d)
	}
}
