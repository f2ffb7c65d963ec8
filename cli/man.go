package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCmd is "man DIR": a man page per command, from the same
// definitions as --help.
func newManCmd(s IO) *cobra.Command {
	return &cobra.Command{
		Use:     "man DIR",
		Short:   "Write man pages for every command into DIR",
		Long:    "Write a man page (section 1) for capship and each of its commands into DIR, created if missing.",
		Example: "  capship man /usr/local/share/man/man1 && man capship-release-register",
		Args:    exactlyOne("folder DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := writeManPages(cmd.Root(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Err, "wrote %d man pages to %s\n", n, args[0])
			return nil
		},
	}
}

// writeManPages writes the pages into a temporary folder inside dir and
// moves each into place, so that no page is ever half-written. It returns
// how many it wrote.
func writeManPages(root *cobra.Command, dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("write man pages: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".capship-man-")
	if err != nil {
		return 0, fmt.Errorf("write man pages: %w", err)
	}
	defer os.RemoveAll(tmp)
	header := &doc.GenManHeader{Title: "CAPSHIP", Section: "1", Source: "capship " + root.Version, Manual: "capship manual"}
	if err := doc.GenManTree(root, header, tmp); err != nil {
		return 0, fmt.Errorf("write man pages: %w", err)
	}
	pages, err := os.ReadDir(tmp)
	if err != nil {
		return 0, fmt.Errorf("write man pages: %w", err)
	}
	for _, p := range pages {
		from := filepath.Join(tmp, p.Name())
		if err := syncFile(from); err != nil {
			return 0, fmt.Errorf("write man pages: %w", err)
		}
		if err := os.Rename(from, filepath.Join(dir, p.Name())); err != nil {
			return 0, fmt.Errorf("write man pages: %w", err)
		}
	}
	return len(pages), nil
}

// syncFile flushes a file cobra wrote to disk before it is moved into place.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
