package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"capship/store"
)

// newRegistryCmd is "registry": maintenance of the registry file.
func newRegistryCmd(s IO) *cobra.Command {
	o := &registryOptions{}
	check := &cobra.Command{
		Use:   "check",
		Short: "Run SQLite's integrity check on the registry file",
		Long: "Run SQLite's integrity check on the registry file, reading it only. Exits 1 when the file is damaged.\n" +
			"It checks the file here (--db or $CAPSHIP_DB), never through --server: run it where the registry is.",
		Example: "  capship registry check --db /var/lib/capship/registry.db",
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runRegistryCheck(cmd.Context(), s, o) },
	}
	addRegistryFlags(check.Flags(), o, 0)
	return newParentCmd("registry", "Check the registry file", "", groupServer, check)
}

type registryCheckResult struct {
	DB       string   `json:"db"`
	OK       bool     `json:"ok"`
	Problems []string `json:"problems"`
}

// runRegistryCheck runs SQLite's integrity_check on the registry, read-only.
// A damaged file exits 1 and lists what SQLite found.
func runRegistryCheck(ctx context.Context, s IO, rf *registryOptions) error {
	reg, err := rf.openLocal(ctx, s, reads)
	res := registryCheckResult{DB: store.RedactDSN(rf.localLocation(s)), Problems: []string{}}
	switch {
	case errors.Is(err, store.ErrCorrupt):
		res.Problems = append(res.Problems, err.Error())
	case err != nil:
		return err
	default:
		defer reg.Close()
		problems, err := store.IntegrityCheck(ctx, reg)
		if err != nil {
			return err
		}
		res.Problems = append(res.Problems, problems...)
	}
	res.OK = len(res.Problems) == 0
	if rf.json {
		if err := writeJSON(s.Out, res); err != nil {
			return err
		}
	} else if res.OK {
		fmt.Fprintf(s.Err, "registry %s: ok\n", res.DB)
	} else {
		fmt.Fprintf(s.Err, "registry %s is damaged; SQLite found:\n", res.DB)
		for _, p := range res.Problems {
			fmt.Fprintf(s.Err, "  %s\n", p)
		}
		fmt.Fprintln(s.Err, "restore it from a backup; 'sqlite3 FILE .recover' may save what is readable")
	}
	if !res.OK {
		return silentError{1}
	}
	return nil
}
