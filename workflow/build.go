package workflow

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// BuildOptions says what to build and where.
type BuildOptions struct {
	Dir         string          // the web build folder
	AppID       string          // the Capacitor appId
	Version     string          // semantic version of this bundle
	OutDir      string          // where the bundle and its manifest go; created if missing
	Key         *rsa.PrivateKey // RSA-2048 private key
	NoCodeCheck bool            // skip the notifyAppReady check of Scan
	Workers     int             // parallel deflate workers; 0 means one per CPU
	Force       bool            // replace an existing bundle of the same app and version
	Warn        func(Problem)   // receives the preflight's warnings (not blocking); nil drops them
	// NoDelta builds the zip only, without the per-file objects that let
	// phones download only the files that changed.
	NoDelta bool
	// CacheDir keeps compressed objects and file signatures between
	// builds, so a rebuild compresses and signs only what changed; ""
	// means DefaultCacheDir(), "-" keeps nothing.
	CacheDir string
	// AppDir is the app's folder: its package.json and node_modules say
	// which native packages the bundle expects (NativePackages), recorded
	// in the manifest. "" records none.
	AppDir string

	rand        io.Reader        // tests only: source of the AES key and IV; nil means crypto/rand
	now         func() time.Time // tests only; nil means time.Now
	brotliLevel *int             // tests only; nil means DefaultBrotliLevel
	deltaStats  *deltaStats      // tests only: receives the delta build's counts
	brotliMem   int64            // tests only: brotliMemory instead of its default
}

// cacheDir is the cache folder to use, "" for none.
func (o *BuildOptions) cacheDir() string {
	switch o.CacheDir {
	case "":
		return DefaultCacheDir()
	case "-":
		return ""
	}
	return o.CacheDir
}

// ErrBundleExists means OutDir already holds a bundle of that app and version.
var ErrBundleExists = errors.New("bundle already exists")

// ErrMissingOption means BuildOptions lacks a folder it needs (Dir or
// OutDir); the message says which.
var ErrMissingOption = errors.New("missing build option")

// OutInsideWebError: the output folder is inside the web build folder, so
// every bundle would carry the previous ones.
type OutInsideWebError struct{ Out, Web string }

func (e *OutInsideWebError) Error() string {
	return "the output folder " + e.Out + " is inside the web build folder " + e.Web +
		", so every bundle would carry the previous ones: use an output folder outside it"
}

// ErrAppID means an app id is not a valid Capacitor appId.
var ErrAppID = errors.New("invalid app id")

// BundleFileName is the name of the encrypted bundle for an app and version.
// A "+" of build metadata becomes "_": storage services read "+" in a URL
// path as a space.
func BundleFileName(appID, version string) string {
	return appID + "-" + strings.ReplaceAll(version, "+", "_") + ".zip"
}

// ManifestFileName is the name of the manifest written next to the bundle.
func ManifestFileName(appID, version string) string {
	return appID + "-" + strings.ReplaceAll(version, "+", "_") + ".manifest.json"
}

// ValidAppID checks that id looks like a Capacitor appId (com.example.app):
// letters, digits, "_" and "-" in dot-separated parts.
func ValidAppID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: the app id is empty; set appId in the Capacitor config", ErrAppID)
	}
	if len(id) > 255 {
		return fmt.Errorf("%w: longer than 255 characters", ErrAppID)
	}
	parts := strings.Split(id, ".")
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("%w: %q has an empty part; want something like com.example.app", ErrAppID, id)
		}
		for _, c := range p {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
				return fmt.Errorf("%w: %q holds %q; use letters, digits, '_' and '-' in dot-separated parts", ErrAppID, id, c)
			}
		}
	}
	if len(parts) < 2 {
		return fmt.Errorf("%w: %q has no dot; want something like com.example.app", ErrAppID, id)
	}
	return nil
}

// Build zips the web build folder, encrypts it and writes the encrypted
// bundle and its manifest to OutDir, in one streaming pass: zip bytes go to
// a SHA-256 and to AES-128-CBC, whose output goes to a temp file in OutDir
// and a second SHA-256. Unless NoDelta, it then writes the delta form
// (spec §6) into a temp folder in OutDir: one object per distinct file
// content, brotli-compressed where that pays and encrypted with the same
// session key, and signs each content's SHA-256. The temp files are
// synced and renamed at the end; on an error or when ctx is cancelled
// nothing is left in OutDir. A tree that cannot go file by file (an empty
// file, a name too long for the plugin) gets no Delta: DeltaSkipped says
// why, and Warn hears it.
// Events: PhaseScan, PhasePack (from WriteZip), PhaseDelta, then PhaseDone.
func Build(ctx context.Context, opts BuildOptions, report Reporter) (_ *Manifest, err error) {
	if report == nil {
		report = func(Event) {}
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	outDir, err := filepath.Abs(opts.OutDir)
	if err != nil {
		return nil, fmt.Errorf("build bundle: %w", err)
	}
	if webDir, err := filepath.Abs(opts.Dir); err == nil {
		if rel, err := filepath.Rel(webDir, outDir); err == nil && (rel == "." || filepath.IsLocal(rel)) {
			return nil, fmt.Errorf("build bundle: %w", &OutInsideWebError{Out: outDir, Web: webDir})
		}
	}
	if _, statErr := os.Stat(outDir); errors.Is(statErr, fs.ErrNotExist) {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return nil, fmt.Errorf("create output folder: %w", err)
		}
		defer func() {
			if err != nil {
				os.Remove(outDir) // the folder we made, now empty again
			}
		}()
	}
	bundlePath := filepath.Join(outDir, BundleFileName(opts.AppID, opts.Version))
	manifestPath := filepath.Join(outDir, ManifestFileName(opts.AppID, opts.Version))
	deltaName := DeltaDirName(opts.AppID, opts.Version)
	deltaPath := filepath.Join(outDir, deltaName)
	if !opts.Force {
		for _, p := range []string{bundlePath, manifestPath, deltaPath} {
			if _, err := os.Lstat(p); err == nil {
				return nil, fmt.Errorf("build bundle: %w: %s", ErrBundleExists, p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("build bundle: %w", err)
			}
		}
	}

	report(Event{Phase: PhaseScan})
	tree, err := Scan(opts.Dir, ScanOptions{NoCodeCheck: opts.NoCodeCheck, Report: report})
	if err != nil {
		return nil, err // a *PreflightError naming the file, or the folder's read error
	}
	if opts.Warn != nil {
		for _, p := range tree.Warnings() {
			opts.Warn(p)
		}
	}
	report(Event{Phase: PhaseScan, Files: tree.Files, TotalFiles: tree.Files, Bytes: tree.Bytes, TotalBytes: tree.Bytes})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var natives map[string]string
	if opts.AppDir != "" {
		var warnings []string
		if natives, warnings, err = NativePackages(opts.AppDir); err != nil {
			return nil, fmt.Errorf("build bundle: %w", err)
		}
		for _, w := range warnings {
			if opts.Warn != nil {
				opts.Warn(Problem{Message: w}) // no Path: about the app's folder, not the web build
			}
		}
	}
	var deltaSkipped string
	var sums []EntrySum
	if !opts.NoDelta {
		var warn *Problem
		if deltaSkipped, warn = deltaBlocker(tree); warn != nil && opts.Warn != nil {
			opts.Warn(*warn)
		}
		if deltaSkipped == "" {
			sums = make([]EntrySum, len(tree.Entries))
		}
	}

	random := opts.rand
	if random == nil {
		random = rand.Reader
	}
	var session [2 * SessionKeySize]byte
	if _, err := io.ReadFull(random, session[:]); err != nil {
		return nil, fmt.Errorf("make session key: %w", err)
	}
	aesKey, iv := session[:SessionKeySize], session[SessionKeySize:]

	sealed, err := sealToTemp(ctx, outDir, filepath.Base(bundlePath), tree, opts, sums, aesKey, iv, report)
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			os.Remove(sealed.tmp)
		}
	}()
	var delta *Delta
	var deltaTmp string
	if sums != nil {
		deltaTmp, delta, err = writeDelta(ctx, outDir, deltaName, tree, sums, opts, aesKey, iv, report)
		if err != nil {
			return nil, err
		}
		defer func() {
			if !committed {
				os.RemoveAll(deltaTmp)
			}
		}()
	}

	sessionKey, err := SessionKeyString(opts.Key, aesKey, iv)
	if err != nil {
		return nil, err
	}
	checksum, err := EncryptedChecksum(opts.Key, sealed.zipSum)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if opts.now != nil {
		now = opts.now
	}
	m := &Manifest{
		Schema:         ManifestSchema,
		AppID:          opts.AppID,
		Version:        opts.Version,
		File:           bundlePath,
		Size:           sealed.size,
		SHA256:         hex.EncodeToString(sealed.sum),
		ZipSHA256:      hex.EncodeToString(sealed.zipSum),
		ZipSize:        sealed.zipSize,
		SessionKey:     sessionKey,
		Checksum:       checksum,
		KeyID:          KeyID(&opts.Key.PublicKey),
		KeyFingerprint: Fingerprint(&opts.Key.PublicKey),
		Files:          sealed.files,
		Bytes:          tree.Bytes,
		Manifest:       manifestPath,
		CreatedAt:      now().UTC().Truncate(time.Second),
		NativePackages: natives,
		Delta:          delta,
		DeltaSkipped:   deltaSkipped,
	}
	if delta != nil {
		sum := delta.Summary()
		m.DeltaSummary = &sum
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Stage the manifest before the bundle replaces anything, so that a
	// failure to write it (a full disk) leaves an earlier build untouched.
	manifestTmp, err := stageManifest(manifestPath, m)
	if err != nil {
		return nil, err
	}
	// An earlier delta folder (--force) moves aside first: its objects
	// belong to the manifest being replaced, with or without a new one.
	var oldDelta string
	if _, err := os.Lstat(deltaPath); err == nil {
		oldDelta = filepath.Join(outDir, fmt.Sprintf(".%s.old-%d", deltaName, time.Now().UnixNano()))
		if err := os.Rename(deltaPath, oldDelta); err != nil {
			os.Remove(manifestTmp)
			return nil, fmt.Errorf("replace delta objects: %w", err)
		}
	}
	restore := func() {
		if oldDelta != "" {
			os.Rename(oldDelta, deltaPath)
		}
		os.Remove(manifestTmp)
	}
	if deltaTmp != "" {
		if err := os.Rename(deltaTmp, deltaPath); err != nil {
			restore()
			return nil, fmt.Errorf("write delta objects: %w", err)
		}
	}
	if err := os.Rename(sealed.tmp, bundlePath); err != nil {
		if deltaTmp != "" {
			os.Rename(deltaPath, deltaTmp) // removed by the deferred cleanup
		}
		restore()
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	committed = true
	if err := commitFile(manifestTmp, manifestPath); err != nil {
		os.Remove(bundlePath)
		if deltaTmp != "" {
			os.RemoveAll(deltaPath)
		}
		if oldDelta != "" {
			os.RemoveAll(oldDelta)
		}
		return nil, err
	}
	syncDir(outDir)
	if oldDelta != "" {
		os.RemoveAll(oldDelta)
	}
	report(Event{Phase: PhaseDone, Files: tree.Files, TotalFiles: tree.Files, Bytes: tree.Bytes, TotalBytes: tree.Bytes})
	return m, nil
}

func (o *BuildOptions) check() error {
	if o.Dir == "" {
		return fmt.Errorf("build bundle: %w: no web build folder given", ErrMissingOption)
	}
	if o.OutDir == "" {
		return fmt.Errorf("build bundle: %w: no output folder given", ErrMissingOption)
	}
	if err := ValidAppID(o.AppID); err != nil {
		return fmt.Errorf("build bundle: %w", err)
	}
	if err := ValidVersion(o.Version); err != nil {
		return fmt.Errorf("build bundle: %w", err)
	}
	if o.Key == nil {
		return errors.New("build bundle: no private key given")
	}
	if err := checkKeySize(&o.Key.PublicKey); err != nil {
		return fmt.Errorf("build bundle: %w", err)
	}
	return nil
}

// sealed is an encrypted bundle in its temp file, not yet renamed.
type sealed struct {
	tmp     string
	size    int64
	sum     []byte // SHA-256 of the encrypted file
	zipSize int64
	zipSum  []byte // SHA-256 of the plain zip
	files   int    // entries in the zip
}

// sealToTemp streams the zip of tree through SHA-256 and AES-CBC into a
// synced temp file in dir, filling sums (when not nil) with each file's
// sums. On error the temp file is gone.
func sealToTemp(ctx context.Context, dir, name string, tree *Tree, opts BuildOptions, sums []EntrySum, key, iv []byte, report Reporter) (s *sealed, err error) {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	out := bufio.NewWriterSize(StartWriteback(tmp), 256<<10) // disk writes while we compress
	encHash, zipHash := sha256.New(), sha256.New()
	encSize := &zipCountWriter{w: out}
	enc, err := NewEncryptWriter(io.MultiWriter(encSize, encHash), key, iv)
	if err != nil {
		return nil, err
	}
	stats, err := WriteZip(ctx, io.MultiWriter(zipHash, enc), tree, ZipOptions{Workers: opts.Workers, Sums: sums, CacheDir: opts.cacheDir()}, report)
	if err != nil {
		return nil, fmt.Errorf("write zip: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	if err := out.Flush(); err != nil {
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &sealed{tmp: tmp.Name(), size: encSize.n, sum: encHash.Sum(nil), zipSize: stats.ZipBytes, zipSum: zipHash.Sum(nil), files: stats.Files}, nil
}

// syncDir flushes a folder's entries (the rename) to disk where the OS
// allows it; failure only weakens durability, so it is ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
