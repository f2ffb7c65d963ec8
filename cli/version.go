package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is the capship release, set at build time with
// -ldflags "-X capship/cli.Version=1.2.3". Left empty, the version comes
// from the build information Go records (see versionString).
var Version = ""

// versionString is Version when set, else what the Go toolchain recorded.
func versionString() string {
	info, _ := debug.ReadBuildInfo()
	return versionFrom(Version, info)
}

// versionFrom picks the version to show: the ldflags one; else the module
// version (a 'go install capship@v1.2.3' build); else the VCS revision the
// build was made from, with "-dirty" when the work tree had changes; else
// "devel".
func versionFrom(ldflags string, info *debug.BuildInfo) string {
	if ldflags != "" {
		return ldflags
	}
	if info == nil {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision, vcsTime string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.time":
			vcsTime = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if revision == "" {
		return "devel"
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	v := "devel-" + revision
	if modified {
		v += "-dirty"
	}
	if vcsTime != "" {
		v += " (" + vcsTime + ")"
	}
	return v
}

// newVersionCmd is "version", the same as --version.
func newVersionCmd(s IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version (as --version does)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(s.Out, "capship %s\n", cmd.Root().Version)
			return err
		},
	}
}
