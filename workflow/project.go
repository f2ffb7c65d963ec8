package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Project is what capship reads from a Capacitor app's folder.
type Project struct {
	Dir        string // the app's folder
	ConfigPath string // capacitor.config.json or .ts; empty when none was found
	AppID      string // appId
	WebDir     string // webDir, as written in the config (relative to Dir)
	Version    string // "version" of package.json, if any
	PublicKey  string // plugins.CapacitorUpdater.publicKey, if any
	UpdateURL  string // plugins.CapacitorUpdater.updateUrl, if any
}

// ErrNoConfig means the folder has no Capacitor config file.
var ErrNoConfig = errors.New("no capacitor.config.json or capacitor.config.ts")

// LoadProject reads the Capacitor config and package.json in dir.
// A missing package.json is not an error; a missing config is ErrNoConfig.
func LoadProject(dir string) (*Project, error) {
	p := &Project{Dir: dir}
	if err := readPackageVersion(filepath.Join(dir, "package.json"), p); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "capacitor.config.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, fmt.Errorf("read project in %s: %w", dir, ErrNoConfig)
	}
	if err != nil {
		return nil, fmt.Errorf("read capacitor config: %w", err)
	}
	var cfg struct {
		AppID   string `json:"appId"`
		WebDir  string `json:"webDir"`
		Plugins struct {
			CapacitorUpdater struct {
				PublicKey string `json:"publicKey"`
				UpdateURL string `json:"updateUrl"`
			} `json:"CapacitorUpdater"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("read %s: not valid JSON: %w", path, err)
	}
	p.ConfigPath = path
	p.AppID = cfg.AppID
	p.WebDir = cfg.WebDir
	p.PublicKey = cfg.Plugins.CapacitorUpdater.PublicKey
	p.UpdateURL = cfg.Plugins.CapacitorUpdater.UpdateURL
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
