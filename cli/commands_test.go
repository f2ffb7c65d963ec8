package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// walkCommands calls fn for cmd and every command below it that help and
// man pages show.
func walkCommands(cmd *cobra.Command, fn func(*cobra.Command)) {
	fn(cmd)
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() && !c.IsAdditionalHelpTopicCommand() {
			walkCommands(c, fn)
		}
	}
}

// words is the command line of cmd without "capship".
func words(cmd *cobra.Command) []string {
	return strings.Fields(cmd.CommandPath())[1:]
}

// A command that only groups others, given alone, lists them on stdout
// and exits 0.
func TestParentAloneListsSubcommands(t *testing.T) {
	parents := 0
	walkCommands(newRootCmd(IO{}), func(cmd *cobra.Command) {
		if !cmd.HasParent() || !cmd.HasAvailableSubCommands() {
			return
		}
		parents++
		r := run(t, nil, words(cmd)...)
		if r.code != 0 || r.err != "" || !strings.Contains(r.out, "Available Commands:") {
			t.Errorf("%s alone: %+v", cmd.CommandPath(), r)
		}
		for _, c := range cmd.Commands() {
			if c.IsAvailableCommand() && !regexpLine(r.out, `^  `+regexp.QuoteMeta(c.Name())+` `) {
				t.Errorf("%s alone does not list %s:\n%s", cmd.CommandPath(), c.Name(), r.out)
			}
		}
	})
	if parents < 6 {
		t.Fatalf("found %d parent commands, want at least 6 (key, config, bundle, release, channel, token, registry)", parents)
	}
	if r := run(t, nil, "release", "regster"); r.code != 2 || !strings.Contains(r.err, "did you mean register?") {
		t.Errorf("release regster: %+v", r)
	}
}

// Every command's help comes from its definition: a short and a long
// line, long flags with two dashes, and args checked (an extra word is a
// usage error, exit 2).
func TestEveryCommandHelp(t *testing.T) {
	singleDash := regexp.MustCompile(`(^|[\s\[(|])-[a-zA-Z][a-zA-Z-]+`)
	walkCommands(newRootCmd(IO{}), func(cmd *cobra.Command) {
		if cmd.Short == "" {
			t.Errorf("%s has no Short", cmd.CommandPath())
		}
		r := run(t, nil, append(words(cmd), "--help")...)
		if r.code != 0 || r.err != "" || !strings.Contains(r.out, "Usage:") {
			t.Errorf("%s --help: %+v", cmd.CommandPath(), r)
		}
		if m := singleDash.FindString(r.out); m != "" {
			t.Errorf("%s --help has a one-dash long flag %q:\n%s", cmd.CommandPath(), m, r.out)
		}
	})
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{
		"bash":       "# bash completion V2 for capship",
		"zsh":        "#compdef capship",
		"fish":       "complete -c capship",
		"powershell": "Register-ArgumentCompleter",
	} {
		r := run(t, nil, "completion", shell)
		if r.code != 0 || !strings.Contains(r.out, want) {
			t.Errorf("completion %s: exit %d, stdout lacks %q\n%s", shell, r.code, want, r.err)
		}
	}
	r := run(t, nil, "completion", "bash")
	if !strings.HasPrefix(r.out, "# bash completion V2 for capship") {
		t.Errorf("bash completion does not start with its header:\n%.200s", r.out)
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		cmd := exec.Command(bash, "-n")
		cmd.Stdin = strings.NewReader(r.out)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("bash -n on the completion script: %v\n%s", err, out)
		}
	}
	// The completion of flags comes from the same definitions.
	r = run(t, nil, "__complete", "release", "register", "--man")
	if r.code != 0 || !strings.Contains(r.out, "--manifest") {
		t.Errorf("completing --man: %+v", r)
	}
}

func TestManPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	r := run(t, nil, "man", dir)
	if r.code != 0 {
		t.Fatalf("man: %+v", r)
	}
	var want []string
	walkCommands(newRootCmd(IO{}), func(cmd *cobra.Command) {
		want = append(want, strings.ReplaceAll(cmd.CommandPath(), " ", "-")+".1")
	})
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("man pages:\n got %v\nwant %v", got, want)
	}
	page, err := os.ReadFile(filepath.Join(dir, "capship-release-register.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`.TH "CAPSHIP" "1"`, "files-url", "manifest"} {
		if !strings.Contains(string(page), w) {
			t.Errorf("capship-release-register.1 lacks %q", w)
		}
	}
	if r := run(t, nil, "man"); r.code != 2 {
		t.Errorf("man without DIR: %+v", r)
	}
}

func TestVersion(t *testing.T) {
	bi := func(version string, settings ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Path: "capship", Version: version}}
		for i := 0; i+1 < len(settings); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return info
	}
	for _, tc := range []struct {
		ldflags string
		info    *debug.BuildInfo
		want    string
	}{
		{"1.4.0", bi("v1.3.0"), "1.4.0"},
		{"", bi("v1.3.0"), "v1.3.0"},
		{"", bi("(devel)", "vcs.revision", "0123456789abcdef0123", "vcs.modified", "false", "vcs.time", "2026-12-01T10:00:00Z"),
			"devel-0123456789ab (2026-12-01T10:00:00Z)"},
		{"", bi("(devel)", "vcs.revision", "0123456789abcdef0123", "vcs.modified", "true"), "devel-0123456789ab-dirty"},
		{"", bi("(devel)"), "devel"},
		{"", nil, "devel"},
	} {
		if got := versionFrom(tc.ldflags, tc.info); got != tc.want {
			t.Errorf("versionFrom(%q, %+v) = %q, want %q", tc.ldflags, tc.info, got, tc.want)
		}
	}
	want := "capship " + versionString() + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if r := run(t, nil, args...); r.code != 0 || r.out != want {
			t.Errorf("%v: %+v, want %q", args, r, want)
		}
	}
	defer func(v string) { Version = v }(Version)
	Version = "9.8.7"
	if r := run(t, nil, "--version"); r.out != "capship 9.8.7\n" {
		t.Errorf("--version with ldflags: %q", r.out)
	}
}
