package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Registry is the release registry: which apps exist, which releases they
// have, which release each channel serves, which devices chose a channel,
// what devices reported, and who may use the admin API.
//
// Every method is safe for concurrent use, also by several processes sharing
// one database (several `capship serve` behind a load balancer on
// PostgreSQL). Every rule below is checked inside one transaction, so two
// concurrent calls can never both win: of two registrations of the same
// version exactly one succeeds and the other gets ErrDuplicateVersion.
type Registry interface {
	// Manager: register, promote, roll back; releases, channels, stats.
	Manager

	// App returns one app. ErrNotFound when no release or channel was ever
	// recorded for it.
	App(ctx context.Context, appID string) (*App, error)
	// Revision returns a number that goes up, in the same transaction, with
	// every change of what the app's devices are served: Register, Promote,
	// Rollback, CreateChannel and UpdateChannel, whichever process or
	// server instance made it. Device overrides and stats do not change it.
	// It is one indexed row, read cheaply on every update check.
	// ErrNotFound when the app is not registered.
	Revision(ctx context.Context, appID string) (int64, error)
	// Revisions returns the app's Revision and its override sequence,
	// which goes up in the same transaction as every device override set,
	// removed or pruned, in one indexed read: an update server confirms
	// with it on each check that its cached app and its cached overrides
	// are current. ErrNotFound when the app is not registered.
	Revisions(ctx context.Context, appID string) (Revisions, error)
	// Apps lists every app, sorted by id.
	Apps(ctx context.Context) ([]App, error)

	// SetDeviceChannel makes a device use a channel. With selfSet (the
	// device asked for it itself) the channel must allow self-set
	// (ErrSelfSetDenied); platform filters are the caller's to check.
	// ErrNotFound when the channel does not exist. With max > 0, a device
	// that has no override yet gets none when the app already has max
	// (ErrTooManyOverrides); changing an existing one is always allowed.
	// Device ids are stored in lower case, as devices send them.
	SetDeviceChannel(ctx context.Context, appID, deviceID, channel string, selfSet bool, max int) error
	// UnsetDeviceChannel removes a device's override; no error if it had none.
	UnsetDeviceChannel(ctx context.Context, appID, deviceID string) error
	// DeviceChannel returns the device's override (one indexed row), or
	// ErrNotFound when it has none.
	DeviceChannel(ctx context.Context, appID, deviceID string) (*DeviceOverride, error)
	// ChangedDeviceChannels lists the devices whose override was set after
	// the override sequence since (see Revisions), at most limit, oldest
	// change first; removals are not listed (OverridesCleared moves).
	ChangedDeviceChannels(ctx context.Context, appID string, since int64, limit int) ([]string, error)
	// TouchDeviceChannel records that the device's override is still in
	// use (so PruneDeviceChannels keeps it), without changing it: the
	// override sequence does not move. No error if it has none.
	TouchDeviceChannel(ctx context.Context, appID, deviceID string, at time.Time) error
	// PruneDeviceChannels deletes at most limit overrides (of any app) last
	// set or touched before a time, oldest first, in one short
	// transaction, and says how many it deleted. Call it again until it
	// deletes fewer than limit.
	PruneDeviceChannels(ctx context.Context, before time.Time, limit int) (deleted int, err error)

	// RecordEvents stores device stats events in one transaction. Events
	// for unknown apps are dropped (devices cannot create apps); stored
	// says how many were kept.
	RecordEvents(ctx context.Context, events []StatEvent) (stored int, err error)
	// PruneEvents deletes at most limit device events (of any app) recorded
	// before a time, oldest first, in one short transaction, and says how
	// many it deleted. Call it again until it deletes fewer than limit.
	PruneEvents(ctx context.Context, before time.Time, limit int) (deleted int, err error)

	// CreateToken makes a new admin API token and stores only its hash.
	// The secret is returned once and cannot be recovered later.
	// ErrDuplicateToken when an unrevoked token has that name.
	CreateToken(ctx context.Context, name, appID string) (secret string, tok *Token, err error)
	// Tokens lists every token, revoked ones included, oldest first.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken revokes the unrevoked token with that name (or numeric
	// id). ErrNotFound when there is none.
	RevokeToken(ctx context.Context, nameOrID string) error
	// Authenticate returns the unrevoked token whose secret this is, and
	// records its use. ErrUnauthorized otherwise.
	Authenticate(ctx context.Context, secret string) (*Token, error)

	// Ping checks that the database answers (for /readyz).
	Ping(ctx context.Context) error
}

// Revisions are the two numbers an update server confirms its cache with.
type Revisions struct {
	Serve            int64 // Revision: releases and channels
	Overrides        int64 // device channel overrides: raised by every set, removal and prune
	OverridesCleared int64 // raised by every removal and prune (a set is found by ChangedDeviceChannels)
}

// DeviceOverride is a device's own channel (channel_self).
type DeviceOverride struct {
	Channel   string
	UpdatedAt time.Time // last set or touched
}

// App is an application known to the registry. KeyID and KeyFingerprint are
// those of the public key its releases are sealed for; empty until the
// first release is registered.
type App struct {
	ID             string    `json:"app_id"`
	KeyID          string    `json:"key_id"`
	KeyFingerprint string    `json:"key_fingerprint"`
	CreatedAt      time.Time `json:"created_at"`
}

// Release is one registered bundle: what the update endpoint sends devices.
type Release struct {
	AppID          string `json:"app_id"`
	Version        string `json:"version"`              // semver, X.Y.Z[-pre][+build]
	URL            string `json:"url"`                  // where devices download the encrypted file
	SessionKey     string `json:"session_key"`          // ivSessionKey, sent as session_key
	Checksum       string `json:"checksum"`             // encrypted checksum (512 hex), sent as checksum
	Size           int64  `json:"size"`                 // bytes of the encrypted file
	SHA256         string `json:"sha256"`               // SHA-256 of the encrypted file, lowercase hex
	ZipSHA256      string `json:"zip_sha256"`           // SHA-256 of the zip before encryption
	KeyID          string `json:"key_id"`               // spec §1 key id of the sealing key
	KeyFingerprint string `json:"key_fingerprint"`      // "sha256:…" of the sealing key
	MinNative      string `json:"min_native"`           // lowest native version_build that may get it; "" for any
	FilesURL       string `json:"files_url,omitempty"`  // base URL of the delta objects; "" for a zip-only release
	FileCount      int    `json:"file_count,omitempty"` // files of the delta form (ReleaseFiles lists them)
	// NativePackages are the native packages (npm name → version) the
	// bundle was built against; nil when its manifest did not record them.
	NativePackages map[string]string `json:"native_packages,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
}

// ReleaseFile is one file of a release's delta form: what the update
// answer's manifest lists (spec §6), with the object at FilesURL/Object.
type ReleaseFile struct {
	Path     string `json:"path"`      // relative to the web root, forward slashes
	FileHash string `json:"file_hash"` // V3 encrypted SHA-256 of the plain file (plain hex for an unencrypted release)
	Object   string `json:"object"`    // object name below the release's FilesURL
	Size     int64  `json:"size"`      // bytes of the object
	Brotli   bool   `json:"brotli"`    // the object is brotli-compressed (devices get Path + ".br")
}

// RegisterInput is what Register records; it is also the JSON body of
// `POST /admin/v1/releases`.
type RegisterInput struct {
	AppID          string `json:"app_id"`
	Version        string `json:"version"`
	URL            string `json:"url"`
	SessionKey     string `json:"session_key"`
	Checksum       string `json:"checksum"`
	Size           int64  `json:"size"`
	SHA256         string `json:"sha256"`
	ZipSHA256      string `json:"zip_sha256"`
	KeyID          string `json:"key_id"`
	KeyFingerprint string `json:"key_fingerprint"`
	Channel        string `json:"channel"`    // "" registers without moving any channel
	MinNative      string `json:"min_native"` // optional
	// FilesURL and Files are the delta form, optional together: devices
	// then fetch each changed file at FilesURL + "/" + Object.
	FilesURL string        `json:"files_url,omitempty"`
	Files    []ReleaseFile `json:"files,omitempty"`
	// NativePackages are the manifest's native packages (npm name →
	// version); nil when it recorded none. When both they and those of the
	// release the channel serves are known and differ, Register refuses
	// with a *NativeChangeError, unless MinNative is set (only native apps
	// that ship the new packages get it) or AllowNativeChange. omitzero,
	// not omitempty: an empty map (no native package) must reach a server
	// as {}, not as "not recorded".
	NativePackages    map[string]string `json:"native_packages,omitzero"`
	AllowNativeChange bool              `json:"allow_native_change,omitempty"`
}

// Platforms a channel can serve, as the plugin sends them.
const (
	PlatformIOS      = "ios"
	PlatformAndroid  = "android"
	PlatformElectron = "electron"
)

// Channel is a named stream of releases of one app.
type Channel struct {
	AppID string `json:"app_id"`
	Name  string `json:"name"`
	// Release is what the channel serves now; nil before its first release.
	Release *Release `json:"release"`
	// Previous is what Rollback would go back to, and what devices outside
	// the rollout percentage keep getting; nil when there is none.
	Previous *Release `json:"previous"`

	Rollout            int       `json:"rollout"`              // 0–100: share of devices (stable by device id) that get Release
	Public             bool      `json:"public"`               // default for devices without override or defaultChannel
	AllowSelfSet       bool      `json:"allow_self_set"`       // devices may switch themselves to it
	IOS                bool      `json:"ios"`                  // serves iOS devices
	Android            bool      `json:"android"`              // serves Android devices
	Electron           bool      `json:"electron"`             // serves Electron apps
	AllowEmulator      bool      `json:"allow_emulator"`       // serves devices with is_emulator true
	AllowDev           bool      `json:"allow_dev"`            // serves dev builds (is_prod false)
	DisableUnderNative bool      `json:"disable_under_native"` // never send a version lower than the native version_build
	Delta              bool      `json:"delta"`                // send releases with files as a manifest (file by file) to plugins that can take it
	UpdatedAt          time.Time `json:"updated_at"`
}

// ServesPlatform reports whether the channel serves the plugin platform name.
func (c *Channel) ServesPlatform(platform string) bool {
	switch platform {
	case PlatformIOS:
		return c.IOS
	case PlatformAndroid:
		return c.Android
	case PlatformElectron:
		return c.Electron
	}
	return false
}

// ChannelSettings changes a channel's settings: nil fields stay as they are.
type ChannelSettings struct {
	Rollout            *int  `json:"rollout,omitempty"`
	Public             *bool `json:"public,omitempty"`
	AllowSelfSet       *bool `json:"allow_self_set,omitempty"`
	IOS                *bool `json:"ios,omitempty"`
	Android            *bool `json:"android,omitempty"`
	Electron           *bool `json:"electron,omitempty"`
	AllowEmulator      *bool `json:"allow_emulator,omitempty"`
	AllowDev           *bool `json:"allow_dev,omitempty"`
	DisableUnderNative *bool `json:"disable_under_native,omitempty"`
	Delta              *bool `json:"delta,omitempty"`
}

// DefaultChannelSettings are a new channel's settings: full rollout, not
// public, no self-set, every platform, emulators and dev builds allowed,
// never a version lower than the native app's.
func DefaultChannelSettings() Channel {
	return Channel{Rollout: 100, IOS: true, Android: true, Electron: true,
		AllowEmulator: true, AllowDev: true, DisableUnderNative: true, Delta: true}
}

// History actions.
const (
	ActionRegister = "register" // a new release was registered onto the channel
	ActionPromote  = "promote"  // an existing release was promoted to the channel
	ActionRollback = "rollback" // the channel went back to Version
)

// HistoryEntry is one change of what a channel serves.
type HistoryEntry struct {
	Version string    `json:"version"`
	Action  string    `json:"action"`
	At      time.Time `json:"at"`
	// RolledBackAt is set on a register/promote entry that a later rollback undid.
	RolledBackAt *time.Time `json:"rolled_back_at,omitempty"`
}

// StatEvent is one stats report from a device (spec §4).
type StatEvent struct {
	AppID         string    `json:"app_id"`
	DeviceID      string    `json:"device_id"`
	Action        string    `json:"action"`       // set, download_complete, download_fail, …
	VersionName   string    `json:"version_name"` // the bundle version the event is about
	OldVersion    string    `json:"old_version_name,omitempty"`
	Platform      string    `json:"platform"`
	PluginVersion string    `json:"plugin_version"`
	VersionBuild  string    `json:"version_build"` // native app version
	IsEmulator    bool      `json:"is_emulator"`
	IsProd        bool      `json:"is_prod"`
	At            time.Time `json:"at"` // zero: now
}

// ReleaseStats summarizes device events about one bundle version.
type ReleaseStats struct {
	Version   string           `json:"version"`
	Devices   int64            `json:"devices"`   // distinct devices that reported anything
	Downloads int64            `json:"downloads"` // download_complete
	Installs  int64            `json:"installs"`  // set
	Failures  int64            `json:"failures"`  // every action in FailureActions
	ByAction  map[string]int64 `json:"by_action"` // every action, counted
	LastAt    time.Time        `json:"last_at"`
}

// FailureActions are the stats actions that mean a device could not apply
// a bundle. The plugin files most of them under the version the device
// runs; finish_download_fail is the one that names the bundle that failed
// (plugin 8.51 sends it after checksum_fail and download_fail when a
// downloaded bundle does not verify or unpack).
var FailureActions = []string{
	"set_fail", "download_fail", "checksum_fail", "decrypt_fail",
	"unzip_fail", "update_fail", "keyMismatch", "download_manifest_file_fail",
	"download_manifest_checksum_fail", "download_manifest_brotli_fail",
	"windows_path_fail", "canonical_path_fail", "directory_path_fail",
	"finish_download_fail", "manifest_path_fail",
}

// Token is an admin API token as stored: never its secret.
type Token struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	AppID      string     `json:"app_id,omitempty"` // "" may act on every app
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Allows reports whether the token may act on appID.
func (t *Token) Allows(appID string) bool { return t.AppID == "" || t.AppID == appID }

// Errors for the expected branches. Messages say what happened, in words
// any caller can show; what to do next (a flag, a key in the wizard) is the
// caller's to add. Wrap them with what was being attempted.
var (
	ErrNotFound          = errors.New("not found")
	ErrInvalid           = errors.New("invalid input")
	ErrDuplicateVersion  = errors.New("this version is already registered: bump the version (package.json) and build a new bundle")
	ErrDuplicateBundle   = errors.New("this bundle file or URL is already registered for another release: build a new bundle and upload it to its own URL")
	ErrVersionNotNewer   = errors.New("version is not newer than what the channel serves")
	ErrKeyMismatch       = errors.New("bundle was sealed with another key than the app's registered key: seal it with the app's key (devices could not decrypt it)")
	ErrNothingToRollBack = errors.New("the channel has no earlier release to roll back to")
	ErrDuplicateChannel  = errors.New("channel already exists")
	ErrSelfSetDenied     = errors.New("channel does not allow devices to set it themselves")
	ErrDuplicateToken    = errors.New("a token with this name exists: pick another name or revoke it first")
	ErrUnauthorized      = errors.New("invalid or revoked token")
	ErrForbidden         = errors.New("the token may not act on this app")
	ErrSchemaTooNew      = errors.New("the registry was written by a newer capship: upgrade capship")
	ErrSchemaTooOld      = errors.New("the registry was written by an older capship; opening it to write upgrades it")
	ErrTooManyOverrides  = errors.New("the app has as many device channel overrides as the server allows")
	ErrDiskFull          = errors.New("the disk holding the registry is full: free some space")
	ErrCorrupt           = errors.New("the registry file is damaged: restore it from a backup")
)

// ErrNativeChange (native.go) is one of them too.

// errorCodes maps sentinel errors to the stable codes of the admin API's
// `{"error": code, "message": …}` answers.
var errorCodes = []struct {
	err  error
	code string
}{
	{ErrNotFound, "not_found"},
	{ErrInvalid, "invalid"},
	{ErrDuplicateVersion, "duplicate_version"},
	{ErrDuplicateBundle, "duplicate_bundle"},
	{ErrVersionNotNewer, "version_not_newer"},
	{ErrKeyMismatch, "key_mismatch"},
	{ErrNothingToRollBack, "nothing_to_roll_back"},
	{ErrDuplicateChannel, "duplicate_channel"},
	{ErrSelfSetDenied, "self_set_denied"},
	{ErrDuplicateToken, "duplicate_token"},
	{ErrUnauthorized, "unauthorized"},
	{ErrForbidden, "forbidden"},
	{ErrSchemaTooNew, "schema_too_new"},
	{ErrSchemaTooOld, "schema_too_old"},
	{ErrDiskFull, "disk_full"},
	{ErrCorrupt, "corrupt"},
	{ErrNativeChange, "native_change"},
}

// ErrorCode returns the admin API code for err ("internal" for an error that
// is none of the sentinels).
func ErrorCode(err error) string {
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return "internal"
}

// CodeError turns an admin API error answer back into an error that
// errors.Is the matching sentinel and reads as message.
func CodeError(code, message string) error {
	for _, e := range errorCodes {
		if e.code == code {
			return &codeError{sentinel: e.err, message: message}
		}
	}
	if message == "" {
		message = code
	}
	return errors.New(message)
}

type codeError struct {
	sentinel error
	message  string
}

func (e *codeError) Error() string {
	if e.message == "" {
		return e.sentinel.Error()
	}
	return e.message
}

func (e *codeError) Unwrap() error { return e.sentinel }

// DefaultDBPath is where the embedded registry lives:
// $XDG_DATA_HOME/capship/registry.db, else ~/.local/share/capship/registry.db.
// Open creates the missing folders (mode 0700).
func DefaultDBPath() string {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			home = "."
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "capship", "registry.db")
}

// IsPostgresDSN reports whether dsn selects PostgreSQL rather than an
// SQLite file (see Open).
func IsPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// RedactDSN returns dsn fit to show to people: a PostgreSQL URL without its
// password (in the user part or in the query), a file path as it is.
func RedactDSN(dsn string) string {
	if !IsPostgresDSN(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable database URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Open opens (creating and migrating as needed) the registry at dsn: a
// postgres:// or postgresql:// URL selects PostgreSQL, anything else is the
// path of an SQLite file.
func Open(ctx context.Context, dsn string) (Registry, error) {
	if dsn == "" {
		return nil, fmt.Errorf("open registry: %w: empty database path", ErrInvalid)
	}
	if IsPostgresDSN(dsn) {
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, dsn)
}

// OpenReadOnly opens the registry at dsn for commands that only read: an
// SQLite file must exist (else ErrNoRegistry: it is never created) and is
// neither migrated nor written, so a read-only file or mount works; a
// schema older or newer than this capship's is refused (ErrSchemaTooOld,
// ErrSchemaTooNew). PostgreSQL opens as with Open.
func OpenReadOnly(ctx context.Context, dsn string) (Registry, error) {
	if dsn == "" {
		return nil, fmt.Errorf("open registry: %w: empty database path", ErrInvalid)
	}
	if IsPostgresDSN(dsn) {
		return openPostgres(ctx, dsn)
	}
	return openSQLiteReadOnly(ctx, dsn)
}
