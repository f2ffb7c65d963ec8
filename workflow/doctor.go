package workflow

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/mod/semver"
)

// Finding statuses: ok, a warning (works, but not as it should), or a
// failure (devices will not get updates, or a secret is exposed).
const (
	StatusOK   = "ok"
	StatusWarn = "warn"
	StatusFail = "fail"
)

// Finding is one result of the doctor's checks: what was checked, how it
// stands, what was found and, unless ok, what to do.
type Finding struct {
	Check   string `json:"check"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Failed reports whether any finding failed.
func Failed(findings []Finding) bool {
	for _, f := range findings {
		if f.Status == StatusFail {
			return true
		}
	}
	return false
}

// Doctor check names.
const (
	CheckConfig         = "config"
	CheckLeakedKey      = "leaked_private_key"
	CheckPublicKey      = "public_key"
	CheckUpdateURL      = "update_url"
	CheckStatsURL       = "stats_url"
	CheckChannelURL     = "channel_url"
	CheckPluginVersion  = "plugin_version"
	CheckNotifyAppReady = "notify_app_ready"
	CheckServerLive     = "server_live"
	CheckDeviceAnswer   = "device_answer"
)

// PluginPackage is the npm name of the updater plugin devices run.
const PluginPackage = "@capgo/capacitor-updater"

// MinPluginVersion is the first plugin that reads an answer's `kind`, so
// that a server's "nothing for you" is not counted as a failed download.
const MinPluginVersion = "8.45.11"

// DoctorFacts are what the offline checks judge. The caller reads the
// project and looks up the app's private key (the keychain, a key file or
// the environment); workflow does not know where keys live.
type DoctorFacts struct {
	Project *Project        // LoadProject of the app's folder
	Key     *rsa.PrivateKey // the app's private key; nil when none was found
	// KeySource says where Key came from ("the OS keychain"), or, when
	// Key is nil, why none was found.
	KeySource string
}

// maxCodeFiles bounds the files the notifyAppReady search opens.
const maxCodeFiles = 20000

// DoctorOffline checks an app's folder against what devices need: the
// config's public key (the device rules, and that it is the private key's
// half), no private key in the config, the three server URLs, the plugin
// version, and notifyAppReady in the web build.
func DoctorOffline(facts DoctorFacts) []Finding {
	p := facts.Project
	if p == nil || p.ConfigPath == "" {
		return []Finding{{Check: CheckConfig, Status: StatusFail,
			Message: "no capacitor.config.ts, .js or .json in this folder",
			Fix:     "run the doctor in the app's folder (or give that folder), or 'npx cap init' to make a config"}}
	}
	out := []Finding{{Check: CheckConfig, Status: StatusOK, Message: fmt.Sprintf("%s, app %s", filepath.Base(p.ConfigPath), p.AppID)}}
	if p.LeakedKey {
		out = append(out, Finding{Check: CheckLeakedKey, Status: StatusFail,
			Message: "plugins.CapacitorUpdater.privateKey is set in " + filepath.Base(p.ConfigPath) + ": every build of the app carries the private key, so anyone with the app can sign bundles for it (Capgo's first scheme; older guides still show it)",
			Fix:     "remove privateKey from the config (devices only need publicKey); if a build with it ever shipped, the key is leaked: make a new key pair, put its publicKey in the config and ship a new native build"})
	} else {
		out = append(out, Finding{Check: CheckLeakedKey, Status: StatusOK, Message: "no privateKey in the config"})
	}
	out = append(out, checkPublicKey(facts))
	out = append(out,
		checkEndpoint(CheckUpdateURL, "updateUrl", p.UpdateURL, "/updates", "devices ask Capgo's cloud for updates, not your server"),
		checkEndpoint(CheckStatsURL, "statsUrl", p.StatsURL, "/stats", "devices send their install and failure stats to Capgo's cloud"),
		checkEndpoint(CheckChannelURL, "channelUrl", p.ChannelURL, "/channel_self", "setChannel and getChannel talk to Capgo's cloud"))
	out = append(out, checkPluginVersion(p.Dir), checkNotifyAppReady(p))
	return out
}

// rewriteKeyFix is the way out of a publicKey text devices cannot use.
const rewriteKeyFix = "write the key again as one PEM block with \\n line breaks and no indentation: 'capship config set-key' does"

func checkPublicKey(facts DoctorFacts) Finding {
	p := facts.Project
	const check = CheckPublicKey
	if strings.TrimSpace(p.PublicKey) == "" {
		return Finding{Check: check, Status: StatusFail,
			Message: "plugins.CapacitorUpdater.publicKey is not set: devices cannot decrypt bundles (or accept unencrypted ones only)",
			Fix:     "write the app's public key into the config: 'capship config set-key' (the keychain's key) or 'capship key create' (a new one)"}
	}
	if facts.Key == nil {
		if _, err := ParseConfigPublicKey(p.PublicKey); err != nil {
			return Finding{Check: check, Status: StatusFail, Message: "the config's publicKey breaks a device rule: " + err.Error(),
				Fix: rewriteKeyFix}
		}
		return Finding{Check: check, Status: StatusWarn,
			Message: fmt.Sprintf("the config's publicKey (key id %s) follows the device rules, but no private key was found to compare it with: %s", KeyIDFromPEM(p.PublicKey), facts.KeySource),
			Fix:     "give the app's private key so the doctor can tell whether devices can open your bundles"}
	}
	state, _, err := CompareConfigKey(p.PublicKey, &facts.Key.PublicKey)
	switch state {
	case ConfigKeyUnusable:
		return Finding{Check: check, Status: StatusFail, Message: "the config's publicKey breaks a device rule: " + err.Error(), Fix: rewriteKeyFix}
	case ConfigKeyDiffers:
		return Finding{Check: check, Status: StatusFail,
			Message: fmt.Sprintf("the config's publicKey (key id %s) is not the half of the private key from %s (key id %s): devices would refuse every bundle you build",
				KeyIDFromPEM(p.PublicKey), facts.KeySource, KeyID(&facts.Key.PublicKey)),
			Fix: "write the matching public key into the config ('capship config set-key'), or use the private key that belongs to the config's"}
	}
	return Finding{Check: check, Status: StatusOK,
		Message: fmt.Sprintf("key id %s, the half of the private key from %s, and follows the device rules", KeyID(&facts.Key.PublicKey), facts.KeySource)}
}

// checkEndpoint judges one of the plugin's server URLs: set, absolute,
// https (plain http only for a loopback host, with a warning).
func checkEndpoint(check, key, raw, suffix, unsetEffect string) Finding {
	fix := fmt.Sprintf("set plugins.CapacitorUpdater.%s to your server's https:// address + %s ('capship config set-server URL' writes all three)", key, suffix)
	if strings.TrimSpace(raw) == "" {
		return Finding{Check: check, Status: StatusFail, Message: key + " is not set: " + unsetEffect, Fix: fix}
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return Finding{Check: check, Status: StatusFail, Message: fmt.Sprintf("%s %q is not an absolute http(s) URL", key, raw), Fix: fix}
	}
	if u.Scheme == "http" {
		if !isLoopbackHost(u.Hostname()) {
			return Finding{Check: check, Status: StatusFail,
				Message: fmt.Sprintf("%s %s uses plain http: iOS and Android refuse it, and anyone on the way could answer devices", key, raw), Fix: fix}
		}
		return Finding{Check: check, Status: StatusWarn,
			Message: fmt.Sprintf("%s %s is plain http on this machine: fine in a simulator here, no real device reaches it", key, raw), Fix: fix}
	}
	return Finding{Check: check, Status: StatusOK, Message: key + " " + raw}
}

// checkPluginVersion reads the plugin's version: the installed one under
// node_modules (the app's, else a parent's, as Node finds it), else the
// lowest the package.json range allows.
func checkPluginVersion(dir string) Finding {
	const check = CheckPluginVersion
	var app struct {
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"` // synced by the Capacitor CLI too
	}
	if err := readPackageJSON(filepath.Join(dir, "package.json"), &app); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = errors.New("no package.json")
		}
		return Finding{Check: check, Status: StatusFail, Message: "cannot read the app's dependencies: " + err.Error(),
			Fix: "run the doctor in the app's folder, next to package.json"}
	}
	want, ok := app.Dependencies[PluginPackage]
	if !ok {
		want, ok = app.DevDependencies[PluginPackage]
	}
	if !ok {
		return Finding{Check: check, Status: StatusFail, Message: PluginPackage + " is not a dependency in package.json: the app cannot take live updates",
			Fix: fmt.Sprintf("npm install %s@^%s && npx cap sync, then ship a native build", PluginPackage, MinPluginVersion)}
	}
	version, from := lowestOf(want), "package.json asks for "+want
	var installed struct {
		Version string `json:"version"`
	}
	for _, m := range nodeModules(dir) { // the first that holds it, as Node resolves it
		if err := readPackageJSON(filepath.Join(m, filepath.FromSlash(PluginPackage), "package.json"), &installed); !errors.Is(err, fs.ErrNotExist) {
			if err == nil && installed.Version != "" {
				version, from = installed.Version, "installed: "+installed.Version
			}
			break
		}
	}
	fix := fmt.Sprintf("npm install %s@^%s && npx cap sync, then ship a native build", PluginPackage, MinPluginVersion)
	switch {
	case !semver.IsValid("v" + version):
		return Finding{Check: check, Status: StatusWarn, Message: fmt.Sprintf("cannot tell the plugin version (%s)", from),
			Fix: fmt.Sprintf("pin %s to ^%s or later in package.json", PluginPackage, MinPluginVersion)}
	case semver.Compare("v"+version, "v"+MinPluginVersion) < 0:
		return Finding{Check: check, Status: StatusWarn,
			Message: fmt.Sprintf("%s %s (%s) is older than %s, which reads the server's `kind`: older plugins count every \"nothing for you\" answer as a failed download and tell the app so", PluginPackage, version, from, MinPluginVersion),
			Fix:     fix}
	}
	return Finding{Check: check, Status: StatusOK, Message: fmt.Sprintf("%s %s (%s)", PluginPackage, version, from)}
}

// lowestOf returns the lowest version an npm range such as "^8.45.11",
// "~8.45.0", ">=8.45.11 <9" or "8.45.11" allows, "" when it cannot tell
// (a tag, a URL, "*").
func lowestOf(spec string) string {
	fields := strings.Fields(strings.Split(spec, "||")[0])
	if len(fields) == 0 {
		return ""
	}
	v := strings.TrimLeft(fields[0], "^~>=v")
	if v == "" && len(fields) > 1 {
		v = strings.TrimLeft(fields[1], "v")
	}
	if strings.Count(v, ".") == 1 {
		v += ".0"
	}
	if !semver.IsValid("v" + v) {
		return ""
	}
	return v
}

// checkNotifyAppReady looks for notifyAppReady in the web build's .js and
// .html files, file by file in 64 KiB reads, at most maxCodeFiles files.
func checkNotifyAppReady(p *Project) Finding {
	const check = CheckNotifyAppReady
	webDir := p.WebDir
	if webDir == "" {
		webDir = "www"
	}
	root := webDir
	if !filepath.IsAbs(root) {
		root = filepath.Join(p.Dir, filepath.FromSlash(webDir))
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return Finding{Check: check, Status: StatusWarn, Message: fmt.Sprintf("no web build in %s to search for %s()", webDir, codeMarker),
			Fix: "build the web app (npm run build), then run the doctor again"}
	}
	buf := make([]byte, 64<<10)
	files, found := 0, ""
	errStop := errors.New("stop")
	err := filepath.WalkDir(root, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "node_modules" && name != root {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(path.Ext(d.Name())) {
		case ".js", ".mjs", ".cjs", ".html", ".htm":
		default:
			return nil
		}
		if files++; files > maxCodeFiles {
			return errStop
		}
		ok, err := fileContains(name, []byte(codeMarker), buf)
		if err != nil {
			return err
		}
		if ok {
			found = name
			return errStop
		}
		return nil
	})
	switch {
	case found != "":
		rel, _ := filepath.Rel(p.Dir, found)
		return Finding{Check: check, Status: StatusOK, Message: fmt.Sprintf("%s() is called in %s", codeMarker, filepath.ToSlash(rel))}
	case err != nil && !errors.Is(err, errStop):
		return Finding{Check: check, Status: StatusWarn, Message: fmt.Sprintf("cannot search %s: %v", webDir, err), Fix: "make the web build readable, then run the doctor again"}
	case files > maxCodeFiles:
		return Finding{Check: check, Status: StatusWarn, Message: fmt.Sprintf("no %s() in the first %d code files of %s", codeMarker, maxCodeFiles, webDir),
			Fix: "make sure the app calls CapacitorUpdater.notifyAppReady() when it starts"}
	}
	return Finding{Check: check, Status: StatusFail,
		Message: fmt.Sprintf("no .js or .html file in %s calls %s(): the plugin rolls every update back after a few seconds", webDir, codeMarker),
		Fix:     "call CapacitorUpdater.notifyAppReady() when the app starts, rebuild the web app, and run the doctor again"}
}

// pluginDevice is the body of an update check as the plugin sends it
// (spec §3), for the doctor's device check.
type pluginDevice struct {
	Platform       string `json:"platform"`
	DeviceID       string `json:"device_id"`
	AppID          string `json:"app_id"`
	CustomID       string `json:"custom_id"`
	VersionBuild   string `json:"version_build"`
	VersionCode    string `json:"version_code"`
	VersionOS      string `json:"version_os"`
	VersionName    string `json:"version_name"`
	PluginVersion  string `json:"plugin_version"`
	IsEmulator     bool   `json:"is_emulator"`
	IsProd         bool   `json:"is_prod"`
	InstallSource  string `json:"install_source"`
	DefaultChannel string `json:"defaultChannel"`
	KeyID          string `json:"key_id"`
}

func (d pluginDevice) body() []byte {
	data, err := json.Marshal(d)
	if err != nil {
		panic(err) // only strings and booleans
	}
	return data
}
