package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"capship/store"
)

// storageHarness is a server with --storage, served by Serve on a
// loopback listener (deadlines and sendfile as in production).
type storageHarness struct {
	t     *testing.T
	reg   store.Registry
	url   string
	dir   string
	token string // for every app
	app   string
}

func newStorageHarness(t *testing.T, cfg Config) *storageHarness {
	t.Helper()
	reg := openRegistry(t, "sqlite")
	cfg.Registry = reg
	if cfg.Storage == "" {
		cfg.Storage = t.TempDir()
	}
	addr := serveLoopback(t, cfg)
	secret, _, err := reg.CreateToken(context.Background(), "uploader", "")
	if err != nil {
		t.Fatal(err)
	}
	return &storageHarness{t: t, reg: reg, url: "http://" + addr, dir: cfg.Storage, token: secret, app: "com.example.shop"}
}

// object is random bytes with their sha256.
type object struct {
	data []byte
	sum  string
}

func newObject(n int) object {
	b := make([]byte, n)
	rand.Read(b)
	s := sha256.Sum256(b)
	return object{b, hex.EncodeToString(s[:])}
}

func (h *storageHarness) zipKey(o object) string { return h.app + "/" + o.sum + ".zip" }

// request sends one request and returns the answer with its body read.
func (h *storageHarness) request(req *http.Request) (*http.Response, []byte) {
	h.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return res, body
}

// put uploads data under key with the token and declared sum.
func (h *storageHarness) put(key, token string, data []byte, sum string) (*http.Response, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest("PUT", h.url+"/admin/v1/objects/"+key, bytes.NewReader(data))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if sum != "" {
		req.Header.Set("X-Capship-Sha256", sum)
	}
	return h.request(req)
}

func (h *storageHarness) get(key string, header ...string) (*http.Response, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.url+"/bundles/"+key, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return h.request(req)
}

// errorCode is the "error" field of a JSON answer.
func errorCode(body []byte) string {
	var e struct{ Error string }
	json.Unmarshal(body, &e)
	return e.Error
}

// leftovers lists the files under the temp folder.
func (h *storageHarness) leftovers() []string {
	des, _ := os.ReadDir(filepath.Join(h.dir, storageTmp))
	var out []string
	for _, d := range des {
		out = append(out, d.Name())
	}
	return out
}

func TestStorageServesWhatWasUploaded(t *testing.T) {
	h := newStorageHarness(t, Config{})
	o := newObject(3<<20 + 17)
	key := h.zipKey(o)
	res, body := h.put(key, h.token, o.data, o.sum)
	var ans objectAnswer
	if err := json.Unmarshal(body, &ans); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: HTTP %d %s", res.StatusCode, body)
	}
	if want := (objectAnswer{Key: key, URL: h.url + "/bundles/" + key, Size: int64(len(o.data)), SHA256: o.sum}); ans != want {
		t.Errorf("PUT answered %+v, want %+v", ans, want)
	}
	etag := `"` + o.sum + `"`

	res, body = h.get(key)
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, o.data) {
		t.Fatalf("GET: HTTP %d, %d bytes (want %d, equal)", res.StatusCode, len(body), len(o.data))
	}
	for k, want := range map[string]string{"ETag": etag, "Cache-Control": "public, max-age=31536000, immutable",
		"Content-Type": "application/zip", "Accept-Ranges": "bytes", "Content-Length": fmt.Sprint(len(o.data))} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("GET %s: %q, want %q", k, got, want)
		}
	}

	t.Run("HEAD", func(t *testing.T) {
		req, _ := http.NewRequest("HEAD", h.url+"/bundles/"+key, nil)
		res, body := h.request(req)
		if res.StatusCode != 200 || len(body) != 0 || res.ContentLength != int64(len(o.data)) || res.Header.Get("ETag") != etag {
			t.Errorf("HEAD: HTTP %d, length %d, ETag %q", res.StatusCode, res.ContentLength, res.Header.Get("ETag"))
		}
	})
	t.Run("Range and resume", func(t *testing.T) {
		res, body := h.get(key, "Range", "bytes=100-199")
		if res.StatusCode != http.StatusPartialContent || !bytes.Equal(body, o.data[100:200]) {
			t.Errorf("Range 100-199: HTTP %d, %d bytes", res.StatusCode, len(body))
		}
		if got, want := res.Header.Get("Content-Range"), fmt.Sprintf("bytes 100-199/%d", len(o.data)); got != want {
			t.Errorf("Content-Range %q, want %q", got, want)
		}
		// A download that broke off at 1 MiB resumes from there, if the
		// object is still the same.
		from := 1 << 20
		res, body = h.get(key, "Range", fmt.Sprintf("bytes=%d-", from), "If-Range", etag)
		if res.StatusCode != http.StatusPartialContent || !bytes.Equal(body, o.data[from:]) {
			t.Errorf("resume with If-Range: HTTP %d, %d bytes, want 206 and the %d remaining", res.StatusCode, len(body), len(o.data)-from)
		}
		res, body = h.get(key, "Range", fmt.Sprintf("bytes=%d-", from), "If-Range", `"`+strings.Repeat("0", 64)+`"`)
		if res.StatusCode != http.StatusOK || !bytes.Equal(body, o.data) {
			t.Errorf("If-Range with another ETag: HTTP %d, %d bytes, want 200 and the whole object", res.StatusCode, len(body))
		}
		res, _ = h.get(key, "Range", fmt.Sprintf("bytes=%d-", len(o.data)+10))
		if res.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("Range past the end: HTTP %d, want 416", res.StatusCode)
		}
	})
	t.Run("If-None-Match", func(t *testing.T) {
		res, body := h.get(key, "If-None-Match", etag)
		if res.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("If-None-Match: HTTP %d, %d bytes, want 304", res.StatusCode, len(body))
		}
		res, _ = h.get(key, "If-None-Match", `"other"`)
		if res.StatusCode != http.StatusOK {
			t.Errorf("If-None-Match another ETag: HTTP %d, want 200", res.StatusCode)
		}
	})
	t.Run("admin HEAD", func(t *testing.T) {
		req, _ := http.NewRequest("HEAD", h.url+"/admin/v1/objects/"+key, nil)
		req.Header.Set("Authorization", "Bearer "+h.token)
		res, _ := h.request(req)
		if res.StatusCode != 200 || res.Header.Get("X-Capship-Sha256") != o.sum || res.ContentLength != int64(len(o.data)) {
			t.Errorf("admin HEAD: HTTP %d, sha %q, length %d", res.StatusCode, res.Header.Get("X-Capship-Sha256"), res.ContentLength)
		}
		req, _ = http.NewRequest("HEAD", h.url+"/admin/v1/objects/"+h.app+"/"+strings.Repeat("ab", 32)+".zip", nil)
		req.Header.Set("Authorization", "Bearer "+h.token)
		if res, _ := h.request(req); res.StatusCode != 404 {
			t.Errorf("admin HEAD of a missing object: HTTP %d, want 404", res.StatusCode)
		}
		req.Header.Del("Authorization")
		if res, _ := h.request(req); res.StatusCode != 401 {
			t.Errorf("admin HEAD without a token: HTTP %d, want 401", res.StatusCode)
		}
	})
	t.Run("delta object", func(t *testing.T) {
		d := newObject(4096)
		dkey := h.app + "/" + o.sum + ".files/" + d.sum
		if res, body := h.put(dkey, h.token, d.data, d.sum); res.StatusCode != 201 {
			t.Fatalf("PUT delta object: HTTP %d %s", res.StatusCode, body)
		}
		res, body := h.get(dkey)
		if res.StatusCode != 200 || !bytes.Equal(body, d.data) || res.Header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("GET delta object: HTTP %d, %d bytes, %s", res.StatusCode, len(body), res.Header.Get("Content-Type"))
		}
	})
	t.Run("missing object", func(t *testing.T) {
		res, body := h.get(h.app + "/" + strings.Repeat("cd", 32) + ".zip")
		if res.StatusCode != 404 || errorCode(body) != "not_found" || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("GET missing: HTTP %d %s", res.StatusCode, body)
		}
	})
	t.Run("the ETag survives a lost sidecar", func(t *testing.T) {
		side := filepath.Join(h.dir, storageSums, filepath.FromSlash(key))
		if err := os.WriteFile(side, []byte(strings.Repeat("0", 64)+" 1 2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if res, _ := h.get(key, "Range", "bytes=0-0"); res.Header.Get("ETag") != etag {
			t.Errorf("ETag %q with a sidecar for another file, want %q", res.Header.Get("ETag"), etag)
		}
		os.Remove(side)
		if res, _ := h.get(key, "Range", "bytes=0-0"); res.Header.Get("ETag") != etag {
			t.Errorf("ETag %q without a sidecar, want %q", res.Header.Get("ETag"), etag)
		}
		if b, err := os.ReadFile(side); err != nil || !strings.HasPrefix(string(b), o.sum+" ") {
			t.Errorf("sidecar not rewritten: %q, %v", b, err)
		}
	})
}

func TestStorageUploadsAreImmutableAndIdempotent(t *testing.T) {
	h := newStorageHarness(t, Config{})
	o := newObject(64 << 10)
	key := h.zipKey(o)
	if res, body := h.put(key, h.token, o.data, o.sum); res.StatusCode != 201 {
		t.Fatalf("PUT: HTTP %d %s", res.StatusCode, body)
	}
	path := filepath.Join(h.dir, filepath.FromSlash(key))
	before, _ := os.Stat(path)

	res, body := h.put(key, h.token, o.data, o.sum)
	if res.StatusCode != 200 || errorCode(body) != "" {
		t.Errorf("same bytes again: HTTP %d %s, want 200", res.StatusCode, body)
	}
	if after, _ := os.Stat(path); !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the re-upload rewrote the object")
	}
	// Same declared sum, other bytes: still refused as a mismatch.
	bad := bytes.Clone(o.data)
	bad[7] ^= 1
	if res, body := h.put(key, h.token, bad, o.sum); res.StatusCode != 400 || errorCode(body) != "digest_mismatch" {
		t.Errorf("same sum, other bytes: HTTP %d %s, want 400 digest_mismatch", res.StatusCode, body)
	}
	other := newObject(1000)
	if res, body := h.put(key, h.token, other.data, other.sum); res.StatusCode != 409 || errorCode(body) != "object_exists" {
		t.Errorf("other bytes under the key: HTTP %d %s, want 409", res.StatusCode, body)
	}
	if res, body := h.get(key); !bytes.Equal(body, o.data) {
		t.Errorf("after the refused uploads GET gives HTTP %d and other bytes", res.StatusCode)
	}
	if left := h.leftovers(); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestStorageRefusesBadUploads(t *testing.T) {
	h := newStorageHarness(t, Config{MaxObjectSize: 1 << 20})
	ctx := context.Background()
	o := newObject(10 << 10)
	key := h.zipKey(o)

	reg := openRegistry(t, "sqlite") // a registry of its own, for tokens unknown to the server
	stranger, _, _ := reg.CreateToken(ctx, "stranger", "")
	for _, c := range []struct {
		name, token string
		status      int
	}{
		{"no token", "", 401},
		{"wrong token", stranger, 401},
	} {
		if res, body := h.put(key, c.token, o.data, o.sum); res.StatusCode != c.status {
			t.Errorf("%s: HTTP %d %s, want %d", c.name, res.StatusCode, body, c.status)
		}
	}
	t.Run("app-scoped token", func(t *testing.T) {
		scoped, _, err := h.reg.CreateToken(ctx, "other-app", "com.example.other")
		if err != nil {
			t.Fatal(err)
		}
		if res, body := h.put(key, scoped, o.data, o.sum); res.StatusCode != 403 || errorCode(body) != "forbidden" {
			t.Errorf("token of another app: HTTP %d %s, want 403", res.StatusCode, body)
		}
		own := "com.example.other/" + o.sum + ".zip"
		if res, body := h.put(own, scoped, o.data, o.sum); res.StatusCode != 201 {
			t.Errorf("token of the app: HTTP %d %s, want 201", res.StatusCode, body)
		}
	})

	t.Run("missing Content-Length", func(t *testing.T) {
		req, _ := http.NewRequest("PUT", h.url+"/admin/v1/objects/"+key, io.MultiReader(bytes.NewReader(o.data))) // unknown length: chunked
		req.Header.Set("Authorization", "Bearer "+h.token)
		req.Header.Set("X-Capship-Sha256", o.sum)
		if res, body := h.request(req); res.StatusCode != http.StatusLengthRequired {
			t.Errorf("chunked upload: HTTP %d %s, want 411", res.StatusCode, body)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := newObject(1<<20 + 1)
		if res, body := h.put(h.zipKey(big), h.token, big.data, big.sum); res.StatusCode != 413 {
			t.Errorf("upload past --max-object-size: HTTP %d %s, want 413", res.StatusCode, body)
		}
	})
	t.Run("missing sha256", func(t *testing.T) {
		if res, body := h.put(key, h.token, o.data, ""); res.StatusCode != 400 || !strings.Contains(string(body), "X-Capship-Sha256") {
			t.Errorf("no X-Capship-Sha256: HTTP %d %s", res.StatusCode, body)
		}
	})
	t.Run("sha256 mismatch", func(t *testing.T) {
		other := newObject(10)
		if res, body := h.put(key, h.token, o.data, other.sum); res.StatusCode != 400 || errorCode(body) != "digest_mismatch" {
			t.Errorf("wrong X-Capship-Sha256: HTTP %d %s", res.StatusCode, body)
		}
		if res, _ := h.get(key); res.StatusCode != 404 {
			t.Errorf("after a mismatch GET answers %d, want 404", res.StatusCode)
		}
		if left := h.leftovers(); len(left) != 0 {
			t.Errorf("temp files left: %v", left)
		}
	})
}

func TestStorageInterruptedUploadLeavesNothing(t *testing.T) {
	h := newStorageHarness(t, Config{})
	o := newObject(1 << 20)
	key := h.zipKey(o)
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /admin/v1/objects/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nX-Capship-Sha256: %s\r\nContent-Length: %d\r\n\r\n",
		key, h.token, o.sum, len(o.data))
	conn.Write(o.data[:300<<10])
	// The server is writing the temp file: wait until it exists, so the
	// test sees it go, then hang up mid-body.
	waitFor(t, "a temp file while the upload runs", func() bool { return len(h.leftovers()) == 1 })
	conn.Close()
	waitFor(t, "the temp file to go", func() bool { return len(h.leftovers()) == 0 })
	if res, _ := h.get(key); res.StatusCode != 404 {
		t.Errorf("after a broken-off upload GET answers %d, want 404", res.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(h.dir, filepath.FromSlash(key))); !os.IsNotExist(err) {
		t.Errorf("object file after a broken-off upload: %v", err)
	}
	// The whole upload then goes through.
	if res, body := h.put(key, h.token, o.data, o.sum); res.StatusCode != 201 {
		t.Errorf("upload after the broken one: HTTP %d %s", res.StatusCode, body)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}

// rawRequest sends a request line as is (no client cleans or escapes it)
// and returns the status.
func (h *storageHarness) rawRequest(method, target string, body []byte) (int, string) {
	h.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	sum := sha256.Sum256(body)
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nX-Capship-Sha256: %x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		method, target, h.token, sum, len(body), body)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(out)
}

func TestStorageStaysInsideItsFolder(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "storage")
	secret := "top secret, outside the storage folder"
	os.WriteFile(filepath.Join(parent, "secret"), []byte(secret), 0o644)
	os.WriteFile(filepath.Join(parent, "secret.zip"), []byte(secret), 0o644)
	h := newStorageHarness(t, Config{Storage: dir})
	hex64 := strings.Repeat("ab", 32)
	// Symlinks inside DIR that lead out of it: a bundle and an app folder.
	os.MkdirAll(filepath.Join(dir, h.app), 0o755)
	os.Symlink(filepath.Join(parent, "secret.zip"), filepath.Join(dir, h.app, hex64+".zip"))
	os.MkdirAll(filepath.Join(parent, "elsewhere"), 0o755)
	os.WriteFile(filepath.Join(parent, "elsewhere", hex64+".zip"), []byte(secret), 0o644)
	os.Symlink(filepath.Join(parent, "elsewhere"), filepath.Join(dir, "com.example.linked"))

	targets := []string{
		"/bundles/../secret",
		"/bundles/..%2fsecret",
		"/bundles/%2e%2e/secret",
		"/bundles/%2e%2e%2fsecret.zip",
		"/bundles/" + h.app + "/..%2f..%2fsecret.zip",
		"/bundles/" + h.app + "%2f" + hex64 + ".zip",
		"/bundles/" + h.app + "/" + hex64 + ".files/..",
		"/bundles/" + h.app + "/" + hex64 + ".files/%2e%2e",
		"/bundles/" + h.app + "/" + hex64 + ".files/..%5c..%5csecret",
		"/bundles/" + h.app + "\\..\\..\\secret.zip",
		"/bundles//" + filepath.Join(parent, "secret.zip"),
		"/bundles/" + filepath.Join(parent, "secret.zip"),
		"/bundles/..",
		"/bundles/.capship/tmp/x",
		"/bundles/" + h.app + "/" + strings.ToUpper(hex64) + ".zip",
		"/bundles/" + h.app + "/" + hex64 + ".zip/x",
		"/bundles/" + h.app + "/" + hex64 + ".files",
		"/bundles/" + h.app + "/" + hex64 + ".files/a/b",
		"/bundles/" + h.app + "/" + hex64 + ".zip",      // the symlink out
		"/bundles/com.example.linked/" + hex64 + ".zip", // through the linked folder
	}
	for _, target := range targets {
		for _, method := range []string{"GET", "PUT"} {
			status, body := h.rawRequest(method, strings.Replace(target, "/bundles/", map[string]string{"GET": "/bundles/", "PUT": "/admin/v1/objects/"}[method], 1), []byte("planted"))
			if os.Getenv("SHOW") != "" {
				t.Logf("%s %s: %d %.90s", method, target, status, body)
			}
			if status < 300 || strings.Contains(body, secret) {
				t.Errorf("%s %s: HTTP %d %q", method, target, status, body)
			}
		}
	}
	// Nothing was written outside DIR, and the secret is intact.
	err := filepath.WalkDir(parent, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			if b, _ := os.ReadFile(p); string(b) != secret {
				t.Errorf("%s holds %q", p, b)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStorageOff(t *testing.T) {
	h := newHarness(t, openRegistry(t, "sqlite"), Config{})
	key := "com.example.shop/" + strings.Repeat("ab", 32) + ".zip"
	for _, method := range []string{"GET", "PUT"} {
		path := map[string]string{"GET": "/bundles/", "PUT": "/admin/v1/objects/"}[method] + key
		status, body := h.do(method, path, h.token, []byte("x"))
		if status != 404 || errorCode(body) != "storage_off" || !strings.Contains(string(body), "--storage") {
			t.Errorf("%s %s without --storage: HTTP %d %s", method, path, status, body)
		}
	}
}

func TestStorageRemovesStaleTempFilesAtStart(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, filepath.FromSlash(storageTmp))
	os.MkdirAll(tmp, 0o755)
	os.WriteFile(filepath.Join(tmp, "put-crashed"), []byte("half an upload"), 0o644)
	h := newStorageHarness(t, Config{Storage: dir})
	if left := h.leftovers(); len(left) != 0 {
		t.Errorf("temp files after start: %v", left)
	}
}

func TestStorageKeys(t *testing.T) {
	hex64 := strings.Repeat("0f", 32)
	for key, ok := range map[string]bool{
		"com.example.app/" + hex64 + ".zip":                  true,
		"com.example.app/" + hex64 + ".files/" + hex64:       true,
		"com.example.app/" + hex64 + ".files/a~b_c-d.br":     true,
		"com.example.app/" + hex64 + ".files/..":             false,
		"com.example.app/" + hex64 + ".files/.":              false,
		"com.example.app/" + hex64 + ".files/":               false,
		"com.example.app/" + hex64 + ".files/a b":            false,
		"com.example.app/" + hex64 + ".files/a\\b":           false,
		"com.example.app/" + hex64 + ".files":                false,
		"com.example.app/" + hex64 + ".zip.enc":              false,
		"com.example.app/" + hex64[:63] + ".zip":             false,
		"com.example.app/" + strings.ToUpper(hex64) + ".zip": false,
		".capship/" + hex64 + ".zip":                         false,
		"../" + hex64 + ".zip":                               false,
		"/" + hex64 + ".zip":                                 false,
		hex64 + ".zip":                                       false,
		"com.example.app/x/" + hex64 + ".zip":                false,
		"com.example.app/" + hex64 + ".files/a/b":            false,
	} {
		if _, err := parseObjectKey(key); (err == nil) != ok {
			t.Errorf("parseObjectKey(%q) = %v, want ok %v", key, err, ok)
		}
	}
}

func TestStorageConcurrentUploadsOfOneObject(t *testing.T) {
	h := newStorageHarness(t, Config{})
	o := newObject(256 << 10)
	key := h.zipKey(o)
	statuses := make(chan int, 8)
	for range cap(statuses) {
		go func() {
			req, _ := http.NewRequest("PUT", h.url+"/admin/v1/objects/"+key, bytes.NewReader(o.data))
			req.Header.Set("Authorization", "Bearer "+h.token)
			req.Header.Set("X-Capship-Sha256", o.sum)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			statuses <- res.StatusCode
		}()
	}
	count := map[int]int{}
	for range cap(statuses) {
		count[<-statuses]++
	}
	if count[201] != 1 || count[200] != cap(statuses)-1 {
		t.Errorf("8 uploads of one object at once: statuses %v, want one 201 and seven 200", count)
	}
	if res, body := h.get(key); !bytes.Equal(body, o.data) {
		t.Errorf("GET after the uploads: HTTP %d, other bytes", res.StatusCode)
	}
	if left := h.leftovers(); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

// slowReader hands out its bytes in small pieces with a pause before each.
type slowReader struct {
	data  []byte
	piece int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.pause)
	n := copy(p[:min(len(p), s.piece)], s.data)
	s.data = s.data[n:]
	return n, nil
}

// A slow but steady upload takes longer than ReadTimeout and still goes
// through: the deadline moves on as bytes arrive.
func TestStorageSlowUploadOutlastsReadTimeout(t *testing.T) {
	// Timeouts of a second, a piece every quarter second: a margin that
	// a loaded machine's scheduling does not eat, and 2.5 s in all.
	h := newStorageHarness(t, Config{ReadTimeout: time.Second, WriteTimeout: time.Second})
	o := newObject(40 << 10)
	req, _ := http.NewRequest("PUT", h.url+"/admin/v1/objects/"+h.zipKey(o), &slowReader{data: o.data, piece: 4 << 10, pause: 250 * time.Millisecond})
	req.ContentLength = int64(len(o.data))
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("X-Capship-Sha256", o.sum)
	start := time.Now()
	res, body := h.request(req)
	if took := time.Since(start); res.StatusCode != 201 || took < 2*time.Second {
		t.Errorf("upload over %v (ReadTimeout 1s): HTTP %d %s", took, res.StatusCode, body)
	}
}

// A slow but steady download takes longer than WriteTimeout and still
// completes: the deadline moves on with every chunk sent.
func TestStorageSlowDownloadOutlastsWriteTimeout(t *testing.T) {
	h := newStorageHarness(t, Config{WriteTimeout: time.Second})
	o := newObject(12 << 20) // more than loopback's socket buffers hold
	key := h.zipKey(o)
	if res, body := h.put(key, h.token, o.data, o.sum); res.StatusCode != 201 {
		t.Fatalf("PUT: HTTP %d %s", res.StatusCode, body)
	}
	res, err := http.Get(h.url + "/bundles/" + key)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	start := time.Now()
	var got bytes.Buffer
	buf := make([]byte, 256<<10)
	for {
		n, err := io.ReadFull(res.Body, buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // 48 pieces: 2.4 s in all
	}
	if took := time.Since(start); !bytes.Equal(got.Bytes(), o.data) || took < 2*time.Second {
		t.Errorf("download over %v (WriteTimeout 1s): %d of %d bytes", took, got.Len(), len(o.data))
	}
}

func TestStoragePublicURL(t *testing.T) {
	h := newStorageHarness(t, Config{PublicURL: "https://updates.example.com/bundles/"})
	o := newObject(100)
	res, body := h.put(h.zipKey(o), h.token, o.data, o.sum)
	var ans objectAnswer
	json.Unmarshal(body, &ans)
	if want := "https://updates.example.com/bundles/" + h.zipKey(o); res.StatusCode != 201 || ans.URL != want {
		t.Errorf("PUT with --public-url: HTTP %d, url %q, want %q", res.StatusCode, ans.URL, want)
	}
	for _, bad := range []string{"updates.example.com/bundles", "ftp://x/bundles", "https:///bundles", "https://x/bundles?a=1"} {
		if _, err := New(Config{Registry: h.reg, Storage: t.TempDir(), PublicURL: bad}); err == nil || !strings.Contains(err.Error(), "https://updates.example.com/bundles") {
			t.Errorf("public url %q: %v, want an error showing the form", bad, err)
		}
	}
}
