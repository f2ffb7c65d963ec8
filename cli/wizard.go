package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"

	"capship/store"
	"capship/store/release"
	"capship/ui"
	"capship/workflow"
)

// wizardOptions are the flags of the wizard, which the root takes too.
type wizardOptions struct {
	dir, config, db, server, token string
	noInput                        bool
}

// addWizardFlags adds the wizard's flags to cmd: "wizard" and the root.
func addWizardFlags(cmd *cobra.Command, o *wizardOptions) {
	fs := cmd.Flags()
	fs.StringVarP(&o.dir, "app-dir", "C", ".", "the app's `folder`")
	addConfigFlag(fs, &o.config)
	addDBFlag(fs, &o.db)
	addServerFlags(fs, &o.server, &o.token)
	fs.BoolVar(&o.noInput, "no-input", false, "never start the interactive wizard; print the equivalent commands")
}

// newWizardCmd is "wizard"; 'capship' with no command runs it too.
func newWizardCmd(s IO) *cobra.Command {
	o := &wizardOptions{}
	cmd := &cobra.Command{
		Use:   "wizard",
		Short: "Guided release: key, build, upload, check, register",
		Long: "Walks you through a release of the Capacitor app in the current folder (or -C DIR).\n" +
			"Without a terminal, or with --no-input, it prints the commands that do the same, on stdout.",
		Example: "  capship wizard -C examples/hello\n  capship wizard --no-input > release.sh",
		GroupID: groupShip,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runWizard(cmd.Context(), s, o) },
	}
	addWizardFlags(cmd, o)
	return cmd
}

func runWizard(ctx context.Context, s IO, o *wizardOptions) error {
	abs, err := filepath.Abs(o.dir)
	if err != nil {
		return fmt.Errorf("find app folder: %w", err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return usageError("-C %s: no such folder: pass your Capacitor app's folder", o.dir)
	}
	t, err := release.Target{DB: o.db, Server: o.server, Token: o.token}.WithEnv(s.Getenv)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	dsn, server, tok := t.DB, t.Server, t.Token
	if dsn == "" {
		dsn = store.DefaultDBPath()
	}
	interactive := s.Interactive(o.noInput)
	if server != "" {
		// Refuse a bad server or a missing token now, not after the pack.
		// (The printed commands take the token from $CAPSHIP_TOKEN later.)
		probe := tok
		if !interactive && probe == "" {
			probe = "from-env-later"
		}
		if _, err := store.NewClient(server, probe, nil); err != nil {
			return usageError("%s", err)
		}
	}
	if !interactive {
		return printSteps(s, abs, o.config, dsn, server, o.noInput)
	}

	runner := ui.NewRunner(ui.RunnerOptions{DB: dsn, DBFlag: o.db, Server: server, Token: tok, KeychainService: keychainService(s)})
	defer runner.Close()
	m := ui.New(ctx, runner, ui.Options{Dir: abs, ConfigPath: o.config, Renderer: wizardRenderer(s)})
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(s.In), tea.WithOutput(s.Out), tea.WithAltScreen())
	_, err = p.Run()
	// A job still running (a pack cancelled by SIGTERM, say) gets its context
	// cancelled by ctx; let it remove what it was writing before exiting.
	if !m.Wait(30 * time.Second) {
		fmt.Fprintln(s.Err, "capship: a background job did not stop in time; check "+ui.DefaultOutDir+" for leftovers")
	}
	if err != nil {
		if errors.Is(err, tea.ErrProgramPanic) { // wrapped in ErrProgramKilled: test it first
			fmt.Fprintln(s.Err, ui.CrashReport(m.Crash()))
			return silentError{code: ui.CrashExitCode}
		}
		if errors.Is(err, tea.ErrProgramKilled) || errors.Is(err, context.Canceled) {
			return context.Canceled
		}
		return fmt.Errorf("run wizard: %w", err)
	}
	res := m.Result()
	if res.Registered == nil {
		fmt.Fprintln(s.Err, "capship: wizard closed; nothing was registered.")
		if res.Bundle.File != "" {
			fmt.Fprintf(s.Err, "The bundle built in this session is %s (manifest %s).\n", res.Bundle.File, res.Bundle.Manifest)
		}
		return nil
	}
	plain := lipgloss.NewRenderer(s.Err, termenv.WithProfile(termenv.Ascii))
	fmt.Fprintf(s.Err, "%s %s registered on channel %s.\n\n", res.Bundle.AppID, res.Bundle.Version, res.Registered.Channel)
	fmt.Fprint(s.Err, ui.SummaryText(res, 1<<20, ui.NewStyles(plain)))
	return nil
}

// wizardRenderer decides the wizard's colors from the injected streams and
// environment: none under NO_COLOR (https://no-color.org) or without a
// terminal, else what TERM and COLORTERM say.
func wizardRenderer(s IO) *lipgloss.Renderer {
	return lipgloss.NewRenderer(s.Out, termenv.WithTTY(s.StdoutTTY), termenv.WithColorCache(true),
		termenv.WithEnvironment(ioEnviron{s.Getenv}))
}

// ioEnviron adapts IO.Getenv to termenv.
type ioEnviron struct{ get func(string) string }

func (e ioEnviron) Getenv(k string) string { return e.get(k) }

func (e ioEnviron) Environ() []string {
	var env []string
	for _, k := range []string{"TERM", "COLORTERM", "NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "TERM_PROGRAM"} {
		if v := e.get(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// printSteps tells a person without a terminal (or with --no-input) which
// commands do what the wizard does, filled in with what the project says.
func printSteps(s IO, dir, config, dsn, server string, noInput bool) error {
	w := s.Out
	why := "stdin or stdout is not a terminal"
	if noInput {
		why = "--no-input was given"
	}
	fmt.Fprintf(s.Err, "capship: not starting the wizard (%s). The same release, step by step:\n", why)
	p, err := workflow.LoadProjectConfig(dir, config)
	app, webDir, version := "APP_ID", "WEB_DIR", "VERSION"
	if err != nil {
		fmt.Fprintf(s.Err, "capship: read project: %s\n(the commands below need APP_ID, WEB_DIR and VERSION filled in)\n", err)
	} else {
		if p.AppID != "" {
			app = p.AppID
		}
		if p.WebDir != "" {
			webDir = p.WebDir
		}
		if p.Version != "" {
			version = p.Version
		}
	}
	out := ui.DefaultOutDir
	db := ""
	switch {
	case server != "":
		db = " --server " + shellQuote(server) + " # token from $CAPSHIP_TOKEN"
	case dsn != store.DefaultDBPath():
		db = " --db " + shellQuote(dsn)
	}
	cd := ""
	if wd, _ := os.Getwd(); wd != dir {
		cd = "cd " + shellQuote(dir) + "\n"
	}
	cfg := ""
	if config != "" {
		cfg = " --config " + shellQuote(config)
	}
	manifest := filepath.Join(out, workflow.ManifestFileName(app, version))
	fmt.Fprintf(w, `%s# 1. once per app: a keypair in the OS keychain, public key into the config
capship key show --app %[2]s || capship key create --app %[2]s%[3]s
`, cd, app, cfg)
	switch {
	case err == nil && p.UpdateURL != "" && p.StatsURL != "" && p.ChannelURL != "":
	case server != "":
		fmt.Fprintf(w, `#    and the server devices ask for updates (then rebuild the native app)
capship config set-server %s%s
`, shellQuote(server), cfg)
	default:
		fmt.Fprintf(w, `#    and the server devices ask for updates (then rebuild the native app)
#    capship config set-server https://YOUR-SERVER%s
`, cfg)
	}
	fmt.Fprintf(w, `
# 2. pack and encrypt the build folder
capship bundle build --app %[1]s --dir %[2]s --version %[3]s --out %[4]s
`, app, shellQuote(webDir), version, out)
	bundle, files := workflow.BundleFileName(app, version), workflow.DeltaDirName(app, version)
	if server != "" {
		fmt.Fprintf(w, `
# 3. upload the bundle and its objects to the server's storage (capship serve
#    --storage), download them back to check sizes and SHA-256, and register
capship bundle upload --manifest %[1]s --register --channel production%[2]s
`, shellQuote(manifest), db)
	} else {
		fmt.Fprintf(w, `
# 3. upload %[1]s and the objects in %[2]s/ to your storage,
#    then register their URLs (capship downloads everything back and checks
#    sizes and SHA-256 first; without --files-url phones get the whole zip)
#    (or let capship upload and register: capship bundle upload --manifest %[3]s --to s3://BUCKET/PREFIX --register%[4]s)
capship release register --manifest %[3]s --url https://YOUR-STORAGE/%[5]s --files-url https://YOUR-STORAGE/%[6]s --channel production%[4]s
`, filepath.Join(out, bundle), filepath.Join(out, files), shellQuote(manifest), db, bundle, files)
	}
	fmt.Fprintf(w, `
# 4. watch what devices report; if the release hurts them, go back to what
#    the channel served before:
capship stats --app %[1]s%[2]s
#    capship release rollback --channel production --app %[1]s%[2]s
`, app, db)
	if err != nil {
		return silentError{code: 1}
	}
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string { return ui.ShellQuote(s) }
