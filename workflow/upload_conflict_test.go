package workflow

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"capship/workflow/uploadtest"
)

// A key that already holds other bytes of the same size is a conflict on
// either storage: the upload fails with ErrObjectConflict, never skips
// the object as uploaded (the size alone proves nothing) and never
// overwrites it.
func TestUploadSameSizeOtherBytesIsAConflict(t *testing.T) {
	m := buildUploadBundle(t)
	zipKey, _ := UploadKeys(m)
	other := make([]byte, m.Size)
	rand.Read(other)
	sum := sha256.Sum256(other)
	otherSum := hex.EncodeToString(sum[:])

	t.Run("capship", func(t *testing.T) {
		h := newCapshipHost(t)
		h.objects[zipKey] = bytes.Clone(other)
		st, err := NewCapshipStore(h.srv.URL, h.token, h.srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		res, err := Upload(t.Context(), m, st, UploadOptions{NoCheck: true, Attempts: 1})
		if !errors.Is(err, ErrObjectConflict) {
			t.Fatalf("upload over other bytes of the same size: %+v, %v; want ErrObjectConflict", res, err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if !bytes.Equal(h.objects[zipKey], other) {
			t.Error("the object under the key was overwritten")
		}
	})

	t.Run("s3", func(t *testing.T) {
		s := uploadtest.S3(t)
		st := s3Store(t, s.Endpoint, s.NewBucket(t))
		path := filepath.Join(t.TempDir(), "other.zip")
		if err := os.WriteFile(path, other, 0o644); err != nil {
			t.Fatal(err)
		}
		planted := UploadObject{Key: zipKey, Path: path, Size: m.Size, SHA256: otherSum}
		if err := st.Put(t.Context(), planted, bytes.NewReader(other), func(int64) {}); err != nil {
			t.Fatal(err)
		}
		res, err := Upload(t.Context(), m, st, UploadOptions{NoCheck: true, Attempts: 1})
		if !errors.Is(err, ErrObjectConflict) {
			t.Fatalf("upload over other bytes of the same size: %+v, %v; want ErrObjectConflict", res, err)
		}
		if info, err := st.Stat(t.Context(), zipKey); err != nil || info.SHA256 != otherSum {
			t.Errorf("the object under the key is now %+v (%v), want the planted one: it was overwritten", info, err)
		}
	})
}

// A server whose answer to an upload names other bytes than the ones sent
// (the right size, another SHA-256: a proxy or a storage that changed
// them) fails the upload: what devices would download is not the build.
func TestUploadCapshipAnswerWithOtherSHA256Fails(t *testing.T) {
	m := buildUploadBundle(t)
	h := newCapshipHost(t)
	wrong := strings.Repeat("0", 64)
	h.fail = func(w http.ResponseWriter, r *http.Request) bool {
		n, _ := io.Copy(io.Discard, r.Body)
		key := r.PathValue("key")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"key": key, "url": h.srv.URL + "/bundles/" + key, "size": n, "sha256": wrong})
		return true
	}
	st, err := NewCapshipStore(h.srv.URL, h.token, h.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Upload(t.Context(), m, st, UploadOptions{NoCheck: true, Attempts: 1})
	if err == nil || !strings.Contains(err.Error(), wrong) {
		t.Fatalf("upload answered with another sha256: %+v, %v; want an error naming it", res, err)
	}
}

// The admin token never travels in plain text past this machine: plain
// http is taken for a loopback host only.
func TestUploadCapshipRefusesPlainHTTPElsewhere(t *testing.T) {
	for _, u := range []string{"http://updates.example.com", "http://10.0.0.7:8080", "http://[2001:db8::1]"} {
		if _, err := NewCapshipStore(u, "token", nil); !errors.Is(err, ErrBadURL) {
			t.Errorf("NewCapshipStore(%s): %v, want ErrBadURL", u, err)
		}
	}
	for _, u := range []string{"http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost:8080", "https://updates.example.com"} {
		if _, err := NewCapshipStore(u, "token", nil); err != nil {
			t.Errorf("NewCapshipStore(%s): %v, want it taken", u, err)
		}
	}
}
