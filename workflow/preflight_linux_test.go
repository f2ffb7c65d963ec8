package workflow_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"capship/workflow"
)

// A device node inside the build folder (needs root to create) blocks the
// build, named.
func TestScanDevice(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, appFiles())
	if err := unix.Mknod(filepath.Join(dir, "assets", "null"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("mknod needs root: %v", err)
	}
	_, err := workflow.Scan(dir, workflow.ScanOptions{})
	var pe *workflow.PreflightError
	if !errors.As(err, &pe) || pe.Problem.Path != "assets/null" || !strings.Contains(pe.Problem.Message, "is a character device") {
		t.Errorf("Scan = %v, want assets/null named as a character device", err)
	}
}
