package workflow

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// An upload to a capship server that goes quiet fails with ErrStalled,
// naming the URL and the bytes that moved, instead of hanging: when the
// server stops reading the body, and when it read it all but never
// answers. A stall is worth another try.
func TestUploadCapshipStall(t *testing.T) {
	data := make([]byte, 16<<20) // more than loopback's socket buffers hold
	rand.Read(data)
	sum := sha256.Sum256(data)
	o := UploadObject{Key: "com.example.app/" + strings.Repeat("a", 64) + ".zip", Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
	for _, c := range []struct {
		name  string
		serve func(r *http.Request)
		want  string
	}{
		{"stops reading", func(r *http.Request) { io.CopyN(io.Discard, r.Body, 64<<10) }, "nothing moved for"},
		{"never answers", func(r *http.Request) { io.Copy(io.Discard, r.Body) }, "all 16777216 bytes sent, and no answer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.serve(r)
				<-release // then nothing: no more reads, no answer
			}))
			defer srv.Close()
			defer close(release)
			st, err := NewCapshipStore(srv.URL, "token", nil)
			if err != nil {
				t.Fatal(err)
			}
			st.stallAfter = 300 * time.Millisecond
			done := make(chan error, 1)
			go func() { done <- st.Put(t.Context(), o, bytes.NewReader(data), nil) }()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the upload hung on a quiet server")
			}
			if !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), srv.URL) {
				t.Fatalf("err %v, want ErrStalled saying %q and naming the URL", err, c.want)
			}
			if c.name == "stops reading" && !strings.Contains(err.Error(), " of 16777216 bytes") {
				t.Errorf("err %q does not say how much of the body moved", err)
			}
			if !st.Retryable(err) {
				t.Error("a stall is not retried")
			}
		})
	}
}

// The same for an S3 endpoint that goes quiet: the SDK's connections
// fail a read or write that moves nothing, and the upload says it stalled
// rather than hanging.
func TestUploadS3Stall(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // reads nothing more, answers nothing
	}))
	defer srv.Close()
	defer close(release)
	st, err := NewS3Store(t.Context(), S3Options{Bucket: "bucket", Endpoint: srv.URL, Region: "us-east-1", PathStyle: true,
		Attempts: 1, stallAfter: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := st.Stat(t.Context(), "com.example.app/"+strings.Repeat("a", 64)+".zip")
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the upload hung on a quiet S3 endpoint")
	}
	if !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), "nothing moved for 300ms") {
		t.Fatalf("err %v, want ErrStalled", err)
	}
}
