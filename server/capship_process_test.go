package server_test

// The built capship binary, run as an operator would: `capship serve` as a
// child process, and one-shot commands on the same registry file.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"capship/server"
)

const commandTimeout = time.Minute

// capshipBinary is the binary scripts/test built; the test is skipped
// without it (fails under CAPSHIP_TEST_STRICT=1).
func capshipBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("CAPSHIP_TEST_BINARY")
	if bin == "" {
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatal("CAPSHIP_TEST_BINARY is not set (run scripts/test)")
		}
		t.Skip("CAPSHIP_TEST_BINARY is not set: build capship and point it there (scripts/test does)")
	}
	return bin
}

// serveProcess is a running `capship serve`.
type serveProcess struct {
	URL    string
	cmd    *exec.Cmd
	stderr *server.SyncBuffer
	done   chan error
	once   sync.Once
	err    error
}

// startServe runs `capship serve` on a free loopback port over the
// registry db (with more flags, if any), until stop or the end of the test.
func startServe(t *testing.T, bin, db string, flags ...string) *serveProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--json", "--db", db}, flags...)...)
	cmd.Dir = t.TempDir() // no Capacitor config around
	s := &serveProcess{cmd: cmd, stderr: &server.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start capship serve: %v", err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })
	ready := make(chan error, 1)
	go func() {
		var hello struct{ URL string }
		err := json.NewDecoder(out).Decode(&hello)
		s.URL = hello.URL
		ready <- err
		io.Copy(io.Discard, out)
	}()
	select {
	case err := <-ready:
		if err != nil || !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
			t.Fatalf("capship serve printed no loopback URL (%v, %q); stderr:\n%s", err, s.URL, s.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("capship serve did not listen within 30 s; stderr:\n%s", s.stderr)
	}
	return s
}

// stop sends SIGTERM (serve flushes the queued stats to the registry
// before it exits) and waits; it fails the test if serve does not exit 0.
func (s *serveProcess) stop(t *testing.T) {
	t.Helper()
	s.once.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case s.err = <-s.done:
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill()
			s.err = fmt.Errorf("no exit within 15 s of SIGTERM: %v", <-s.done)
		}
	})
	if s.err != nil {
		t.Errorf("capship serve: %v; stderr:\n%s", s.err, s.stderr)
	}
}

// capship runs one command of the binary (outside any project folder) and
// decodes its --json output into v; the test fails unless it exits 0.
func capship(t *testing.T, bin string, v any, args ...string) {
	t.Helper()
	stdout, stderr, err := runCapship(t.TempDir(), bin, args...)
	if err != nil {
		t.Fatalf("capship %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout, stderr)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(stdout), v); err != nil {
			t.Fatalf("capship %s: stdout is not its JSON result: %v\n%s", strings.Join(args, " "), err, stdout)
		}
	}
}

// runCapship runs one command of the binary in dir (a folder of no
// project), for at most commandTimeout.
func runCapship(dir, bin string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("no exit within %v: %w", commandTimeout, err)
	}
	return out.String(), errb.String(), err
}
