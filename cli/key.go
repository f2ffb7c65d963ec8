package cli

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"capship/store"
	"capship/store/release"
	"capship/workflow"
)

// envKeychainService overrides the keychain service name ("capship"), e.g.
// to keep a staging key apart from production.
const envKeychainService = "CAPSHIP_KEYCHAIN_SERVICE"

// newKeyCmd is "key": an app's signing key in the OS keychain, and
// "key generate" (keygen.go), which writes files instead.
func newKeyCmd(s IO) *cobra.Command {
	return newParentCmd("key", "Make, import and inspect the apps' signing keys",
		"Every app has an RSA-2048 key pair: the private key seals bundles and stays in the OS\n"+
			"keychain (or $CAPSHIP_PRIVATE_KEY in CI), the public key goes into the app's Capacitor config.\n"+
			"$CAPSHIP_KEYCHAIN_SERVICE picks another keychain service than \"capship\".",
		groupSetup,
		newKeyCreateCmd(s), newKeyImportCmd(s), newKeyExportCmd(s), newKeyShowCmd(s), newKeyListCmd(s),
		newKeyDeleteCmd(s), newKeyGenerateCmd(s))
}

// keyOptions are the flags of the key commands.
type keyOptions struct {
	keyFlags
	force, json, private, yes bool
	out                       string
}

// newKeyLeaf completes a key command: the shared flags which says, --force
// and --json when asked for, and run.
func newKeyLeaf(s IO, cmd *cobra.Command, which int, run func(ctx context.Context, s IO, o *keyOptions, args []string) error) (*cobra.Command, *keyOptions) {
	o := &keyOptions{}
	addKeyFlags(cmd.Flags(), &o.keyFlags, which)
	if which&forceFlag != 0 {
		cmd.Flags().BoolVar(&o.force, "force", false, "replace the app's key; the old key is archived in the keychain, never deleted")
	}
	if which&jsonFlag != 0 {
		addJSONFlag(cmd.Flags(), &o.json, "")
	}
	if cmd.Args == nil {
		cmd.Args = noArgs
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return run(cmd.Context(), s, o, args) }
	return cmd, o
}

func newKeyCreateCmd(s IO) *cobra.Command {
	cmd, _ := newKeyLeaf(s, &cobra.Command{
		Use:   "create",
		Short: "Make an app's key pair (keychain + Capacitor config)",
		Long: "Make a new RSA-2048 key pair for an app: the private key goes into the OS keychain\n" +
			"(never a file), the public key into the app's Capacitor config.",
		Example: "  capship key create                 # in the app's folder\n  capship key create --app com.example.shop --config ../shop/capacitor.config.ts",
	}, appFlag|configFlag|forceFlag|jsonFlag, runKeyCreate)
	return cmd
}

func newKeyImportCmd(s IO) *cobra.Command {
	cmd, _ := newKeyLeaf(s, &cobra.Command{
		Use:   "import FILE",
		Short: "Move a key file (e.g. .capgo_key_v2) into the keychain",
		Long: "Move an existing RSA-2048 private key (PKCS#1 PEM, such as Capgo's .capgo_key_v2) into the OS keychain.\n" +
			"If the Capacitor config here has no publicKey yet, its public half is written there.",
		Example: "  capship key import .capgo_key_v2 && rm .capgo_key_v2",
		Args:    exactlyOne("private key FILE"),
	}, appFlag|configFlag|forceFlag|jsonFlag, runKeyImport)
	return cmd
}

func newKeyExportCmd(s IO) *cobra.Command {
	cmd, o := newKeyLeaf(s, &cobra.Command{
		Use:   "export",
		Short: "Print the public key, or save the private key to a file",
		Long: "Print an app's public key (PKCS#1 PEM) on stdout. With --private, write the private key\n" +
			"into a NEW file with mode 0600 (never to stdout, never over an existing file).",
		Example: "  capship key export > shop.pub.pem\n  capship key export --private --out backup.pem",
	}, keyNameFlag, runKeyExport)
	cmd.Flags().BoolVar(&o.private, "private", false, "export the private key (needs --out)")
	cmd.Flags().StringVar(&o.out, "out", "", "new `file` to write the key to (created with mode 0600)")
	addJSONFlag(cmd.Flags(), &o.json, "print key id, fingerprint and the public key as JSON on stdout")
	return cmd
}

func newKeyShowCmd(s IO) *cobra.Command {
	cmd, _ := newKeyLeaf(s, &cobra.Command{
		Use:   "show",
		Short: "An app's key id, fingerprint and config match",
		Long: "Show an app's key: key id, fingerprint, where it is stored, whether the Capacitor\n" +
			"config in this folder carries the matching public key, and its archived keys.",
	}, keyNameFlag|configFlag|jsonFlag, runKeyShow)
	return cmd
}

func newKeyListCmd(s IO) *cobra.Command {
	cmd, _ := newKeyLeaf(s, &cobra.Command{
		Use:   "list",
		Short: "Every key in the OS keychain, archived ones included",
		Long: "List the keys in the OS keychain: key id, fingerprint, where each is stored, and whether\n" +
			"the Capacitor config in this folder carries the matching public key.",
	}, configFlag|jsonFlag, runKeyList)
	return cmd
}

func newKeyDeleteCmd(s IO) *cobra.Command {
	cmd, o := newKeyLeaf(s, &cobra.Command{
		Use:   "delete --yes",
		Short: "Remove a key (or an archived key) from the keychain",
		Long: "Remove a key from the OS keychain. Without its private key no update can reach the\n" +
			"apps that carry its public key again: export it first if in doubt.",
		Example: "  capship key export --app com.example.shop --private --out shop.pem && capship key delete --app com.example.shop --yes",
	}, keyNameFlag, runKeyDelete)
	cmd.Flags().BoolVar(&o.yes, "yes", false, "really delete the key")
	return cmd
}

// openKeychain returns the keychain capship uses.
func openKeychain(s IO) *store.Keychain {
	return store.NewKeychain(keychainService(s))
}

// keychainService is the keychain service name: $CAPSHIP_KEYCHAIN_SERVICE,
// else "capship".
func keychainService(s IO) string {
	if v := s.Getenv(envKeychainService); v != "" {
		return v
	}
	return store.KeychainService
}

// keyFlags are the --app and --config flags most key commands share.
type keyFlags struct {
	app, config string
}

// Which of the shared flags a command takes.
const (
	appFlag     = 1 << iota // --app: an app id
	keyNameFlag             // --app: an app id or an archived key's name
	configFlag              // --config
	forceFlag               // --force
	jsonFlag                // --json
)

// addKeyFlags adds the --app and --config flags which says to fs.
func addKeyFlags(fs *pflag.FlagSet, f *keyFlags, which int) {
	switch {
	case which&keyNameFlag != 0:
		addAppFlag(fs, &f.app, "app id, or an archived key's name from 'key list' (default: appId of the Capacitor config in this folder)")
	case which&appFlag != 0:
		addAppFlag(fs, &f.app, "")
	}
	if which&configFlag != 0 {
		addConfigFlag(fs, &f.config)
	}
}

// addConfigFlag adds --config, the app's Capacitor config file.
func addConfigFlag(fs *pflag.FlagSet, v *string) {
	fs.StringVar(v, "config", "", "Capacitor config `file` (default: capacitor.config.ts/.js/.json in the app's folder)")
}

// project loads the Capacitor config named by --config, or the one in the
// current folder. It returns nil and no error when there is none.
func (f *keyFlags) project() (*workflow.Project, error) {
	if f.config != "" {
		return workflow.LoadProjectConfig(filepath.Dir(f.config), f.config)
	}
	p, err := workflow.LoadProject(".")
	if errors.Is(err, workflow.ErrNoConfig) {
		return nil, nil
	}
	return p, err
}

// configApp loads the config (which must exist) and the app id, which must
// be the config's own.
func (f *keyFlags) configApp(verb string) (*workflow.Project, string, error) {
	p, err := f.project()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", verb, err)
	}
	if p == nil {
		return nil, "", usageError("no Capacitor config in this folder: run it in the app's folder or pass --config PATH")
	}
	appID, err := f.appID(p)
	if err != nil {
		return nil, "", err
	}
	if p.AppID != "" && p.AppID != appID {
		return nil, "", fmt.Errorf("%s: %s is the config of %s, not %s; pass --config with %s's config", verb, p.ConfigPath, p.AppID, appID, appID)
	}
	if err := workflow.ValidAppID(appID); err != nil {
		return nil, "", fmt.Errorf("%s: %w", verb, err)
	}
	return p, appID, nil
}

// keyName is --app (an app id or archived key name), or the appId of the
// config when --app is not given.
func (f *keyFlags) keyName(verb string) (string, error) {
	if f.app != "" {
		return f.app, nil
	}
	p, err := f.project()
	if err != nil {
		return "", fmt.Errorf("%s: %w", verb, err)
	}
	return f.appID(p)
}

// storedKey reads the key stored under name (release.AppKey).
func storedKey(kc *store.Keychain, verb, name string) (*rsa.PrivateKey, error) {
	key, err := release.AppKey(kc, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", verb, err)
	}
	return key, nil
}

// appID is --app, or the appId of the config.
func (f *keyFlags) appID(p *workflow.Project) (string, error) {
	if f.app != "" {
		return f.app, nil
	}
	if p == nil {
		return "", usageError("no --app given and no Capacitor config in this folder: pass --app APP_ID or run in the app's folder")
	}
	if p.AppID == "" {
		return "", usageError("no --app given and %s sets no plain appId: pass --app APP_ID", p.ConfigPath)
	}
	return p.AppID, nil
}

// keyReport describes one stored key, for people and for --json.
type keyReport struct {
	Name           string `json:"name"`
	AppID          string `json:"app_id"`
	Archived       bool   `json:"archived"`
	ArchivedAt     string `json:"archived_at,omitempty"`
	KeyID          string `json:"key_id,omitempty"`
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	StoredIn       string `json:"stored_in"`
	Config         string `json:"config,omitempty"`        // the Capacitor config compared with
	ConfigStatus   string `json:"config_status,omitempty"` // match, mismatch, missing, unreadable, other-app, no-config
	Problem        string `json:"problem,omitempty"`       // why the key could not be read
	Warning        string `json:"warning,omitempty"`       // a mismatch, in words
}

// describeKey reads name from the keychain and compares it with the
// project's config. A key that cannot be read is reported, not fatal,
// unless the keychain itself is unusable.
func describeKey(kc *store.Keychain, e store.KeyEntry, p *workflow.Project) (keyReport, error) {
	r := keyReport{Name: e.Name, AppID: e.AppID, Archived: e.Archived, StoredIn: kc.Where()}
	if e.Archived {
		r.ArchivedAt = e.ArchivedAt.Format(time.RFC3339)
	}
	pemText, err := kc.Get(e.Name)
	switch {
	case errors.Is(err, store.ErrNoKey):
		r.Problem = "listed in capship's index but gone from the keychain"
		return r, nil
	case err != nil:
		return r, err
	}
	key, err := workflow.ParsePrivateKey(pemText)
	if err != nil {
		r.Problem = "stored value is not a usable key: " + err.Error()
		return r, nil
	}
	r.KeyID, r.KeyFingerprint = workflow.KeyID(&key.PublicKey), workflow.Fingerprint(&key.PublicKey)
	if !e.Archived {
		r.Config, r.ConfigStatus, r.Warning = configStatus(p, e.AppID, &key.PublicKey)
	}
	return r, nil
}

// configStatus compares the public key in the project's config with pub.
func configStatus(p *workflow.Project, appID string, pub *rsa.PublicKey) (config, status, warning string) {
	if p == nil {
		return "", "no-config", ""
	}
	config = p.ConfigPath
	if p.AppID != appID {
		return config, "other-app", ""
	}
	state, cfgPub, err := workflow.CompareConfigKey(p.PublicKey, pub)
	switch state {
	case workflow.ConfigKeyMissing:
		return config, "missing", fmt.Sprintf("%s has no plugins.CapacitorUpdater.publicKey: the app would not decrypt bundles; write it with 'capship config set-key --app %s'", config, appID)
	case workflow.ConfigKeyUnusable:
		return config, "unreadable", fmt.Sprintf("the publicKey in %s is not usable (%v); rewrite it with 'capship config set-key --app %s'", config, err, appID)
	case workflow.ConfigKeyDiffers:
		return config, "mismatch", fmt.Sprintf("KEY MISMATCH: %s carries public key %s (%s), but the keychain key of %s is %s (%s). The app would reject every bundle built with this key. Write the matching public key with 'capship config set-key --app %s' (then ship a native app update), or import the private key that matches the config.",
			config, workflow.KeyID(cfgPub), workflow.Fingerprint(cfgPub), appID, workflow.KeyID(pub), workflow.Fingerprint(pub), appID)
	}
	return config, "match", ""
}

func statusText(r keyReport) string {
	switch r.ConfigStatus {
	case "match":
		return "matches " + filepath.Base(r.Config)
	case "mismatch":
		return "MISMATCH with " + filepath.Base(r.Config)
	case "missing":
		return "no publicKey in " + filepath.Base(r.Config)
	case "unreadable":
		return "bad publicKey in " + filepath.Base(r.Config)
	case "other-app":
		return "config is another app's"
	case "no-config":
		return "no config here"
	}
	if r.Archived {
		return "archived " + r.ArchivedAt
	}
	return "-"
}

func warnLoudly(w io.Writer, warning string) {
	if warning == "" {
		return
	}
	fmt.Fprintf(w, "\n!!! %s\n\n", warning)
}

func runKeyCreate(ctx context.Context, s IO, o *keyOptions, args []string) error {
	p, appID, err := o.configApp("create key")
	if err != nil {
		return err
	}
	kc := openKeychain(s)
	f, err := release.CreateKey(ctx, kc, release.KeyRequest{AppID: appID, ConfigPath: p.ConfigPath,
		ConfigPublicKey: p.PublicKey, Config: release.ConfigAlways, Replace: o.force})
	if f == nil {
		return err
	}
	fmt.Fprintf(s.Err, "stored the private key of %s in the %s\n", appID, f.StoredIn)
	if f.Archived != "" {
		fmt.Fprintf(s.Err, "archived the previous key as %s ('capship key export --app %s --private --out FILE' still reads it)\n", f.Archived, f.Archived)
		warnLoudly(s.Err, "apps already installed carry the OLD public key and will reject bundles built with the new one: ship a native app update with the new config first")
	}
	if err != nil {
		return err // a refused config edit names the file and carries the snippet to paste
	}
	saidConfigWrite(s, f)
	fmt.Fprintf(s.Err, "key id %s, fingerprint %s\n", f.KeyID, f.KeyFingerprint)
	if o.json {
		return writeJSON(s.Out, struct {
			AppID          string `json:"app_id"`
			KeyID          string `json:"key_id"`
			KeyFingerprint string `json:"key_fingerprint"`
			StoredIn       string `json:"stored_in"`
			Config         string `json:"config"`
			Archived       string `json:"archived,omitempty"`
		}{appID, f.KeyID, f.KeyFingerprint, f.StoredIn, p.ConfigPath, f.Archived})
	}
	return nil
}

// saidConfigWrite says that the public key went into the config.
func saidConfigWrite(s IO, f *release.KeyFacts) {
	if f.ConfigWritten {
		fmt.Fprintf(s.Err, "wrote the public key to %s (plugins.CapacitorUpdater.publicKey)\n", f.Config)
	}
}

func runKeyImport(ctx context.Context, s IO, o *keyOptions, args []string) error {
	file := args[0]
	p, err := o.project()
	if err != nil && o.app == "" {
		return fmt.Errorf("import key: %w", err)
	}
	appID, err := o.appID(p)
	if err != nil {
		return err
	}
	req := release.KeyRequest{AppID: appID, Config: release.ConfigIfMissing, Replace: o.force}
	if p != nil && p.AppID == appID {
		req.ConfigPath, req.ConfigPublicKey = p.ConfigPath, p.PublicKey
	}
	kc := openKeychain(s)
	f, err := release.ImportKey(ctx, kc, req, file)
	if f == nil {
		return err
	}
	if f.Unchanged {
		fmt.Fprintf(s.Err, "the %s already holds %s as the key of %s; nothing changed\n", f.StoredIn, file, appID)
	} else {
		fmt.Fprintf(s.Err, "imported %s into the %s as the key of %s\n", file, f.StoredIn, appID)
	}
	if f.Archived != "" {
		fmt.Fprintf(s.Err, "archived the previous key as %s\n", f.Archived)
	}
	fmt.Fprintf(s.Err, "key id %s, fingerprint %s\n", f.KeyID, f.KeyFingerprint)
	if err != nil {
		return err
	}
	saidConfigWrite(s, f)
	r, err := describeKey(kc, store.KeyEntry{Name: appID, AppID: appID}, p)
	if err != nil {
		return err
	}
	if f.ConfigWritten {
		r.ConfigStatus, r.Warning = "match", ""
	}
	if r.ConfigStatus == "match" {
		fmt.Fprintf(s.Err, "%s carries the matching public key\n", r.Config)
	}
	warnLoudly(s.Err, r.Warning)
	fmt.Fprintf(s.Err, "the key is safe in the keychain: you can now delete %s (it is one 'git add .' away from a leak)\n", file)
	if o.json {
		return writeJSON(s.Out, r)
	}
	return nil
}

func runKeyExport(ctx context.Context, s IO, o *keyOptions, args []string) error {
	if o.private && o.out == "" {
		return usageError("--private needs --out FILE: capship never prints a private key")
	}
	appID, err := o.keyName("export key")
	if err != nil {
		return err
	}
	key, err := storedKey(openKeychain(s), "export key", appID)
	if err != nil {
		return err
	}
	pub := workflow.EncodePublicKey(&key.PublicKey)
	res := struct {
		Name           string `json:"name"`
		KeyID          string `json:"key_id"`
		KeyFingerprint string `json:"key_fingerprint"`
		PublicKey      string `json:"public_key"`
		File           string `json:"file,omitempty"`
		Private        bool   `json:"private"`
	}{appID, workflow.KeyID(&key.PublicKey), workflow.Fingerprint(&key.PublicKey), string(pub), o.out, o.private}
	if o.out != "" {
		data := pub
		if o.private {
			data = workflow.EncodePrivateKey(key)
		}
		if err := workflow.WriteKeyFile(o.out, data); err != nil {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("export key: %s already exists; capship never overwrites a key file: pick a new name", o.out)
			}
			return fmt.Errorf("export key: %w", err)
		}
		what := "public"
		if o.private {
			what = "PRIVATE"
		}
		fmt.Fprintf(s.Err, "wrote the %s key of %s (key id %s) to %s, mode 0600\n", what, appID, res.KeyID, o.out)
		if o.private {
			fmt.Fprintf(s.Err, "keep that file out of your repository, and delete it when you no longer need it\n")
		}
	}
	if o.json {
		return writeJSON(s.Out, res)
	}
	if o.out == "" {
		_, err := s.Out.Write(pub)
		return err
	}
	return nil
}

func runKeyShow(ctx context.Context, s IO, o *keyOptions, args []string) error {
	p, perr := o.project()
	appID, err := o.appID(p)
	if err != nil {
		if perr != nil {
			return fmt.Errorf("show key: %w", perr)
		}
		return err
	}
	entry, err := store.ParseKeyName(appID)
	if err != nil {
		return fmt.Errorf("show key: %w", err)
	}
	kc := openKeychain(s)
	r, err := describeKey(kc, entry, p)
	if err != nil {
		return fmt.Errorf("show key: %w", err)
	}
	if r.Problem != "" && !entry.Archived {
		if has, _ := kc.Has(appID); !has {
			return fmt.Errorf("show key: no key for %s in the %s; create one with 'capship key create' or bring one in with 'capship key import'", appID, kc.Where())
		}
	}
	all, err := kc.List()
	if err != nil {
		return fmt.Errorf("show key: %w", err)
	}
	archived := []keyReport{}
	for _, e := range all {
		if e.AppID == entry.AppID && e.Archived && e.Name != entry.Name {
			a, err := describeKey(kc, e, nil)
			if err != nil {
				return fmt.Errorf("show key: %w", err)
			}
			archived = append(archived, a)
		}
	}
	if o.json {
		return writeJSON(s.Out, struct {
			keyReport
			ArchivedKeys []keyReport `json:"archived_keys"`
		}{r, archived})
	}
	fmt.Fprintf(s.Out, "key:          %s\n", r.Name)
	if r.Problem != "" {
		fmt.Fprintf(s.Out, "problem:      %s\n", r.Problem)
	} else {
		fmt.Fprintf(s.Out, "key id:       %s\nfingerprint:  %s\n", r.KeyID, r.KeyFingerprint)
	}
	fmt.Fprintf(s.Out, "stored in:    %s\n", r.StoredIn)
	if !r.Archived {
		fmt.Fprintf(s.Out, "config:       %s\n", statusText(r))
	}
	for _, a := range archived {
		fmt.Fprintf(s.Out, "archived:     %s  %s  %s\n", a.Name, dash(a.KeyID), dash(a.KeyFingerprint))
	}
	warnLoudly(s.Err, r.Warning)
	return nil
}

func runKeyList(ctx context.Context, s IO, o *keyOptions, args []string) error {
	p, perr := o.project()
	if perr != nil {
		fmt.Fprintf(s.Err, "warning: cannot compare with the Capacitor config: %v\n", perr)
	}
	kc := openKeychain(s)
	entries, err := kc.List()
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	// A key the index does not know (the index is lost, or another tool
	// wrote the entry) is still found for the app in this folder.
	if p != nil && p.AppID != "" && !slices.ContainsFunc(entries, func(e store.KeyEntry) bool { return e.Name == p.AppID }) {
		if e, err := store.ParseKeyName(p.AppID); err == nil {
			if has, err := kc.Has(p.AppID); err != nil {
				return fmt.Errorf("list keys: %w", err)
			} else if has {
				entries = append([]store.KeyEntry{e}, entries...)
			}
		}
	}
	reports := []keyReport{}
	for _, e := range entries {
		r, err := describeKey(kc, e, p)
		if err != nil {
			return fmt.Errorf("list keys: %w", err)
		}
		reports = append(reports, r)
	}
	if o.json {
		if err := writeJSON(s.Out, struct {
			Keys []keyReport `json:"keys"`
		}{reports}); err != nil {
			return err
		}
	} else if len(reports) == 0 {
		fmt.Fprintf(s.Err, "no keys in the %s; make one with 'capship key create' in your app's folder\n", kc.Where())
	} else {
		rows := make([][]string, 0, len(reports))
		for _, r := range reports {
			id, fp := dash(r.KeyID), dash(r.KeyFingerprint)
			if r.Problem != "" {
				id, fp = "?", r.Problem
			}
			rows = append(rows, []string{r.Name, id, fp, statusText(r)})
		}
		fmt.Fprintf(s.Err, "stored in the %s\n", kc.Where())
		table(s, "KEY\tKEY ID\tFINGERPRINT\tCONFIG", rows)
	}
	for _, r := range reports {
		warnLoudly(s.Err, r.Warning)
	}
	return nil
}

func runKeyDelete(ctx context.Context, s IO, o *keyOptions, args []string) error {
	appID, err := o.keyName("delete key")
	if err != nil {
		return err
	}
	kc := openKeychain(s)
	pemText, err := kc.Get(appID)
	if err != nil {
		return fmt.Errorf("delete key: %w", err)
	}
	id := "(not a usable key)"
	if key, err := workflow.ParsePrivateKey(pemText); err == nil {
		id = workflow.KeyID(&key.PublicKey) + " " + workflow.Fingerprint(&key.PublicKey)
	}
	if !o.yes {
		return usageError("this would delete key %s of %s for good; apps carrying its public key could never be updated again. "+
			"Keep a copy with 'capship key export --app %s --private --out FILE', then add --yes", id, appID, appID)
	}
	if err := kc.Delete(appID); err != nil {
		return fmt.Errorf("delete key: %w", err)
	}
	fmt.Fprintf(s.Err, "deleted key %s of %s from the %s\n", id, appID, kc.Where())
	return nil
}
