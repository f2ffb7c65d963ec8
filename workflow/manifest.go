package workflow

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ManifestSchema is the version of the manifest file format.
const ManifestSchema = 1

// maxManifestSize bounds a manifest file: a delta takes about 900 bytes
// per file (its V3 file hash alone is 512), so 128 MiB is some 140,000
// files.
const maxManifestSize = 128 << 20

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
	// NativePackages are the app's native dependencies and their installed
	// versions (NativePackages) when the bundle was built: 'release
	// register' compares them with the release the channel serves. nil
	// when not recorded (an older capship, no package.json).
	NativePackages map[string]string `json:"native_packages"`
	// Warnings are what the build warned about (a config publicKey that
	// breaks a device rule, the preflight's findings), for the --json
	// output; the manifest file does not hold them.
	Warnings []string `json:"warnings,omitempty"`
	// DeltaSummary counts Delta's files and objects, for people and the
	// --json output; ReadManifest recomputes it from Delta.
	DeltaSummary *DeltaSummary `json:"delta_summary,omitempty"`
	// Delta is the per-file form of the bundle; nil when the release can
	// only go as a zip (built with --no-delta, or a file that cannot
	// travel in a manifest, DeltaSkipped says which).
	Delta        *Delta `json:"delta,omitempty"`
	DeltaSkipped string `json:"delta_skipped,omitempty"` // why there is no Delta, for people
}

// ErrManifest means a manifest file is damaged or incomplete.
var ErrManifest = errors.New("invalid manifest")

// manifestHint ends the errors of a manifest that cannot be used.
const manifestHint = "use the APP-VERSION.manifest.json written next to the bundle when it was built"

// ReadManifest reads and checks a manifest written by Build.
func ReadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w (%s)", err, manifestHint)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	} else if st.Size() > maxManifestSize {
		return nil, fmt.Errorf("read manifest %s: %w: larger than %d MiB", path, ErrManifest, maxManifestSize>>20)
	}
	var m Manifest
	dec := json.NewDecoder(bufio.NewReaderSize(io.LimitReader(f, maxManifestSize), 64<<10))
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
	m.DeltaSummary = nil
	if m.Delta != nil {
		if !filepath.IsAbs(m.Delta.Dir) {
			m.Delta.Dir = filepath.Join(dir, filepath.FromSlash(m.Delta.Dir))
		}
		sum := m.Delta.Summary()
		m.DeltaSummary = &sum
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
	if m.Delta != nil {
		if err := m.Delta.check(); err != nil {
			return fmt.Errorf("%w: delta: %w", ErrManifest, err)
		}
	}
	return nil
}

// check holds a delta to what Build writes and devices accept: every path
// a valid bundle entry name, sorted and listed once; hashes of the right
// form; objects with flat, URL-safe names and sizes of whole AES blocks;
// files of one object alike.
func (d *Delta) check() error {
	if d.Dir == "" {
		return errors.New("missing dir")
	}
	if len(d.Files) == 0 {
		return errors.New("lists no files")
	}
	objects := make(map[string]*DeltaFile, len(d.Files))
	for i := range d.Files {
		f := &d.Files[i]
		if err := CheckEntryName(f.Path); err != nil {
			return fmt.Errorf("file %q: %w", f.Path, err)
		}
		if i > 0 && d.Files[i-1].Path >= f.Path {
			return fmt.Errorf("file %q: files not sorted by path, or listed twice", f.Path)
		}
		switch {
		case len(f.SHA256) != 64 || !isLowerHex(f.SHA256):
			return fmt.Errorf("file %q: sha256 is not 64 lowercase hex characters", f.Path)
		case len(f.FileHash) != 2*rsaBlockSize || !isLowerHex(f.FileHash):
			return fmt.Errorf("file %q: file_hash is not the V3 form (512 lowercase hex characters)", f.Path)
		case !validObjectName(f.Object):
			return fmt.Errorf("file %q: object name %q is not flat and URL-safe (letters, digits, '.', '_', '-', '~')", f.Path, f.Object)
		case f.Size <= 0 || f.Size%16 != 0:
			return fmt.Errorf("file %q: object size %d is not a positive multiple of 16", f.Path, f.Size)
		case len(f.ObjectSHA256) != 64 || !isLowerHex(f.ObjectSHA256):
			return fmt.Errorf("file %q: object_sha256 is not 64 lowercase hex characters", f.Path)
		case f.PlainSize < 0 || f.PlainSize > 0 && !f.Brotli && f.Size != f.PlainSize/16*16+16:
			return fmt.Errorf("file %q: object size %d does not hold %d plain bytes", f.Path, f.Size, f.PlainSize)
		}
		if o := objects[f.Object]; o == nil {
			objects[f.Object] = f
		} else if o.SHA256 != f.SHA256 || o.Size != f.Size || o.ObjectSHA256 != f.ObjectSHA256 || o.Brotli != f.Brotli || o.FileHash != f.FileHash {
			return fmt.Errorf("files %q and %q share object %s but not its content", o.Path, f.Path, f.Object)
		}
	}
	return nil
}

// ValidObjectName is validObjectName for the server, whose storage keys
// end in the manifest's object names.
func ValidObjectName(s string) bool { return validObjectName(s) }

// validObjectName reports whether an object name can stand as is after
// BASE/ in a URL and as a file name: unreserved URL characters only, not
// "." or "..", at most 255 bytes.
func validObjectName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '~') {
			return false
		}
	}
	return true
}

// writeManifest writes m to path atomically (temp file and rename).
func writeManifest(path string, m *Manifest) error {
	tmp, err := stageManifest(path, m)
	if err != nil {
		return err
	}
	return commitFile(tmp, path)
}

// stageManifest writes m, with the bundle and delta paths relative to the
// manifest's folder, to a synced temp file beside path and returns its name.
func stageManifest(path string, m *Manifest) (string, error) {
	out := *m
	out.File = relIfInside(filepath.Dir(path), m.File)
	out.Manifest = filepath.Base(path)
	if m.Delta != nil {
		d := *m.Delta
		d.Dir = relIfInside(filepath.Dir(path), d.Dir)
		out.Delta = &d
	}
	name, err := stageWith(path, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 64<<10)
		if err := out.WriteJSON(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return "", fmt.Errorf("write manifest: %w", err)
	}
	return name, nil
}

// WriteJSON writes m as json.MarshalIndent(m, "", "  ") would, and a
// newline, without holding the whole text: a delta's file list is about
// 900 bytes per file, so 13 MB for 15,000 files, and twice that while
// MarshalIndent indents it.
func (m *Manifest) WriteJSON(w io.Writer) error {
	if m.Delta == nil {
		data, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(data, '\n'))
		return err
	}
	// Delta and DeltaSkipped are the last fields: the rest, then them.
	head := *m
	head.Delta, head.DeltaSkipped = nil, ""
	data, err := json.MarshalIndent(&head, "", "  ")
	if err != nil {
		return err
	}
	data = bytes.TrimSuffix(data, []byte("\n}"))
	dir, err := json.Marshal(m.Delta.Dir)
	if err != nil {
		return err
	}
	ew := &errWriter{w: w}
	ew.write(data)
	ew.write([]byte(",\n  \"delta\": {\n    \"dir\": "))
	ew.write(dir)
	if m.Delta.Files == nil {
		ew.write([]byte(",\n    \"files\": null\n  }"))
	} else if len(m.Delta.Files) == 0 {
		ew.write([]byte(",\n    \"files\": []\n  }"))
	} else {
		ew.write([]byte(",\n    \"files\": [\n"))
		// By hand, into one reused buffer: encoding/json's indenting is
		// the slowest part of writing 15,000 entries (and makes ~3 KB of
		// garbage per entry). TestManifestWriteJSON holds it to
		// MarshalIndent's output.
		buf := make([]byte, 0, 2048)
		for i := range m.Delta.Files {
			buf = appendDeltaFileJSON(buf[:0], &m.Delta.Files[i])
			if i < len(m.Delta.Files)-1 {
				buf = append(buf, ",\n"...)
			} else {
				buf = append(buf, "\n    ]\n  }"...)
			}
			ew.write(buf)
		}
	}
	if m.DeltaSkipped != "" {
		s, err := json.Marshal(m.DeltaSkipped)
		if err != nil {
			return err
		}
		ew.write([]byte(",\n  \"delta_skipped\": "))
		ew.write(s)
	}
	ew.write([]byte("\n}\n"))
	return ew.err
}

// appendDeltaFileJSON appends f as MarshalIndent(f, "      ", "  ") writes
// it, after the prefix.
func appendDeltaFileJSON(b []byte, f *DeltaFile) []byte {
	const field = "\n        \""
	b = append(b, "      {"+field+"path\": "...)
	b = appendJSONString(b, f.Path)
	b = append(b, ","+field+"sha256\": "...)
	b = appendJSONString(b, f.SHA256)
	b = append(b, ","+field+"file_hash\": "...)
	b = appendJSONString(b, f.FileHash)
	b = append(b, ","+field+"object\": "...)
	b = appendJSONString(b, f.Object)
	b = append(b, ","+field+"size\": "...)
	b = strconv.AppendInt(b, f.Size, 10)
	b = append(b, ","+field+"object_sha256\": "...)
	b = appendJSONString(b, f.ObjectSHA256)
	b = append(b, ","+field+"brotli\": "...)
	b = strconv.AppendBool(b, f.Brotli)
	if f.PlainSize != 0 {
		b = append(b, ","+field+"plain_size\": "...)
		b = strconv.AppendInt(b, f.PlainSize, 10)
	}
	return append(b, "\n      }"...)
}

// appendJSONString appends s quoted as encoding/json writes it: as it is
// when it holds only printable ASCII that needs no escape, else through
// json.Marshal (HTML-safe escapes, U+2028, invalid UTF-8).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// errWriter keeps the first error of a series of writes.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) write(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
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
func stageFile(path string, data []byte, perm os.FileMode) (string, error) {
	name, err := stageWith(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return name, nil
}

// stageWith is stageFile with the content from write: a temp file beside
// path, given perm and synced, or no file when an error comes.
func stageWith(path string, perm os.FileMode, write func(io.Writer) error) (name string, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return "", err
	}
	if err := tmp.Chmod(perm); err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
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
