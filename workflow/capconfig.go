package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// CapConfig is what capship reads from a Capacitor config file
// (capacitor.config.json, .ts or .js).
type CapConfig struct {
	AppID      string
	AppName    string
	WebDir     string
	PublicKey  string // plugins.CapacitorUpdater.publicKey
	UpdateURL  string // plugins.CapacitorUpdater.updateUrl
	StatsURL   string // plugins.CapacitorUpdater.statsUrl
	ChannelURL string // plugins.CapacitorUpdater.channelUrl
	// PrivateKey is plugins.CapacitorUpdater.privateKey, where Capgo's
	// first scheme put the private key, shipping it in every app.
	PrivateKey string
	// Dynamic names the keys (dotted paths) of a .ts/.js config whose value
	// is an expression capship cannot evaluate, such as process.env.APP_ID.
	Dynamic []string
}

// ErrConfigShape means a Capacitor config is laid out in a way capship does
// not edit automatically. The error is a *ConfigEditError carrying the
// snippet to paste by hand.
var ErrConfigShape = errors.New("config layout not supported for automatic editing")

// ConfigEditError is returned when capship refuses to edit a config file.
// The file is left untouched; Snippet is what the person should add by hand.
type ConfigEditError struct {
	Path    string
	Reason  string
	Snippet string
}

func (e *ConfigEditError) Error() string {
	return fmt.Sprintf("edit %s: %s; the file was not changed. Add this under the config object by hand:\n\n%s",
		e.Path, e.Reason, e.Snippet)
}

func (e *ConfigEditError) Unwrap() error { return ErrConfigShape }

// ConfigNames lists the Capacitor config file names in the order the
// Capacitor CLI looks for them.
var ConfigNames = []string{"capacitor.config.ts", "capacitor.config.js", "capacitor.config.json"}

// FindConfig returns the path of the Capacitor config in dir, or ErrNoConfig.
func FindConfig(dir string) (string, error) {
	for _, name := range ConfigNames {
		path := filepath.Join(dir, name)
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
			return path, nil
		}
	}
	return "", fmt.Errorf("find capacitor config in %s: %w", dir, ErrNoConfig)
}

// updaterPath is where the updater plugin's settings live in a config.
var updaterPath = []string{"plugins", "CapacitorUpdater"}

// ReadCapConfig reads a capacitor.config.json, .ts or .js file.
func ReadCapConfig(path string) (*CapConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read capacitor config: %w", err)
	}
	if isJSONConfig(path) {
		return parseJSONConfig(path, data)
	}
	return parseTSConfig(path, data)
}

// configField is one string setting capship reads, by its key path.
type configField struct {
	keys []string
	dst  *string
}

func (cfg *CapConfig) fields() []configField {
	updater := func(key string) []string { return append(updaterPath[:2:2], key) }
	return []configField{
		{[]string{"appId"}, &cfg.AppID},
		{[]string{"appName"}, &cfg.AppName},
		{[]string{"webDir"}, &cfg.WebDir},
		{updater("publicKey"), &cfg.PublicKey},
		{updater("updateUrl"), &cfg.UpdateURL},
		{updater("statsUrl"), &cfg.StatsURL},
		{updater("channelUrl"), &cfg.ChannelURL},
		{updater("privateKey"), &cfg.PrivateKey},
	}
}

func isJSONConfig(path string) bool { return strings.EqualFold(filepath.Ext(path), ".json") }

// configEdit sets one string value under plugins.CapacitorUpdater.
type configEdit struct{ Key, Value string }

// SetPublicKey writes pem as plugins.CapacitorUpdater.publicKey into the
// config at configPath, editing the file in place and keeping everything
// else byte for byte. The PEM must use LF line breaks only (spec §1: a CRLF
// key crashes iOS apps).
func SetPublicKey(configPath, pem string) error {
	if strings.ContainsRune(pem, '\r') {
		return errors.New("set public key: the PEM contains CR characters; devices need LF line breaks only")
	}
	if !strings.HasPrefix(pem, "-----BEGIN RSA PUBLIC KEY-----") {
		return errors.New("set public key: not a PKCS#1 public key (want -----BEGIN RSA PUBLIC KEY-----)")
	}
	return EditUpdaterConfig(configPath, []configEdit{{"publicKey", pem}})
}

// ServerURLs are the three plugin endpoints of a capship server.
type ServerURLs struct {
	UpdateURL  string `json:"update_url"`
	StatsURL   string `json:"stats_url"`
	ChannelURL string `json:"channel_url"`
}

// ServerURLsFor checks the base URL of a capship server and derives the
// plugin endpoints from it. Devices need HTTPS; plain http is accepted only
// for a loopback host, with a warning.
func ServerURLsFor(baseURL string) (ServerURLs, string, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return ServerURLs{}, "", fmt.Errorf("check server url: %w", err)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ServerURLs{}, "", fmt.Errorf("check server url %q: want an absolute https:// URL such as https://updates.example.com", baseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return ServerURLs{}, "", fmt.Errorf("check server url %q: leave out user info, query and fragment; give the server's base URL", baseURL)
	}
	var warning string
	if u.Scheme == "http" {
		if !isLoopbackHost(u.Hostname()) {
			return ServerURLs{}, "", fmt.Errorf("check server url %q: devices only talk to https:// servers; plain http is allowed for localhost only", baseURL)
		}
		warning = "plain http on a loopback address works in a simulator on this machine only; real devices need https"
	}
	base := strings.TrimRight(u.String(), "/")
	return ServerURLs{
		UpdateURL:  base + "/updates",
		StatsURL:   base + "/stats",
		ChannelURL: base + "/channel_self",
	}, warning, nil
}

// SetServer points the updater plugin of the config at configPath at the
// capship server at baseURL (updateUrl, statsUrl, channelUrl). It returns
// the URLs written and a warning for plain-http loopback servers.
func SetServer(configPath, baseURL string) error {
	urls, _, err := ServerURLsFor(baseURL)
	if err != nil {
		return err
	}
	return EditUpdaterConfig(configPath, []configEdit{
		{"updateUrl", urls.UpdateURL},
		{"statsUrl", urls.StatsURL},
		{"channelUrl", urls.ChannelURL},
	})
}

// EditUpdaterConfig sets string values under plugins.CapacitorUpdater in the
// config at path, creating the objects that are missing. The file is
// rewritten atomically with its mode kept, and only when the result reads
// back with exactly the new values; otherwise a *ConfigEditError with the
// snippet to paste is returned and the file is untouched.
func EditUpdaterConfig(path string, edits []configEdit) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("edit capacitor config: %w", err)
	}
	var out []byte
	if isJSONConfig(path) {
		out, err = editJSONConfig(path, data, edits)
	} else {
		out, err = editTSConfig(path, data, edits)
	}
	if err != nil {
		return err
	}
	if bytes.Equal(out, data) {
		return nil
	}
	return writeFileAtomic(path, out)
}

// writeFileAtomic replaces path with data through a temp file in the same
// folder, keeping the file's permission bits. A symlink (a config or
// package.json shared between apps) stays one: the file it points to is
// replaced.
func writeFileAtomic(path string, data []byte) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return replaceFile(real, data, st.Mode().Perm())
}

// snippetFor renders the edits as the nested object a person pastes into
// the config: JSON syntax for .json files, TypeScript for the others.
func snippetFor(path string, edits []configEdit) string {
	var b strings.Builder
	if isJSONConfig(path) {
		b.WriteString("\"plugins\": {\n  \"CapacitorUpdater\": {\n")
		for i, e := range edits {
			b.WriteString("    \"" + e.Key + "\": " + jsonString(e.Value))
			if i < len(edits)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString("  }\n}")
		return b.String()
	}
	b.WriteString("plugins: {\n  CapacitorUpdater: {\n")
	for _, e := range edits {
		b.WriteString("    " + e.Key + ": " + tsString(e.Value, '\'') + ",\n")
	}
	b.WriteString("  },\n},")
	return b.String()
}
