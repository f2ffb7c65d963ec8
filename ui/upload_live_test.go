package ui

import (
	"context"
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"capship/server/servertest"
	"capship/store"
	"capship/workflow"
	"capship/workflow/uploadtest"
)

// liveRunner keeps the fake's project, keys and preflight (no keychain
// needed) and does the rest for real: the build (with a key of the
// test's), the upload, the download-back check and the registration.
type liveRunner struct {
	*fakeRunner
	real *RealRunner
	key  *rsa.PrivateKey
}

func (l liveRunner) Build(ctx context.Context, req BuildRequest, report func(workflow.Event)) (Bundle, error) {
	m, err := workflow.Build(ctx, workflow.BuildOptions{Dir: req.Dir, AppID: req.Project.AppID, Version: req.Version,
		OutDir: req.Project.OutDir, Key: l.key, Force: req.Force, AppDir: req.Project.Dir}, report)
	if err != nil {
		return Bundle{}, err
	}
	return bundleOf(m), nil
}

func (l liveRunner) Upload(ctx context.Context, b Bundle, to workflow.UploadTarget, report func(workflow.Event)) (Uploaded, error) {
	return l.real.Upload(ctx, b, to, report)
}
func (l liveRunner) S3Settings(appID string) (S3Settings, error) { return l.real.S3Settings(appID) }
func (l liveRunner) SaveS3Settings(appID string, s S3Settings) error {
	return l.real.SaveS3Settings(appID, s)
}
func (l liveRunner) LatestVersion(ctx context.Context, appID string) (string, error) {
	return l.real.LatestVersion(ctx, appID)
}
func (l liveRunner) Register(ctx context.Context, rel Release) (Registered, error) {
	return l.real.Register(ctx, rel)
}
func (l liveRunner) Channel(ctx context.Context, appID, name string) (ChannelInfo, error) {
	return l.real.Channel(ctx, appID, name)
}

// storageServer runs a real capship server hosting bundles ('capship
// serve --storage') on loopback, with an admin token in its registry.
func storageServer(t *testing.T) (reg store.Registry, base, token string) {
	t.Helper()
	reg, api := servertest.StartStorage(t)
	token, _, err := reg.CreateToken(context.Background(), "wizard", "")
	if err != nil {
		t.Fatal(err)
	}
	return reg, api.URL, token
}

// liveWizard is a wizard over a real app folder (a native plugin in its
// node_modules) whose config points at serverBase ("" for none), with a
// real runner of o for the real parts.
func liveWizard(t *testing.T, serverBase string, o RunnerOptions) (*liveRunner, *teatest.TestModel) {
	t.Helper()
	dir := t.TempDir()
	appID := "com.capship.wizup"
	writeProject(t, dir, appID)
	writeNative(t, dir, "@capacitor/camera", "6.0.0")
	key, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeRunner()
	f.key = KeyInfo{State: KeyConfigMatches, KeyID: workflow.KeyID(&key.PublicKey), Fingerprint: workflow.Fingerprint(&key.PublicKey), Where: "test"}
	f.project = Project{Dir: dir, ConfigPath: filepath.Join(dir, "capacitor.config.json"), AppID: appID, WebDir: filepath.Join(dir, "dist"),
		Version: "3.1.0", Registry: "test registry", OutDir: filepath.Join(dir, "out")}
	if serverBase != "" {
		f.project.UpdateURL, f.project.StatsURL, f.project.ChannelURL = serverBase+"/updates", serverBase+"/stats", serverBase+"/channel_self"
	}
	o.ConfigDir = filepath.Join(dir, "config")
	r := NewRunner(o)
	t.Cleanup(func() { r.Close() })
	f.preflight, err = r.Preflight(f.project.WebDir)
	if err != nil {
		t.Fatal(err)
	}
	l := &liveRunner{fakeRunner: f, real: r, key: key}
	m := New(context.Background(), l, Options{Dir: dir, Renderer: plainRenderer()})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	t.Cleanup(func() { _ = tm.Quit() })
	waitFor(t, tm, "Press enter to check the signing key")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "carries this public key")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "nothing registered yet")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "Packed 2 files")
	tm.Send(keyMsg(tea.KeyEnter))
	return l, tm
}

// registerAndFinish goes on from a checked upload: registers on
// production and leaves the wizard.
func registerAndFinish(t *testing.T, tm *teatest.TestModel) Result {
	t.Helper()
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "Minimum native version")
	tm.Send(keyMsg(tea.KeyEnter))
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "About to register")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "is live on channel production")
	tm.Send(keyMsg(tea.KeyEnter))
	return tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model).Result()
}

// writeNative installs a fake native plugin (it has an android folder)
// into the app's node_modules and names it in package.json.
func writeNative(t *testing.T, dir, name, version string) {
	t.Helper()
	pkg := filepath.Join(dir, "node_modules", filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Join(pkg, "android"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "package.json"), []byte(`{"name": "`+name+`", "version": "`+version+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	deps := `{"version": "3.1.0", "dependencies": {"` + name + `": "^` + version + `"}}`
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(deps), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The wizard uploads to a real 'capship serve --storage' that the
// config's updateUrl names: the admin token is typed in a masked field (a
// wrong one first), the upload is checked byte for byte, and the release
// registered on the server points at the hosted bundle and objects, with
// the app's native packages.
func TestWizardUploadToCapshipServer(t *testing.T) {
	reg, base, token := storageServer(t)
	l, tm := liveWizard(t, base, RunnerOptions{Server: base, Token: token})

	waitForAll(t, tm, "Upload to the capship server", "to its storage at "+base)
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "Admin token")
	tm.Type("capship_wrong")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "press e to enter a token of this app")
	tm.Type("e")
	tm.Send(keyMsg(tea.KeyCtrlU))
	tm.Type(token)
	tm.Send(keyMsg(tea.KeyEnter))
	waitForAll(t, tm, "serves exactly the built file", "are the built ones ✓", "objects sent")
	res := registerAndFinish(t, tm)

	zip, files := workflow.UploadKeys(&workflow.Manifest{AppID: res.Bundle.AppID, ZipSHA256: res.Bundle.ZipSHA256})
	if res.URL != base+"/bundles/"+zip || res.FilesURL != base+"/bundles/"+files {
		t.Fatalf("the wizard took %q and %q", res.URL, res.FilesURL)
	}
	rel, err := reg.Release(context.Background(), res.Bundle.AppID, "3.1.0")
	if err != nil {
		t.Fatalf("not registered on the server: %v", err)
	}
	if rel.URL != res.URL || rel.FilesURL != res.FilesURL || rel.SHA256 != res.Bundle.SHA256 || rel.NativePackages["@capacitor/camera"] != "6.0.0" {
		t.Fatalf("registered %+v", rel)
	}
	if set, err := l.real.S3Settings(res.Bundle.AppID); err != nil || set != (S3Settings{}) {
		t.Fatalf("an upload to the server remembered S3 settings: %+v, %v", set, err)
	}
}

// The wizard uploads to a real S3-protocol server (scripts/test starts
// versitygw): a refused secret first, with a clear error, then the right
// one; the bucket settings are remembered for the app, without a secret.
func TestWizardUploadToS3(t *testing.T) {
	s3 := uploadtest.S3(t)
	bucket := s3.NewBucket(t)
	s3.UseCredentials(t, "not-the-secret")
	db := filepath.Join(t.TempDir(), "registry.db")
	l, tm := liveWizard(t, "", RunnerOptions{DB: db})

	waitForAll(t, tm, "Upload to an S3 bucket", "I uploaded it myself")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "Bucket and prefix")
	tm.Type("s3://" + bucket + "/live")
	tm.Send(keyMsg(tea.KeyEnter))
	tm.Type(s3.Endpoint)
	tm.Send(keyMsg(tea.KeyEnter))
	tm.Send(keyMsg(tea.KeyEnter)) // region: the default
	tm.Type(" ")                  // path style
	tm.Send(keyMsg(tea.KeyEnter))
	tm.Send(keyMsg(tea.KeyEnter)) // public base: the endpoint's
	waitFor(t, tm, "The bucket refused the request")
	s3.UseCredentials(t, s3.Secret)
	tm.Type("r")
	waitForAll(t, tm, "serves exactly the built file", "are the built ones ✓", "objects sent")
	res := registerAndFinish(t, tm)

	zip, _ := workflow.UploadKeys(&workflow.Manifest{AppID: res.Bundle.AppID, ZipSHA256: res.Bundle.ZipSHA256})
	if want := strings.TrimRight(s3.Endpoint, "/") + "/" + bucket + "/live/" + zip; res.URL != want || res.Registered == nil {
		t.Fatalf("the wizard took %q, want %q (registered %v)", res.URL, want, res.Registered)
	}
	want := S3Settings{Bucket: "s3://" + bucket + "/live", Endpoint: s3.Endpoint, PathStyle: true}
	if set, err := l.real.S3Settings(res.Bundle.AppID); err != nil || set != want {
		t.Fatalf("remembered %+v, %v; want %+v", set, err, want)
	}
	path := filepath.Join(l.real.opts.ConfigDir, "apps", res.Bundle.AppID+".json")
	if data, err := os.ReadFile(path); err != nil || strings.Contains(string(data), s3.Secret) || strings.Contains(string(data), s3.Access) {
		t.Fatalf("the settings file holds a credential, or cannot be read (%v):\n%s", err, data)
	}
}
