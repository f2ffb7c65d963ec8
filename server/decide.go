package server

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// Error codes the server answers update checks with; kindOf says how the
// plugin files each one.
const (
	codeNoNewVersion     = "no_new_version_available" // exact string the plugin expects (spec §3)
	codeAppNotFound      = "app_not_found"
	codeNoChannel        = "no_channel"
	codePrivateChannel   = "cannot_update_via_private_channel"
	codePlatformIOS      = "disabled_platform_ios"
	codePlatformAndroid  = "disabled_platform_android"
	codePlatformElectron = "disabled_platform_electron"
	codeEmulator         = "disable_emulator"
	codeDevBuild         = "disable_dev_build"
	codeMinNative        = "min_native_version_not_met"
	codeUnderNative      = "disable_auto_update_under_native"
	codeSemver           = "semver_error"
	codeKeyMismatch      = "key_id_mismatch"
	codeInvalidRequest   = "invalid_request"
)

// release is what the decision needs to know about one registered bundle.
type release struct {
	Version    string
	URL        string
	SessionKey string // empty for an unencrypted bundle
	Checksum   string // encrypted checksum (V3), or plain SHA-256 hex when unencrypted
	KeyID      string // spec §1 key id of the key that sealed it; empty when unencrypted
	MinNative  string // lowest native version_build that may run it; empty for any
	SHA256     string // of the encrypted bundle: identifies the release across reloads
	FilesURL   string // base URL of the delta objects; empty for a zip-only release
	FileCount  int    // files of the delta form

	answer []byte     // the update JSON, encoded once
	delta  *deltaForm // the manifest answer; nil for a zip-only release (or not loaded)
}

// channel is one channel of an app as the decision sees it.
type channel struct {
	ID                 int64 // stable number for the channel list (the plugin wants a number)
	Name               string
	Public             bool // the app's public default channel
	AllowSelfSet       bool // devices may pick it with channel_self or defaultChannel
	IOS                bool
	Android            bool
	Electron           bool
	AllowEmulator      bool
	AllowDev           bool
	DisableUnderNative bool
	Delta              bool     // answer releases that have files with a manifest
	RolloutPercent     int      // 0..100: share of devices that get Current; the rest get Previous
	Current            *release // nil: nothing released on this channel yet
	Previous           *release // what Current replaced; served outside the rollout
}

// allows reports whether the channel serves devices of this platform.
func (c *channel) allows(platform string) (bool, string) {
	switch platform {
	case "ios":
		return c.IOS, codePlatformIOS
	case "android":
		return c.Android, codePlatformAndroid
	case "electron":
		return c.Electron, codePlatformElectron
	}
	return true, ""
}

// appSnapshot is everything the server answers one app's devices from: loaded from
// the registry as one snapshot and cached.
type appSnapshot struct {
	ID        string
	Channels  []*channel          // in the registry's order
	byName    map[string]*channel // built by index
	overrides *overrideCache      // device overrides, read by key (overrides.go); nil: none
}

// index prepares lookups and the pre-encoded update answers.
func (a *appSnapshot) index() {
	a.byName = make(map[string]*channel, len(a.Channels))
	for _, c := range a.Channels {
		a.byName[c.Name] = c
		for _, r := range []*release{c.Current, c.Previous} {
			if r != nil {
				r.answer = encodeUpdate(r)
			}
		}
	}
}

// channel returns the named channel or nil.
func (a *appSnapshot) channel(name string) *channel {
	if a.byName == nil {
		a.index()
	}
	return a.byName[name]
}

// publicChannel returns the app's public default channel for a platform: the
// first public channel that serves it, else the first public channel (whose
// platform filter then refuses the device with a clear code).
func (a *appSnapshot) publicChannel(platform string) *channel {
	var first *channel
	for _, c := range a.Channels {
		if !c.Public {
			continue
		}
		if ok, _ := c.allows(platform); ok {
			return c
		}
		if first == nil {
			first = c
		}
	}
	return first
}

// answer is the server's reply to one update check.
type answer struct {
	Channel  string   // channel the device was matched to ("" when none)
	Release  *release // non-nil: send this update
	Manifest bool     // send it file by file (the release's manifest answer)
	Code     string   // refusal code when Release is nil
	Kind     string   // how the plugin files the refusal: kindOf(Code) unless decide says otherwise
	Message  string
}

// JSON encodes the answer exactly as the plugin expects it (spec §3).
func (a answer) JSON() []byte {
	if a.Release != nil {
		if a.Manifest {
			return a.Release.delta.answer
		}
		if a.Release.answer == nil { // a snapshot not built by index
			return encodeUpdate(a.Release)
		}
		return a.Release.answer
	}
	return encodeRefusal(a.Code, a.Kind, a.Message)
}

// updateBody is the update answer. Every field is a string; error, kind and
// message never appear in it.
type updateBody struct {
	Version    string `json:"version"`
	URL        string `json:"url"`
	SessionKey string `json:"session_key,omitempty"`
	Checksum   string `json:"checksum"`
}

func encodeUpdate(r *release) []byte {
	b, err := json.Marshal(updateBody{Version: r.Version, URL: r.URL, SessionKey: r.SessionKey, Checksum: r.Checksum})
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return append(b, '\n')
}

// errorBody is every answer that is not an update: the plugin reads error,
// kind and message (spec §3).
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Kind    string `json:"kind,omitempty"`
}

// encodeError is a refusal filed under its code's kind.
func encodeError(code, msg string) []byte { return encodeRefusal(code, kindOf(code), msg) }

func encodeRefusal(code, kind, msg string) []byte {
	b, err := json.Marshal(errorBody{Error: code, Message: msg, Kind: kind})
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

func refuse(channel, code, format string, a ...any) answer {
	return answer{Channel: channel, Code: code, Kind: kindOf(code), Message: fmt.Sprintf(format, a...)}
}

// decide answers one update check from an app snapshot and the device's
// override channel ("" for none). It is pure: the same snapshot, request
// and override always give the same answer, which is what makes the
// rollout stable per device.
func decide(app *appSnapshot, d DeviceInfo, override string) answer {
	if app == nil {
		return refuse("", codeAppNotFound, "app %s is not registered on this server", d.AppID)
	}
	ch, ans, ok := chooseChannel(app, d, override)
	if !ok {
		return ans
	}
	name := ch.Name
	if ok, code := ch.allows(d.Platform); !ok {
		return refuse(name, code, "channel %s does not serve %s devices", name, d.Platform)
	}
	if d.IsEmulator && !ch.AllowEmulator {
		return refuse(name, codeEmulator, "channel %s does not serve emulators", name)
	}
	if !d.IsProd && !ch.AllowDev {
		return refuse(name, codeDevBuild, "channel %s does not serve development builds", name)
	}
	if ch.Current == nil {
		return refuse(name, codeNoNewVersion, "channel %s has no release yet", name)
	}

	// A device still on the bundle shipped inside the app runs the native
	// version's web code (Capgo's rule): a release of that same version is
	// nothing new for it.
	running := d.VersionName
	if running == "builtin" || running == "" {
		running = d.VersionBuild
	}
	target := ch.Current
	if running != ch.Current.Version && !inRollout(d.DeviceID, app.ID+"@"+ch.Current.Version, ch.RolloutPercent) {
		target = ch.Previous
		if target == nil {
			// Kept as no_new_version_available, which plugins older
			// than kinds do not count as a failure either; filed as
			// blocked, as the rollout is a policy.
			ans := refuse(name, codeNoNewVersion, "version %s is rolling out to %d%% of devices; this device is not among them yet", ch.Current.Version, ch.RolloutPercent)
			ans.Kind = kindBlocked
			return ans
		}
	}
	if running == target.Version {
		return refuse(name, codeNoNewVersion, "already on %s, the latest version on channel %s", target.Version, name)
	}
	if target.MinNative != "" {
		c, ok := compareVersions(d.VersionBuild, target.MinNative)
		if !ok {
			return refuse(name, codeSemver, "native version %q is not a version number; version %s needs native %s or later", d.VersionBuild, target.Version, target.MinNative)
		}
		if c < 0 {
			return refuse(name, codeMinNative, "version %s needs native %s or later; this device runs native %s: ship a store update first", target.Version, target.MinNative, d.VersionBuild)
		}
	}
	if ch.DisableUnderNative {
		if c, ok := compareVersions(target.Version, d.VersionBuild); ok && c < 0 {
			return refuse(name, codeUnderNative, "version %s is older than the native version %s and channel %s does not go under native", target.Version, d.VersionBuild, name)
		}
	}
	if d.KeyID != "" && (target.SessionKey == "" || target.KeyID != d.KeyID) {
		return refuse(name, codeKeyMismatch, "version %s was sealed with another key than the public key in this app (key id %s); it cannot decrypt it", target.Version, d.KeyID)
	}
	manifest := ch.Delta && target.delta != nil && takesManifest(d.PluginVersion, target.delta)
	return answer{Channel: name, Release: target, Manifest: manifest}
}

// chooseChannel picks the device's channel: its channel_self override
// (override, "" for none), else
// the defaultChannel from its config, else the app's public default. A
// private channel (neither public nor self-settable) is only reachable
// through an override that an operator set: a device cannot name it.
func chooseChannel(app *appSnapshot, d DeviceInfo, override string) (*channel, answer, bool) {
	if override != "" {
		if ch := app.channel(override); ch != nil {
			return ch, answer{}, true
		}
	}
	// A defaultChannel that does not exist (yet) falls through to the public
	// default.
	if ch := app.channel(d.DefaultChannel); d.DefaultChannel != "" && ch != nil {
		if !ch.Public && !ch.AllowSelfSet {
			return nil, refuse(ch.Name, codePrivateChannel, "channel %s is private: allow devices to self-assign it, or remove defaultChannel from the app's config", ch.Name), false
		}
		return ch, answer{}, true
	}
	if ch := app.publicChannel(d.Platform); ch != nil {
		return ch, answer{}, true
	}
	return nil, refuse("", codeNoChannel, "app %s has no public default channel and the device names none", app.ID), false
}

// inRollout places a device in a stable bucket 0..9999 for one release: the
// same device always lands in the same bucket for that release, and each new
// release reshuffles the devices so the same ones are not always first.
func inRollout(deviceID, releaseKey string, percent int) bool {
	if percent >= 100 {
		return true
	}
	if percent <= 0 {
		return false
	}
	return rolloutBucket(deviceID, releaseKey) < uint64(percent)*100
}

func rolloutBucket(deviceID, releaseKey string) uint64 {
	h := sha256.New()
	h.Write([]byte(deviceID))
	h.Write([]byte{0})
	h.Write([]byte(releaseKey))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return binary.BigEndian.Uint64(sum[:8]) % 10000
}
