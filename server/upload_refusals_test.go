package server_test

// What `capship bundle upload` and `capship release register` refuse, run
// as the built binary against `capship serve --storage`: a wrong token, an
// upload whose connections break, names that climb out of their folder,
// and hosted bytes that changed after the upload.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"capship/workflow"
	"capship/workflow/uploadtest"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// capshipFails runs one command of the binary and returns its stdout and
// stderr; the test fails unless it exits non-zero.
func capshipFails(t *testing.T, bin string, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := runCapship(t.TempDir(), bin, args...)
	if _, exited := err.(*exec.ExitError); !exited {
		t.Fatalf("capship %s: %v, want a non-zero exit\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, stderr
}

// storageServe is `capship serve --storage` with a token of one app.
type storageServe struct {
	*serveProcess
	dir, db, app, token string
}

func startStorageServe(t *testing.T, bin, app string) storageServe {
	t.Helper()
	s := storageServe{dir: t.TempDir(), db: filepath.Join(t.TempDir(), "registry.db"), app: app}
	s.serveProcess = startServe(t, bin, s.db, "--storage", s.dir)
	var tok struct{ Token string }
	capship(t, bin, &tok, "token", "create", "uploader", "--app", app, "--db", s.db, "--json")
	s.token = tok.Token
	return s
}

// objects lists the keys the storage folder holds: key -> sha256 of the
// bytes.
func (s storageServe) objects(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == s.dir {
			return err
		}
		if d.Name() == ".capship" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(s.dir, p)
			out[filepath.ToSlash(rel)] = fileSHA256(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// uploadsInProgress lists the temp files of uploads not finished.
func (s storageServe) uploadsInProgress() []string {
	names, _ := filepath.Glob(filepath.Join(s.dir, ".capship", "tmp", "*"))
	return names
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(data))
}

// builtObjects maps each key an upload of m writes to the sha256 of its
// bytes.
func builtObjects(t *testing.T, m *workflow.Manifest) map[string]string {
	t.Helper()
	plan, err := workflow.UploadPlan(m)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range plan {
		out[o.Key] = o.SHA256
	}
	return out
}

// newBundle builds release 1.0.1 of app with the binary, from the delta
// test's web folder with files added or replaced, and a new key.
func newBundle(t *testing.T, bin, app string, files map[string]string) *workflow.Manifest {
	t.Helper()
	keyFile, _ := newKeyFiles(t, bin)
	return buildBundle(t, bin, keyFile, app, "1.0.1", deltaWebFolder(t, "1.0.1", files))
}

// bigDeltaBundle is a release whose zip and one object are far larger than
// a few KiB (a photo that does not compress).
func bigDeltaBundle(t *testing.T, bin, app string) *workflow.Manifest {
	t.Helper()
	photo := make([]byte, 256<<10)
	rand.Read(photo)
	return newBundle(t, bin, app, map[string]string{"assets/img/photo.jpg": string(photo)})
}

func TestUploadWithAWrongTokenStoresNothing(t *testing.T) {
	bin := capshipBinary(t)
	const app = "com.example.refused"
	s := startStorageServe(t, bin, app)
	m := newBundle(t, bin, app, nil)
	var other struct{ Token string }
	capship(t, bin, &other, "token", "create", "other-app", "--app", "com.example.other", "--db", s.db, "--json")

	for name, token := range map[string]string{"unknown token": "capship_" + strings.Repeat("x", 43), "token of another app": other.Token} {
		t.Run(name, func(t *testing.T) {
			stdout, stderr := capshipFails(t, bin, "bundle", "upload", "--manifest", m.Manifest, "--server", s.URL, "--token", token, "--json")
			if !strings.Contains(stderr, "--token") || !strings.Contains(stderr, "token create") {
				t.Errorf("the refusal does not point at the token:\n%s", stderr)
			}
			if strings.Contains(stderr+stdout, token) {
				t.Errorf("the output shows the token")
			}
			if got := s.objects(t); len(got) != 0 {
				t.Errorf("the storage holds %v after a refused upload", got)
			}
		})
	}
}

func TestUploadToS3WithAWrongSecretStoresNothing(t *testing.T) {
	bin := capshipBinary(t)
	s3 := uploadtest.S3(t)
	bucket := s3.NewBucket(t)
	m := newBundle(t, bin, "com.example.refused", nil)
	s3.UseCredentials(t, "not-"+s3.Secret) // for the binary, through its environment
	_, stderr := capshipFails(t, bin, "bundle", "upload", "--manifest", m.Manifest, "--to", "s3://"+bucket+"/live",
		"--endpoint", s3.Endpoint, "--path-style", "--json")
	if !strings.Contains(stderr, "AWS_SECRET_ACCESS_KEY") || strings.Contains(stderr, s3.Secret) {
		t.Errorf("the refusal does not point at the secret, or shows it:\n%s", stderr)
	}
	list, err := s3.Client().ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 0 {
		t.Errorf("the bucket holds %d objects after a refused upload", len(list.Contents))
	}
}

// cuttingProxy forwards TCP connections to a server but breaks each one
// after limit bytes from the client: every upload larger than that stops
// half-sent, as on a dropped link.
type cuttingProxy struct {
	URL   string
	limit int64
	mu    sync.Mutex
	cuts  int
}

func newCuttingProxy(t *testing.T, target string, limit int64) *cuttingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{URL: "http://" + ln.Addr().String(), limit: limit}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	addr := strings.TrimPrefix(target, "http://")
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.relay(client, addr) })
		}
	})
	return p
}

func (p *cuttingProxy) relay(client net.Conn, addr string) {
	defer client.Close()
	upstream, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return
	}
	defer upstream.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(client, upstream)
		client.Close()
		close(done)
	}()
	n, _ := io.CopyN(upstream, client, p.limit)
	if n == p.limit {
		p.mu.Lock()
		p.cuts++
		p.mu.Unlock()
	}
	client.Close()
	upstream.Close()
	<-done
}

func (p *cuttingProxy) cutCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

func TestUploadBrokenOffLeavesNothingAndResumes(t *testing.T) {
	bin := capshipBinary(t)
	const app = "com.example.cut"
	s := startStorageServe(t, bin, app)
	m := bigDeltaBundle(t, bin, app)
	built := builtObjects(t, m)
	zipKey, _ := workflow.UploadKeys(m)
	proxy := newCuttingProxy(t, s.URL, 64<<10)

	_, stderr := capshipFails(t, bin, "bundle", "upload", "--manifest", m.Manifest, "--server", proxy.URL, "--token", s.token, "--json")
	if proxy.cutCount() == 0 || !strings.Contains(stderr, "tries") {
		t.Fatalf("%d connections cut; the upload's error does not say it retried:\n%s", proxy.cutCount(), stderr)
	}
	// The server finds out about a broken body when it reads it: wait for
	// the temp files to go.
	deadline := time.Now().Add(15 * time.Second)
	for len(s.uploadsInProgress()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := s.uploadsInProgress(); len(left) > 0 {
		t.Errorf("half-sent uploads left temp files: %v", left)
	}
	stored := s.objects(t)
	if _, ok := stored[zipKey]; ok {
		t.Errorf("the zip, larger than what got through, is stored")
	}
	for key, sum := range stored {
		if built[key] != sum {
			t.Errorf("stored %s with sha256 %s, built %q: a broken-off upload is visible", key, sum, built[key])
		}
	}
	res, err := http.Get(s.URL + "/bundles/" + zipKey)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET of the broken-off zip: HTTP %d, want 404", res.StatusCode)
	}

	// Straight to the server, the upload finishes, sending only what is missing.
	up := uploadBundle(t, bin, m, "--server", s.URL, "--token", s.token)
	if up.Skipped != len(stored) || up.Uploaded != up.Objects-len(stored) {
		t.Errorf("the rerun uploaded %d and skipped %d of %d objects; %d were stored already", up.Uploaded, up.Skipped, up.Objects, len(stored))
	}
	if got := s.objects(t); len(got) != len(built) {
		t.Errorf("after the rerun the storage holds %d objects, want %d", len(got), len(built))
	}
	t.Logf("broken off: %d connections cut, %d of %d objects had got through; the rerun skipped them", proxy.cutCount(), len(stored), len(built))
}

// rewriteManifest writes a copy of m's manifest beside it (so its
// relative paths hold) after edit changed it, and returns its path.
func rewriteManifest(t *testing.T, m *workflow.Manifest, name string, edit func(map[string]any)) string {
	t.Helper()
	data, err := os.ReadFile(m.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	data, _ = json.Marshal(doc)
	p := filepath.Join(filepath.Dir(m.Manifest), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUploadRefusesNamesOutOfTheirFolder(t *testing.T) {
	bin := capshipBinary(t)
	const app = "com.example.escape"
	s := startStorageServe(t, bin, app)
	var root struct{ Token string }
	capship(t, bin, &root, "token", "create", "every-app", "--db", s.db, "--json")
	m := newBundle(t, bin, app, nil)

	cases := []struct {
		name, says string
		edit       func(map[string]any)
	}{
		{"app id", "app_id", func(doc map[string]any) { doc["app_id"] = "../../" + app }},
		{"object name", "object name", func(doc map[string]any) {
			files := doc["delta"].(map[string]any)["files"].([]any)
			files[0].(map[string]any)["object"] = "../../../escaped"
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := rewriteManifest(t, m, "bad-"+strings.ReplaceAll(c.name, " ", "-")+".manifest.json", c.edit)
			_, stderr := capshipFails(t, bin, "bundle", "upload", "--manifest", bad, "--server", s.URL, "--token", root.Token)
			if !strings.Contains(stderr, c.says) || !strings.Contains(stderr, "manifest") {
				t.Errorf("the refusal does not name the manifest's %s:\n%s", c.says, stderr)
			}
			if got := s.objects(t); len(got) != 0 {
				t.Errorf("the storage holds %v", got)
			}
			var escaped []string
			filepath.WalkDir(filepath.Dir(s.dir), func(p string, d fs.DirEntry, err error) error {
				if err == nil && strings.Contains(d.Name(), "escaped") {
					escaped = append(escaped, p)
				}
				return nil
			})
			if len(escaped) > 0 {
				t.Errorf("written outside the storage: %v", escaped)
			}
		})
	}
}

// flip flips one byte of a file in place, as a damaged disk or a meddling
// host would.
func flip(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterRefusesAHostedObjectChangedAfterUpload(t *testing.T) {
	bin := capshipBinary(t)
	const app = "com.example.flipped"
	s := startStorageServe(t, bin, app)
	m := newBundle(t, bin, app, nil)
	up := uploadBundle(t, bin, m, "--server", s.URL, "--token", s.token)
	zipKey, filesKey := workflow.UploadKeys(m)
	object := objectOf(m, "assets/app.js")
	register := []string{"release", "register", "--manifest", m.Manifest, "--url", up.URL, "--files-url", up.FilesURL,
		"--server", s.URL, "--token", s.token}

	for _, c := range []struct{ name, key, says string }{
		{"a delta object", filesKey + "/" + object, object},
		{"the zip", zipKey, "sha256"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(s.dir, filepath.FromSlash(c.key))
			flip(t, path)
			defer flip(t, path)
			_, stderr := capshipFails(t, bin, register...)
			if !strings.Contains(stderr, c.says) {
				t.Errorf("the refusal does not name what differs (%s):\n%s", c.says, stderr)
			}
			var list struct {
				Releases []json.RawMessage `json:"releases"`
			}
			capship(t, bin, &list, "release", "list", "--app", app, "--db", s.db, "--json")
			if len(list.Releases) != 0 {
				t.Errorf("a refused registration left releases: %s", list.Releases)
			}
		})
	}
	// With the bytes back as uploaded, the same command registers.
	capship(t, bin, nil, append(register, "--json")...)
}
