package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"capship/server"
	"capship/server/servertest"
	"capship/store"
)

// A release of 15,000 files registers through the admin API of the real
// server with its default limits, and reads back whole.
func TestClientRegistersFilesAgainstServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, api := servertest.Start(t)
	c, _ := clientFor(t, reg, api, "ci", "")
	in := store.TestInputWithFiles("com.capship.delta", "1.0.0", "production", 1, 15000)
	body, _ := json.Marshal(in)
	start := time.Now()
	rel, err := c.Register(ctx, in)
	if err != nil {
		t.Fatalf("register %d files (%d bytes of JSON): %v", len(in.Files), len(body), err)
	}
	t.Logf("registered 15,000 files through the admin API (%.1f MB of JSON) in %v", float64(len(body))/1e6, time.Since(start).Round(time.Millisecond))
	if rel.FilesURL != in.FilesURL || rel.FileCount != 15000 {
		t.Fatalf("answer %+v", rel)
	}
	files, err := reg.ReleaseFiles(ctx, in.AppID, in.Version)
	if err != nil || len(files) != 15000 || !reflect.DeepEqual(files[0], in.Files[0]) {
		t.Fatalf("server registry has %d files (%v)", len(files), err)
	}
	rels, err := c.Releases(ctx, in.AppID)
	if err != nil || len(rels) != 1 || rels[0].FileCount != 15000 || rels[0].FilesURL != in.FilesURL {
		t.Fatalf("releases through the admin API: %+v, %v", rels, err)
	}
	chs, err := c.Channels(ctx, in.AppID)
	if err != nil || len(chs) != 1 || !chs[0].Delta || chs[0].Release.FileCount != 15000 {
		t.Fatalf("channels through the admin API: %+v, %v", chs, err)
	}
}

// A registration body that takes longer to arrive than the server's
// ReadTimeout (meant for device requests) still goes through.
func TestServerTakesSlowRegistrationBody(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, err := store.Open(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	secret, _, err := reg.CreateToken(ctx, "ci", "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Registry: reg, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	defer func() { stop(); <-done }()

	body, _ := json.Marshal(store.TestInputWithFiles("com.capship.slow", "1.0.0", "production", 1, 2000))
	pr, pw := io.Pipe()
	go func() {
		// The body in ten parts over about a second.
		for part := range 10 {
			time.Sleep(100 * time.Millisecond)
			n := len(body) / 10
			end := (part + 1) * n
			if part == 9 {
				end = len(body)
			}
			if _, err := pw.Write(body[part*n : end]); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+ln.Addr().String()+store.AdminReleasesPath, pr)
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("slow registration: %v", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || !bytes.Contains(answer, []byte(`"file_count":2000`)) {
		t.Fatalf("slow registration: HTTP %d %s", resp.StatusCode, answer)
	}
}
