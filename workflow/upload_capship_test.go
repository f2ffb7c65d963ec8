package workflow

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// capshipHost is a loopback stand-in for 'capship serve --storage': the
// upload protocol under /admin/v1/objects/ and the public GETs under
// /bundles/.
type capshipHost struct {
	token string
	srv   *httptest.Server

	mu      sync.Mutex
	objects map[string][]byte
	// fail, when set, may answer a PUT itself (true: answered).
	fail func(w http.ResponseWriter, r *http.Request) bool

	puts, heads atomic.Int64
}

func newCapshipHost(t *testing.T) *capshipHost {
	h := &capshipHost{token: "s3cret-token", objects: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/admin/v1/objects/{key...}", h.admin)
	mux.HandleFunc("GET /bundles/{key...}", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		b, ok := h.objects[r.PathValue("key")]
		h.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	})
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *capshipHost) admin(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "message": msg})
	}
	if r.Method == http.MethodHead {
		h.heads.Add(1)
	} else {
		h.puts.Add(1)
	}
	if r.Header.Get("Authorization") != "Bearer "+h.token {
		fail(http.StatusUnauthorized, "unauthorized", "bad token")
		return
	}
	key := r.PathValue("key")
	h.mu.Lock()
	have, ok := h.objects[key]
	h.mu.Unlock()
	switch r.Method {
	case http.MethodHead:
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		sum := sha256.Sum256(have)
		w.Header().Set("X-Capship-Sha256", hex.EncodeToString(sum[:]))
		w.Header().Set("Content-Length", strconv.Itoa(len(have)))
	case http.MethodPut:
		if h.fail != nil && h.fail(w, r) {
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		sum := sha256.Sum256(body)
		got := hex.EncodeToString(sum[:])
		if got != r.Header.Get("X-Capship-Sha256") || int64(len(body)) != r.ContentLength {
			fail(http.StatusBadRequest, "bad_hash", "hash mismatch")
			return
		}
		status := http.StatusCreated
		if ok {
			if string(have) != string(body) {
				fail(http.StatusConflict, "conflict", "other bytes")
				return
			}
			status = http.StatusOK
		}
		h.mu.Lock()
		h.objects[key] = body
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"key": key, "url": h.srv.URL + "/bundles/" + key, "size": len(body), "sha256": got})
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// buildUploadBundle builds a bundle with a delta from writeDeltaFolder.
func buildUploadBundle(t *testing.T) *Manifest {
	t.Helper()
	web := t.TempDir()
	writeDeltaFolder(t, web)
	m, err := Build(t.Context(), buildOptions(t, web), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Delta == nil {
		t.Fatal("the build wrote no delta")
	}
	return m
}

// fastRetry keeps a test's retry waits short.
var fastRetry = UploadOptions{Backoff: 10 * time.Millisecond}

func TestUploadCapship(t *testing.T) {
	m := buildUploadBundle(t)
	h := newCapshipHost(t)
	st, err := NewCapshipStore(h.srv.URL, h.token, nil)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := UploadPlan(m)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		last Event
		seen []Phase
	)
	opt := fastRetry
	opt.Report = func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Phase == PhaseUpload {
			if e.Bytes < 0 || e.Bytes > e.TotalBytes || e.Files > e.TotalFiles {
				t.Errorf("event out of bounds: %+v", e)
			}
			last = e
		}
		if len(seen) == 0 || seen[len(seen)-1] != e.Phase {
			seen = append(seen, e.Phase)
		}
	}
	res, err := Upload(t.Context(), m, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	zipKey, filesKey := UploadKeys(m)
	if want := h.srv.URL + "/bundles/" + zipKey; res.URL != want {
		t.Errorf("url %s, want %s", res.URL, want)
	}
	if want := h.srv.URL + "/bundles/" + filesKey; res.FilesURL != want {
		t.Errorf("files_url %s, want %s", res.FilesURL, want)
	}
	if res.Objects != len(plan) || res.Uploaded != len(plan) || res.Skipped != 0 {
		t.Errorf("objects %d uploaded %d skipped %d, want %d, %d, 0", res.Objects, res.Uploaded, res.Skipped, len(plan), len(plan))
	}
	if !res.Checked() {
		t.Errorf("download-back check failed: %+v %+v", res.Check, res.ObjectsCheck)
	}
	if last.Files != len(plan) || last.Bytes != res.TotalBytes {
		t.Errorf("last upload event %+v, want %d objects and %d bytes", last, len(plan), res.TotalBytes)
	}
	if strings.Join(phasesText(seen), ",") != "upload,done,download,done,download,done" {
		t.Errorf("phases %v", seen)
	}
	for _, o := range plan {
		if _, ok := h.objects[o.Key]; !ok {
			t.Errorf("%s not stored", o.Key)
		}
	}

	// A second run sends nothing again but, from a new client that has not
	// learnt the public URL yet, the one (smallest) object that tells it.
	puts := h.puts.Load()
	st2, _ := NewCapshipStore(h.srv.URL, h.token, nil)
	res2, err := Upload(t.Context(), m, st2, fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Skipped != len(plan) || res2.Uploaded != 0 || h.puts.Load() != puts+1 || !res2.Checked() {
		t.Errorf("second run: skipped %d uploaded %d, %d more PUTs, checked %v; want %d, 0, 1, true", res2.Skipped, res2.Uploaded, h.puts.Load()-puts, res2.Checked(), len(plan))
	}
	if res2.URL != res.URL || res2.FilesURL != res.FilesURL {
		t.Errorf("second run: url %s files_url %s, want %s and %s", res2.URL, res2.FilesURL, res.URL, res.FilesURL)
	}

	// A damaged hosted object is found by the check, not skipped silently.
	h.mu.Lock()
	h.objects[plan[1].Key] = []byte("other bytes")
	h.mu.Unlock()
	if _, err := Upload(t.Context(), m, st, fastRetry); !errors.Is(err, ErrObjectConflict) {
		t.Errorf("damaged object: %v, want ErrObjectConflict", err)
	}
}

func phasesText(ps []Phase) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

func TestUploadCapshipRefused(t *testing.T) {
	m := buildUploadBundle(t)
	h := newCapshipHost(t)
	st, err := NewCapshipStore(h.srv.URL, "wrong-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Upload(t.Context(), m, st, UploadOptions{Parallel: 1, Backoff: time.Millisecond})
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "refused the admin token") {
		t.Fatalf("err %v, want ErrAccessDenied saying what to check", err)
	}
	if n := h.heads.Load() + h.puts.Load(); n != 1 {
		t.Errorf("%d requests, want 1: a 401 is not retried", n)
	}
}

func TestUploadCapshipRetries(t *testing.T) {
	m := buildUploadBundle(t)
	h := newCapshipHost(t)
	var calls atomic.Int64
	h.fail = func(w http.ResponseWriter, r *http.Request) bool {
		switch calls.Add(1) {
		case 1: // a dropped connection mid-upload
			io.CopyN(io.Discard, r.Body, 100)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return true
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		case 3:
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	}
	st, _ := NewCapshipStore(h.srv.URL, h.token, nil)
	opt := fastRetry
	opt.Parallel = 1
	res, err := Upload(t.Context(), m, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Retries != 3 || !res.Checked() {
		t.Errorf("retries %d (want 3), checked %v", res.Retries, res.Checked())
	}

	// A full disk is not transient.
	h.fail = func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusInsufficientStorage)
		return true
	}
	puts := h.puts.Load()
	for k := range h.objects {
		delete(h.objects, k)
	}
	if _, err := Upload(t.Context(), m, st, opt); err == nil || !strings.Contains(err.Error(), "disk is full") {
		t.Errorf("full disk: %v", err)
	}
	if n := h.puts.Load() - puts; n != 1 {
		t.Errorf("%d PUTs after a 507, want 1", n)
	}
}
