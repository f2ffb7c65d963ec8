// Package cli turns command lines into calls to workflow, store, server and
// ui. Each command group lives in its own file as a cobra command built
// around its options; this file builds the root and maps errors to exit
// codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
)

// IO is the process's standard streams, injected so tests can drive commands
// and so the interactive/non-interactive decision is testable.
type IO struct {
	In        io.Reader
	Out       io.Writer // what the person asked for: tables, lists, help, --json
	Err       io.Writer // progress, warnings and errors
	StdinTTY  bool
	StdoutTTY bool // tables get a header and aligned columns only on a terminal
	StderrTTY bool // progress lines are drawn only on a terminal
	Getenv    func(string) string
}

// StdIO returns the real process streams.
func StdIO() IO {
	return IO{
		In:        os.Stdin,
		Out:       os.Stdout,
		Err:       os.Stderr,
		StdinTTY:  term.IsTerminal(os.Stdin.Fd()),
		StdoutTTY: term.IsTerminal(os.Stdout.Fd()),
		StderrTTY: term.IsTerminal(os.Stderr.Fd()),
		Getenv:    os.Getenv,
	}
}

// Interactive reports whether the wizard may take over the terminal.
func (s IO) Interactive(noInput bool) bool {
	return s.StdinTTY && s.StdoutTTY && !noInput
}

// ErrUsage marks an error in the command line itself; it exits with code 2.
var ErrUsage = errors.New("usage")

// usageError wraps a message so that Run exits 2 and prints it.
func usageError(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
}

// silentError is returned when the command already told the user what went
// wrong (on stderr, and on stdout with --json); Run then only sets the exit
// code.
type silentError struct{ code int }

func (e silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// The groups of the root's help.
const (
	groupSetup    = "setup"
	groupShip     = "ship"
	groupReleases = "releases"
	groupServer   = "server"
)

// newRootCmd builds the whole command tree around the injected streams.
func newRootCmd(s IO) *cobra.Command {
	var w wizardOptions
	root := &cobra.Command{
		Use:   "capship",
		Short: "Self-hosted live updates for Capacitor apps",
		Long: `capship builds, verifies, hosts and registers live updates for Capacitor apps
running @capgo/capacitor-updater, on your own infrastructure.

Without a command it runs the release wizard for the app in the current folder
(or -C DIR); without a terminal, or with --no-input, it prints the commands that
do the same, step by step.`,
		Example: `  capship                          # the wizard, in the app's folder
  capship -C examples/hello --no-input
  capship release list --app com.example.shop
  capship completion bash > /etc/bash_completion.d/capship`,
		Version:           versionString(),
		Args:              rootArgs,
		SilenceErrors:     true,
		SilenceUsage:      true,
		DisableAutoGenTag: true, // man pages stay the same from one run to the next
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWizard(cmd.Context(), s, &w)
		},
	}
	addWizardFlags(root, &w)
	root.SetVersionTemplate("capship {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%s", err) })
	root.AddGroup(
		&cobra.Group{ID: groupSetup, Title: "Set up:"},
		&cobra.Group{ID: groupShip, Title: "Build and ship:"},
		&cobra.Group{ID: groupReleases, Title: "Releases and channels:"},
		&cobra.Group{ID: groupServer, Title: "Server:"},
	)
	root.AddCommand(
		newWizardCmd(s),
		newKeyCmd(s), newConfigCmd(s),
		newBundleCmd(s),
		newDoctorCmd(s),
		newReleaseCmd(s), newChannelCmd(s), newStatsCmd(s),
		newServeCmd(s), newTokenCmd(s), newRegistryCmd(s),
		newManCmd(s), newVersionCmd(s),
	)
	root.SetIn(s.In)
	root.SetOut(s.Out) // before the completion command, which keeps the writer
	root.SetErr(s.Err)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd() // now, so that 'capship man' documents it too
	return root
}

// rootArgs refuses words that name no command, with cobra's suggestions.
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return unknownCommand(cmd, args[0])
}

// unknownCommand is the usage error for a word that names no subcommand of
// cmd, with the nearest ones.
func unknownCommand(cmd *cobra.Command, word string) error {
	msg := fmt.Sprintf("unknown command %q for %q", word, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // what cobra's own lookup uses
	}
	if s := cmd.SuggestionsFor(word); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageError("%s", msg)
}

// newParentCmd makes a command that only groups others: alone, it prints
// its help (the subcommands) on stdout and exits 0.
func newParentCmd(use, short, long, group string, children ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use: use, Short: short, Long: long, GroupID: group,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return cmd.Help()
		},
	}
	c.AddCommand(children...)
	return c
}

// noArgs refuses positional arguments.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError("unexpected argument %q", args[0])
	}
	return nil
}

// exactlyOne wants one positional argument, named what in the error.
func exactlyOne(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageError("want exactly one %s, got %d arguments", what, len(args))
		}
		return nil
	}
}

// Run executes the command line and returns the process exit code.
func Run(ctx context.Context, args []string, s IO) int {
	if s.Getenv == nil {
		s.Getenv = func(string) string { return "" }
	}
	if args == nil {
		args = []string{} // cobra would read os.Args
	}
	root := newRootCmd(s)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return exitCode(s, cmd, args, err)
}

// exitCode tells the person what went wrong, with the command line's way
// out when one is known (advice.go), and, with --json, the program
// reading stdout; it returns the exit code: 0, 1, 2 for a usage error,
// 130 when cancelled.
func exitCode(s IO, cmd *cobra.Command, args []string, err error) int {
	var silent silentError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &silent):
		return silent.code
	}
	name := "capship"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	code, msg := 1, err.Error()
	hint := advice(newAdviceFor(cmd, s.Getenv), err)
	if errors.Is(err, ErrUsage) {
		code, msg = 2, strings.TrimPrefix(msg, ErrUsage.Error()+": ")
	} else if errors.Is(err, context.Canceled) {
		code, msg, hint = 130, "cancelled", ""
	}
	fmt.Fprintf(s.Err, "%s: %s\n", name, msg)
	if hint != "" {
		fmt.Fprintf(s.Err, "hint: %s\n", hint)
	}
	if code == 2 {
		fmt.Fprintf(s.Err, "run '%s --help' for usage\n", name)
	}
	if cmd != nil && jsonRequested(cmd, args) {
		writeJSONError(s.Out, errorCode(err), msg, hint)
	}
	return code
}
