package cli

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"capship/store/release"
	"capship/workflow"
)

// envPrivateKey holds a private key PEM for CI, where no keychain exists.
const envPrivateKey = "CAPSHIP_PRIVATE_KEY"

// buildGCPercent is the garbage collector's target while a bundle builds.
const buildGCPercent = 50

// newBundleCmd is "bundle": build, verify, check-url.
func newBundleCmd(s IO) *cobra.Command {
	return newParentCmd("bundle", "Build, upload, verify and check bundles",
		"Zip and encrypt a web build into a bundle devices accept, check it as a device would,\nand prove the uploaded copy is the built one.",
		groupShip, newBundleBuildCmd(s), newBundleUploadCmd(s), newBundleVerifyCmd(s), newCheckURLCmd(s))
}

// buildOptions are the flags of bundle build.
type buildOptions struct {
	workflow.BuildOptions
	keyFile string
	json    bool
}

func newBundleBuildCmd(s IO) *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:   "build --out DIR",
		Short: "Zip and encrypt a web build folder into a Capgo bundle (and its files, for delta updates)",
		Long: "Zip and encrypt a web build folder into a bundle devices accept, and write each of its\n" +
			"files, compressed, encrypted and signed, into OUTDIR/APP-VERSION.files/ for delta updates (phones\n" +
			"then download only the files that changed). Compressed files and signatures are cached in the\n" +
			"user cache folder (capship/), so a rebuild redoes only what changed.\n\n" +
			"The private key comes from --key-file, else the PEM text in $" + envPrivateKey + ", else the OS keychain.",
		Example: "  capship bundle build --out capship-out                  # in the app's folder\n" +
			"  CAPSHIP_PRIVATE_KEY=\"$(cat key.pem)\" capship bundle build --out dist --app com.example.shop --dir www --version 1.2.0",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBundleBuild(cmd.Context(), s, o) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Dir, "dir", "", "web build folder (default: webDir of the Capacitor config in this folder)")
	addAppFlag(fs, &o.AppID, "app id (default: appId of the Capacitor config)")
	fs.StringVar(&o.Version, "version", "", "bundle version, semver (default: version in package.json)")
	fs.StringVar(&o.OutDir, "out", "", "folder for the encrypted bundle, its manifest and its files (created if missing)")
	fs.StringVar(&o.keyFile, "key-file", "", "private key PEM `file` (default: the PEM text in $"+envPrivateKey+", else the app's key in the OS keychain)")
	fs.BoolVar(&o.NoCodeCheck, "no-code-check", false, "do not require notifyAppReady in the code")
	fs.BoolVar(&o.NoDelta, "no-delta", false, "write the zip only, not the files for delta updates (phones then download the whole zip for every release)")
	fs.BoolVar(&o.Force, "force", false, "replace an existing bundle of the same app and version (and its files)")
	addJSONFlag(fs, &o.json, "print the manifest as JSON on stdout, with its delta_summary")
	return cmd
}

func runBundleBuild(ctx context.Context, s IO, o *buildOptions) error {
	opts, keyFile, asJSON := o.BuildOptions, o.keyFile, o.json
	if opts.OutDir == "" {
		return usageError("--out is required: the folder for the bundle and its manifest")
	}
	fromPackage := opts.Version == ""
	project, err := fillFromProject(&opts)
	if err != nil {
		return err
	}
	// Cheap checks first, before any key is touched.
	if err := workflow.ValidAppID(opts.AppID); err != nil {
		return fmt.Errorf("build bundle: %w", err)
	}
	if err := workflow.ValidVersion(opts.Version); err != nil {
		if fromPackage {
			return fmt.Errorf("build bundle: package.json version: %w; fix it there or pass --version", err)
		}
		return fmt.Errorf("build bundle: %w", err)
	}
	key, err := loadSigningKey(s, keyFile, opts.AppID)
	if err != nil {
		return err
	}
	var warnings []string // for --json, besides stderr
	keyWarning, err := checkAppKey(project, opts.AppID, key)
	if err != nil {
		return err
	}
	if keyWarning != "" {
		fmt.Fprintf(s.Err, "WARNING: %s\n", keyWarning)
		warnings = append(warnings, keyWarning)
	}
	opts.Key = key
	opts.AppDir = "." // the app's folder, as for fillFromProject: its native packages go into the manifest
	opts.Warn = func(p workflow.Problem) {
		w := p.Message // Path "": about the app, not a file of the web build
		if p.Path != "" {
			w = fmt.Sprintf("%s: %s", filepath.Join(opts.Dir, filepath.FromSlash(p.Path)), p.Message)
		}
		fmt.Fprintf(s.Err, "warning: %s\n", w)
		warnings = append(warnings, w)
	}

	// The build's live heap is mostly the file lists (about 1.5 KiB a
	// file with the delta: 23 MiB for 15,000 files) while brotli makes
	// tens of MiB of garbage; at Go's default (GOGC=100) the heap grows
	// to twice the live data. Half that margin keeps a large web build
	// under 64 MiB for a few more collections; GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(buildGCPercent))
	}
	m, err := workflow.Build(ctx, opts, newProgress(s))
	if err != nil {
		return err
	}
	if asJSON {
		m.Warnings = warnings
		if err := m.WriteJSON(s.Out); err != nil { // streamed: a delta's file list is ~1 KB per file
			return fmt.Errorf("write json: %w", err)
		}
		return nil
	}
	fmt.Fprintf(s.Err, "built %s %s: %d files, %s zipped, %s encrypted\n", m.AppID, m.Version, m.Files,
		humanize.IBytes(uint64(m.ZipSize)), humanize.IBytes(uint64(m.Size)))
	fmt.Fprintf(s.Err, "  bundle:    %s\n  manifest:  %s\n  sha256:    %s\n  key:       %s (%s)\n",
		m.File, m.Manifest, m.SHA256, m.KeyID, m.KeyFingerprint)
	fmt.Fprintf(s.Err, "  delta:     %s\n", deltaLine(m, opts.NoDelta))
	if m.NativePackages != nil {
		fmt.Fprintf(s.Err, "  native:    %d packages recorded (release register compares them with the channel's release)\n", len(m.NativePackages))
	}
	if m.Delta != nil {
		fmt.Fprintf(s.Err, "next: %s\n  or upload the bundle and the folder %s/ yourself, then: capship release register --manifest %s --url URL --files-url URL_OF_THE_FOLDER\n",
			uploadNext(m), filepath.Base(m.Delta.Dir), m.Manifest)
		return nil
	}
	fmt.Fprintf(s.Err, "next: %s\n  or upload the bundle yourself, then: capship release register --manifest %s --url URL\n", uploadNext(m), m.Manifest)
	return nil
}

// uploadNext is the command that hosts a built bundle.
func uploadNext(m *workflow.Manifest) string {
	return "capship bundle upload --manifest " + m.Manifest + " --server URL --token TOKEN (or --to s3://BUCKET/PREFIX): it hosts and checks the bundle, then prints the release register line"
}

// deltaLine says in one line what the build wrote for delta updates, or
// why it wrote nothing.
func deltaLine(m *workflow.Manifest, noDelta bool) string {
	switch {
	case m.Delta != nil:
		sum := m.Delta.Summary()
		line := fmt.Sprintf("%d files as %d objects, %s", sum.Files, sum.Objects, humanize.IBytes(uint64(sum.Bytes)))
		if sum.Brotli > 0 {
			line += fmt.Sprintf(" (brotli %s saved)", humanize.IBytes(uint64(max(sum.BrotliSaved, 0))))
		}
		return line + ", in " + m.Delta.Dir + string(filepath.Separator)
	case m.DeltaSkipped != "":
		return "none: " + m.DeltaSkipped
	case noDelta:
		return "none (--no-delta): phones download the whole zip for every release"
	}
	return "none"
}

// fillFromProject fills the app id, folder and version the flags left empty
// from the Capacitor project in the current folder. It returns the project
// (nil when there is none).
func fillFromProject(opts *workflow.BuildOptions) (*workflow.Project, error) {
	p, err := workflow.LoadProject(".")
	if err != nil && !errors.Is(err, workflow.ErrNoConfig) {
		if opts.AppID != "" && opts.Dir != "" && opts.Version != "" {
			return nil, nil // everything was given; an unreadable config does not matter
		}
		return nil, err
	}
	noConfig := err != nil
	if opts.AppID == "" {
		if noConfig || p.AppID == "" {
			return nil, usageError("no --app given and no appId in a Capacitor config in this folder: pass --app APP_ID or run in the app's folder")
		}
		opts.AppID = p.AppID
	}
	if opts.Dir == "" {
		if noConfig || p.WebDir == "" {
			return nil, usageError("no --dir given and no webDir in a Capacitor config in this folder: pass --dir with the web build folder")
		}
		opts.Dir = filepath.Join(p.Dir, filepath.FromSlash(p.WebDir))
	}
	if opts.Version == "" {
		if p == nil || p.Version == "" {
			return nil, usageError("no --version given and no version in package.json in this folder: pass --version (e.g. 1.2.3)")
		}
		opts.Version = p.Version
	}
	if noConfig {
		return nil, nil
	}
	return p, nil
}

// loadSigningKey finds the private key for appID: --key-file, else the PEM
// text in $CAPSHIP_PRIVATE_KEY, else the app's key in the OS keychain.
func loadSigningKey(s IO, keyFile string, appID string) (*rsa.PrivateKey, error) {
	if keyFile != "" {
		key, err := workflow.ReadPrivateKeyFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("load private key: %w", err)
		}
		return key, nil
	}
	if pemText := s.Getenv(envPrivateKey); pemText != "" {
		key, err := workflow.ParsePrivateKey([]byte(pemText))
		if err != nil {
			return nil, fmt.Errorf("load private key from $%s: %w", envPrivateKey, err)
		}
		return key, nil
	}
	key, err := release.AppKey(openKeychain(s), appID)
	if err != nil {
		return nil, fmt.Errorf("load private key of %s: %w", appID, err)
	}
	return key, nil
}

// checkAppKey refuses a private key that does not match the public key
// the app carries: devices would reject every bundle made with it. When
// the key matches but its text breaks a device rule (CR line breaks,
// indentation: iOS apps crash at launch), it returns the warning 'key
// show' gives.
func checkAppKey(p *workflow.Project, appID string, key *rsa.PrivateKey) (warning string, err error) {
	if p == nil || p.PublicKey == "" || p.AppID != appID {
		return "", nil
	}
	pub, err := workflow.ParsePublicKey([]byte(p.PublicKey))
	if err != nil {
		return "", fmt.Errorf("check the app's public key in %s: %w", p.ConfigPath, err)
	}
	if err := workflow.CheckPair(key, pub); err != nil {
		return "", fmt.Errorf("check key: %w: %s holds key id %s, so devices of this app would reject the bundle; pass the matching private key",
			err, p.ConfigPath, workflow.KeyID(pub))
	}
	if _, status, warning := configStatus(p, appID, &key.PublicKey); status == "unreadable" {
		return warning, nil
	}
	return "", nil
}

// verifyOptions are the flags of bundle verify.
type verifyOptions struct {
	workflow.OpenOptions
	manifest, publicKey string
	json                bool
}

func newBundleVerifyCmd(s IO) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify --public-key FILE (--manifest FILE | --file FILE --session-key IV:KEY --checksum HEX)",
		Short: "Decrypt and check a bundle as a device would",
		Long:  "Decrypt a bundle, check its checksum and its zip as a device would, and optionally extract it.",
		Example: "  capship bundle verify --manifest capship-out/com.example.shop-1.2.0.manifest.json --public-key shop.pub.pem\n" +
			"  capship bundle verify --file bundle.zip --session-key IV:KEY --checksum HEX --public-key shop.pub.pem --extract /tmp/b",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBundleVerify(cmd.Context(), s, o) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.File, "file", "", "encrypted bundle (default: the file named by the manifest)")
	addManifestFlag(fs, &o.manifest, "")
	fs.StringVar(&o.SessionKey, "session-key", "", "session key IV:KEY, instead of --manifest (e.g. from the Capgo CLI)")
	fs.StringVar(&o.Checksum, "checksum", "", "encrypted V3 checksum, instead of --manifest")
	fs.StringVar(&o.publicKey, "public-key", "", "public key PEM `file` (BEGIN RSA PUBLIC KEY)")
	fs.StringVar(&o.ExtractDir, "extract", "", "extract the verified files into this new or empty `folder`")
	addJSONFlag(fs, &o.json, "")
	return cmd
}

func runBundleVerify(ctx context.Context, s IO, o *verifyOptions) error {
	opts, manifestPath, pubFile, asJSON := o.OpenOptions, o.manifest, o.publicKey, o.json
	if pubFile == "" {
		return usageError("--public-key is required")
	}
	var m *workflow.Manifest
	switch {
	case manifestPath != "" && (opts.SessionKey != "" || opts.Checksum != ""):
		return usageError("give --manifest, or --session-key and --checksum, not both")
	case manifestPath != "":
		var err error
		if m, err = workflow.ReadManifest(manifestPath); err != nil {
			return err
		}
		opts.SessionKey, opts.Checksum = m.SessionKey, m.Checksum
		if opts.File == "" {
			opts.File = m.File
		}
	case opts.SessionKey == "" || opts.Checksum == "":
		return usageError("give --manifest, or both --session-key and --checksum")
	case opts.File == "":
		return usageError("--file is required without --manifest")
	}
	pub, err := workflow.ReadPublicKeyFile(pubFile)
	if err != nil {
		return fmt.Errorf("load public key: %w", err)
	}
	if m != nil && m.KeyFingerprint != workflow.Fingerprint(pub) {
		return fmt.Errorf("verify bundle: wrong public key: the bundle was sealed with key %s (%s), --public-key is %s (%s); pass the public half of that key ('capship key export' prints it)",
			m.KeyID, m.KeyFingerprint, workflow.KeyID(pub), workflow.Fingerprint(pub))
	}
	opts.PublicKey = pub
	res, err := workflow.Open(ctx, opts, newProgress(s))
	if err != nil {
		return err
	}
	if m != nil {
		if res.SHA256 != m.SHA256 || res.Size != m.Size || res.ZipSHA256 != m.ZipSHA256 {
			return fmt.Errorf("verify bundle: %s is not the file of %s (sha256 %s, manifest says %s): rebuild, or pass the right --file",
				opts.File, m.Manifest, res.SHA256, m.SHA256)
		}
	}
	if asJSON {
		out := struct {
			OK bool `json:"ok"`
			*workflow.OpenResult
			AppID    string `json:"app_id,omitempty"`
			Version  string `json:"version,omitempty"`
			Manifest string `json:"manifest,omitempty"`
		}{OK: true, OpenResult: res}
		if m != nil {
			out.AppID, out.Version, out.Manifest = m.AppID, m.Version, m.Manifest
		}
		return writeJSON(s.Out, out)
	}
	what := res.File
	if m != nil {
		what = m.AppID + " " + m.Version
	}
	layout := "index.html at the root"
	if res.Root != "" {
		layout = "index.html in the single folder " + res.Root + "/"
	}
	fmt.Fprintf(s.Err, "ok: %s decrypts with key %s, checksum verified, %d files (%s), %s\n",
		what, res.KeyID, res.Files, humanize.IBytes(uint64(res.Bytes)), layout)
	if res.ExtractDir != "" {
		fmt.Fprintf(s.Err, "extracted to %s\n", res.ExtractDir)
	}
	return nil
}

// newProgress returns a Reporter that redraws one status line on stderr at
// most ten times a second, or nil when stderr is not a terminal.
func newProgress(s IO) workflow.Reporter {
	if !s.StderrTTY {
		return nil
	}
	return workflow.Throttle(func(e workflow.Event) {
		if e.Phase == workflow.PhaseDone {
			fmt.Fprint(s.Err, "\r\x1b[K")
			return
		}
		fmt.Fprintf(s.Err, "\r\x1b[K%s", progressText(e))
	}, 100*time.Millisecond)
}

func progressText(e workflow.Event) string {
	var parts []string
	parts = append(parts, string(e.Phase))
	if e.TotalFiles > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d files", e.Files, e.TotalFiles))
	} else if e.Files > 0 {
		parts = append(parts, fmt.Sprintf("%d files", e.Files))
	}
	if e.TotalBytes > 0 {
		parts = append(parts, fmt.Sprintf("%s/%s (%d%%)", humanize.IBytes(uint64(e.Bytes)), humanize.IBytes(uint64(e.TotalBytes)), e.Bytes*100/e.TotalBytes))
	} else if e.Bytes > 0 {
		parts = append(parts, humanize.IBytes(uint64(e.Bytes)))
	}
	if e.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d already there", e.Skipped))
	}
	return strings.Join(parts, "  ")
}
