package cli

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"capship/store"
	"capship/workflow"
)

// doctorOptions are what the doctor checks and how.
type doctorOptions struct {
	dir           string // the app's folder
	server        string // the capship server; "" means the one updateUrl names
	nativeVersion string // version_build of the device played; "" means package.json's version
	platform      string // of the device played
	keyFile       string // the private key; "" means $CAPSHIP_PRIVATE_KEY, else the keychain
	db            string // a local registry to check; "" for none
	offline       bool   // skip the server checks
	json          bool
	http          *http.Client // nil means a default client
}

// doctorCheckRegistry is the finding of the local registry's integrity.
const doctorCheckRegistry = "registry"

// newDoctorCmd is "doctor", which checks an app's folder against what
// devices need.
func newDoctorCmd(s IO) *cobra.Command {
	var o doctorOptions
	cmd := &cobra.Command{
		Use:   "doctor [-C DIR]",
		Short: "Check an app's config, key, plugin, build and server against what devices need",
		Long: "Check the app in this folder (or -C DIR) against what devices need: the config's public key\n" +
			"(it matches the private key, devices can read it), no private key in the config, the\n" +
			"updateUrl/statsUrl/channelUrl (set, https), the plugin version, notifyAppReady in the web build,\n" +
			"and that the server is up and answers a device with the app's native version.\n" +
			"Each finding comes with its fix; exits 1 when any check fails.",
		Example: "  capship doctor                         # in the app's folder\n" +
			"  capship doctor -C examples/hello --offline\n" +
			"  capship doctor --server https://updates.example.com --native-version 1.4.0 --platform ios --json",
		GroupID: groupSetup,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.platform != "android" && o.platform != "ios" {
				return usageError("--platform is android or ios, not %q", o.platform)
			}
			return runDoctor(cmd.Context(), s, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.dir, "app-dir", "C", ".", "the app's `folder`")
	fs.StringVar(&o.server, "server", "", "capship server `URL` to check (default: the one updateUrl names)")
	fs.StringVar(&o.nativeVersion, "native-version", "", "native app `version` (version_build) of the device the doctor plays (default: version in package.json)")
	fs.StringVar(&o.platform, "platform", "android", "platform of the device the doctor plays: android or ios")
	fs.StringVar(&o.keyFile, "key-file", "", "private key PEM `file` (default: the PEM text in $"+envPrivateKey+", else the app's key in the OS keychain)")
	fs.StringVar(&o.db, "db", "", "also check this local registry `file`'s integrity")
	fs.BoolVar(&o.offline, "offline", false, "skip the server checks")
	addJSONFlag(fs, &o.json, "print {\"ok\", \"findings\": [{check, status, message, fix}]} on stdout")
	return cmd
}

// runDoctor runs every check and prints the findings: a line each with
// its fix, or a JSON list. A failed check makes it return silentError{1}.
func runDoctor(ctx context.Context, s IO, o doctorOptions) error {
	findings, err := doctorFindings(ctx, s, o)
	if err != nil {
		return err
	}
	if o.json {
		out := struct {
			OK       bool               `json:"ok"`
			Findings []workflow.Finding `json:"findings"`
		}{!workflow.Failed(findings), findings}
		if err := writeJSON(s.Out, out); err != nil {
			return err
		}
	} else {
		printFindings(s, findings)
	}
	if workflow.Failed(findings) {
		return silentError{1}
	}
	return nil
}

func doctorFindings(ctx context.Context, s IO, o doctorOptions) ([]workflow.Finding, error) {
	p, err := workflow.LoadProject(o.dir)
	if err != nil && !errors.Is(err, workflow.ErrNoConfig) {
		return []workflow.Finding{{Check: workflow.CheckConfig, Status: workflow.StatusFail, Message: err.Error(),
			Fix: "fix the config so that 'npx cap sync' reads it, then run the doctor again"}}, nil
	}
	facts := workflow.DoctorFacts{Project: p, KeySource: "the config has no appId to look the key up by"}
	if p.AppID != "" {
		if facts.Key, facts.KeySource, err = doctorKey(s, o.keyFile, p.AppID); err != nil {
			return nil, err
		}
	}
	findings := workflow.DoctorOffline(facts)
	if p.ConfigPath != "" && !o.offline {
		findings = append(findings, doctorServer(ctx, o, p)...)
	}
	if o.db != "" {
		findings = append(findings, doctorRegistry(ctx, o.db))
	}
	return findings, nil
}

// doctorKey finds the app's private key as the bundle build does and
// says where it came from. A key the keychain lacks is a finding; a key
// file or $CAPSHIP_PRIVATE_KEY that cannot be read is an error.
func doctorKey(s IO, keyFile, appID string) (*rsa.PrivateKey, string, error) {
	k, err := loadSigningKey(s, keyFile, appID)
	switch {
	case err != nil && keyFile == "" && s.Getenv(envPrivateKey) == "":
		return nil, err.Error() + " (or give the key with --key-file)", nil
	case err != nil:
		return nil, "", err
	case keyFile != "":
		return k, keyFile, nil
	case s.Getenv(envPrivateKey) != "":
		return k, "$" + envPrivateKey, nil
	}
	return k, "the OS keychain", nil
}

// doctorServer asks the server whether it is up and what it answers a
// device with the app's native version.
func doctorServer(ctx context.Context, o doctorOptions, p *workflow.Project) []workflow.Finding {
	base, updateURL := workflow.ServerBase(p.UpdateURL), p.UpdateURL
	if o.server != "" {
		base = strings.TrimRight(o.server, "/")
		updateURL = base + "/updates"
	}
	client := o.http
	if client == nil {
		client = &http.Client{Timeout: workflow.DoctorTimeout}
	}
	live := workflow.DoctorServerLive(ctx, client, base)
	out := []workflow.Finding{live}
	if live.Status != workflow.StatusOK {
		return out
	}
	native := o.nativeVersion
	if native == "" {
		native = p.Version
	}
	if native == "" {
		return append(out, workflow.Finding{Check: workflow.CheckDeviceAnswer, Status: workflow.StatusWarn,
			Message: "no native version to play a device with: package.json has no version",
			Fix:     "pass --native-version with the version of the app in the stores"})
	}
	d := workflow.DeviceCheck{UpdateURL: updateURL, AppID: p.AppID, NativeVersion: native, Platform: o.platform}
	if p.PublicKey != "" {
		d.KeyID = workflow.KeyIDFromPEM(p.PublicKey)
	}
	return append(out, workflow.DoctorDeviceAnswer(ctx, client, d))
}

// doctorRegistry runs the registry's integrity check, reading it only.
func doctorRegistry(ctx context.Context, db string) workflow.Finding {
	f := workflow.Finding{Check: doctorCheckRegistry}
	if !store.IsPostgresDSN(db) {
		if _, err := os.Stat(db); err != nil {
			f.Status, f.Message, f.Fix = workflow.StatusFail, fmt.Sprintf("registry %s: %v", db, err), "check the path given with --db"
			return f
		}
	}
	reg, err := store.OpenReadOnly(ctx, db)
	var problems []string
	if err == nil {
		problems, err = store.IntegrityCheck(ctx, reg)
		reg.Close()
	}
	switch {
	case err != nil:
		problems = append(problems, err.Error())
	case len(problems) == 0:
		f.Status, f.Message = workflow.StatusOK, "registry "+store.RedactDSN(db)+" passes the integrity check"
		return f
	}
	f.Status = workflow.StatusFail
	f.Message = fmt.Sprintf("registry %s is damaged: %s", store.RedactDSN(db), strings.Join(problems, "; "))
	f.Fix = "restore it from a backup ('capship registry check' lists the damage; 'sqlite3 FILE .recover' may save what is readable)"
	return f
}

// printFindings writes one line per finding, its fix below, and a summary.
func printFindings(s IO, findings []workflow.Finding) {
	var fails, warns int
	for _, f := range findings {
		label := "ok  "
		switch f.Status {
		case workflow.StatusWarn:
			label, warns = "WARN", warns+1
		case workflow.StatusFail:
			label, fails = "FAIL", fails+1
		}
		fmt.Fprintf(s.Out, "%s  %-18s %s\n", label, f.Check, f.Message)
		if f.Fix != "" && f.Status != workflow.StatusOK {
			fmt.Fprintf(s.Out, "      %-18s fix: %s\n", "", f.Fix)
		}
	}
	switch {
	case fails > 0:
		fmt.Fprintf(s.Out, "\n%d failed, %d warnings: devices will not update as they should until the failures are fixed\n", fails, warns)
	case warns > 0:
		fmt.Fprintf(s.Out, "\nno failures, %d warnings\n", warns)
	default:
		fmt.Fprintln(s.Out, "\nall checks passed")
	}
}
