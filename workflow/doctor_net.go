package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DoctorTimeout bounds each of the doctor's requests to the server.
const DoctorTimeout = 10 * time.Second

// maxDoctorAnswer bounds what the doctor reads of an answer.
const maxDoctorAnswer = 1 << 20

// doctorDeviceID is the device id of the doctor's update check: one
// device the server may count, the same on every run.
const doctorDeviceID = "00000000-0000-4000-8000-00000000d0c7"

// ServerBase is the base URL of the capship server an updateUrl points at:
// the URL without its /updates path, "" when it is not an http(s) URL.
func ServerBase(updateURL string) string {
	u, err := url.Parse(strings.TrimSpace(updateURL))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/updates")
	return strings.TrimRight(u.String(), "/")
}

// CapshipServer is ServerBase for an updateUrl shaped as a capship
// server's (a path ending in /updates, no query), not Capgo's cloud; ""
// otherwise.
func CapshipServer(updateURL string) string {
	u, err := url.Parse(strings.TrimSpace(updateURL))
	if err != nil || !strings.HasSuffix(u.Path, "/updates") || u.RawQuery != "" || strings.HasSuffix(u.Hostname(), "capgo.app") {
		return ""
	}
	return ServerBase(updateURL)
}

// noRedirects is an HTTP client like c that returns redirects instead of
// following them: the plugin posts to the configured URL as it stands.
func noRedirects(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{}
	}
	hc := *c
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &hc
}

// DoctorServerLive asks the capship server at base for /livez.
func DoctorServerLive(ctx context.Context, client *http.Client, base string) Finding {
	const check = CheckServerLive
	if base == "" {
		return Finding{Check: check, Status: StatusFail, Message: "no server to ask: updateUrl is not set",
			Fix: "set updateUrl in the config, or name the server to check"}
	}
	ctx, cancel := context.WithTimeout(ctx, DoctorTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/livez", nil)
	if err != nil {
		return Finding{Check: check, Status: StatusFail, Message: fmt.Sprintf("server %s: %v", base, err), Fix: "give the server's base URL, such as https://updates.example.com"}
	}
	req.Header.Set("User-Agent", "capship-doctor")
	resp, err := noRedirects(client).Do(req)
	if err != nil {
		return Finding{Check: check, Status: StatusFail, Message: fmt.Sprintf("cannot reach %s: %v", base, unwrapURLError(err)),
			Fix: "start the server ('capship serve'), or check the address, DNS and firewall"}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxDoctorAnswer))
	var live struct {
		Status string `json:"status"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &live) != nil || live.Status != "ok" {
		return Finding{Check: check, Status: StatusFail,
			Message: fmt.Sprintf("%s/livez answered HTTP %d, not capship's {\"status\":\"ok\"}", base, resp.StatusCode),
			Fix:     "point updateUrl at a capship server ('capship serve'), not at another site"}
	}
	return Finding{Check: check, Status: StatusOK, Message: base + " is up"}
}

// DeviceCheck is the device the doctor plays: what it tells the server in
// its update check.
type DeviceCheck struct {
	UpdateURL     string // where it posts
	AppID         string
	NativeVersion string // version_build: the native app's version
	PluginVersion string // "" means MinPluginVersion
	KeyID         string // of the config's publicKey
	Platform      string // "android" or "ios"; "" means android
}

// updateAnswer is what the server answers an update check: an update, or
// an error with its kind.
type updateAnswer struct {
	Version string `json:"version"`
	URL     string `json:"url"`
	Error   string `json:"error"`
	Message string `json:"message"`
	Kind    string `json:"kind"`
}

// DoctorDeviceAnswer posts an update check as a freshly installed app
// (version_name builtin) with the native version d.NativeVersion would
// send, and judges the answer: an update or "nothing newer" is fine, a
// refusal by policy is worth a look, a failure is a failure.
func DoctorDeviceAnswer(ctx context.Context, client *http.Client, d DeviceCheck) Finding {
	const check = CheckDeviceAnswer
	if d.Platform == "" {
		d.Platform = "android"
	}
	if d.PluginVersion == "" {
		d.PluginVersion = MinPluginVersion
	}
	device := fmt.Sprintf("a %s device on native %s", d.Platform, d.NativeVersion)
	if strings.ContainsRune("aeiou", rune(d.Platform[0])) {
		device = "an" + device[1:] // an android, an ios
	}
	if d.UpdateURL == "" {
		return Finding{Check: check, Status: StatusFail, Message: "no updateUrl to ask", Fix: "set updateUrl in the config"}
	}
	body := pluginDevice{Platform: d.Platform, DeviceID: doctorDeviceID, AppID: d.AppID, VersionBuild: d.NativeVersion,
		VersionCode: "1", VersionOS: "14", VersionName: "builtin", PluginVersion: d.PluginVersion, IsProd: true, KeyID: d.KeyID}.body()
	ctx, cancel := context.WithTimeout(ctx, DoctorTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.UpdateURL, bytes.NewReader(body))
	if err != nil {
		return Finding{Check: check, Status: StatusFail, Message: fmt.Sprintf("updateUrl %s: %v", d.UpdateURL, err), Fix: "set updateUrl to your server's https:// address + /updates"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "capship-doctor")
	resp, err := noRedirects(client).Do(req)
	if err != nil {
		return Finding{Check: check, Status: StatusFail, Message: fmt.Sprintf("cannot reach %s: %v", d.UpdateURL, unwrapURLError(err)),
			Fix: "start the server ('capship serve'), or check updateUrl"}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxDoctorAnswer))
	if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return Finding{Check: check, Status: StatusFail, Message: fmt.Sprintf("%s redirects to %s: the plugin does not follow a redirect of its POST", d.UpdateURL, loc),
			Fix: "put the final address in updateUrl"}
	}
	var a updateAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return Finding{Check: check, Status: StatusFail, Message: fmt.Sprintf("%s answered HTTP %d with something else than JSON: not an update server", d.UpdateURL, resp.StatusCode),
			Fix: "point updateUrl at a capship server's /updates"}
	}
	switch {
	case a.Error == "" && a.Version != "" && a.URL != "":
		return Finding{Check: check, Status: StatusOK, Message: fmt.Sprintf("%s gets %s", device, a.Version)}
	case a.Error == "":
		return Finding{Check: check, Status: StatusFail, Message: fmt.Sprintf("%s gets an answer without version and url (HTTP %d)", device, resp.StatusCode),
			Fix: "point updateUrl at a capship server's /updates"}
	case a.Kind == "up_to_date":
		return Finding{Check: check, Status: StatusOK, Message: fmt.Sprintf("%s is told nothing is newer: %s", device, a.Message)}
	case a.Kind == "blocked":
		return Finding{Check: check, Status: StatusWarn, Message: fmt.Sprintf("%s is turned away (%s): %s", device, a.Error, a.Message),
			Fix: blockedFix(a.Error)}
	}
	return Finding{Check: check, Status: StatusFail, Message: fmt.Sprintf("%s gets a failure (%s, HTTP %d): %s", device, a.Error, resp.StatusCode, a.Message),
		Fix: "read the server's log for this request; devices count it as a failed download"}
}

// blockedFix says what to do about a refusal by policy.
func blockedFix(code string) string {
	switch code {
	case "app_not_found":
		return "register a first release for the app on this server ('capship release register')"
	case "no_channel", "cannot_update_via_private_channel":
		return "register a release onto a public channel, or make one public ('capship channel set NAME --public')"
	case "key_id_mismatch":
		return "the config's publicKey is not the key the app's releases are sealed with: write the right key into the config"
	case "disable_auto_update_under_native":
		return "the release is older than the device's native version: register a newer one (or let the channel go under native: 'capship channel set NAME --disable-under-native=false')"
	case "min_native_version_not_met":
		return "devices on this native version do not get the release: ship a native build, or register without --min-native"
	}
	return "check the channel's settings ('capship channel list') against this device"
}
