package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Project is what capship reads from a Capacitor app's folder.
type Project struct {
	Dir        string // the app's folder
	ConfigPath string // capacitor.config.ts, .js or .json; empty when none was found
	AppID      string // appId
	WebDir     string // webDir, as written in the config (relative to Dir)
	Version    string // "version" of package.json, if any
	PublicKey  string // plugins.CapacitorUpdater.publicKey, if any
	UpdateURL  string // plugins.CapacitorUpdater.updateUrl, if any
	StatsURL   string // plugins.CapacitorUpdater.statsUrl, if any
	ChannelURL string // plugins.CapacitorUpdater.channelUrl, if any
	// LeakedKey: the config sets plugins.CapacitorUpdater.privateKey, so
	// every build of the app carries its private key.
	LeakedKey bool
	// Dynamic names config keys set by expressions capship cannot evaluate
	// (.ts/.js configs only), such as "appId" for appId: process.env.APP_ID.
	Dynamic []string
}

// ErrNoConfig means the folder has no Capacitor config file.
var ErrNoConfig = errors.New("no capacitor.config.ts, capacitor.config.js or capacitor.config.json")

// LoadProject reads the Capacitor config and package.json in dir. Like the
// Capacitor CLI it prefers capacitor.config.ts, then .js, then .json. A
// missing package.json is not an error; a missing config is ErrNoConfig
// (returned with the partly filled Project).
func LoadProject(dir string) (*Project, error) {
	return LoadProjectConfig(dir, "")
}

// LoadProjectConfig is LoadProject with the config file given explicitly;
// an empty configPath means look for it in dir.
func LoadProjectConfig(dir, configPath string) (*Project, error) {
	p := &Project{Dir: dir}
	if err := readPackageVersion(filepath.Join(dir, "package.json"), p); err != nil {
		return nil, err
	}
	path := configPath
	if path == "" {
		var err error
		if path, err = FindConfig(dir); err != nil {
			return p, fmt.Errorf("read project in %s: %w", dir, ErrNoConfig)
		}
	}
	cfg, err := ReadCapConfig(path)
	if err != nil {
		return nil, err
	}
	p.ConfigPath = path
	p.AppID = cfg.AppID
	p.WebDir = cfg.WebDir
	p.PublicKey = cfg.PublicKey
	p.UpdateURL = cfg.UpdateURL
	p.StatsURL = cfg.StatsURL
	p.ChannelURL = cfg.ChannelURL
	p.LeakedKey = cfg.PrivateKey != "" || slices.Contains(cfg.Dynamic, strings.Join(append(updaterPath[:2:2], "privateKey"), "."))
	p.Dynamic = cfg.Dynamic
	return p, nil
}

func readPackageVersion(path string, p *Project) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read package.json: %w", err)
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		return fmt.Errorf("read %s: not valid JSON: %w", path, err)
	}
	p.Version = pkg.Version
	return nil
}
