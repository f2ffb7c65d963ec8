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
	DB     string // registry: SQLite file or postgres:// URL
	Server string // or: register through this capship server's admin API
	Token  string // admin API token for Server
	// DBFlag is the --db the command line named, repeated in the commands
	// the wizard shows (stats, rollback); "" when the registry is the
	// default or came from $CAPSHIP_DB.
	DBFlag          string
	KeychainService string // "capship" in production
	// ConfigDir holds the wizard's per-app settings (apps/APP.json);
	// "" is os.UserConfigDir()/capship.
	ConfigDir  string
	HTTPClient *http.Client
}

// RealRunner is the Runner that does the work: workflow for keys, bundles
// and URL checks, store for the keychain, and release (the operations the
// command line shares) for keys, registrations and the registry.
type RealRunner struct {
	opts   RunnerOptions
	target release.Target
	keys   *store.Keychain

	mu       sync.Mutex
	mgr      store.Manager // opened on first use
	writable bool          // mgr may write (a local registry opened read-only may not)
}

// NewRunner returns the real Runner. Close it when the wizard ends.
func NewRunner(o RunnerOptions) *RealRunner {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Minute}
	}
	t := release.Target{DB: o.DB, Server: o.Server, Token: o.Token, HTTPClient: o.HTTPClient}
	return &RealRunner{opts: o, target: t, keys: store.NewKeychain(o.KeychainService)}
}

// Close releases the registry, if it was opened.
func (r *RealRunner) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mgr == nil {
		return nil
	}
	err := r.mgr.Close()
	r.mgr = nil
	return err
}

// manager opens where releases go: the local registry or the capship
// server. Reading (write false) never creates a registry file: a missing
// one is store.ErrNoRegistry, which readers take for "no releases yet".
func (r *RealRunner) manager(ctx context.Context, write bool) (store.Manager, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mgr != nil && (r.writable || !write) {
		return r.mgr, nil
	}
	t := r.target
	t.ReadOnly = !write && !t.Remote()
	m, err := release.Open(ctx, t)
	if err != nil {
		return nil, err
	}
	if r.mgr != nil {
		r.mgr.Close()
	}
	r.mgr, r.writable = m, !t.ReadOnly
	return m, nil
}

// registryName describes where releases go, for people, without any
// password or token.
func (r *RealRunner) registryName() string { return r.target.String() }

func registryName(dsn string) string { return release.Target{DB: dsn}.String() }

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
		DBFlag:     redactedDSN(r.opts.DBFlag),
		HasToken:   r.token() != "",
		Registry:   r.registryName(),
		OutDir:     filepath.Join(dir, DefaultOutDir),
	}, nil
}

// privateKey reads the app's key from the keychain (release.AppKey);
// nil, nil when absent.
func (r *RealRunner) privateKey(appID string) (*rsa.PrivateKey, error) {
	key, err := release.AppKey(r.keys, appID)
	if errors.Is(err, store.ErrNoKey) {
		return nil, nil
	}
	return key, err
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

// CreateKey makes a keypair and stores the private key in the keychain
// (release.CreateKey); the config is left to WritePublicKey.
func (r *RealRunner) CreateKey(p Project) (KeyInfo, error) {
	f, err := release.CreateKey(context.Background(), r.keys, release.KeyRequest{AppID: p.AppID})
	if err != nil {
		return KeyInfo{}, err
	}
	return r.keyInfo(f.Key, p.PublicKey), nil
}

// ImportKey stores an existing private key file in the keychain
// (release.ImportKey).
func (r *RealRunner) ImportKey(p Project, path string) (KeyInfo, error) {
	f, err := release.ImportKey(context.Background(), r.keys, release.KeyRequest{AppID: p.AppID}, path)
	if err != nil {
		return KeyInfo{}, err
	}
	info := r.keyInfo(f.Key, p.PublicKey)
	info.Note = strings.TrimSpace("The keychain now holds this key: delete " + path + " so it cannot leak. " + info.Note)
	return info, nil
}

// WritePublicKey writes the keychain key's public PEM into the config
// (release.WritePublicKey).
func (r *RealRunner) WritePublicKey(p Project) (KeyInfo, error) {
	f, err := release.WritePublicKey(r.keys, release.KeyRequest{AppID: p.AppID, ConfigPath: p.ConfigPath, ConfigPublicKey: p.PublicKey})
	if err != nil {
		return KeyInfo{}, err
	}
	again, err := workflow.LoadProjectConfig(p.Dir, p.ConfigPath)
	if err != nil {
		return KeyInfo{}, err
	}
	return r.keyInfo(f.Key, again.PublicKey), nil
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
// local registry or on the capship server; "" when there is none (or no
// registry yet, which reading does not create).
func (r *RealRunner) LatestVersion(ctx context.Context, appID string) (string, error) {
	m, err := r.manager(ctx, false)
	if errors.Is(err, store.ErrNoRegistry) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	rels, err := m.Releases(ctx, appID)
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
		AppDir:  req.Project.Dir,
	}, workflow.Throttle(report, 100*time.Millisecond))
	if err != nil {
		return Bundle{}, err
	}
	return bundleOf(m), nil
}

// bundleOf is the wizard's form of a built manifest (Bundle.manifest is
// the way back).
func bundleOf(m *workflow.Manifest) Bundle {
	return Bundle{
		AppID: m.AppID, Version: m.Version, File: m.File, Size: m.Size, SHA256: m.SHA256,
		ZipSHA256: m.ZipSHA256, SessionKey: m.SessionKey, Checksum: m.Checksum, KeyID: m.KeyID,
		KeyFingerprint: m.KeyFingerprint, Files: m.Files, Manifest: m.Manifest,
		Delta: m.Delta, DeltaSkipped: m.DeltaSkipped, NativePackages: m.NativePackages,
	}
}

// Downloads compares b's delta with the files of what each of the app's
// channels serves, as a phone on it would: by the plain SHA-256 of each
// file, recovered from the registry's file hashes with the app's public
// key. A capship server lists them as the local registry does.
func (r *RealRunner) Downloads(ctx context.Context, b Bundle) (Downloads, error) {
	if b.Delta == nil {
		return Downloads{}, nil
	}
	key, err := r.privateKey(b.AppID)
	if err != nil {
		return Downloads{}, err
	}
	if key == nil {
		return Downloads{}, fmt.Errorf("compare releases: %s has no key in the keychain", b.AppID)
	}
	m, err := r.manager(ctx, false)
	if errors.Is(err, store.ErrNoRegistry) {
		return Downloads{}, nil // no release yet: no channel to compare with
	}
	if err != nil {
		return Downloads{}, err
	}
	channels, err := release.Channels(ctx, m, b.AppID, &key.PublicKey, b.Delta)
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
	return urlCheck(c), nil
}

// urlCheck is the wizard's form of a download check.
func urlCheck(c *workflow.URLCheck) URLCheck {
	return URLCheck{
		URL: strings.TrimSpace(c.URL), Status: c.Status, ContentType: c.ContentType, Size: c.Size, WantSize: c.WantSize,
		SHA256: c.SHA256, WantSHA256: c.WantSHA256, Problems: c.Problems,
	}
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
	return *filesCheck(c), nil
}

// Register records the release, with its delta form when it has a files
// URL, and points the channel at it (release.RegistrationFromManifest).
func (r *RealRunner) Register(ctx context.Context, rel Release) (Registered, error) {
	b := rel.Bundle
	in, err := release.RegistrationFromManifest(b.manifest(), release.Registration{
		URL: rel.URL, FilesURL: rel.FilesURL, Channel: rel.Channel, MinNative: rel.MinNative,
		AllowNativeChange: rel.AllowNativeChange})
	if err != nil {
		return Registered{}, err
	}
	m, err := r.manager(ctx, true)
	var got *store.Release
	if err == nil {
		got, err = m.Register(ctx, in)
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

// manifest is the part of the built manifest a registration reads.
func (b Bundle) manifest() *workflow.Manifest {
	return &workflow.Manifest{AppID: b.AppID, Version: b.Version, File: b.File, Size: b.Size, SHA256: b.SHA256,
		ZipSHA256: b.ZipSHA256, SessionKey: b.SessionKey, Checksum: b.Checksum, KeyID: b.KeyID,
		KeyFingerprint: b.KeyFingerprint, Manifest: b.Manifest, Delta: b.Delta, DeltaSkipped: b.DeltaSkipped,
		NativePackages: b.NativePackages}
}

// redactedDSN is dsn without its password (a postgres:// URL's, in the
// user part or the query), for a command shown on the screen: the person
// puts it back.
func redactedDSN(dsn string) string { return store.RedactDSN(dsn) }
