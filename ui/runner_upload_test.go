package ui

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"capship/store"
	"capship/workflow"
)

// The bucket settings are remembered per app in the config folder, in a
// file written whole (no temp file left), readable back, holding no
// secret; a damaged file is an error that says what to do.
func TestRealRunnerS3Settings(t *testing.T) {
	dir := t.TempDir()
	r := NewRunner(RunnerOptions{ConfigDir: dir})
	defer r.Close()
	if set, err := r.S3Settings("com.example.shop"); err != nil || set != (S3Settings{}) {
		t.Fatalf("before the first save: %+v, %v", set, err)
	}
	want := S3Settings{Bucket: "s3://shop/live", Endpoint: "https://minio.internal:9000", Region: "eu-west-1", PathStyle: true, PublicBase: "https://cdn.example.com"}
	if err := r.SaveS3Settings("com.example.shop", want); err != nil {
		t.Fatal(err)
	}
	other := S3Settings{Bucket: "s3://other"}
	if err := r.SaveS3Settings("com.example.other", other); err != nil {
		t.Fatal(err)
	}
	if set, err := r.S3Settings("com.example.shop"); err != nil || set != want {
		t.Fatalf("read back %+v, %v; want %+v", set, err, want)
	}
	if set, _ := r.S3Settings("com.example.other"); set != other {
		t.Fatalf("another app's settings: %+v", set)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "apps"))
	if err != nil || len(entries) != 2 {
		t.Fatalf("the apps folder holds %v (%v), want the two files only", entries, err)
	}
	path := filepath.Join(dir, "apps", "com.example.shop.json")
	data, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(data), `"bucket": "s3://shop/live"`) || strings.Contains(strings.ToLower(string(data)), "secret") {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.S3Settings("com.example.shop"); err == nil || !strings.Contains(err.Error(), "delete the file") {
		t.Fatalf("a damaged file: %v", err)
	}
	if err := r.SaveS3Settings("../escape", want); err == nil {
		t.Fatal("an app id with a path was written")
	}
}

// Without any S3 credentials the upload stops before sending anything,
// with ErrNoCredentials (the Upload step then says what to set).
func TestRealRunnerS3NoCredentials(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_PROFILE": "",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_WEB_IDENTITY_TOKEN_FILE": ""} {
		t.Setenv(k, v)
	}
	r := NewRunner(RunnerOptions{ConfigDir: t.TempDir()})
	defer r.Close()
	dir := t.TempDir()
	writeProject(t, dir, "com.capship.nocreds")
	key, _ := workflow.GenerateKey()
	m, err := workflow.Build(context.Background(), workflow.BuildOptions{Dir: filepath.Join(dir, "dist"), AppID: "com.capship.nocreds",
		Version: "1.0.0", OutDir: filepath.Join(dir, "out"), Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Upload(context.Background(), bundleOf(m), workflow.UploadTarget{S3: "s3://bucket/p", Endpoint: "http://127.0.0.1:9"}, func(workflow.Event) {})
	if !errors.Is(err, workflow.ErrNoCredentials) || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("upload without credentials: %v", err)
	}
}

// The wizard's build records the app's native packages, and its
// registration is refused, naming each change, when they differ from the
// release the channel serves, unless the change is allowed or a minimum
// native version is set.
func TestRealRunnerNative(t *testing.T) {
	needKeychain(t)
	ctx := context.Background()
	dir := t.TempDir()
	r, p := keyedRunner(t, dir, "com.capship.native", RunnerOptions{DB: filepath.Join(t.TempDir(), "registry.db")})
	writeNative(t, dir, "@capacitor/camera", "6.0.0")
	build := func(version string) Bundle {
		b, err := r.Build(ctx, BuildRequest{Project: p, Dir: p.WebDir, Version: version}, func(workflow.Event) {})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := build("1.0.0")
	if b.NativePackages["@capacitor/camera"] != "6.0.0" {
		t.Fatalf("the build recorded %v", b.NativePackages)
	}
	if _, err := r.Register(ctx, Release{Bundle: b, URL: "https://cdn.example.com/1.0.0.zip", Channel: "production"}); err != nil {
		t.Fatal(err)
	}
	writeNative(t, dir, "@capacitor/camera", "6.1.0")
	b = build("1.0.1")
	rel := Release{Bundle: b, URL: "https://cdn.example.com/1.0.1.zip", Channel: "production"}
	_, err := r.Register(ctx, rel)
	var nce *store.NativeChangeError
	if !errors.As(err, &nce) || len(nce.Changes) != 1 || nce.Changes[0] != (store.NativeChange{Name: "@capacitor/camera", From: "6.0.0", To: "6.1.0"}) {
		t.Fatalf("a changed native package: %v", err)
	}
	rel.AllowNativeChange = true
	if _, err := r.Register(ctx, rel); err != nil {
		t.Fatalf("with the change allowed: %v", err)
	}
	writeNative(t, dir, "@capacitor/camera", "7.0.0")
	rel = Release{Bundle: build("1.0.2"), URL: "https://cdn.example.com/1.0.2.zip", Channel: "production", MinNative: "3.0.0"}
	if _, err := r.Register(ctx, rel); err != nil {
		t.Fatalf("with a minimum native version: %v", err)
	}
}

// The wizard's admin token goes only to the server it was started with:
// never to one read from the app's config or typed in the form, and
// $CAPSHIP_TOKEN alone (no server) is no token at all.
func TestRealRunnerTokenGoesToItsServerOnly(t *testing.T) {
	type seen struct{ auth []string }
	listen := func(t *testing.T) (string, *seen) {
		s := &seen{}
		var mu sync.Mutex
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			s.auth = append(s.auth, r.Header.Get("Authorization"))
			mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
		}))
		t.Cleanup(srv.Close)
		return srv.URL, s
	}
	dir := t.TempDir()
	writeProject(t, dir, "com.capship.token")
	key, _ := workflow.GenerateKey()
	m, err := workflow.Build(context.Background(), workflow.BuildOptions{Dir: filepath.Join(dir, "dist"), AppID: "com.capship.token",
		Version: "1.0.0", OutDir: filepath.Join(dir, "out"), Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	named, toNamed := listen(t)
	other, toOther := listen(t)
	t.Setenv("CAPSHIP_TOKEN", "capship_from_env")
	upload := func(opts RunnerOptions, server, typed string) {
		t.Helper()
		r := NewRunner(opts)
		defer r.Close()
		if _, err := r.Upload(context.Background(), bundleOf(m), workflow.UploadTarget{Server: server, Token: typed}, func(workflow.Event) {}); err == nil {
			t.Fatalf("upload to %s: no error from a server that refuses every token", server)
		}
	}
	upload(RunnerOptions{Server: named + "/", Token: "capship_named"}, named, "")
	upload(RunnerOptions{Server: named, Token: "capship_named"}, other, "")
	upload(RunnerOptions{}, other, "")
	upload(RunnerOptions{Server: named, Token: "capship_named"}, other, "capship_typed")
	if len(toNamed.auth) == 0 || toNamed.auth[0] != "Bearer capship_named" {
		t.Errorf("the named server got %q, want its token", toNamed.auth)
	}
	// Without a token for it, nothing is sent at all; with one typed,
	// that one only.
	if len(toOther.auth) == 0 {
		t.Fatal("the typed token never reached the server it was typed for")
	}
	for _, a := range toOther.auth {
		if a != "Bearer capship_typed" {
			t.Errorf("another server got %q: the wizard's token or $CAPSHIP_TOKEN went where it was not named", a)
		}
	}
}
