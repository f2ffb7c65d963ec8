package ui

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"capship/store"
	"capship/workflow"
)

// fakeRunner is an in-memory Runner for UI tests only.
type fakeRunner struct {
	mu         sync.Mutex
	project    Project
	projectErr error
	key        KeyInfo
	keyErr     error
	preflight  Preflight
	latest     string
	// build: how many progress events, and how long to wait between them;
	// a build waits on ctx so that cancelling can be tested.
	buildSteps int
	buildDelay time.Duration
	builds     int
	cancelled  int
	// checks answers CheckURL by URL; unknown URLs get a 404.
	checks map[string]URLCheck
	// deltaSkipped, when set, makes Build return a bundle without a delta.
	deltaSkipped string
	// downloads answers Downloads; fileChecks answers CheckFiles by base
	// URL, and an unknown base has every object missing.
	downloads    Downloads
	downloadsErr error
	fileChecks   map[string]FilesCheck
	registered   []Release
	registerErr  error
	// channels answers Channel by name; versionsWritten records SetVersion.
	channels        map[string]ChannelInfo
	versionsWritten []string
	// uploads answers Upload by target (its Server or S3 URL); an unknown
	// one gets uploadErr, or an upload whose check finds the built bytes.
	// uploadBlock makes Upload wait for ctx after its first event.
	uploads     map[string]Uploaded
	uploadErr   error
	uploadBlock bool
	uploadedTo  []workflow.UploadTarget
	s3          map[string]S3Settings // remembered settings by app
	s3Err       error
	// natives are the native packages Build records; nativeServed those
	// of the release every channel serves (nil: not recorded). Register
	// refuses a change as the registry does (store.CheckNative).
	natives      map[string]string
	nativeServed map[string]string
}

func newFakeRunner() *fakeRunner {
	dir := "/home/dev/shop-app"
	return &fakeRunner{
		project: Project{
			Dir:        dir,
			ConfigPath: filepath.Join(dir, "capacitor.config.json"),
			AppID:      "com.example.shop",
			WebDir:     filepath.Join(dir, "dist"),
			Version:    "1.4.0",
			Registry:   "local registry /home/dev/.local/share/capship/registry.db",
			OutDir:     filepath.Join(dir, "capship-out"),
		},
		key:        KeyInfo{State: KeyMissing, Where: "OS keychain (service capship)"},
		preflight:  Preflight{Dir: filepath.Join(dir, "dist"), Files: 42, Bytes: 3_500_000},
		latest:     "1.3.2",
		buildSteps: 4,
		checks:     map[string]URLCheck{},
		uploads:    map[string]Uploaded{},
		s3:         map[string]S3Settings{},
		fileChecks: map[string]FilesCheck{},
		channels: map[string]ChannelInfo{"production": {Name: "production", Exists: true, Version: "1.3.2",
			ZipSHA256: strings.Repeat("3c", 32), Rollout: 100, Platforms: []string{"android", "ios"}}},
	}
}

func (f *fakeRunner) LoadProject(dir, configPath string) (Project, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.project, f.projectErr
}

func (f *fakeRunner) KeyState(p Project) (KeyInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.key, f.keyErr
}

func (f *fakeRunner) CreateKey(p Project) (KeyInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.key.State != KeyMissing {
		return KeyInfo{}, errors.New("create key: the app already has one")
	}
	f.key = KeyInfo{State: KeyConfigMissing, KeyID: "MIIBCgKCAQEAx1fakeID", Fingerprint: "sha256:" + strings.Repeat("ab", 32), Where: "OS keychain (service capship)"}
	return f.key, nil
}

func (f *fakeRunner) ImportKey(p Project, path string) (KeyInfo, error) {
	if !strings.HasSuffix(path, ".capgo_key_v2") {
		return KeyInfo{}, fmt.Errorf("import key: read %s: no such file", path)
	}
	k, err := f.CreateKey(p)
	k.Note = "Imported. You can delete " + path + " now: the keychain holds the key."
	return k, err
}

func (f *fakeRunner) WritePublicKey(p Project) (KeyInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.key.State = KeyConfigMatches
	return f.key, nil
}

func (f *fakeRunner) Preflight(dir string) (Preflight, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pf := f.preflight
	pf.Dir = dir
	return pf, nil
}

func (f *fakeRunner) LatestVersion(ctx context.Context, appID string) (string, error) {
	return f.latest, nil
}

func (f *fakeRunner) ValidateURL(raw string) (string, error) {
	_, warning, err := workflow.ValidateBundleURL(raw)
	return warning, err
}

func (f *fakeRunner) Build(ctx context.Context, req BuildRequest, report func(workflow.Event)) (Bundle, error) {
	f.mu.Lock()
	f.builds++
	steps, delay := f.buildSteps, f.buildDelay
	f.mu.Unlock()
	total := int64(3_500_000)
	for i := 0; i <= steps; i++ {
		report(workflow.Event{Phase: workflow.PhasePack, Files: 42 * i / steps, TotalFiles: 42,
			Bytes: total * int64(i) / int64(steps), TotalBytes: total, Current: fmt.Sprintf("assets/chunk-%d.js", i)})
		select {
		case <-ctx.Done():
			f.mu.Lock()
			f.cancelled++
			f.mu.Unlock()
			return Bundle{}, fmt.Errorf("build bundle: %w", ctx.Err())
		case <-time.After(delay):
		}
	}
	report(workflow.Event{Phase: workflow.PhaseDone})
	out := req.Project.OutDir
	f.mu.Lock()
	skipped := f.deltaSkipped
	f.mu.Unlock()
	var delta *workflow.Delta
	if skipped == "" {
		delta = fakeDelta(filepath.Join(out, req.Project.AppID+"-"+req.Version+".files"))
	}
	f.mu.Lock()
	natives := f.natives
	f.mu.Unlock()
	return Bundle{
		Delta: delta, DeltaSkipped: skipped, NativePackages: natives,
		AppID: req.Project.AppID, Version: req.Version,
		File:       filepath.Join(out, req.Project.AppID+"-"+req.Version+".zip"),
		Size:       1_234_567,
		SHA256:     strings.Repeat("5e", 32),
		ZipSHA256:  strings.Repeat("7a", 32),
		SessionKey: "q1Vq6cl5Ssz4y3kQ0mYI1w==:" + strings.Repeat("QUJD", 85) + "RA==",
		Checksum:   strings.Repeat("0f", 256),
		KeyID:      "MIIBCgKCAQEAx1fakeID", KeyFingerprint: "sha256:" + strings.Repeat("ab", 32),
		Files: 42, Manifest: filepath.Join(out, req.Project.AppID+"-"+req.Version+".manifest.json"),
	}, nil
}

func (f *fakeRunner) CheckURL(ctx context.Context, url string, b Bundle, report func(workflow.Event)) (URLCheck, error) {
	report(workflow.Event{Phase: workflow.PhaseDownload, Bytes: b.Size / 2, TotalBytes: b.Size})
	f.mu.Lock()
	c, ok := f.checks[url]
	f.mu.Unlock()
	if !ok {
		c = URLCheck{Status: 404, ContentType: "text/html", Size: 19,
			SHA256: strings.Repeat("c3", 32), Problems: []string{"the server answered 404 Not Found, not 200"}}
	}
	c.URL, c.WantSize, c.WantSHA256 = url, b.Size, b.SHA256
	if c.OK() {
		c.Status, c.Size, c.SHA256 = 200, b.Size, b.SHA256
	}
	return c, nil
}

// fakeDelta is the per-file form of the fake bundle: 42 files in 40
// objects of 28,000 bytes (two pairs of files share a content).
func fakeDelta(dir string) *workflow.Delta {
	d := &workflow.Delta{Dir: dir}
	for i := range 42 {
		content := min(i, 39)
		sum := sha256.Sum256([]byte(fmt.Sprint("content ", content)))
		name := fmt.Sprintf("assets/chunk-%02d.js", i)
		if i == 0 {
			name = "index.html"
		}
		d.Files = append(d.Files, workflow.DeltaFile{Path: name, SHA256: hex.EncodeToString(sum[:]),
			FileHash: strings.Repeat(hex.EncodeToString(sum[:]), 8), Object: hex.EncodeToString(sum[:]),
			Size: 28_000, ObjectSHA256: strings.Repeat("0b", 32), Brotli: i > 0})
	}
	return d
}

func (f *fakeRunner) Downloads(ctx context.Context, b Bundle) (Downloads, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.downloads, f.downloadsErr
}

func (f *fakeRunner) ValidateFilesURL(raw string) (string, error) {
	_, warning, err := workflow.ValidateFilesURL(raw)
	return warning, err
}

func (f *fakeRunner) CheckFiles(ctx context.Context, base string, b Bundle, report func(workflow.Event)) (FilesCheck, error) {
	all := b.Delta.Download(nil)
	report(workflow.Event{Phase: workflow.PhaseDownload, Files: all.Objects / 2, TotalFiles: all.Objects, Bytes: all.Bytes / 2, TotalBytes: all.Bytes})
	base = strings.TrimRight(base, "/")
	f.mu.Lock()
	c, ok := f.fileChecks[base]
	f.mu.Unlock()
	c.BaseURL, c.Objects, c.Files, c.WantBytes = base, all.Objects, all.TotalFiles, all.Bytes
	if !ok {
		for _, df := range b.Delta.Files[:all.Objects] {
			c.Problems = append(c.Problems, ObjectProblem{Object: df.Object, Paths: []string{df.Path},
				Problem: "the server answered HTTP 404 Not Found: upload every object of the delta folder to " + base + "/"})
		}
	}
	if c.Checked == 0 {
		c.Checked = all.Objects
	}
	if len(c.Problems) == 0 {
		c.Bytes = all.Bytes
	}
	return c, nil
}

func (f *fakeRunner) Register(ctx context.Context, rel Release) (Registered, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.registerErr != nil {
		return Registered{}, f.registerErr
	}
	in := &store.RegisterInput{AppID: rel.Bundle.AppID, Version: rel.Bundle.Version, Channel: rel.Channel, MinNative: rel.MinNative,
		NativePackages: rel.Bundle.NativePackages, AllowNativeChange: rel.AllowNativeChange}
	if err := store.CheckNative(in, &store.Release{Version: f.channels[rel.Channel].Version, NativePackages: f.nativeServed}); err != nil {
		return Registered{}, fmt.Errorf("register %s %s: %w", rel.Bundle.AppID, rel.Bundle.Version, err)
	}
	f.registered = append(f.registered, rel)
	files := 0
	if rel.FilesURL != "" {
		files = len(rel.Bundle.Delta.Files)
	}
	served := f.channels[rel.Channel]
	served.Name, served.Exists, served.Version, served.ZipSHA256 = rel.Channel, true, rel.Bundle.Version, rel.Bundle.ZipSHA256
	if served.Rollout == 0 {
		served.Rollout, served.Platforms = 100, []string{"android", "ios"}
	}
	return Registered{AppID: rel.Bundle.AppID, Version: rel.Bundle.Version, Channel: rel.Channel, Files: files,
		Registry: f.project.Registry, CreatedAt: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), Served: served}, nil
}

// plainRenderer draws without colors, as under NO_COLOR.
func plainRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return r
}

func (f *fakeRunner) SetServer(p Project, baseURL string) (Project, error) {
	urls, _, err := workflow.ServerURLsFor(baseURL)
	if err != nil {
		return Project{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.project.UpdateURL, f.project.StatsURL, f.project.ChannelURL = urls.UpdateURL, urls.StatsURL, urls.ChannelURL
	return f.project, nil
}

func (f *fakeRunner) SetVersion(p Project, version string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.project.Version = version
	f.versionsWritten = append(f.versionsWritten, version)
	return nil
}

func (f *fakeRunner) Channel(ctx context.Context, appID, name string) (ChannelInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.channels[name]; ok {
		return c, nil
	}
	return ChannelInfo{Name: name}, nil
}

func (f *fakeRunner) Upload(ctx context.Context, b Bundle, to workflow.UploadTarget, report func(workflow.Event)) (Uploaded, error) {
	f.mu.Lock()
	f.uploadedTo = append(f.uploadedTo, to)
	where := to.Server
	if to.S3 != "" {
		where = to.S3
	}
	up, ok := f.uploads[where]
	err, block := f.uploadErr, f.uploadBlock
	f.mu.Unlock()
	objects := 1
	if b.Delta != nil {
		objects += b.Delta.Download(nil).Objects
	}
	report(workflow.Event{Phase: workflow.PhaseUpload, Files: objects / 2, TotalFiles: objects, Bytes: b.Size / 2, TotalBytes: b.Size * 2, Skipped: 3})
	if block {
		<-ctx.Done()
		return Uploaded{}, fmt.Errorf("upload: %w", ctx.Err())
	}
	if ok {
		return up, nil
	}
	if err != nil {
		return Uploaded{}, err
	}
	base := strings.TrimRight(where, "/") + "/bundles/" + b.AppID + "/" + b.ZipSHA256
	up = Uploaded{Target: where, URL: base + ".zip", Objects: objects, Uploaded: objects - 3, Skipped: 3, Bytes: b.Size}
	up.Check = URLCheck{URL: up.URL, Status: 200, ContentType: "application/octet-stream", Size: b.Size, WantSize: b.Size, SHA256: b.SHA256, WantSHA256: b.SHA256}
	if b.Delta != nil {
		up.FilesURL = base + ".files"
		all := b.Delta.Download(nil)
		up.Files = &FilesCheck{BaseURL: up.FilesURL, Objects: all.Objects, Files: all.TotalFiles, Checked: all.Objects, Bytes: all.Bytes, WantBytes: all.Bytes}
	}
	return up, nil
}

func (f *fakeRunner) S3Settings(appID string) (S3Settings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s3[appID], f.s3Err
}

func (f *fakeRunner) SaveS3Settings(appID string, s S3Settings) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.s3[appID] = s
	return f.s3Err
}
