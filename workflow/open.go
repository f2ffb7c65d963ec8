package workflow

import (
	"archive/zip"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// OpenOptions says what to open and how: what a device receives from the
// update server, plus the app's public key.
type OpenOptions struct {
	File       string         // the encrypted bundle
	SessionKey string         // session_key: base64(IV) ":" base64(RSA(AES key))
	Checksum   string         // checksum: the V3 encrypted checksum
	PublicKey  *rsa.PublicKey // the key in the app's Capacitor config
	ExtractDir string         // if set, extract here; it must not exist or be empty
	Limits     ExtractLimits  // zero fields take DefaultExtractLimits
}

// ExtractLimits bound what a bundle may unpack to, against zip bombs.
type ExtractLimits struct {
	MaxEntries   int   // files and folders in the zip
	MaxFileSize  int64 // uncompressed bytes of one file
	MaxTotalSize int64 // uncompressed bytes of all files
	MaxRatio     int64 // uncompressed/compressed, for files over 1 MiB
}

// DefaultExtractLimits are far above any real web build.
var DefaultExtractLimits = ExtractLimits{
	MaxEntries:   100_000,
	MaxFileSize:  1 << 30,
	MaxTotalSize: 4 << 30,
	MaxRatio:     1000,
}

func (l ExtractLimits) withDefaults() ExtractLimits {
	d := DefaultExtractLimits
	if l.MaxEntries > 0 {
		d.MaxEntries = l.MaxEntries
	}
	if l.MaxFileSize > 0 {
		d.MaxFileSize = l.MaxFileSize
	}
	if l.MaxTotalSize > 0 {
		d.MaxTotalSize = l.MaxTotalSize
	}
	if l.MaxRatio > 0 {
		d.MaxRatio = l.MaxRatio
	}
	return d
}

// OpenResult is what Open found.
type OpenResult struct {
	File           string `json:"file"`
	Size           int64  `json:"size"`        // of the encrypted file
	SHA256         string `json:"sha256"`      // of the encrypted file
	ZipSHA256      string `json:"zip_sha256"`  // of the decrypted zip, proven by the checksum
	ZipSize        int64  `json:"zip_size"`    // of the decrypted zip
	Files          int    `json:"files"`       // file entries (folders not counted)
	Entries        int    `json:"entries"`     // all entries, folders included
	Bytes          int64  `json:"bytes"`       // uncompressed bytes of all files
	Root           string `json:"root"`        // the single top folder the plugin flattens, or ""
	ExtractDir     string `json:"extract_dir"` // where the files are, if extracted
	KeyID          string `json:"key_id"`
	KeyFingerprint string `json:"key_fingerprint"`
}

// ErrUnsafeZip means the decrypted zip breaks a rule of spec §2 or a safety
// limit: traversal, links, absurd sizes, a layout devices reject.
var ErrUnsafeZip = errors.New("unsafe or invalid zip")

// Open does what a device does with a bundle: recover the AES key with the
// public key, decrypt the file, check the V3 checksum, check every zip entry,
// and, with ExtractDir, extract it. The extraction goes to a temp folder next
// to ExtractDir that is renamed at the end; on any error nothing is left.
// Events, at most about ten a second: PhaseVerify while decrypting and
// reading entries, PhaseExtract while extracting, then PhaseDone.
func Open(ctx context.Context, opts OpenOptions, report Reporter) (*OpenResult, error) {
	report = Throttle(report, 100*time.Millisecond)
	if opts.PublicKey == nil {
		return nil, errors.New("open bundle: no public key given")
	}
	if err := checkKeySize(opts.PublicKey); err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	if _, err := decodeChecksum(opts.Checksum); err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	key, iv, err := RecoverSessionKey(opts.PublicKey, opts.SessionKey)
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	if opts.ExtractDir != "" {
		if err := checkExtractTarget(opts.ExtractDir); err != nil {
			return nil, err
		}
	}
	res := &OpenResult{File: opts.File, KeyID: KeyID(opts.PublicKey), KeyFingerprint: Fingerprint(opts.PublicKey)}

	src, err := os.Open(opts.File)
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("open bundle: %s is not a regular file", opts.File)
	}
	res.Size = st.Size()
	if res.Size == 0 || res.Size%16 != 0 {
		return nil, fmt.Errorf("open bundle: %w: %s is %d bytes, not a whole number of AES blocks: truncated or not encrypted", ErrCiphertext, opts.File, res.Size)
	}

	tmpDir := os.TempDir()
	if opts.ExtractDir != "" {
		tmpDir = filepath.Dir(opts.ExtractDir)
	}
	plain, err := os.CreateTemp(tmpDir, ".capship-open-*.zip")
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	defer func() {
		plain.Close()
		os.Remove(plain.Name())
	}()

	encHash, zipHash := sha256.New(), sha256.New()
	in := &progressReader{ctx: ctx, r: io.TeeReader(src, encHash), report: report, phase: PhaseVerify, total: res.Size}
	dec, err := NewDecryptReader(in, key, iv)
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	n, err := io.Copy(io.MultiWriter(plain, zipHash), dec)
	if err != nil {
		return nil, fmt.Errorf("decrypt bundle: %w", err)
	}
	res.ZipSize = n
	res.SHA256 = hex.EncodeToString(encHash.Sum(nil))
	res.ZipSHA256 = hex.EncodeToString(zipHash.Sum(nil))
	if err := VerifyChecksum(opts.PublicKey, opts.Checksum, zipHash.Sum(nil)); err != nil {
		return nil, fmt.Errorf("verify bundle: %w: the bundle was changed, or was not made with this key pair", err)
	}

	zr, err := zip.NewReader(plain, n)
	if err != nil {
		return nil, fmt.Errorf("read zip: %w: %v", ErrUnsafeZip, err)
	}
	plan, err := checkZip(plain, zr, opts.Limits.withDefaults())
	if err != nil {
		return nil, fmt.Errorf("check zip: %w", err)
	}
	res.Files, res.Entries, res.Bytes, res.Root = plan.files, len(zr.File), plan.bytes, plan.root

	if opts.ExtractDir == "" {
		// Read every entry anyway: CRCs and deflate streams must be sound,
		// since iOS stops silently at a bad entry.
		err = walkEntries(ctx, zr, plan, PhaseVerify, report, func(*zip.File) (io.Writer, func() error, error) {
			return io.Discard, func() error { return nil }, nil
		})
		if err != nil {
			return nil, err
		}
	} else {
		if err := extract(ctx, zr, plan, opts.ExtractDir, report); err != nil {
			return nil, err
		}
		res.ExtractDir = opts.ExtractDir
	}
	report(Event{Phase: PhaseDone, Files: res.Files, TotalFiles: res.Files, Bytes: res.Bytes, TotalBytes: res.Bytes})
	return res, nil
}

// checkExtractTarget refuses an ExtractDir that holds anything.
func checkExtractTarget(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(filepath.Dir(dir)); err != nil {
			return fmt.Errorf("extract bundle: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("extract bundle: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("extract bundle: %s is not empty; pick a new folder", dir)
	}
	return nil
}

// extract unpacks zr into a temp folder next to dir and renames it to dir.
func extract(ctx context.Context, zr *zip.Reader, plan *zipPlan, dir string, report Reporter) (err error) {
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("extract bundle: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return fmt.Errorf("extract bundle: %w", err)
	}
	defer root.Close()
	err = walkEntries(ctx, zr, plan, PhaseExtract, report, func(f *zip.File) (io.Writer, func() error, error) {
		name := filepath.FromSlash(f.Name)
		if plan.isDir(f) {
			return nil, nil, root.MkdirAll(name, 0o755)
		}
		if d := filepath.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return nil, nil, err
			}
		}
		out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, nil, err
		}
		return out, out.Close, nil
	})
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("extract bundle: %w", err)
	}
	// An empty ExtractDir was allowed; it gives way to the full one.
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("extract bundle: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("extract bundle: %w", err)
	}
	return nil
}

// walkEntries reads every entry of zr in central-directory order (as iOS
// does), copying file contents to the writer open returns (nil for folders)
// and reporting phase events.
func walkEntries(ctx context.Context, zr *zip.Reader, plan *zipPlan, phase Phase, report Reporter, open func(*zip.File) (io.Writer, func() error, error)) error {
	var done int
	var bytes int64
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		w, closeW, err := open(f)
		if err != nil {
			return fmt.Errorf("extract %s: %w", f.Name, err)
		}
		if w == nil {
			continue
		}
		n, err := copyEntry(w, f)
		if cerr := closeW(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", f.Name, err)
		}
		done++
		bytes += n
		report(Event{Phase: phase, Files: done, TotalFiles: plan.files, Bytes: bytes, TotalBytes: plan.bytes, Current: f.Name})
	}
	return nil
}

// copyEntry copies f's contents, refusing more bytes than its header says
// (archive/zip checks the CRC and the exact size at the end).
func copyEntry(w io.Writer, f *zip.File) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnsafeZip, err)
	}
	defer rc.Close()
	n, err := io.Copy(w, io.LimitReader(rc, int64(f.UncompressedSize64)+1))
	if err != nil {
		if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.Is(err, io.ErrUnexpectedEOF) {
			return n, fmt.Errorf("%w: %v", ErrUnsafeZip, err)
		}
		return n, err
	}
	if uint64(n) != f.UncompressedSize64 {
		return n, fmt.Errorf("%w: holds %d bytes, its header says %d", ErrUnsafeZip, n, f.UncompressedSize64)
	}
	return n, nil
}

// progressReader reports bytes read and stops when ctx is done.
type progressReader struct {
	ctx    context.Context
	r      io.Reader
	report Reporter
	phase  Phase
	total  int64
	n      int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if n > 0 {
		p.report(Event{Phase: p.phase, Bytes: p.n, TotalBytes: p.total})
	}
	return n, err
}
