package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"capship/store"
	"capship/store/release"
	"capship/workflow"
)

// newReleaseCmd is "release": register, list, promote, roll back.
func newReleaseCmd(s IO) *cobra.Command {
	return newParentCmd("release", "Register releases and move channels between them",
		"Register hosted bundles as releases, list them, and point channels at newer or earlier ones.\n"+
			"Every command works on the local registry (--db or $CAPSHIP_DB) or, the same way, on a\n"+
			"capship server's admin API (--server and --token, or $CAPSHIP_SERVER and $CAPSHIP_TOKEN).",
		groupReleases,
		newReleaseRegisterCmd(s), newReleaseListCmd(s), newReleasePromoteCmd(s), newReleaseRollbackCmd(s))
}

func versionOf(r *store.Release) string {
	if r == nil {
		return "-"
	}
	return r.Version
}

func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// --- release register ---

type registerResult struct {
	Release  *store.Release     `json:"release"`
	Channel  string             `json:"channel,omitempty"`
	Previous string             `json:"previous,omitempty"` // what the channel served before
	Server   string             `json:"server,omitempty"`
	URLCheck *workflow.URLCheck `json:"url_check,omitempty"`
	// The delta form: where devices fetch each file's object, how many
	// files, and what the download of every object found.
	FilesURL     string                 `json:"files_url,omitempty"`
	FileCount    int                    `json:"file_count,omitempty"`
	ObjectsCheck *workflow.ObjectsCheck `json:"objects_check,omitempty"`
	Warnings     []string               `json:"warnings,omitempty"`
}

// registerOptions are the flags of release register.
type registerOptions struct {
	registryOptions
	manifest, url, filesURL, channel, minNative string
	skipCheck, allowNativeChange                bool
	checked                                     *workflow.UploadResult // set by bundle upload --register: the hosted bytes were just checked
}

func newReleaseRegisterCmd(s IO) *cobra.Command {
	o := &registerOptions{}
	cmd := &cobra.Command{
		Use:   "register --manifest FILE --url URL",
		Short: "Check the hosted bundle (and its per-file objects) and register it as a release",
		Long: `Download the hosted bundle (and, with --files-url, every per-file object) back, prove it
is the one 'capship bundle build' made, and register it in the registry (--db) or on a capship
server (--server). The channel (production unless --channel) then serves it.`,
		Example: `  capship release register --manifest capship-out/com.example.shop-1.2.0.manifest.json \
    --url https://cdn.example.com/com.example.shop-1.2.0.zip \
    --files-url https://cdn.example.com/com.example.shop-1.2.0.files
  CAPSHIP_SERVER=https://updates.example.com CAPSHIP_TOKEN=… capship release register --manifest M --url URL`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runReleaseRegister(cmd.Context(), s, o) },
	}
	fs := cmd.Flags()
	addManifestFlag(fs, &o.manifest, " (required)")
	fs.StringVar(&o.url, "url", "", "https:// address where devices download the encrypted bundle (required)")
	fs.StringVar(&o.filesURL, "files-url", "", "https:// address of the folder the bundle's per-file objects were uploaded to: devices fetch BASE/OBJECT, only for the files they lack")
	addChannelFlag(fs, &o.channel, "production", "channel to point at the release (\"\" for none)")
	fs.StringVar(&o.minNative, "min-native", "", "lowest native app `version` (version_build) that may get it")
	fs.BoolVar(&o.allowNativeChange, "allow-native-change", false, "register even though the bundle's native packages differ from the release the channel serves")
	fs.BoolVar(&o.skipCheck, "skip-url-check", false, "do not download the bundle and objects to compare sizes and SHA-256")
	addRegistryFlags(fs, &o.registryOptions, withApp|withServer)
	return cmd
}

func runReleaseRegister(ctx context.Context, s IO, f *registerOptions) error {
	res, err := registerRelease(ctx, s, f)
	if err != nil {
		return err
	}
	if f.json {
		return writeJSON(s.Out, res)
	}
	res.print(s)
	return nil
}

// registerRelease checks the hosted bundle (unless f.checked says it was
// just checked) and registers it; it prints progress only.
func registerRelease(ctx context.Context, s IO, f *registerOptions) (*registerResult, error) {
	switch {
	case f.manifest == "":
		return nil, usageError("--manifest is required (the .json file 'capship bundle build' wrote)")
	case f.url == "":
		return nil, usageError("--url is required (where you uploaded the encrypted bundle)")
	}
	t, err := f.target(s, creates)
	if err != nil {
		return nil, err
	}
	m, err := workflow.ReadManifest(f.manifest)
	if err != nil {
		return nil, err
	}
	if f.app != "" && f.app != m.AppID {
		return nil, fmt.Errorf("register release: the manifest is for %s, not %s: build the bundle for the right app", m.AppID, f.app)
	}
	if err := checkProjectKey(m); err != nil {
		return nil, err
	}
	// Refuse what can be refused now (invalid input, a bad --server or
	// token, a version the registry already has) before downloading the
	// whole bundle.
	in, err := release.RegistrationFromManifest(m, release.Registration{URL: f.url, FilesURL: f.filesURL,
		Channel: f.channel, MinNative: f.minNative, AllowNativeChange: f.allowNativeChange})
	if err != nil {
		return nil, err
	}
	if f.filesURL == "" && m.Delta != nil {
		fmt.Fprintf(s.Err, "note: registering %s zip only (no --files-url): upload %s/ and pass --files-url BASE so that phones download only the files that changed\n",
			m.Version, deltaDirName(m))
	}
	t.HTTPClient = &http.Client{Timeout: 10 * time.Minute} // a release of 15,000 files is a body of about 11 MB
	reg, err := release.Open(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("register release: %w", err)
	}
	defer reg.Close()
	switch _, err := reg.Release(ctx, m.AppID, m.Version); {
	case err == nil:
		return nil, fmt.Errorf("register release: version %s of %s: %w", m.Version, m.AppID, store.ErrDuplicateVersion)
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("register release: %w", err) // a wrong token or server, before the download
	}
	res := registerResult{Channel: f.channel, Server: t.Server, FilesURL: in.FilesURL, FileCount: len(in.Files)}
	if in.Channel != "" {
		if before, err := reg.Channel(ctx, in.AppID, in.Channel); err == nil {
			if before.Release != nil {
				res.Previous = before.Release.Version
			}
			if err := store.CheckNative(&in, before.Release); err != nil {
				// Before the bundle is downloaded back; the registry
				// checks again when it registers.
				return nil, fmt.Errorf("register release: %w", err)
			}
		}
	}
	switch {
	case f.checked != nil: // downloaded back by the upload a moment ago
		res.URLCheck, res.ObjectsCheck = f.checked.Check, f.checked.ObjectsCheck
	default:
		if res.URLCheck, res.Warnings, err = checkHosted(ctx, s, f, m); err != nil {
			return nil, err
		}
		if in.FilesURL != "" && !f.skipCheck {
			if res.ObjectsCheck, err = checkHostedObjects(ctx, s, m, in.FilesURL); err != nil {
				return nil, err
			}
		}
	}
	if res.Release, err = reg.Register(ctx, in); err != nil {
		return nil, err
	}
	if res.URLCheck != nil {
		res.URLCheck.Problems = nonNil(res.URLCheck.Problems)
	}
	if res.ObjectsCheck != nil {
		res.ObjectsCheck.Problems = nonNil(res.ObjectsCheck.Problems)
	}
	return &res, nil
}

// print tells a person what was registered and what the channel does now.
func (res *registerResult) print(s IO) {
	fmt.Fprintf(s.Err, "registered %s %s", res.Release.AppID, res.Release.Version)
	if res.FilesURL != "" {
		fmt.Fprintf(s.Err, " with %d files", res.FileCount)
	}
	if res.Server != "" {
		fmt.Fprintf(s.Err, " on %s", res.Server)
	}
	switch {
	case res.Channel == "":
		fmt.Fprintln(s.Err, " (no channel: promote it with 'capship release promote')")
	case res.Previous != "":
		fmt.Fprintf(s.Err, "; channel %s: %s -> %s\n", res.Channel, res.Previous, res.Release.Version)
	default:
		fmt.Fprintf(s.Err, "; channel %s now serves it\n", res.Channel)
	}
}

func checkHosted(ctx context.Context, s IO, f *registerOptions, m *workflow.Manifest) (*workflow.URLCheck, []string, error) {
	_, warning, err := workflow.ValidateBundleURL(f.url)
	if err != nil {
		return nil, nil, fmt.Errorf("register release: %w", err)
	}
	var warnings []string
	if warning != "" {
		warnings = append(warnings, warning)
	}
	if f.filesURL != "" {
		if _, w, _ := workflow.ValidateFilesURL(f.filesURL); w != "" && w != warning {
			warnings = append(warnings, w)
		}
	}
	if f.skipCheck {
		for _, w := range warnings {
			fmt.Fprintf(s.Err, "warning: %s\n", w)
		}
		if f.filesURL != "" {
			fmt.Fprintln(s.Err, "warning: not checking the URL and the objects (--skip-url-check); devices will fail if the hosted files differ")
			return nil, append(warnings, "URL and objects check skipped: devices will fail if the hosted files are not the built ones"), nil
		}
		fmt.Fprintln(s.Err, "warning: not checking the URL (--skip-url-check); devices will fail if the hosted file differs")
		return nil, append(warnings, "URL check skipped: devices will fail if the hosted file is not the built one"), nil
	}
	check, err := checkHostedBundle(ctx, s, m, f.url)
	if err != nil {
		return nil, nil, fmt.Errorf("register release: %w", err)
	}
	if !check.OK() {
		return nil, nil, fmt.Errorf("register release: the hosted file is not the built bundle: fix the upload, or pass --skip-url-check to register anyway")
	}
	return check, warnings, nil
}

// deltaDirName is the name of the folder of the manifest's objects.
func deltaDirName(m *workflow.Manifest) string {
	if m.Delta != nil && m.Delta.Dir != "" {
		return filepath.Base(m.Delta.Dir)
	}
	return workflow.DeltaDirName(m.AppID, m.Version)
}

// checkHostedObjects downloads every object of the manifest's delta from
// base (with progress on stderr) and refuses the registration when any is
// not the built one, naming each.
func checkHostedObjects(ctx context.Context, s IO, m *workflow.Manifest, base string) (*workflow.ObjectsCheck, error) {
	all := m.Delta.Download(nil) // every object, as a phone holding nothing fetches them
	fmt.Fprintf(s.Err, "downloading %d objects (%s) from %s/ to compare with %s\n", all.Objects, humanize.IBytes(uint64(all.Bytes)), base, deltaDirName(m))
	check, err := workflow.CheckObjects(ctx, base, m.Delta, workflow.CheckObjectsOptions{Report: newProgress(s)})
	if err != nil {
		return nil, fmt.Errorf("register release: check objects: %w", err)
	}
	if check.OK() {
		fmt.Fprintf(s.Err, "the hosted objects are the built ones (%d objects for %d files, %s)\n", check.Objects, check.Files, humanize.IBytes(uint64(check.Bytes)))
		return check, nil
	}
	fmt.Fprintf(s.Err, "%d of %d objects at %s/ are NOT the built ones:\n", len(check.Problems), check.Objects, base)
	for _, p := range check.Problems {
		fmt.Fprintf(s.Err, "  - %s (%s): %s\n", p.Object, p.Files(), p.Problem)
		if p.SHA256 != "" && p.SHA256 != p.WantSHA256 {
			fmt.Fprintf(s.Err, "      hosted sha256 %s\n      built  sha256 %s\n", p.SHA256, p.WantSHA256)
		}
	}
	if check.Stopped {
		fmt.Fprintf(s.Err, "  stopped after %d problems: %d objects were not checked\n", len(check.Problems), check.Objects-check.Checked)
	}
	return nil, fmt.Errorf("register release: the hosted objects are not the built ones: upload %s/ to %s/ again, or pass --skip-url-check to register anyway", deltaDirName(m), base)
}

// checkProjectKey refuses a bundle sealed for another key than the one in
// the Capacitor config of the current folder, when that config is the
// manifest's app and carries a public key: devices could not decrypt it.
func checkProjectKey(m *workflow.Manifest) error {
	p, err := workflow.LoadProject(".")
	if err != nil || p.AppID != m.AppID || p.PublicKey == "" {
		return nil
	}
	if id := workflow.KeyIDFromPEM(p.PublicKey); id != m.KeyID {
		return fmt.Errorf("register release: %w: the app's Capacitor config has key id %s, the bundle was sealed for %s",
			store.ErrKeyMismatch, id, m.KeyID)
	}
	return nil
}

// --- release list ---

type releaseRow struct {
	store.Release
	Channels []string `json:"channels"`
}

func newReleaseListCmd(s IO) *cobra.Command {
	o := &registryOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List an app's releases and the channels serving them",
		Long:    "List an app's releases, newest first, with the channels serving each. On a terminal the\ntable has a header; piped, it prints one tab-separated line per release.",
		Example: "  capship release list --app com.example.shop\n  capship release list --json | jq -r '.releases[].version'",
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runReleaseList(cmd.Context(), s, o) },
	}
	addRegistryFlags(cmd.Flags(), o, withApp|withServer)
	return cmd
}

func runReleaseList(ctx context.Context, s IO, o *registryOptions) error {
	app, reg, err := o.openApp(ctx, s, reads)
	if err != nil {
		return err
	}
	defer reg.Close()
	releases, err := reg.Releases(ctx, app)
	if err != nil {
		return err
	}
	channels, err := reg.Channels(ctx, app)
	if err != nil {
		return err
	}
	serving := map[string][]string{}
	for _, c := range channels {
		if c.Release != nil {
			serving[c.Release.Version] = append(serving[c.Release.Version], c.Name)
		}
	}
	out := make([]releaseRow, 0, len(releases))
	for _, r := range releases {
		out = append(out, releaseRow{Release: r, Channels: append([]string{}, serving[r.Version]...)})
	}
	if o.json {
		return writeJSON(s.Out, map[string]any{"app_id": app, "releases": out})
	}
	if len(out) == 0 {
		fmt.Fprintf(s.Err, "no releases of %s yet: register one with 'capship release register'\n", app)
		return nil
	}
	rows := make([][]string, 0, len(out))
	for _, r := range out {
		files := "-" // zip only
		if r.FileCount > 0 {
			files = strconv.Itoa(r.FileCount)
		}
		rows = append(rows, []string{r.Version, dash(strings.Join(r.Channels, ",")), strconv.FormatInt(r.Size, 10), files,
			dash(r.MinNative), r.KeyID, when(&r.CreatedAt), r.URL})
	}
	table(s, "VERSION\tCHANNELS\tSIZE\tFILES\tMIN NATIVE\tKEY ID\tREGISTERED\tURL", rows)
	return nil
}

// --- release promote, release rollback ---

type channelMove struct {
	AppID   string         `json:"app_id"`
	Channel string         `json:"channel"`
	From    string         `json:"from"`
	To      string         `json:"to"`
	State   *store.Channel `json:"state"`
}

// moveOptions are the flags of promote and rollback.
type moveOptions struct {
	registryOptions
	channel, version  string
	allowNativeChange bool // promote only
}

func newReleasePromoteCmd(s IO) *cobra.Command {
	o := &moveOptions{}
	cmd := &cobra.Command{
		Use:   "promote VERSION --channel CHANNEL",
		Short: "Point a channel at a newer registered release",
		Long: "Point a channel at a registered release newer than what it serves. A release whose native\n" +
			"packages differ from those of the channel's release is refused, naming each, unless it was\n" +
			"registered with a minimum native version or --allow-native-change is given.",
		Example: "  capship release promote 1.2.0 --channel production --app com.example.shop",
		Args:    exactlyOne("VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.version = args[0]
			return moveChannel(cmd.Context(), s, o, true)
		},
	}
	addMoveFlags(cmd, o)
	cmd.Flags().BoolVar(&o.allowNativeChange, "allow-native-change", false, "promote even though the release's native packages differ from those of the release the channel serves")
	return cmd
}

func newReleaseRollbackCmd(s IO) *cobra.Command {
	o := &moveOptions{}
	cmd := &cobra.Command{
		Use:   "rollback --channel CHANNEL",
		Short: "Move a channel back to its previous release",
		Long:  "Move a channel back to the release it served before. The release left is marked rolled\nback; 'capship release promote' brings it back.",
		Example: "  capship release rollback --channel production --app com.example.shop\n" +
			"  capship release rollback --channel production --app com.example.shop --server https://updates.example.com",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return moveChannel(cmd.Context(), s, o, false) },
	}
	addMoveFlags(cmd, o)
	return cmd
}

func addMoveFlags(cmd *cobra.Command, o *moveOptions) {
	addChannelFlag(cmd.Flags(), &o.channel, "", "channel to change (required)")
	addRegistryFlags(cmd.Flags(), &o.registryOptions, withApp|withServer)
}

// promoteNative refuses to point a channel at a release whose native
// packages differ from those of the release it serves, as registering
// onto the channel would, unless the release has a minimum native version
// (devices without it skip it) or o allows the change.
func promoteNative(ctx context.Context, reg store.Manager, app string, before *store.Channel, o *moveOptions) error {
	rel, err := reg.Release(ctx, app, o.version)
	if err != nil {
		return missing(err, whatRelease, o.version)
	}
	in := store.RegisterInput{AppID: app, Version: rel.Version, NativePackages: rel.NativePackages,
		MinNative: rel.MinNative, AllowNativeChange: o.allowNativeChange}
	if err := store.CheckNative(&in, before.Release); err != nil {
		return fmt.Errorf("promote %s: %w", o.version, err)
	}
	return nil
}

// moveChannel runs promote (o.version) or rollback.
func moveChannel(ctx context.Context, s IO, o *moveOptions, promote bool) error {
	if o.channel == "" {
		return usageError("--channel is required")
	}
	app, reg, err := o.openApp(ctx, s, changes)
	if err != nil {
		return err
	}
	defer reg.Close()
	channel := o.channel
	before, err := reg.Channel(ctx, app, channel)
	if err != nil {
		return missing(err, whatChannel, channel)
	}
	move := channelMove{AppID: app, Channel: channel, From: versionOf(before.Release)}
	if promote {
		if err := promoteNative(ctx, reg, app, before, o); err != nil {
			return err
		}
		move.State, err = reg.Promote(ctx, app, channel, o.version)
		err = missing(err, whatRelease, o.version) // the channel is there
	} else {
		move.State, err = reg.Rollback(ctx, app, channel)
	}
	if err != nil {
		return err
	}
	move.To = versionOf(move.State.Release)
	if o.json {
		return writeJSON(s.Out, move)
	}
	fmt.Fprintf(s.Err, "%s channel %s: %s -> %s\n", app, channel, move.From, move.To)
	if !promote {
		fmt.Fprintf(s.Err, "%s is marked rolled back; 'capship release promote %s --channel %s' brings it back\n", move.From, move.From, channel)
	}
	return nil
}
