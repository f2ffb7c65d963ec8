package ui

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"capship/store"
	"capship/store/release"
	"capship/workflow"
)

// DefaultOutDir is where the wizard writes bundles, relative to the app's
// folder.
const DefaultOutDir = "capship-out"

// RunnerOptions configures the real Runner.
type RunnerOptions struct {
	DB              string // registry: SQLite file or postgres:// URL
	Server          string // or: register through this capship server's admin API
	Token           string // admin API token for Server
	KeychainService string // "capship" in production
	HTTPClient      *http.Client
}

// RealRunner is the Runner that does the work: workflow for keys, bundles
// and URL checks, store for the keychain and the registry.
type RealRunner struct {
	opts RunnerOptions
	keys *store.Keychain

	mu  sync.Mutex
	reg store.Registry // opened on first use
}

// NewRunner returns the real Runner. Close it when the wizard ends.
func NewRunner(o RunnerOptions) *RealRunner {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Minute}
	}
	return &RealRunner{opts: o, keys: store.NewKeychain(o.KeychainService)}
}

// Close releases the registry, if it was opened.
func (r *RealRunner) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reg == nil {
		return nil
	}
	err := r.reg.Close()
	r.reg = nil
	return err
}

func (r *RealRunner) registry(ctx context.Context) (store.Registry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reg != nil {
		return r.reg, nil
	}
	reg, err := store.Open(ctx, r.opts.DB)
	if err != nil {
		return nil, err
	}
	r.reg = reg
	return reg, nil
}

// registryName describes where releases go, for people, without any
// password or token.
func (r *RealRunner) registryName() string {
	if r.opts.Server != "" {
		return "capship server " + r.opts.Server
	}
	return registryName(r.opts.DB)
}

func registryName(dsn string) string {
	if store.IsPostgresDSN(dsn) {
		return "PostgreSQL registry " + store.RedactDSN(dsn)
	}
	return "local registry " + dsn
}

// LoadProject reads the app's Capacitor config and package.json.
func (r *RealRunner) LoadProject(dir, configPath string) (Project, error) {
	wp, err := workflow.LoadProjectConfig(dir, configPath)
	if err != nil {
		return Project{}, err
	}
	for _, d := range wp.Dynamic {
		if d == "appId" || d == "webDir" {
			return Project{}, fmt.Errorf("read %s: %s is computed when the app builds, so capship cannot read it; write it as a plain string or point --config at a JSON config", wp.ConfigPath, d)
		}
	}
	if err := workflow.ValidAppID(wp.AppID); err != nil {
		return Project{}, fmt.Errorf("read %s: %w", wp.ConfigPath, err)
	}
	webDir := wp.WebDir
	if webDir == "" {
		webDir = "www" // Capacitor's own default
	}
	if !filepath.IsAbs(webDir) {
		webDir = filepath.Join(dir, webDir)
	}
	return Project{
		Dir:        dir,
		ConfigPath: wp.ConfigPath,
		AppID:      wp.AppID,
		WebDir:     webDir,
		Version:    wp.Version,
		PublicKey:  wp.PublicKey,
		UpdateURL:  wp.UpdateURL,
		StatsURL:   wp.StatsURL,
		ChannelURL: wp.ChannelURL,
		Server:     r.opts.Server,
		Registry:   r.registryName(),
		OutDir:     filepath.Join(dir, DefaultOutDir),
	}, nil
}

// privateKey reads the app's key from the keychain; nil, nil when absent.
func (r *RealRunner) privateKey(appID string) (*rsa.PrivateKey, error) {
	pem, err := r.keys.Get(appID)
	if errors.Is(err, store.ErrNoKey) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	key, err := workflow.ParsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("read key of %s from the keychain: %w", appID, err)
	}
	return key, nil
}

// KeyState compares the keychain's key with the config's public key.
func (r *RealRunner) KeyState(p Project) (KeyInfo, error) {
	key, err := r.privateKey(p.AppID)
	if err != nil {
		return KeyInfo{}, err
	}
	return r.keyInfo(key, p.PublicKey), nil
}

func (r *RealRunner) keyInfo(key *rsa.PrivateKey, configPEM string) KeyInfo {
	info := KeyInfo{State: KeyMissing, Where: r.keys.Where()}
	if key == nil {
		return info
	}
	info.KeyID = workflow.KeyID(&key.PublicKey)
	info.Fingerprint = workflow.Fingerprint(&key.PublicKey)
	state, _, err := workflow.CompareConfigKey(configPEM, &key.PublicKey)
	switch state {
	case workflow.ConfigKeyMissing:
		info.State = KeyConfigMissing
	case workflow.ConfigKeyUnusable:
		info.State = KeyConfigDiffers
		info.Note = "The config's publicKey cannot be used by devices (" + err.Error() + "): press w to write it again."
	case workflow.ConfigKeyDiffers:
		info.State = KeyConfigDiffers
	default:
		info.State = KeyConfigMatches
	}
	return info
}

// CreateKey makes a keypair and stores the private key in the keychain.
func (r *RealRunner) CreateKey(p Project) (KeyInfo, error) {
	old, err := r.privateKey(p.AppID)
	if err != nil {
		return KeyInfo{}, err
	}
	if old != nil {
		return KeyInfo{}, fmt.Errorf("create key: %s already has a key in the keychain; replace it only with 'capship key create --force', which archives the old one", p.AppID)
	}
	key, err := workflow.GenerateKey()
	if err != nil {
		return KeyInfo{}, err
	}
	if err := r.keys.Set(p.AppID, workflow.EncodePrivateKey(key)); err != nil {
		return KeyInfo{}, err
	}
	return r.keyInfo(key, p.PublicKey), nil
}

// ImportKey stores an existing private key file in the keychain.
func (r *RealRunner) ImportKey(p Project, path string) (KeyInfo, error) {
	key, err := workflow.ReadPrivateKeyFile(path)
	if err != nil {
		return KeyInfo{}, err
	}
	old, err := r.privateKey(p.AppID)
	if err != nil {
		return KeyInfo{}, err
	}
	if old != nil && !old.Equal(key) {
		return KeyInfo{}, fmt.Errorf("import key: %s already has another key in the keychain; use 'capship key import --force' to archive it and import this one", p.AppID)
	}
	if old == nil {
		if err := r.keys.Set(p.AppID, workflow.EncodePrivateKey(key)); err != nil {
			return KeyInfo{}, err
		}
	}
	info := r.keyInfo(key, p.PublicKey)
	info.Note = strings.TrimSpace("The keychain now holds this key: delete " + path + " so it cannot leak. " + info.Note)
	return info, nil
}

// WritePublicKey writes the keychain key's public PEM into the config.
func (r *RealRunner) WritePublicKey(p Project) (KeyInfo, error) {
	key, err := r.privateKey(p.AppID)
	if err != nil {
		return KeyInfo{}, err
	}
	if key == nil {
		return KeyInfo{}, fmt.Errorf("write public key: %s has no key in the keychain yet", p.AppID)
	}
	if err := workflow.SetPublicKey(p.ConfigPath, string(workflow.EncodePublicKey(&key.PublicKey))); err != nil {
		return KeyInfo{}, err
	}
	again, err := workflow.LoadProjectConfig(p.Dir, p.ConfigPath)
	if err != nil {
		return KeyInfo{}, err
	}
	return r.keyInfo(key, again.PublicKey), nil
}

// Preflight scans a build folder: what it holds and every problem found,
// blocking or not.
func (r *RealRunner) Preflight(dir string) (Preflight, error) {
	t, err := workflow.Scan(dir, workflow.ScanOptions{})
	var blocking *workflow.PreflightError
	if err != nil && (t == nil || !errors.As(err, &blocking)) {
		return Preflight{}, err
	}
	// A blocking problem is listed in t.Problems too: shown, not an error.
	pf := Preflight{Dir: dir, Files: t.Files, Bytes: t.Bytes}
	for _, p := range t.Problems {
		pf.Problems = append(pf.Problems, Problem{Path: p.Path, Message: p.Message, Blocking: p.Blocking})
	}
	return pf, nil
}

// LatestVersion is the highest version registered for the app, in the
// local registry or on the capship server.
func (r *RealRunner) LatestVersion(ctx context.Context, appID string) (string, error) {
	releases, err := r.releases(ctx)
	if err != nil {
		return "", err
	}
	rels, err := releases.Releases(ctx, appID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	latest := ""
	for _, rel := range rels {
		if latest == "" || workflow.CompareVersions(rel.Version, latest) > 0 {
			latest = rel.Version
		}
	}
	return latest, nil
}

// releaseStore is where releases go: the registry, or a capship server's
// admin API (store.Client).
type releaseStore interface {
	Register(ctx context.Context, in store.RegisterInput) (*store.Release, error)
	Releases(ctx context.Context, appID string) ([]store.Release, error)
	Channels(ctx context.Context, appID string) ([]store.Channel, error)
}

func (r *RealRunner) releases(ctx context.Context) (releaseStore, error) {
	if r.opts.Server == "" {
		return r.registry(ctx)
	}
	client, err := store.NewClient(r.opts.Server, r.opts.Token, r.opts.HTTPClient)
	if err != nil {
		return nil, err
	}
	return client, nil
}

// ValidateURL checks a bundle URL without fetching it.
func (r *RealRunner) ValidateURL(raw string) (string, error) {
	_, warning, err := workflow.ValidateBundleURL(raw)
	return warning, err
}

// Build packs and encrypts the folder with the keychain's key.
func (r *RealRunner) Build(ctx context.Context, req BuildRequest, report func(workflow.Event)) (Bundle, error) {
	key, err := r.privateKey(req.Project.AppID)
	if err != nil {
		return Bundle{}, err
	}
	if key == nil {
		return Bundle{}, fmt.Errorf("build bundle: %s has no key in the keychain; go back to the keys step", req.Project.AppID)
	}
	m, err := workflow.Build(ctx, workflow.BuildOptions{
		Dir:     req.Dir,
		AppID:   req.Project.AppID,
		Version: req.Version,
		OutDir:  req.Project.OutDir,
		Key:     key,
		Force:   req.Force,
	}, workflow.Throttle(report, 100*time.Millisecond))
	if err != nil {
		return Bundle{}, err
	}
	return Bundle{
		AppID: m.AppID, Version: m.Version, File: m.File, Size: m.Size, SHA256: m.SHA256,
		ZipSHA256: m.ZipSHA256, SessionKey: m.SessionKey, Checksum: m.Checksum, KeyID: m.KeyID,
		KeyFingerprint: m.KeyFingerprint, Files: m.Files, Manifest: m.Manifest,
		Delta: m.Delta, DeltaSkipped: m.DeltaSkipped,
	}, nil
}

// Downloads compares b's delta with the files of what each of the app's
// channels serves, as a phone on it would: by the plain SHA-256 of each
// file, recovered from the registry's file hashes with the app's public
// key. Through a capship server there is no file list to compare with.
func (r *RealRunner) Downloads(ctx context.Context, b Bundle) (Downloads, error) {
	if b.Delta == nil {
		return Downloads{}, nil
	}
	if r.opts.Server != "" {
		return Downloads{NoCompare: "a capship server does not list a release's files"}, nil
	}
	key, err := r.privateKey(b.AppID)
	if err != nil {
		return Downloads{}, err
	}
	if key == nil {
		return Downloads{}, fmt.Errorf("compare releases: %s has no key in the keychain", b.AppID)
	}
	reg, err := r.registry(ctx)
	if err != nil {
		return Downloads{}, err
	}
	channels, err := release.Channels(ctx, reg, b.AppID, &key.PublicKey, b.Delta)
	if err != nil {
		return Downloads{}, err
	}
	var out Downloads
	for _, c := range channels {
		out.Channels = append(out.Channels, ChannelDownload(c))
	}
	return out, nil
}

// CheckURL downloads the URL and compares it with the bundle.
func (r *RealRunner) CheckURL(ctx context.Context, rawURL string, b Bundle, report func(workflow.Event)) (URLCheck, error) {
	c, err := workflow.CheckURL(ctx, r.opts.HTTPClient, rawURL, b.Size, b.SHA256, workflow.Throttle(report, 100*time.Millisecond))
	if err != nil {
		return URLCheck{}, err
	}
	return URLCheck{
		URL: strings.TrimSpace(c.URL), Status: c.Status, ContentType: c.ContentType, Size: c.Size, WantSize: c.WantSize,
		SHA256: c.SHA256, WantSHA256: c.WantSHA256, Problems: c.Problems,
	}, nil
}

// ValidateFilesURL checks the base URL of the delta objects without
// fetching anything.
func (r *RealRunner) ValidateFilesURL(raw string) (string, error) {
	_, warning, err := workflow.ValidateFilesURL(raw)
	return warning, err
}

// CheckFiles downloads every object of the bundle's delta from below base
// (several at a time) and compares each with the built one.
func (r *RealRunner) CheckFiles(ctx context.Context, base string, b Bundle, report func(workflow.Event)) (FilesCheck, error) {
	if b.Delta == nil {
		return FilesCheck{}, fmt.Errorf("check objects: %w", release.ErrNoDelta)
	}
	c, err := workflow.CheckObjects(ctx, base, b.Delta, workflow.CheckObjectsOptions{Report: workflow.Throttle(report, 100*time.Millisecond)})
	if err != nil {
		return FilesCheck{}, fmt.Errorf("check objects: %w", err)
	}
	out := FilesCheck{BaseURL: c.BaseURL, Objects: c.Objects, Files: c.Files, Checked: c.Checked,
		Bytes: c.Bytes, WantBytes: c.WantBytes, Stopped: c.Stopped}
	for _, p := range c.Problems {
		out.Problems = append(out.Problems, ObjectProblem{Object: p.Object, Paths: p.Paths, Problem: p.Problem})
	}
	return out, nil
}

// Register records the release, with its delta form when it has a files
// URL, and points the channel at it.
func (r *RealRunner) Register(ctx context.Context, rel Release) (Registered, error) {
	b := rel.Bundle
	in := store.RegisterInput{
		AppID: b.AppID, Version: b.Version, URL: rel.URL, SessionKey: b.SessionKey, Checksum: b.Checksum,
		Size: b.Size, SHA256: b.SHA256, ZipSHA256: b.ZipSHA256, KeyID: b.KeyID, KeyFingerprint: b.KeyFingerprint,
		Channel: rel.Channel, MinNative: rel.MinNative,
	}
	if rel.FilesURL != "" {
		if err := release.WithDelta(&in, b.Delta, rel.FilesURL); err != nil {
			return Registered{}, fmt.Errorf("register %s %s: %w", b.AppID, b.Version, err)
		}
	}
	releases, err := r.releases(ctx)
	var got *store.Release
	if err == nil {
		got, err = releases.Register(ctx, in)
	}
	if err != nil {
		return Registered{}, fmt.Errorf("register %s %s: %w", b.AppID, b.Version, err)
	}
	out := Registered{AppID: got.AppID, Version: got.Version, Channel: rel.Channel, Files: got.FileCount,
		Registry: r.registryName(), CreatedAt: got.CreatedAt}
	if rel.Channel != "" {
		// For the summary only: the release is registered either way.
		out.Served, _ = r.Channel(ctx, b.AppID, rel.Channel)
	}
	return out, nil
}
