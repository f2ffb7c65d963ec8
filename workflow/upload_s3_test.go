package workflow

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"capship/workflow/uploadtest"
)

func s3Store(t *testing.T, endpoint, bucket string) *S3Store {
	t.Helper()
	st, err := NewS3Store(t.Context(), S3Options{Bucket: bucket, Prefix: "releases", Endpoint: endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestUploadS3(t *testing.T) {
	s := uploadtest.S3(t)
	bucket := s.NewBucket(t)
	m := buildUploadBundle(t)
	plan, err := UploadPlan(m)
	if err != nil {
		t.Fatal(err)
	}
	st := s3Store(t, s.Endpoint, bucket)
	var last atomic.Pointer[Event]
	opt := UploadOptions{Report: func(e Event) {
		if e.Phase == PhaseUpload {
			last.Store(&e)
		}
	}}
	res, err := Upload(t.Context(), m, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	zipKey, filesKey := UploadKeys(m)
	base := strings.TrimRight(s.Endpoint, "/") + "/" + bucket + "/releases/"
	if res.URL != base+zipKey || res.FilesURL != base+filesKey {
		t.Errorf("url %s files_url %s, want %s and %s", res.URL, res.FilesURL, base+zipKey, base+filesKey)
	}
	if res.Uploaded != len(plan) || res.Skipped != 0 || res.Bytes != res.TotalBytes {
		t.Errorf("uploaded %d skipped %d bytes %d; want %d, 0, %d", res.Uploaded, res.Skipped, res.Bytes, len(plan), res.TotalBytes)
	}
	if !res.Checked() {
		t.Errorf("download-back check failed: %+v %+v", res.Check, res.ObjectsCheck)
	}
	if e := last.Load(); e == nil || e.Bytes != res.TotalBytes || e.Files != len(plan) {
		t.Errorf("last upload event %+v, want %d bytes, %d objects", e, res.TotalBytes, len(plan))
	}

	// The second run finds every object with its size and hash, and
	// sends nothing.
	last.Store(nil)
	res, err = Upload(t.Context(), m, s3Store(t, s.Endpoint, bucket), opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != len(plan) || res.Uploaded != 0 || !res.Checked() {
		t.Errorf("second run: skipped %d uploaded %d checked %v; want %d, 0, true", res.Skipped, res.Uploaded, res.Checked(), len(plan))
	}
	if e := last.Load(); e == nil || e.Skipped != len(plan) || e.Bytes != res.TotalBytes {
		t.Errorf("second run's last upload event %+v, want %d skipped and %d bytes done", e, len(plan), res.TotalBytes)
	}

	// The check downloads over the public URLs: a --public-base that
	// does not serve the objects fails it.
	wrong, err := NewS3Store(t.Context(), S3Options{Bucket: bucket, Prefix: "releases", Endpoint: s.Endpoint, PathStyle: true,
		PublicBase: strings.TrimRight(s.Endpoint, "/") + "/" + bucket + "/elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	res, err = Upload(t.Context(), m, wrong, UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked() || res.Check.Status != http.StatusNotFound && res.Check.Status != http.StatusForbidden {
		t.Errorf("check over a wrong public base passed or got HTTP %d", res.Check.Status)
	}
}

func TestUploadS3Multipart(t *testing.T) {
	s := uploadtest.S3(t)
	bucket := s.NewBucket(t)
	path := filepath.Join(t.TempDir(), "big")
	data := make([]byte, 11<<20+123) // three parts of 5 MiB
	rand.Read(data)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	o := UploadObject{Key: "app/big.zip", Path: path, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
	st, err := NewS3Store(t.Context(), S3Options{Bucket: bucket, Endpoint: s.Endpoint, PathStyle: true, PartSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	p := &uploadProgress{report: func(Event) {}, total: o.Size, objects: 1}
	if _, _, err := uploadOne(t.Context(), st, o, &UploadOptions{Attempts: 1}, p, false); err != nil {
		t.Fatal(err)
	}
	if p.bytes != o.Size {
		t.Errorf("progress counted %d bytes, want %d", p.bytes, o.Size)
	}
	head, err := st.client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(o.Key)})
	if err != nil {
		t.Fatal(err)
	}
	if etag := aws.ToString(head.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-3") {
		t.Errorf("ETag %s: not a multipart upload of 3 parts", etag)
	}
	info, err := st.Stat(t.Context(), o.Key)
	if err != nil || info.Size != o.Size || info.SHA256 != o.SHA256 {
		t.Errorf("stat %+v, %v; want %d bytes, sha256 %s", info, err, o.Size, o.SHA256)
	}
	u, _ := st.PublicURL(o.Key)
	check, err := CheckURL(t.Context(), nil, u, o.Size, o.SHA256, nil)
	if err != nil || !check.OK() {
		t.Errorf("download back: %v %+v", err, check)
	}
}

// dropProxy forwards loopback TCP connections to target, counting them,
// but cuts the first drops connections that start with a PUT after
// reading cut bytes of it.
type dropProxy struct {
	ln           net.Listener
	conns, drops atomic.Int64
	wg           sync.WaitGroup
}

func newDropProxy(t *testing.T, target string, drops int64, cut int64) *dropProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			p.wg.Go(func() {
				defer c.Close()
				head := make([]byte, 4)
				if _, err := io.ReadFull(c, head); err != nil {
					return
				}
				if string(head) == "PUT " && p.drops.Add(1) <= drops {
					c.SetReadDeadline(time.Now().Add(2 * time.Second))
					io.CopyN(io.Discard, c, cut)
					return
				}
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() {
					io.Copy(up, io.MultiReader(bytes.NewReader(head), c))
					up.(*net.TCPConn).CloseWrite()
				}()
				io.Copy(c, up)
			})
		}
	})
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

// oneRequestPerConnection makes the SDK open a connection for each
// request, so that a proxy's connections count requests.
func oneRequestPerConnection() aws.HTTPClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) { tr.DisableKeepAlives = true })
}

func (p *dropProxy) url() string { return "http://" + p.ln.Addr().String() }

func TestUploadS3DroppedConnection(t *testing.T) {
	s := uploadtest.S3(t)
	bucket := s.NewBucket(t)
	m := buildUploadBundle(t)
	target := strings.TrimPrefix(strings.TrimPrefix(s.Endpoint, "http://"), "https://")
	proxy := newDropProxy(t, strings.TrimRight(target, "/"), 2, 4000)
	// The uploads go through the proxy; the check downloads directly.
	st, err := NewS3Store(t.Context(), S3Options{Bucket: bucket, Endpoint: proxy.url(), PathStyle: true,
		PublicBase: strings.TrimRight(s.Endpoint, "/") + "/" + bucket, HTTPClient: oneRequestPerConnection()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Upload(t.Context(), m, st, UploadOptions{Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Checked() {
		t.Errorf("download-back check failed: %+v %+v", res.Check, res.ObjectsCheck)
	}
	if n := proxy.drops.Load(); n < 3 {
		t.Errorf("%d PUTs, want the 2 dropped and more", n)
	}
}

// refusedUpload uploads a bundle to a new bucket of the test S3 server
// with the credentials use sets, through a proxy counting connections
// (one request each); the upload must fail with ErrAccessDenied without
// being retried. It returns the bucket, the manifest and the error.
func refusedUpload(t *testing.T, use func(uploadtest.S3Server)) (string, *Manifest, error) {
	t.Helper()
	s := uploadtest.S3(t)
	bucket := s.NewBucket(t)
	m := buildUploadBundle(t)
	use(s)
	target := strings.TrimPrefix(s.Endpoint, "http://")
	proxy := newDropProxy(t, strings.TrimRight(target, "/"), 0, 0)
	st, err := NewS3Store(t.Context(), S3Options{Bucket: bucket, Endpoint: proxy.url(), PathStyle: true, HTTPClient: oneRequestPerConnection()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Upload(t.Context(), m, st, UploadOptions{Parallel: 1})
	if !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("err %v, want ErrAccessDenied", err)
	}
	// The HEAD's 403 may only mean no s3:ListBucket; the PUT's is the
	// refusal: never retried.
	if n := proxy.conns.Load(); n > 2 {
		t.Errorf("%d requests for a refused bucket, want at most 2 (HEAD, PUT): a 403 is not retried", n)
	}
	t.Log(err)
	return bucket, m, err
}

func TestUploadS3Refused(t *testing.T) {
	_, _, err := refusedUpload(t, func(s uploadtest.S3Server) { s.UseCredentials(t, s.Secret+"-wrong") })
	if !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("err %q does not say what to check", err)
	}
}

// A bucket that refuses the uploader (its policy, not the keys): a 403
// AccessDenied from a real account the bucket does not let in, said as
// such, and nothing stored.
func TestUploadS3BucketRefuses(t *testing.T) {
	bucket, m, err := refusedUpload(t, func(s uploadtest.S3Server) { s.UseUser(t) })
	for _, want := range []string{"bucket refused", "s3:PutObject", "bucket policy"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err %q lacks %q", err, want)
		}
	}
	zipKey, _ := UploadKeys(m)
	if _, err := uploadtest.S3(t).Client().HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(zipKey)}); err == nil {
		t.Error("the refused upload stored the bundle")
	}
}

func TestS3PublicBase(t *testing.T) {
	for _, c := range []struct {
		opt  S3Options
		want string
	}{
		{S3Options{Bucket: "b", Region: "eu-west-3"}, "https://b.s3.eu-west-3.amazonaws.com"},
		// --path-style on AWS (a bucket with dots, which no certificate of
		// BUCKET.s3.REGION.amazonaws.com covers): the URL the SDK uses.
		{S3Options{Bucket: "shop.bundles", Region: "eu-west-3", PathStyle: true}, "https://s3.eu-west-3.amazonaws.com/shop.bundles"},
		{S3Options{Bucket: "b", Endpoint: "https://acc.r2.cloudflarestorage.com/"}, "https://b.acc.r2.cloudflarestorage.com"},
		{S3Options{Bucket: "b", Endpoint: "http://127.0.0.1:9000", PathStyle: true}, "http://127.0.0.1:9000/b"},
		{S3Options{Bucket: "b", Endpoint: "http://127.0.0.1:9000", PublicBase: "https://cdn.example.com/x/"}, "https://cdn.example.com/x"},
	} {
		got, err := s3PublicBase(c.opt)
		if err != nil || got != c.want {
			t.Errorf("%+v: %q, %v; want %q", c.opt, got, err, c.want)
		}
	}
	if _, err := s3PublicBase(S3Options{Bucket: "b", Endpoint: "not a url"}); !errors.Is(err, ErrBadURL) {
		t.Errorf("bad endpoint: %v", err)
	}
}

func TestParseS3URL(t *testing.T) {
	for raw, want := range map[string][2]string{
		"s3://bucket":             {"bucket", ""},
		"s3://bucket/":            {"bucket", ""},
		"s3://bucket/a/b/":        {"bucket", "a/b"},
		"https://bucket/a":        {},
		"s3:///a":                 {},
		"s3://bucket/a?versionId": {},
	} {
		b, p, err := ParseS3URL(raw)
		if want[0] == "" {
			if !errors.Is(err, ErrBadURL) {
				t.Errorf("%s: %q %q %v, want ErrBadURL", raw, b, p, err)
			}
			continue
		}
		if err != nil || b != want[0] || p != want[1] {
			t.Errorf("%s: %q %q %v, want %q %q", raw, b, p, err, want[0], want[1])
		}
	}
}

// headForbidden is a loopback proxy to the S3 server that answers a HEAD
// of a missing key 403, as AWS S3 does for credentials without
// s3:ListBucket on the bucket.
func headForbidden(t *testing.T, endpoint string) string {
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodHead && resp.StatusCode == http.StatusNotFound {
			resp.StatusCode, resp.Status = http.StatusForbidden, "403 Forbidden"
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Credentials that may s3:PutObject and s3:GetObject only (no
// s3:ListBucket) upload: a 403 to the HEAD of a key not there yet is not
// a refusal of the upload.
func TestUploadS3WithoutListBucket(t *testing.T) {
	s := uploadtest.S3(t)
	bucket := s.NewBucket(t)
	st, err := NewS3Store(t.Context(), S3Options{Bucket: bucket, Endpoint: headForbidden(t, s.Endpoint), PathStyle: true,
		PublicBase: strings.TrimRight(s.Endpoint, "/") + "/" + bucket})
	if err != nil {
		t.Fatal(err)
	}
	m := buildUploadBundle(t)
	res, err := Upload(t.Context(), m, st, UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != res.Objects || !res.Checked() {
		t.Errorf("uploaded %d of %d, checked %v", res.Uploaded, res.Objects, res.Checked())
	}
	// What is there now is found, and skipped.
	if res, err = Upload(t.Context(), m, st, UploadOptions{NoCheck: true}); err != nil || res.Skipped != res.Objects {
		t.Errorf("second run: %v, skipped %+v", err, res)
	}
}
