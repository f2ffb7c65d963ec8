package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"capship/store"
	"capship/store/release"
	"capship/workflow"

	"github.com/dustin/go-humanize"
)

// releaseCommands lists the registry commands: releases, channels, admin
// tokens and device stats.
func releaseCommands() []Command {
	return []Command{
		{Name: "release register", Usage: "--manifest MANIFEST --url URL [--files-url BASE] [--channel production] [--min-native VERSION] [--allow-native-change] [--skip-url-check] [--db PATH | --server URL --token TOKEN] [--json]",
			Summary: "check the hosted bundle (and its per-file objects) and register it as a release", Run: runReleaseRegister},
		{Name: "release list", Usage: "[--app APP_ID] [--db PATH | --server URL --token TOKEN] [--json]",
			Summary: "list an app's releases and the channels serving them", Run: runReleaseList},
		{Name: "release promote", Usage: "VERSION --channel CHANNEL [--app APP_ID] [--db PATH] [--json]",
			Summary: "point a channel at a newer registered release", Run: runReleasePromote},
		{Name: "release rollback", Usage: "--channel CHANNEL [--app APP_ID] [--db PATH] [--json]",
			Summary: "move a channel back to its previous release", Run: runReleaseRollback},
		{Name: "channel create", Usage: "NAME [settings] [--app APP_ID] [--db PATH] [--json]",
			Summary: "add a release channel", Run: runChannelCreate},
		{Name: "channel list", Usage: "[--app APP_ID] [--db PATH] [--json]",
			Summary: "list an app's channels and their settings", Run: runChannelList},
		{Name: "channel set", Usage: "NAME [settings] [--app APP_ID] [--db PATH] [--json]",
			Summary: "change a channel's rollout, default and filters", Run: runChannelSet},
		{Name: "channel history", Usage: "NAME [--app APP_ID] [--db PATH] [--json]",
			Summary: "show what a channel served and when", Run: runChannelHistory},
		{Name: "token create", Usage: "NAME [--app APP_ID] [--db PATH] [--json]",
			Summary: "create an admin API token (shown once)", Run: runTokenCreate},
		{Name: "token list", Usage: "[--db PATH] [--json]",
			Summary: "list admin API tokens", Run: runTokenList},
		{Name: "token revoke", Usage: "NAME|ID [--db PATH] [--json]",
			Summary: "revoke an admin API token", Run: runTokenRevoke},
		{Name: "stats", Usage: "[--since 24h|2006-01-02] [--app APP_ID] [--db PATH] [--json]",
			Summary: "device downloads, installs and failures per release", Run: runStats},
		{Name: "registry check", Usage: "[--db PATH] [--json]",
			Summary: "run SQLite's integrity check on the registry file", Run: runRegistryCheck},
	}
}

// dbLocation is the registry to open: --db, else $CAPSHIP_DB, else the
// default file.
func dbLocation(s IO, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if env := s.Getenv("CAPSHIP_DB"); env != "" {
		return env
	}
	return store.DefaultDBPath()
}

// registryFlags are the flags every registry command shares.
type registryFlags struct {
	app, db string
	json    bool
}

func addRegistryFlags(fs *flag.FlagSet, withApp bool) *registryFlags {
	f := &registryFlags{}
	if withApp {
		fs.StringVar(&f.app, "app", "", "app id (default: appId of the Capacitor config in this folder)")
	}
	fs.StringVar(&f.db, "db", "", "registry: SQLite file or postgres:// URL (default $CAPSHIP_DB, else "+store.DefaultDBPath()+")")
	fs.BoolVar(&f.json, "json", false, "print the result as JSON on stdout")
	return f
}

// appID returns --app, or the appId of the Capacitor config in the current
// folder.
func (f *registryFlags) appID() (string, error) {
	if f.app != "" {
		return f.app, nil
	}
	p, err := workflow.LoadProject(".")
	if err != nil || p.AppID == "" {
		return "", usageError("no --app given and no Capacitor config with an appId in this folder: pass --app APP_ID or run in the app's folder")
	}
	return p.AppID, nil
}

// mustExist refuses a registry file named by --db or $CAPSHIP_DB that does
// not exist, so that a mistyped path is not taken for an empty registry
// (and left behind as a new file). The default file may be missing: no
// release was registered yet.
func (f *registryFlags) mustExist(s IO) error {
	loc := dbLocation(s, f.db)
	if loc == store.DefaultDBPath() || strings.HasPrefix(loc, "postgres://") || strings.HasPrefix(loc, "postgresql://") {
		return nil
	}
	if _, err := os.Stat(loc); errors.Is(err, os.ErrNotExist) {
		from := "--db"
		if f.db == "" {
			from = "$CAPSHIP_DB"
		}
		return fmt.Errorf("open registry: %s (from %s) does not exist: check the path; 'capship release register' creates it", loc, from)
	}
	return nil
}

func (f *registryFlags) open(ctx context.Context, s IO) (store.Registry, error) {
	return store.Open(ctx, dbLocation(s, f.db))
}

// openReadOnly opens the registry for a command that only reads, so that
// a read-only file or mount works. A missing default file is created as
// before (no release was registered yet).
func (f *registryFlags) openReadOnly(ctx context.Context, s IO) (store.Registry, error) {
	loc := dbLocation(s, f.db)
	if !store.IsPostgresDSN(loc) {
		if _, err := os.Stat(loc); errors.Is(err, os.ErrNotExist) {
			return store.Open(ctx, loc)
		}
	}
	return store.OpenReadOnly(ctx, loc)
}

// regCmd describes the command line of one registry command.
type regCmd struct {
	name, usage, summary string
	app                  bool         // takes --app (defaulting to the Capacitor config's appId)
	arg                  string       // what its one positional argument is; "" for none
	creates              bool         // may create the registry file (others refuse a --db file that does not exist)
	readOnly             bool         // only reads: opens the registry read-only, never migrating it
	remote               *serverFlags // takes --server and --token: a capship server's admin API instead of --db
}

// serverFlags choose a capship server's admin API instead of a registry.
type serverFlags struct{ server, token string }

func (f *serverFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.server, "server", "", "use the admin API of this capship server instead of --db (default $CAPSHIP_SERVER)")
	fs.StringVar(&f.token, "token", "", "admin API token for --server (default $CAPSHIP_TOKEN)")
}

// resolve applies $CAPSHIP_SERVER (when no --db) and $CAPSHIP_TOKEN, as
// the wizard does, and refuses flags that contradict each other.
func (f *serverFlags) resolve(s IO, db string) error {
	if f.server == "" && db == "" {
		f.server = s.Getenv("CAPSHIP_SERVER")
	}
	switch {
	case f.server != "" && db != "":
		return usageError("--db and --server exclude each other")
	case f.server == "" && f.token != "":
		return usageError("--token goes with --server")
	}
	if f.token == "" {
		f.token = s.Getenv("CAPSHIP_TOKEN")
	}
	return nil
}

// parse parses args; extra adds the command's own flags to the set.
func (c regCmd) parse(s IO, args []string, extra func(*flag.FlagSet)) (*registryFlags, string, error) {
	fs := newFlags(s, c.name, c.usage, c.summary)
	rf := addRegistryFlags(fs, c.app)
	if c.remote != nil {
		c.remote.add(fs)
	}
	if extra != nil {
		extra(fs)
	}
	positional, err := parseFlags(fs, args)
	if err != nil {
		return nil, "", err
	}
	if c.arg == "" {
		return rf, "", none(positional)
	}
	arg, err := one(positional, c.arg)
	return rf, arg, err
}

// regRun is a registry command ready to run: flags parsed, app resolved
// (for commands with --app), registry open (the caller closes reg), or,
// for a command with remote flags given a server, client set instead.
type regRun struct {
	*registryFlags
	app, arg string
	reg      store.Registry
	client   *store.Client
}

// open parses args (extra adds the command's own flags, check validates
// them; either may be nil), then resolves the app and opens the registry.
func (c regCmd) open(ctx context.Context, s IO, args []string, extra func(*flag.FlagSet), check func() error) (*regRun, error) {
	rf, arg, err := c.parse(s, args, extra)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(); err != nil {
			return nil, err
		}
	}
	if c.remote != nil {
		if err := c.remote.resolve(s, rf.db); err != nil {
			return nil, err
		}
	}
	x := &regRun{registryFlags: rf, arg: arg}
	if c.app {
		if x.app, err = rf.appID(); err != nil {
			return nil, err
		}
	}
	if c.remote != nil && c.remote.server != "" {
		if x.client, err = store.NewClient(c.remote.server, c.remote.token, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		return x, nil
	}
	if !c.creates {
		if err := rf.mustExist(s); err != nil {
			return nil, err
		}
	}
	if c.readOnly {
		x.reg, err = rf.openReadOnly(ctx, s)
	} else {
		x.reg, err = rf.open(ctx, s)
	}
	if err != nil {
		return nil, err
	}
	return x, nil
}

// one returns the only positional argument, or a usage error naming it.
func one(args []string, what string) (string, error) {
	if len(args) != 1 {
		return "", usageError("want exactly one %s, got %d arguments", what, len(args))
	}
	return args[0], nil
}

func table(w io.Writer, header string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
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

// --- release ---

type registerResult struct {
	Release  *store.Release     `json:"release"`
	Channel  string             `json:"channel,omitempty"`
	Previous string             `json:"previous,omitempty"` // what the channel served before (local registry only)
	Server   string             `json:"server,omitempty"`
	URLCheck *workflow.URLCheck `json:"url_check,omitempty"`
	// The delta form: where devices fetch each file's object, how many
	// files, and what the download of every object found.
	FilesURL     string                 `json:"files_url,omitempty"`
	FileCount    int                    `json:"file_count,omitempty"`
	ObjectsCheck *workflow.ObjectsCheck `json:"objects_check,omitempty"`
	Warnings     []string               `json:"warnings,omitempty"`
}

// registerFlags are the flags of release register.
type registerFlags struct {
	*registryFlags
	serverFlags
	manifest, url, filesURL, channel, minNative string
	skipCheck, allowNativeChange                bool
}

func parseRegisterFlags(s IO, args []string) (*registerFlags, error) {
	f := &registerFlags{}
	rf, _, err := regCmd{name: "release register",
		usage:   "--manifest MANIFEST --url URL [--files-url BASE] [--channel production] [--min-native VERSION] [--allow-native-change] [--skip-url-check] [--db PATH | --server URL --token TOKEN] [--json]",
		summary: "Download the hosted bundle (and, with --files-url, every per-file object) back, prove it is the built one, and register it.", app: true,
		remote: &f.serverFlags,
	}.parse(s, args, func(fs *flag.FlagSet) {
		fs.StringVar(&f.manifest, "manifest", "", "manifest written by 'capship bundle build' (required)")
		fs.StringVar(&f.url, "url", "", "https:// address where devices download the encrypted bundle (required)")
		fs.StringVar(&f.filesURL, "files-url", "", "https:// address of the folder the bundle's per-file objects were uploaded to: devices fetch BASE/OBJECT, only for the files they lack")
		fs.StringVar(&f.channel, "channel", "production", "channel to point at the release (\"\" for none)")
		fs.StringVar(&f.minNative, "min-native", "", "lowest native app version (version_build) that may get it")
		fs.BoolVar(&f.allowNativeChange, "allow-native-change", false, "register even though the bundle's native packages differ from the release the channel serves")
		fs.BoolVar(&f.skipCheck, "skip-url-check", false, "do not download the bundle and objects to compare sizes and SHA-256")
	})
	if err != nil {
		return nil, err
	}
	f.registryFlags = rf
	switch {
	case f.manifest == "":
		return nil, usageError("--manifest is required (the .json file 'capship bundle build' wrote)")
	case f.url == "":
		return nil, usageError("--url is required (where you uploaded the encrypted bundle)")
	}
	if err := f.resolve(s, f.db); err != nil {
		return nil, err
	}
	return f, nil
}

func runReleaseRegister(ctx context.Context, s IO, args []string) error {
	f, err := parseRegisterFlags(s, args)
	if err != nil {
		return err
	}
	m, err := workflow.ReadManifest(f.manifest)
	if err != nil {
		return err
	}
	if f.app != "" && f.app != m.AppID {
		return fmt.Errorf("register release: the manifest is for %s, not %s: build the bundle for the right app", m.AppID, f.app)
	}
	if err := checkProjectKey(m); err != nil {
		return err
	}
	in := store.RegisterInput{
		AppID: m.AppID, Version: m.Version, URL: strings.TrimSpace(f.url), SessionKey: m.SessionKey,
		Checksum: m.Checksum, Size: m.Size, SHA256: m.SHA256, ZipSHA256: m.ZipSHA256,
		KeyID: m.KeyID, KeyFingerprint: m.KeyFingerprint, Channel: f.channel, MinNative: f.minNative,
		NativePackages: m.NativePackages, AllowNativeChange: f.allowNativeChange,
	}
	if err := deltaInput(s, f, m, &in); err != nil {
		return err
	}
	// Refuse what can be refused now (invalid input, a bad --server or
	// token, a version the registry already has) before downloading the
	// whole bundle.
	if err := in.Validate(); err != nil {
		return fmt.Errorf("register release: %w", err)
	}
	var client *store.Client
	var reg store.Registry
	if f.server != "" {
		// A release of 15,000 files is a body of about 11 MB.
		if client, err = store.NewClient(f.server, f.token, &http.Client{Timeout: 10 * time.Minute}); err != nil {
			return fmt.Errorf("register release: %w", err)
		}
	} else {
		if reg, err = f.open(ctx, s); err != nil {
			return err
		}
		defer reg.Close()
		if _, err := reg.Release(ctx, m.AppID, m.Version); err == nil {
			return fmt.Errorf("register release: version %s of %s is already registered: bump the version (package.json) and build a new bundle", m.Version, m.AppID)
		}
	}
	if err := checkNativeFirst(ctx, reg, client, &in); err != nil {
		return err
	}
	res := registerResult{Channel: f.channel, Server: f.server, FilesURL: in.FilesURL, FileCount: len(in.Files)}
	if res.URLCheck, res.Warnings, err = checkHosted(ctx, s, f, m); err != nil {
		return err
	}
	if in.FilesURL != "" && !f.skipCheck {
		if res.ObjectsCheck, err = checkHostedObjects(ctx, s, m, in.FilesURL); err != nil {
			return err
		}
	}
	if client != nil {
		if res.Release, err = client.Register(ctx, in); err != nil {
			return withNativeAdvice(err)
		}
	} else if err := registerLocal(ctx, reg, in, &res); err != nil {
		return withNativeAdvice(err)
	}
	if f.json {
		return writeJSON(s.Out, res)
	}
	fmt.Fprintf(s.Err, "registered %s %s", m.AppID, m.Version)
	if in.FilesURL != "" {
		fmt.Fprintf(s.Err, " with %d files", len(in.Files))
	}
	if f.server != "" {
		fmt.Fprintf(s.Err, " on %s", f.server)
	}
	switch {
	case f.channel == "":
		fmt.Fprintln(s.Err, " (no channel: promote it with 'capship release promote')")
	case res.Previous != "":
		fmt.Fprintf(s.Err, "; channel %s: %s -> %s\n", f.channel, res.Previous, m.Version)
	default:
		fmt.Fprintf(s.Err, "; channel %s now serves it\n", f.channel)
	}
	return nil
}

// checkHosted validates the bundle URL and, unless --skip-url-check,
// downloads it (with progress) to prove it serves exactly the built bytes.
func checkHosted(ctx context.Context, s IO, f *registerFlags, m *workflow.Manifest) (*workflow.URLCheck, []string, error) {
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

// registerLocal registers in the local registry, noting what the channel
// served before.
func registerLocal(ctx context.Context, reg store.Registry, in store.RegisterInput, res *registerResult) error {
	var err error
	if in.Channel != "" {
		if before, err := reg.Channel(ctx, in.AppID, in.Channel); err == nil && before.Release != nil {
			res.Previous = before.Release.Version
		}
	}
	res.Release, err = reg.Register(ctx, in)
	return err
}

// deltaInput adds the manifest's delta form to in when --files-url is
// given, and says in one line when a manifest with a delta is registered
// zip only.
func deltaInput(s IO, f *registerFlags, m *workflow.Manifest, in *store.RegisterInput) error {
	if f.filesURL == "" {
		if m.Delta != nil {
			fmt.Fprintf(s.Err, "note: registering %s zip only (no --files-url): upload %s/ and pass --files-url BASE so that phones download only the files that changed\n",
				m.Version, deltaDirName(m))
		}
		return nil
	}
	if m.Delta == nil {
		why := "it was built with --no-delta or before capship wrote them"
		if m.DeltaSkipped != "" {
			why = m.DeltaSkipped
		}
		return fmt.Errorf("register release: --files-url given, but the manifest has no per-file objects (%s): register without --files-url (zip only), or rebuild the bundle with them", why)
	}
	if err := release.WithDelta(in, m.Delta, f.filesURL); err != nil {
		return fmt.Errorf("register release: %w", err)
	}
	return nil
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

type releaseRow struct {
	store.Release
	Channels []string `json:"channels"`
}

func runReleaseList(ctx context.Context, s IO, args []string) error {
	x, err := regCmd{name: "release list", usage: "[--app APP_ID] [--db PATH | --server URL --token TOKEN] [--json]",
		summary: "List an app's releases, newest first.", app: true, remote: &serverFlags{}, readOnly: true}.open(ctx, s, args, nil, nil)
	if err != nil {
		return err
	}
	// The registry or a capship server's admin API: the same two lists.
	var reg interface {
		Releases(ctx context.Context, appID string) ([]store.Release, error)
		Channels(ctx context.Context, appID string) ([]store.Channel, error)
	} = x.client
	if x.client == nil {
		defer x.reg.Close()
		reg = x.reg
	}
	app := x.app
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
	if x.json {
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
	table(s.Err, "VERSION\tCHANNELS\tSIZE\tFILES\tMIN NATIVE\tKEY ID\tREGISTERED\tURL", rows)
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type channelMove struct {
	AppID   string         `json:"app_id"`
	Channel string         `json:"channel"`
	From    string         `json:"from"`
	To      string         `json:"to"`
	State   *store.Channel `json:"state"`
}

func runReleasePromote(ctx context.Context, s IO, args []string) error {
	return moveChannel(ctx, s, args, true)
}

func runReleaseRollback(ctx context.Context, s IO, args []string) error {
	return moveChannel(ctx, s, args, false)
}

// moveChannel runs promote (VERSION) or rollback (no argument).
func moveChannel(ctx context.Context, s IO, args []string, promote bool) error {
	cmd := regCmd{name: "release rollback", usage: "--channel CHANNEL [--app APP_ID] [--db PATH] [--json]",
		summary: "Move a channel back to the release it served before.", app: true}
	if promote {
		cmd = regCmd{name: "release promote", usage: "VERSION --channel CHANNEL [--app APP_ID] [--db PATH] [--json]",
			summary: "Point a channel at a registered release newer than what it serves.", app: true, arg: "VERSION"}
	}
	var channel *string
	x, err := cmd.open(ctx, s, args, func(fs *flag.FlagSet) {
		channel = fs.String("channel", "", "channel to change (required)")
	}, func() error {
		if *channel == "" {
			return usageError("--channel is required")
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer x.reg.Close()
	app, reg, version := x.app, x.reg, x.arg
	move := channelMove{AppID: app, Channel: *channel, From: "-"}
	if before, err := reg.Channel(ctx, app, *channel); err == nil {
		move.From = versionOf(before.Release)
	}
	if promote {
		move.State, err = reg.Promote(ctx, app, *channel, version)
	} else {
		move.State, err = reg.Rollback(ctx, app, *channel)
	}
	if err != nil {
		return err
	}
	move.To = versionOf(move.State.Release)
	if x.json {
		return writeJSON(s.Out, move)
	}
	fmt.Fprintf(s.Err, "%s channel %s: %s -> %s\n", app, *channel, move.From, move.To)
	if !promote {
		fmt.Fprintf(s.Err, "%s is marked rolled back; 'capship release promote %s --channel %s' brings it back\n", move.From, move.From, *channel)
	}
	return nil
}

// --- channel ---

// channelSettingFlags are the flags of channel create and set.
type channelSettingFlags struct {
	rollout                                            int
	platforms                                          string
	public, selfSet, emulator, dev, underNative, delta bool
}

// addChannelSettingFlags adds the settings flags; withDefaults shows the
// defaults of a new channel (channel set changes only the flags given).
func addChannelSettingFlags(fs *flag.FlagSet, withDefaults bool) *channelSettingFlags {
	d, platforms := store.DefaultChannelSettings(), "ios,android,electron"
	if !withDefaults {
		d, platforms = store.Channel{}, ""
	}
	f := &channelSettingFlags{}
	fs.IntVar(&f.rollout, "rollout", d.Rollout, "percentage of devices (stable by device id) that get the current release; the others keep the previous one")
	fs.BoolVar(&f.public, "public", d.Public, "default channel for devices that name none (one per platform)")
	fs.BoolVar(&f.selfSet, "self-set", d.AllowSelfSet, "devices may switch themselves to this channel")
	fs.StringVar(&f.platforms, "platforms", platforms, "platforms the channel serves, comma-separated")
	fs.BoolVar(&f.emulator, "emulator", d.AllowEmulator, "serve emulators and simulators")
	fs.BoolVar(&f.dev, "dev", d.AllowDev, "serve development builds (is_prod false)")
	fs.BoolVar(&f.underNative, "disable-under-native", d.DisableUnderNative, "never send a version lower than the native app's version")
	fs.BoolVar(&f.delta, "delta", d.Delta, "send releases registered with --files-url file by file to plugins that can take it (--delta=false: always the zip)")
	return f
}

// settings returns the settings whose flags were given on the command line.
func (f *channelSettingFlags) settings(fs *flag.FlagSet) (store.ChannelSettings, error) {
	var set store.ChannelSettings
	var err error
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "rollout":
			set.Rollout = &f.rollout
		case "public":
			set.Public = &f.public
		case "self-set":
			set.AllowSelfSet = &f.selfSet
		case "emulator":
			set.AllowEmulator = &f.emulator
		case "dev":
			set.AllowDev = &f.dev
		case "disable-under-native":
			set.DisableUnderNative = &f.underNative
		case "delta":
			set.Delta = &f.delta
		case "platforms":
			ios, android, electron := false, false, false
			for _, p := range strings.Split(f.platforms, ",") {
				switch strings.ToLower(strings.TrimSpace(p)) {
				case store.PlatformIOS:
					ios = true
				case store.PlatformAndroid:
					android = true
				case store.PlatformElectron:
					electron = true
				case "":
				default:
					err = usageError("--platforms: unknown platform %q (use ios, android, electron)", p)
				}
			}
			set.IOS, set.Android, set.Electron = &ios, &android, &electron
		}
	})
	return set, err
}

func runChannelCreate(ctx context.Context, s IO, args []string) error {
	return writeChannel(ctx, s, args, true)
}

func runChannelSet(ctx context.Context, s IO, args []string) error {
	return writeChannel(ctx, s, args, false)
}

func writeChannel(ctx context.Context, s IO, args []string, create bool) error {
	cmd := regCmd{name: "channel set", usage: "NAME [settings] [--app APP_ID] [--db PATH] [--json]",
		summary: "Change a channel's settings; flags not given stay as they are.", app: true, arg: "channel NAME"}
	if create {
		cmd.name, cmd.summary, cmd.creates = "channel create", "Add a release channel; register or promote a release to it.", true
	}
	var fs *flag.FlagSet
	var cf *channelSettingFlags
	var set store.ChannelSettings
	x, err := cmd.open(ctx, s, args, func(f *flag.FlagSet) { fs, cf = f, addChannelSettingFlags(f, create) }, func() (err error) {
		if set, err = cf.settings(fs); err != nil {
			return err
		}
		if !create && set == (store.ChannelSettings{}) {
			return usageError("nothing to change: give at least one of --rollout, --public, --self-set, --platforms, --emulator, --dev, --disable-under-native, --delta")
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer x.reg.Close()
	app, reg, channel := x.app, x.reg, x.arg
	var c *store.Channel
	if create {
		c, err = reg.CreateChannel(ctx, app, channel, set)
	} else {
		c, err = reg.UpdateChannel(ctx, app, channel, set)
	}
	if err != nil {
		return err
	}
	if x.json {
		return writeJSON(s.Out, c)
	}
	verb := "changed"
	if create {
		verb = "created"
	}
	fmt.Fprintf(s.Err, "%s channel %s of %s\n", verb, channel, app)
	printChannels(s.Err, []store.Channel{*c})
	return nil
}

func runChannelList(ctx context.Context, s IO, args []string) error {
	x, err := regCmd{name: "channel list", usage: "[--app APP_ID] [--db PATH] [--json]",
		summary: "List an app's channels and their settings.", app: true, readOnly: true}.open(ctx, s, args, nil, nil)
	if err != nil {
		return err
	}
	defer x.reg.Close()
	app := x.app
	channels, err := x.reg.Channels(ctx, app)
	if err != nil {
		return err
	}
	if x.json {
		if channels == nil {
			channels = []store.Channel{}
		}
		return writeJSON(s.Out, map[string]any{"app_id": app, "channels": channels})
	}
	if len(channels) == 0 {
		fmt.Fprintf(s.Err, "%s has no channels yet: 'capship release register' creates one\n", app)
		return nil
	}
	printChannels(s.Err, channels)
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printChannels(w io.Writer, channels []store.Channel) {
	rows := make([][]string, 0, len(channels))
	for _, c := range channels {
		var platforms []string
		for _, p := range []string{store.PlatformIOS, store.PlatformAndroid, store.PlatformElectron} {
			if c.ServesPlatform(p) {
				platforms = append(platforms, p)
			}
		}
		rows = append(rows, []string{c.Name, versionOf(c.Release), versionOf(c.Previous), strconv.Itoa(c.Rollout) + "%",
			yesNo(c.Public), yesNo(c.AllowSelfSet), dash(strings.Join(platforms, ",")), yesNo(c.AllowEmulator),
			yesNo(c.AllowDev), yesNo(c.DisableUnderNative), yesNo(c.Delta)})
	}
	table(w, "CHANNEL\tRELEASE\tPREVIOUS\tROLLOUT\tPUBLIC\tSELF-SET\tPLATFORMS\tEMULATOR\tDEV\tNOT UNDER NATIVE\tDELTA", rows)
}

func runChannelHistory(ctx context.Context, s IO, args []string) error {
	x, err := regCmd{name: "channel history", usage: "NAME [--app APP_ID] [--db PATH] [--json]",
		summary: "Show what a channel served and when, oldest first.", app: true, arg: "channel NAME", readOnly: true}.open(ctx, s, args, nil, nil)
	if err != nil {
		return err
	}
	defer x.reg.Close()
	app, channel := x.app, x.arg
	history, err := x.reg.History(ctx, app, channel)
	if err != nil {
		return err
	}
	if x.json {
		if history == nil {
			history = []store.HistoryEntry{}
		}
		return writeJSON(s.Out, map[string]any{"app_id": app, "channel": channel, "history": history})
	}
	rows := make([][]string, 0, len(history))
	for _, h := range history {
		rows = append(rows, []string{when(&h.At), h.Action, h.Version, when(h.RolledBackAt)})
	}
	table(s.Err, "WHEN\tACTION\tVERSION\tROLLED BACK", rows)
	return nil
}

// --- tokens ---

func runTokenCreate(ctx context.Context, s IO, args []string) error {
	var app *string
	x, err := regCmd{name: "token create", usage: "NAME [--app APP_ID] [--db PATH] [--json]",
		summary: "Create a token for the admin API of 'capship serve'. The token is printed once, on stdout.",
		arg:     "token NAME", creates: true}.open(ctx, s, args, func(fs *flag.FlagSet) {
		app = fs.String("app", "", "limit the token to this app (default: every app)")
	}, nil)
	if err != nil {
		return err
	}
	defer x.reg.Close()
	name := x.arg
	secret, tok, err := x.reg.CreateToken(ctx, name, *app)
	if err != nil {
		return err
	}
	if x.json {
		return writeJSON(s.Out, struct {
			*store.Token
			Secret string `json:"token"`
		}{tok, secret})
	}
	fmt.Fprintln(s.Out, secret)
	fmt.Fprintf(s.Err, "created token %s (id %d); it is shown only this once: store it in your CI's secrets\n", name, tok.ID)
	fmt.Fprintln(s.Err, "use it with: capship release register --server URL --token TOKEN (or CAPSHIP_TOKEN=TOKEN)")
	return nil
}

func runTokenList(ctx context.Context, s IO, args []string) error {
	x, err := regCmd{name: "token list", usage: "[--db PATH] [--json]",
		summary: "List admin API tokens (never their secrets).", readOnly: true}.open(ctx, s, args, nil, nil)
	if err != nil {
		return err
	}
	defer x.reg.Close()
	tokens, err := x.reg.Tokens(ctx)
	if err != nil {
		return err
	}
	if x.json {
		if tokens == nil {
			tokens = []store.Token{}
		}
		return writeJSON(s.Out, map[string]any{"tokens": tokens})
	}
	if len(tokens) == 0 {
		fmt.Fprintln(s.Err, "no tokens: create one with 'capship token create NAME'")
		return nil
	}
	rows := make([][]string, 0, len(tokens))
	for _, t := range tokens {
		status := "active"
		if t.RevokedAt != nil {
			status = "revoked " + when(t.RevokedAt)
		}
		rows = append(rows, []string{strconv.FormatInt(t.ID, 10), t.Name, dash(t.AppID), when(&t.CreatedAt), when(t.LastUsedAt), status})
	}
	table(s.Err, "ID\tNAME\tAPP\tCREATED\tLAST USED\tSTATUS", rows)
	return nil
}

func runTokenRevoke(ctx context.Context, s IO, args []string) error {
	x, err := regCmd{name: "token revoke", usage: "NAME|ID [--db PATH] [--json]",
		summary: "Revoke an admin API token; servers refuse it from the next request on.", arg: "token NAME or ID"}.open(ctx, s, args, nil, nil)
	if err != nil {
		return err
	}
	defer x.reg.Close()
	name := x.arg
	if err := x.reg.RevokeToken(ctx, name); err != nil {
		return err
	}
	if x.json {
		return writeJSON(s.Out, map[string]any{"revoked": name})
	}
	fmt.Fprintf(s.Err, "revoked token %s\n", name)
	return nil
}

// --- stats ---

// parseSince reads --since: a duration back from now (24h, 90m) or a date.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageError("--since %q: give a duration such as 24h or a date such as 2026-01-31", v)
}

func runStats(ctx context.Context, s IO, args []string) error {
	var sinceFlag *string
	var since time.Time
	x, err := regCmd{name: "stats", usage: "[--since 24h|2006-01-02] [--app APP_ID] [--db PATH] [--json]",
		summary: "Summarize what devices reported, per bundle version: downloads, installs, failures by kind.",
		app:     true, readOnly: true}.open(ctx, s, args, func(fs *flag.FlagSet) {
		sinceFlag = fs.String("since", "", "only events after this: a duration back from now (24h) or a date")
	}, func() (err error) {
		since, err = parseSince(*sinceFlag, time.Now())
		return err
	})
	if err != nil {
		return err
	}
	defer x.reg.Close()
	app, reg := x.app, x.reg
	if _, err := reg.App(ctx, app); err != nil {
		return err
	}
	stats, err := reg.Stats(ctx, app, since)
	if err != nil {
		return err
	}
	if x.json {
		return writeJSON(s.Out, map[string]any{"app_id": app, "since": since, "releases": stats})
	}
	if len(stats) == 0 {
		fmt.Fprintf(s.Err, "no device events for %s yet: devices report to the statsUrl of the app's Capacitor config ('capship config set-server URL' sets it to your server)\n", app)
		return nil
	}
	failure := map[string]bool{}
	for _, a := range store.FailureActions {
		failure[a] = true
	}
	rows := make([][]string, 0, len(stats))
	for _, st := range stats {
		var kinds []string
		for action, n := range st.ByAction {
			if failure[action] {
				kinds = append(kinds, fmt.Sprintf("%s %d", action, n))
			}
		}
		sort.Strings(kinds)
		// Delta downloads (spec §6): complete of started. Their failures
		// are among FAILURES.
		delta := "-"
		if started, complete := st.ByAction["download_manifest_start"], st.ByAction["download_manifest_complete"]; started+complete > 0 {
			delta = fmt.Sprintf("%d/%d", complete, started)
		}
		rows = append(rows, []string{st.Version, strconv.FormatInt(st.Devices, 10), strconv.FormatInt(st.Downloads, 10), delta,
			strconv.FormatInt(st.Installs, 10), strconv.FormatInt(st.Failures, 10), dash(strings.Join(kinds, ", ")), when(&st.LastAt)})
	}
	table(s.Err, "VERSION\tDEVICES\tDOWNLOADS\tDELTA\tINSTALLS\tFAILURES\tFAILURES BY KIND\tLAST EVENT", rows)
	return nil
}
