package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ManifestSchema is the version of the manifest file format.
const ManifestSchema = 1

const maxManifestSize = 1 << 20

// Manifest describes one built bundle. Build writes it as JSON next to the
// encrypted bundle; the URL check and the registration read it back.
//
// In the file, File and Manifest are names relative to the manifest's own
// folder (so the folder can move); ReadManifest and Build return them as
// absolute paths.
type Manifest struct {
	Schema         int       `json:"schema"`
	AppID          string    `json:"app_id"`
	Version        string    `json:"version"`
	File           string    `json:"file"`            // the encrypted bundle
	Size           int64     `json:"size"`            // of the encrypted bundle
	SHA256         string    `json:"sha256"`          // of the encrypted bundle, lowercase hex
	ZipSHA256      string    `json:"zip_sha256"`      // of the plain zip, lowercase hex
	ZipSize        int64     `json:"zip_size"`        // of the plain zip
	SessionKey     string    `json:"session_key"`     // what devices receive as session_key
	Checksum       string    `json:"checksum"`        // V3 encrypted checksum devices receive
	KeyID          string    `json:"key_id"`          // Capgo key id (spec §1)
	KeyFingerprint string    `json:"key_fingerprint"` // "sha256:" + hex of the SPKI DER
	Files          int       `json:"files"`           // entries in the zip
	Bytes          int64     `json:"bytes"`           // uncompressed bytes of all files
	Manifest       string    `json:"manifest"`        // this file
	CreatedAt      time.Time `json:"created_at"`
	// Delta is the per-file form of the bundle; nil when the release can
	// only go as a zip (built with --no-delta, or a file that cannot
	// travel in a manifest, DeltaSkipped says which).
	Delta        *Delta `json:"delta,omitempty"`
	DeltaSkipped string `json:"delta_skipped,omitempty"` // why there is no Delta, for people
}

// ErrManifest means a manifest file is damaged or incomplete.
var ErrManifest = errors.New("invalid manifest")

// manifestHint ends the errors of a manifest that cannot be used.
const manifestHint = "pass the APP-VERSION.manifest.json that 'capship bundle build' wrote next to the bundle"

// ReadManifest reads and checks a manifest written by Build.
func ReadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w (%s)", err, manifestHint)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	if len(data) > maxManifestSize {
		return nil, fmt.Errorf("read manifest %s: %w: larger than 1 MiB", path, ErrManifest)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("read manifest %s: %w: %v (%s)", path, ErrManifest, err, manifestHint)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("read manifest %s: %w (%s)", path, err, manifestHint)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	dir := filepath.Dir(abs)
	if !filepath.IsAbs(m.File) {
		m.File = filepath.Join(dir, filepath.FromSlash(m.File))
	}
	m.Manifest = abs
	return &m, nil
}

func (m *Manifest) check() error {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"app_id", m.AppID}, {"version", m.Version}, {"file", m.File},
		{"sha256", m.SHA256}, {"zip_sha256", m.ZipSHA256}, {"session_key", m.SessionKey},
		{"checksum", m.Checksum}, {"key_id", m.KeyID}, {"key_fingerprint", m.KeyFingerprint},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s", ErrManifest, strings.Join(missing, ", "))
	}
	if m.Schema != ManifestSchema {
		return fmt.Errorf("%w: schema %d, this capship reads %d", ErrManifest, m.Schema, ManifestSchema)
	}
	if err := ValidVersion(m.Version); err != nil {
		return fmt.Errorf("%w: %w", ErrManifest, err)
	}
	for _, h := range []struct{ name, value string }{{"sha256", m.SHA256}, {"zip_sha256", m.ZipSHA256}} {
		if len(h.value) != 64 || !isLowerHex(h.value) {
			return fmt.Errorf("%w: %s is not 64 lowercase hex characters", ErrManifest, h.name)
		}
	}
	if _, _, err := ParseSessionKey(m.SessionKey); err != nil {
		return fmt.Errorf("%w: %w", ErrManifest, err)
	}
	if len(m.Checksum) != 2*rsaBlockSize || !isLowerHex(m.Checksum) {
		return fmt.Errorf("%w: checksum is not the V3 form (512 lowercase hex characters)", ErrManifest)
	}
	if m.Size <= 0 || m.Size%16 != 0 {
		return fmt.Errorf("%w: size %d is not a positive multiple of 16", ErrManifest, m.Size)
	}
	return nil
}

// writeManifest writes m to path atomically (temp file and rename).
func writeManifest(path string, m *Manifest) error {
	tmp, err := stageManifest(path, m)
	if err != nil {
		return err
	}
	return commitFile(tmp, path)
}

// stageManifest writes m, with the bundle path relative to the manifest's
// folder, to a synced temp file beside path and returns its name.
func stageManifest(path string, m *Manifest) (string, error) {
	out := *m
	out.File = relIfInside(filepath.Dir(path), m.File)
	out.Manifest = filepath.Base(path)
	data, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return "", fmt.Errorf("write manifest: %w", err)
	}
	return stageFile(path, append(data, '\n'), 0o644)
}

func relIfInside(dir, path string) string {
	if rel, err := filepath.Rel(dir, path); err == nil && filepath.IsLocal(rel) {
		return filepath.ToSlash(rel)
	}
	return path
}

// replaceFile writes data to path atomically: a synced temp file in the
// same folder, renamed over path.
func replaceFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := stageFile(path, data, perm)
	if err != nil {
		return err
	}
	return commitFile(tmp, path)
}

// stageFile writes data to a synced temp file beside path and returns its
// name; commitFile renames it into place.
func stageFile(path string, data []byte, perm os.FileMode) (name string, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return tmp.Name(), nil
}

// commitFile renames the staged file tmp to path, or removes it.
func commitFile(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
