package workflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestValidateBundleURL(t *testing.T) {
	tests := []struct {
		raw     string
		ok      bool
		warning bool
		errHas  string
	}{
		{"https://cdn.example.com/app/1.2.3.zip", true, false, ""},
		{"  https://cdn.example.com/a.zip\n", true, false, ""},
		{"HTTPS://cdn.example.com/a.zip", true, false, ""},
		{"http://127.0.0.1:8080/a.zip", true, true, ""},
		{"http://127.3.4.5/a.zip", true, true, ""},
		{"http://[::1]:9000/a.zip", true, true, ""},
		{"http://localhost/a.zip", true, true, ""},
		{"http://cdn.example.com/a.zip", false, false, "devices require HTTPS"},
		{"http://10.0.0.1/a.zip", false, false, "devices require HTTPS"},
		{"", false, false, "empty"},
		{"cdn.example.com/a.zip", false, false, "not an absolute URL"},
		{"/a.zip", false, false, "not an absolute URL"},
		{"ftp://cdn.example.com/a.zip", false, false, "scheme \"ftp\""},
		{"https://user:pw@cdn.example.com/a.zip", false, false, "password"},
		{"https://cdn.example.com/a.zip#x", false, false, "fragment"},
		{"https://cdn.example.com/%zz", false, false, "invalid URL escape"},
	}
	for _, tt := range tests {
		_, warning, err := ValidateBundleURL(tt.raw)
		if tt.ok != (err == nil) {
			t.Errorf("ValidateBundleURL(%q) error = %v, want ok=%v", tt.raw, err, tt.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("ValidateBundleURL(%q) error = %q, want ErrBadURL containing %q", tt.raw, err, tt.errHas)
			}
			continue
		}
		if (warning != "") != tt.warning {
			t.Errorf("ValidateBundleURL(%q) warning = %q, want warning=%v", tt.raw, warning, tt.warning)
		}
	}
}

func TestCheckURL(t *testing.T) {
	built := bytes.Repeat([]byte("capship bundle bytes "), 20000) // 420 kB, several reads
	sum := sha256.Sum256(built)
	want := hex.EncodeToString(sum[:])
	other := append([]byte(nil), built...)
	other[len(other)/2] ^= 1

	mux := http.NewServeMux()
	serve := func(body []byte, ctype string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Write(body)
		}
	}
	mux.HandleFunc("/good.zip", serve(built, "application/zip"))
	mux.HandleFunc("/flipped.zip", serve(other, "application/octet-stream"))
	mux.HandleFunc("/short.zip", serve(built[:1000], "application/zip"))
	mux.HandleFunc("/long.zip", serve(append(append([]byte(nil), built...), 'x'), "application/zip"))
	mux.HandleFunc("/share", serve([]byte("<html>sign in</html>"), "text/html; charset=utf-8"))
	mux.HandleFunc("/private.zip", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/good.zip", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		path     string
		ok       bool
		status   int
		problems []string
	}{
		{"/good.zip", true, 200, nil},
		{"/moved", true, 200, nil},
		{"/flipped.zip", false, 200, []string{"same size but different bytes"}},
		{"/short.zip", false, 200, []string{"has 1000 bytes"}},
		{"/long.zip", false, 200, []string{"larger than the built one"}},
		{"/share", false, 200, []string{"has 20 bytes", "HTML page"}},
		{"/private.zip", false, 403, []string{"HTTP 403", "publicly readable"}},
		{"/missing.zip", false, 404, []string{"HTTP 404", "not at that address"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			var events []Event
			c, err := CheckURL(context.Background(), srv.Client(), srv.URL+tt.path, int64(len(built)), strings.ToUpper(want), func(e Event) { events = append(events, e) })
			if err != nil {
				t.Fatalf("CheckURL: %v", err)
			}
			if c.OK() != tt.ok || c.Status != tt.status {
				t.Fatalf("OK=%v status=%d problems=%q; want OK=%v status=%d", c.OK(), c.Status, c.Problems, tt.ok, tt.status)
			}
			joined := strings.Join(c.Problems, "\n")
			for _, p := range tt.problems {
				if !strings.Contains(joined, p) {
					t.Errorf("problems %q do not mention %q", c.Problems, p)
				}
			}
			if tt.ok {
				if c.SHA256 != want || c.Size != int64(len(built)) {
					t.Errorf("got size %d sha %s", c.Size, c.SHA256)
				}
				if len(events) < 2 || events[len(events)-1].Phase != PhaseDone {
					t.Errorf("want download events ending in done, got %d events", len(events))
				}
				if last := events[len(events)-2]; last.Phase != PhaseDownload || last.Bytes != int64(len(built)) {
					t.Errorf("last download event = %+v", last)
				}
			}
		})
	}
}

func TestCheckURLUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, err = CheckURL(context.Background(), nil, "http://"+addr+"/a.zip", 10, "00", nil)
	if err == nil || !strings.Contains(err.Error(), "reachable") {
		t.Fatalf("want a reachability error, got %v", err)
	}
	if _, err := CheckURL(context.Background(), nil, "http://example.com/a.zip", 10, "00", nil); !errors.Is(err, ErrBadURL) {
		t.Fatalf("plain http to a public host: want ErrBadURL, got %v", err)
	}
}

func TestCheckURLCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := CheckURL(ctx, srv.Client(), srv.URL+"/slow.zip", 1<<20, "00", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the context's error, got %v", err)
	}
}

// A URL that redirects to plain http on a public host passes no check:
// devices refuse cleartext downloads (iOS ATS, Android since 9).
func TestCheckURLRedirectToPlainHTTP(t *testing.T) {
	built := []byte("capship bundle bytes")
	sum := sha256.Sum256(built)
	mux := http.NewServeMux()
	mux.HandleFunc("/good.zip", func(w http.ResponseWriter, r *http.Request) { w.Write(built) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://cdn.example.com/good.zip", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	// Every host name leads to the test server.
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}}}
	c, err := CheckURL(context.Background(), client, srv.URL+"/moved", int64(len(built)), hex.EncodeToString(sum[:]), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.OK() || !strings.Contains(strings.Join(c.Problems, "\n"), "plain http") || c.FinalURL != "http://cdn.example.com/good.zip" {
		t.Fatalf("redirect to plain http: OK=%v final %s problems %q", c.OK(), c.FinalURL, c.Problems)
	}
}

// A server that answers and then goes quiet fails the check after the
// stall timeout, naming the URL and the bytes received; one that keeps
// trickling bytes does not.
func TestCheckURLStall(t *testing.T) {
	built := []byte("partial bundle bytes")
	sum := sha256.Sum256(built)
	want := hex.EncodeToString(sum[:])
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(built)))
		w.WriteHeader(http.StatusOK)
		switch r.URL.Path {
		case "/partial.zip":
			w.Write(built[:7])
		case "/trickle.zip":
			for _, b := range built {
				w.Write([]byte{b})
				w.(http.Flusher).Flush()
				time.Sleep(20 * time.Millisecond) // 400 ms in all, each gap well under the stall
			}
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	const stallAfter = 200 * time.Millisecond
	for _, tt := range []struct {
		path     string
		received string
	}{
		{"/headers.zip", "after 0 bytes"},
		{"/partial.zip", "after 7 bytes"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			start := time.Now()
			_, err := checkURL(context.Background(), srv.Client(), srv.URL+tt.path, int64(len(built)), want, nil, stallAfter)
			if !errors.Is(err, ErrStalled) {
				t.Fatalf("want ErrStalled, got %v", err)
			}
			for _, part := range []string{srv.URL + tt.path, tt.received, stallAfter.String()} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not say %q", err, part)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	t.Run("/trickle.zip", func(t *testing.T) {
		c, err := checkURL(context.Background(), srv.Client(), srv.URL+"/trickle.zip", int64(len(built)), want, nil, stallAfter)
		if err != nil || !c.OK() {
			t.Fatalf("a slow but steady download must pass: %v %+v", err, c)
		}
	})
}
