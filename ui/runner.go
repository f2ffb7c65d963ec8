package ui

import (
	"context"
	"time"

	"capship/store/release"
	"capship/workflow"
)

// Runner is everything the wizard needs from the outside world: the project
// on disk, the OS keychain, the bundle engine, the network and the release
// registry. The wizard calls it only from commands, never from Update or
// View. NewRunner returns the real one; tests use an in-memory fake.
type Runner interface {
	// LoadProject reads the Capacitor config and package.json of the app in
	// dir (configPath, when set, points at the config file itself).
	LoadProject(dir, configPath string) (Project, error)
	// KeyState reports the app's key in the keychain and whether the
	// project's config carries its public key.
	KeyState(p Project) (KeyInfo, error)
	// CreateKey makes a new keypair and stores its private half in the
	// keychain. It refuses to replace an existing key.
	CreateKey(p Project) (KeyInfo, error)
	// ImportKey stores an existing private key file (such as Capgo's
	// .capgo_key_v2) in the keychain.
	ImportKey(p Project, path string) (KeyInfo, error)
	// WritePublicKey writes the keychain key's public half into the
	// project's Capacitor config.
	WritePublicKey(p Project) (KeyInfo, error)
	// Preflight checks a build folder before any work is done.
	Preflight(dir string) (Preflight, error)
	// LatestVersion is the newest version registered for the app, or "".
	LatestVersion(ctx context.Context, appID string) (string, error)
	// ValidateURL says whether devices can download from raw; warning is
	// set for URLs that work only for local testing.
	ValidateURL(raw string) (warning string, err error)
	// Build packs and encrypts the folder with the app's keychain key.
	// report is called from Build's goroutine with throttled progress.
	Build(ctx context.Context, req BuildRequest, report func(workflow.Event)) (Bundle, error)
	// Downloads says what a phone on each channel's current release
	// downloads of b, which has a delta.
	Downloads(ctx context.Context, b Bundle) (Downloads, error)
	// CheckURL downloads url and compares it with the built file.
	CheckURL(ctx context.Context, url string, b Bundle, report func(workflow.Event)) (URLCheck, error)
	// ValidateFilesURL says whether devices can fetch BASE/OBJECT below
	// raw, as ValidateURL does for the bundle URL.
	ValidateFilesURL(raw string) (warning string, err error)
	// CheckFiles downloads every object of b's delta from below base and
	// compares each with the built one.
	CheckFiles(ctx context.Context, base string, b Bundle, report func(workflow.Event)) (FilesCheck, error)
	// Register records the release in the registry.
	Register(ctx context.Context, rel Release) (Registered, error)
	// SetServer writes updateUrl, statsUrl and channelUrl for the capship
	// server at baseURL into the project's Capacitor config and returns
	// the project as read again.
	SetServer(p Project, baseURL string) (Project, error)
	// SetVersion writes version into the project's package.json.
	SetVersion(p Project, version string) error
	// Channel says what a channel of the app serves now; Exists is false
	// for a channel that is not there yet.
	Channel(ctx context.Context, appID, name string) (ChannelInfo, error)
	// Upload sends b's file and delta objects to the target, then
	// downloads them back and compares them with the built ones. An empty
	// to.Token for a capship server is the one the wizard was started
	// with (--token or $CAPSHIP_TOKEN).
	Upload(ctx context.Context, b Bundle, to workflow.UploadTarget, report func(workflow.Event)) (Uploaded, error)
	// S3Settings are the bucket settings last used for the app; zero
	// before the first S3 upload.
	S3Settings(appID string) (S3Settings, error)
	// SaveS3Settings remembers the bucket settings of the app (no
	// secret: credentials come from the SDK's standard chain).
	SaveS3Settings(appID string, s S3Settings) error
}

// S3Settings are where the wizard uploads an app's bundles in an
// S3-compatible bucket, remembered per app (store/release keeps them).
type S3Settings = release.BucketSettings

// Uploaded is what an upload did and what the check found.
type Uploaded struct {
	Target   string // for people
	URL      string // of the bundle, as devices fetch it
	FilesURL string // base of the delta objects; "" without a delta
	Objects  int    // in all, the bundle included
	Uploaded int    // sent now
	Skipped  int    // already there with the same size and SHA-256
	Bytes    int64  // sent now
	Check    URLCheck
	Files    *FilesCheck // nil without a delta
}

// ChannelInfo is what one channel serves, for the wizard's warnings and
// its summary.
type ChannelInfo struct {
	Name      string
	Exists    bool
	Version   string   // served now; "" before the first release
	ZipSHA256 string   // of the served release's zip
	Rollout   int      // 0–100: share of devices that get Version
	Platforms []string // "android", "ios", "electron" as the channel serves them
}

// Project is the app the wizard releases.
type Project struct {
	Dir        string // the app's folder
	ConfigPath string // its Capacitor config file
	AppID      string
	WebDir     string // absolute build folder from the config's webDir
	Version    string // from package.json, may be empty
	PublicKey  string // the config's plugins.CapacitorUpdater.publicKey
	UpdateURL  string // the config's plugins.CapacitorUpdater.updateUrl
	StatsURL   string // the config's plugins.CapacitorUpdater.statsUrl
	ChannelURL string // the config's plugins.CapacitorUpdater.channelUrl
	Server     string // the capship server releases go through (--server), or ""
	DBFlag     string // the --db given on the command line, shown in commands ("" for the default; passwords redacted)
	HasToken   bool   // an admin token was given (--token, $CAPSHIP_TOKEN); never the token itself
	Registry   string // where releases are registered, for people
	OutDir     string // where bundles are written
}

// KeyState says where the app's key stands.
type KeyState int

const (
	KeyMissing       KeyState = iota // no key in the keychain for this app
	KeyConfigMatches                 // key present, config carries its public key
	KeyConfigMissing                 // key present, config has no public key
	KeyConfigDiffers                 // key present, config carries another public key
)

// KeyInfo describes the app's key without its secret half.
type KeyInfo struct {
	State       KeyState
	KeyID       string
	Fingerprint string
	Where       string // e.g. "OS keychain (service capship)"
	Note        string // extra advice, e.g. that an imported file can be deleted
}

// Problem is one preflight finding.
type Problem struct {
	Path     string
	Message  string
	Blocking bool
}

// Preflight is what a build folder holds and what is wrong with it.
type Preflight struct {
	Dir      string
	Files    int
	Bytes    int64
	Problems []Problem
}

// Blocking reports whether any problem stops the build.
func (p Preflight) Blocking() bool {
	for _, pr := range p.Problems {
		if pr.Blocking {
			return true
		}
	}
	return false
}

// BuildRequest is what the pack step asks the engine to do.
type BuildRequest struct {
	Project Project
	Dir     string
	Version string
	Force   bool // replace a bundle of the same version in the output folder
}

// Bundle is a built, encrypted release file and its manifest.
type Bundle struct {
	AppID          string
	Version        string
	File           string // the encrypted file to upload
	Size           int64
	SHA256         string // of the encrypted file
	ZipSHA256      string
	SessionKey     string
	Checksum       string
	KeyID          string
	KeyFingerprint string
	Files          int
	Manifest       string // path of the manifest JSON
	// Delta is the per-file form phones download only the changed files
	// of: objects in Delta.Dir, to be uploaded below the files URL. nil
	// when the release can go as a zip only; DeltaSkipped says why.
	Delta        *workflow.Delta
	DeltaSkipped string
	// NativePackages are the app's native packages when it was built
	// (npm name → version); nil when not recorded.
	NativePackages map[string]string
}

// Downloads is what phones download of a new bundle with a delta, per
// channel.
type Downloads struct {
	// Channels are the app's channels that serve a release, in the
	// registry's order; none before the first release.
	Channels []ChannelDownload
	// NoCompare says why the channels were not compared (through a
	// capship server, capship cannot read a release's files); "" when
	// they were.
	NoCompare string
}

// ChannelDownload is what a phone on one channel's current release
// downloads of the new bundle.
type ChannelDownload struct {
	Channel string
	Current string // the version the channel serves now
	// Zip: the channel sends zips (delta off), so phones download the
	// whole bundle.
	Zip bool
	// NoFileList: the current release went as a zip only, so the registry
	// has no file list to compare with; Download then counts every file.
	NoFileList bool
	Download   workflow.DeltaDownload
}

// URLCheck is what the download check found.
type URLCheck struct {
	URL         string
	Status      int
	ContentType string
	Size        int64
	WantSize    int64
	SHA256      string
	WantSHA256  string
	Problems    []string
}

// OK reports whether the hosted bytes are the built ones.
func (c URLCheck) OK() bool { return len(c.Problems) == 0 }

// FilesCheck is what the download of every delta object found.
type FilesCheck struct {
	BaseURL   string // as devices will use it: no trailing '/'
	Objects   int    // distinct objects of the delta
	Files     int    // files they hold
	Checked   int    // objects downloaded and compared
	Bytes     int64  // received
	WantBytes int64  // of all objects, as built
	Problems  []ObjectProblem
	Stopped   bool // gave up after too many problems: Objects-Checked were not fetched
}

// OK reports whether every object was fetched and is the built one.
func (c FilesCheck) OK() bool { return len(c.Problems) == 0 && c.Checked == c.Objects }

// ObjectProblem is one hosted object that is not the built one.
type ObjectProblem struct {
	Object  string
	Paths   []string // the files it holds
	Problem string   // what differs and what to do
}

// Files names the files the object holds: the first, and how many more.
func (p ObjectProblem) Files() string { return workflow.ObjectProblem{Paths: p.Paths}.Files() }

// Release is what gets registered.
type Release struct {
	Bundle    Bundle
	URL       string
	FilesURL  string // base URL of the delta objects; "" registers the zip only
	Channel   string
	MinNative string
	// AllowNativeChange registers even though the native packages differ
	// from the release the channel serves.
	AllowNativeChange bool
}

// Registered confirms a registration.
type Registered struct {
	AppID     string
	Version   string
	Channel   string
	Files     int // files registered in the delta form; 0 for a zip-only release
	Registry  string
	CreatedAt time.Time
	// Served is the channel after the registration: its rollout and
	// platforms (Exists false when they could not be read).
	Served ChannelInfo
}
