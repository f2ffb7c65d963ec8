// Package cli turns command lines into calls to workflow, store, server and
// ui. Each command group lives in its own file; this file dispatches.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/charmbracelet/x/term"
)

// IO is the process's standard streams, injected so tests can drive commands
// and so the interactive/non-interactive decision is testable.
type IO struct {
	In        io.Reader
	Out       io.Writer // machine output (--json) only
	Err       io.Writer // everything meant for a person
	StdinTTY  bool
	StdoutTTY bool
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

// Command is one leaf command, such as "bundle build".
type Command struct {
	Name    string // words after "capship", space-separated
	Usage   string // argument synopsis shown in help
	Summary string // one line
	Run     func(ctx context.Context, s IO, args []string) error
}

// ErrUsage marks an error in the command line itself; it exits with code 2.
var ErrUsage = errors.New("usage")

// usageError wraps a message so that Run exits 2 and prints it.
func usageError(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
}

// silentError is returned when the command already told the user what went
// wrong; Run then only sets the exit code.
type silentError struct{ code int }

func (e silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func commands() []Command {
	var all []Command
	for _, group := range [][]Command{
		wizardCommands(),
		keyCommands(),
		keygenCommands(),
		configCommands(),
		bundleCommands(),
		checkURLCommands(),
		releaseCommands(),
		serverCommands(),
		doctorCommands(),
	} {
		all = append(all, group...)
	}
	return all
}

// Run executes the command line and returns the process exit code.
func Run(ctx context.Context, args []string, s IO) int {
	if s.Getenv == nil {
		s.Getenv = func(string) string { return "" }
	}
	cmds := commands()
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		printHelp(s.Err, cmds, args[1:])
		return 0
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "version") {
		fmt.Fprintln(s.Out, "capship", Version)
		return 0
	}
	cmd, rest := find(cmds, args)
	if cmd == nil {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			cmd, rest = find(cmds, []string{"wizard"})
			rest = args
		}
	}
	if cmd == nil {
		fmt.Fprintf(s.Err, "capship: unknown command %q\n\n", strings.Join(args, " "))
		printHelp(s.Err, cmds, args)
		return 2
	}
	err := cmd.Run(ctx, s, rest)
	var silent silentError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &silent):
		return silent.code
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(s.Err, "capship %s: %s\n", cmd.Name, strings.TrimPrefix(err.Error(), ErrUsage.Error()+": "))
		fmt.Fprintf(s.Err, "run 'capship %s --help' for usage\n", cmd.Name)
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(s.Err, "capship %s: cancelled\n", cmd.Name)
		return 130
	default:
		fmt.Fprintf(s.Err, "capship %s: %s\n", cmd.Name, err)
		return 1
	}
}

// find returns the command whose name is the longest prefix of args.
func find(cmds []Command, args []string) (*Command, []string) {
	var best *Command
	var bestLen int
	for i := range cmds {
		words := strings.Fields(cmds[i].Name)
		if len(words) > len(args) || len(words) <= bestLen {
			continue
		}
		match := true
		for j, w := range words {
			if args[j] != w {
				match = false
				break
			}
		}
		if match {
			best, bestLen = &cmds[i], len(words)
		}
	}
	if best == nil {
		return nil, args
	}
	return best, args[bestLen:]
}

func printHelp(w io.Writer, cmds []Command, prefix []string) {
	fmt.Fprintln(w, "capship: self-hosted live updates for Capacitor apps")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage:")
	fmt.Fprintln(w, "  capship                 start the release wizard (in a terminal)")
	fmt.Fprintln(w, "  capship COMMAND [flags] run one step; add --help to any command")
	fmt.Fprintln(w, "  capship version         print the version")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	sorted := append([]Command(nil), cmds...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	if len(prefix) > 0 && !slices.ContainsFunc(sorted, func(c Command) bool { return inGroup(c, prefix[0]) }) {
		prefix = nil // nothing in that group: list everything
	}
	for _, c := range sorted {
		if len(prefix) > 0 && !inGroup(c, prefix[0]) {
			continue
		}
		fmt.Fprintf(w, "  %-22s %s\n", c.Name, c.Summary)
	}
}

// inGroup reports whether c's first word is word ("key" for "key create").
func inGroup(c Command, word string) bool {
	first, _, _ := strings.Cut(c.Name, " ")
	return first == word
}

// newFlags returns a flag set for cmd whose -h prints the usage to s.Err.
func newFlags(s IO, cmd, usage, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(s.Err)
	fs.Usage = func() {
		fmt.Fprintf(s.Err, "%s\n\nUsage: capship %s %s\n\nFlags:\n", summary, cmd, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, allowing flags after positional arguments, and
// turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	// The flag package prints its own error and the whole usage on a bad
	// flag; Run prints one line and a hint instead, so keep it quiet and
	// show the usage only when asked for (-h, --help).
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = usage }()
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				usage()
				return nil, err
			}
			return nil, usageError("%s", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// parseOnlyFlags parses args that must hold flags only.
func parseOnlyFlags(fs *flag.FlagSet, args []string) error {
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	return none(rest)
}

// none refuses positional arguments.
func none(args []string) error {
	if len(args) > 0 {
		return usageError("unexpected argument %q", args[0])
	}
	return nil
}
