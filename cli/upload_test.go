package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"capship/server/servertest"
	"capship/store"
	"capship/workflow"
	"capship/workflow/uploadtest"
)

func TestBundleUploadFlags(t *testing.T) {
	manifest, _ := writeBundle(t, t.TempDir(), "1.0.0", testKey(t, 0))
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--to", "s3://b"}, "--manifest is required"},
		{nil, []string{"--manifest", manifest}, "say where to upload"},
		{nil, []string{"--manifest", manifest, "--server", "https://x", "--to", "s3://b"}, "exclude each other"},
		{map[string]string{"CAPSHIP_SERVER": "https://x"}, []string{"--manifest", manifest}, "--server needs --token"},
		{map[string]string{"CAPSHIP_SERVER": "https://x", "CAPSHIP_TOKEN": "t"}, []string{"--manifest", manifest, "--path-style"}, "go with --to"},
		{nil, []string{"--manifest", manifest, "--to", "https://bucket/x"}, "s3://BUCKET"},
	} {
		r := run(t, c.env, append([]string{"bundle", "upload"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.err, c.want) {
			t.Errorf("%v: exit %d, want 2 and %q\n%s", c.args, r.code, c.want, r.err)
		}
	}
	// $CAPSHIP_SERVER with --to: the bucket wins, no token needed.
	r := run(t, map[string]string{"CAPSHIP_SERVER": "https://x"}, "bundle", "upload", "--manifest", manifest, "--to", "s3://b/p", "--endpoint", "not a url")
	if r.code != 1 || !strings.Contains(r.err, "endpoint") {
		t.Errorf("--to with $CAPSHIP_SERVER: exit %d\n%s", r.code, r.err)
	}
}

func TestBundleUploadS3(t *testing.T) {
	s := uploadtest.S3(t)
	bucket := s.NewBucket(t)
	manifest, m, objects := writeUploadable(t, t.TempDir(), "1.0.0")
	args := []string{"bundle", "upload", "--manifest", manifest, "--to", "s3://" + bucket + "/rel", "--endpoint", s.Endpoint, "--path-style", "--json"}
	var got struct {
		URL      string `json:"url"`
		FilesURL string `json:"files_url"`
		Uploaded int    `json:"uploaded"`
		Skipped  int    `json:"skipped"`
		Checked  bool   `json:"checked"`
	}
	r := run(t, nil, args...)
	r.decode(t, &got)
	zipKey, filesKey := workflow.UploadKeys(m)
	base := strings.TrimRight(s.Endpoint, "/") + "/" + bucket + "/rel/"
	if got.URL != base+zipKey || got.FilesURL != base+filesKey || got.Uploaded != 1+len(objects) || got.Skipped != 0 || !got.Checked {
		t.Errorf("first upload: %+v\n%s", got, r.err)
	}
	for _, want := range []string{"url:       " + got.URL, "files_url: " + got.FilesURL, "hosted bundle is the built one", "next: capship release register"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
	run(t, nil, args...).decode(t, &got)
	if got.Uploaded != 0 || got.Skipped != 1+len(objects) || !got.Checked {
		t.Errorf("second upload: %+v", got)
	}

	// A wrong secret: exit 1 and what to check.
	s.UseCredentials(t, "wrong")
	r = run(t, nil, args...)
	if r.code != 1 || !strings.Contains(r.err, "access denied") || !strings.Contains(r.err, "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("wrong secret: exit %d\n%s", r.code, r.err)
	}
}

// writeUploadable writes a built bundle with its delta folder, as bundle
// build leaves them for bundle upload: the manifest's path, the manifest,
// and the objects by name.
func writeUploadable(t *testing.T, dir, version string) (string, *workflow.Manifest, map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest, _, objects := writeDeltaBundle(t, dir, version, testKey(t, 0), map[string]string{"index.html": "<html>", "a.js": "let a", "b.js": "let a " + version})
	m, err := workflow.ReadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(m.Delta.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range objects {
		if err := os.WriteFile(filepath.Join(m.Delta.Dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return manifest, m, objects
}

// uploadRegistered is what bundle upload --register --json prints.
type uploadRegistered struct {
	URL      string          `json:"url"`
	FilesURL string          `json:"files_url"`
	Checked  bool            `json:"checked"`
	Register *registerResult `json:"register"`
}

// One command takes a built bundle to hosted, checked and registered: on
// the capship server it was uploaded to, creating no local registry.
func TestBundleUploadRegisterOnServer(t *testing.T) {
	reg, api := servertest.StartStorage(t)
	secret, _, err := reg.CreateToken(context.Background(), "ci", testApp)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	local := filepath.Join(dir, "local.db")
	env := map[string]string{"CAPSHIP_DB": local, "CAPSHIP_TOKEN": secret}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--db", local}, "go with --register"},
		{[]string{"--allow-native-change"}, "go with --register"},
		{[]string{"--register", "--no-check"}, "drop --no-check"},
		{[]string{"--register", "--db", local}, "drop --db"},
	} {
		args := append([]string{"bundle", "upload", "--manifest", filepath.Join(dir, "none.json"), "--server", api.URL}, c.args...)
		if r := run(t, env, args...); r.code != 2 || !strings.Contains(r.err, c.want) {
			t.Errorf("%v: exit %d, want 2 and %q\n%s", c.args, r.code, c.want, r.err)
		}
	}
	for i, version := range []string{"1.0.0", "1.0.1"} {
		manifest, m, _ := writeUploadable(t, filepath.Join(dir, version), version)
		var got uploadRegistered
		run(t, env, "bundle", "upload", "--manifest", manifest, "--server", api.URL, "--register", "--channel", "beta", "--json").decode(t, &got)
		if !got.Checked || got.Register == nil || got.Register.Release == nil || got.Register.Release.Version != version ||
			got.Register.Release.URL != got.URL || got.Register.Release.FilesURL != got.FilesURL || got.Register.Server != api.URL {
			t.Fatalf("%s: %+v / %+v", version, got, got.Register)
		}
		if got.Register.Release.ZipSHA256 != m.ZipSHA256 || got.Register.URLCheck == nil || !got.Register.URLCheck.OK() || got.Register.ObjectsCheck == nil {
			t.Errorf("%s: the registration does not carry the upload's checks: %+v", version, got.Register)
		}
		ch, err := reg.Channel(context.Background(), testApp, "beta")
		if err != nil || ch.Release.Version != version || ch.Release.FileCount != 3 {
			t.Fatalf("%s: the server's beta channel: %+v, %v", version, ch, err)
		}
		if i == 1 && (ch.Previous == nil || ch.Previous.Version != "1.0.0") {
			t.Errorf("beta's previous release: %+v", ch.Previous)
		}
	}
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Errorf("a local registry was created at %s: %v", local, err)
	}
	// A version the server has is refused before anything changes.
	manifest, _, _ := writeUploadable(t, filepath.Join(dir, "again"), "1.0.1")
	if r := run(t, env, "bundle", "upload", "--manifest", manifest, "--server", api.URL, "--register", "--channel", "beta"); r.code != 1 || !strings.Contains(r.err, "already registered") {
		t.Errorf("registered twice: exit %d\n%s", r.code, r.err)
	}
}

// To an S3 bucket, registered in the local registry (--db).
func TestBundleUploadRegisterFromS3(t *testing.T) {
	s := uploadtest.S3(t)
	bucket := s.NewBucket(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "r.db")
	manifest, _, _ := writeUploadable(t, dir, "2.0.0")
	var got uploadRegistered
	run(t, nil, "bundle", "upload", "--manifest", manifest, "--to", "s3://"+bucket+"/rel", "--endpoint", s.Endpoint, "--path-style",
		"--register", "--db", db, "--json").decode(t, &got)
	if got.Register == nil || got.Register.Release.URL != got.URL || got.Register.Server != "" {
		t.Fatalf("%+v / %+v", got, got.Register)
	}
	var list struct {
		Releases []store.Release `json:"releases"`
	}
	run(t, nil, "release", "list", "--app", testApp, "--db", db, "--json").decode(t, &list)
	if len(list.Releases) != 1 || list.Releases[0].FilesURL != got.FilesURL {
		t.Errorf("release list: %+v", list.Releases)
	}
}

func TestBundleUploadServerRefused(t *testing.T) {
	manifest, _ := writeBundle(t, t.TempDir(), "1.0.0", testKey(t, 0))
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if !strings.HasPrefix(r.URL.Path, "/admin/v1/objects/"+testApp+"/") {
			t.Errorf("request to %s", r.URL.Path)
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	r := run(t, map[string]string{"CAPSHIP_SERVER": srv.URL, "CAPSHIP_TOKEN": "wrong"}, "bundle", "upload", "--manifest", manifest)
	if r.code != 1 || !strings.Contains(r.err, "refused the admin token") || !strings.Contains(r.err, "check --token") {
		t.Errorf("exit %d\n%s", r.code, r.err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1: a 401 is not retried", n)
	}
}

func TestBundleUploadS3PlainHTTPPublicBase(t *testing.T) {
	s := uploadtest.S3(t)
	bucket := s.NewBucket(t)
	manifest, _ := writeBundle(t, t.TempDir(), "1.0.0", testKey(t, 0))
	r := run(t, nil, "bundle", "upload", "--manifest", manifest, "--to", "s3://"+bucket, "--endpoint", s.Endpoint, "--path-style",
		"--public-base", "http://cdn.example.com")
	if r.code != 1 || !strings.Contains(r.err, "url:       http://cdn.example.com/"+testApp+"/") || !strings.Contains(r.err, "pass --public-base with the https://") {
		t.Errorf("exit %d\n%s", r.code, r.err)
	}
}
