package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"capship/workflow"
)

// Sizes use binary units (KiB, MiB), as the command line does.
func TestSizeOf(t *testing.T) {
	for n, want := range map[int64]string{
		-1:         "0 B",
		19:         "19 B",
		700_000:    "684 KiB",
		1536 << 10: "1.5 MiB",
		5_000_000:  "4.8 MiB",
		3 << 30:    "3.0 GiB",
		250 << 20:  "250 MiB",
	} {
		if got := sizeOf(n); got != want {
			t.Errorf("sizeOf(%d) = %q, want %q", n, got, want)
		}
	}
}

// The preflight warnings the Build step lists come from the engine; the
// sizes the wizard prints next to them must read the same way.
func TestSizeOfMatchesPreflight(t *testing.T) {
	dir := t.TempDir()
	big := int64(12<<20 + 300<<10)
	for name, size := range map[string]int64{"index.html": 64, "video.mp4": big} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	tree, _ := workflow.Scan(dir, workflow.ScanOptions{NoCodeCheck: true})
	if tree == nil {
		t.Fatal("scan returned no tree")
	}
	for _, p := range tree.Problems {
		if p.Path == "video.mp4" {
			if !strings.Contains(p.Message, "("+sizeOf(big)+")") {
				t.Fatalf("preflight says %q, the wizard would say %s", p.Message, sizeOf(big))
			}
			return
		}
	}
	t.Fatalf("no large-file warning among %+v", tree.Problems)
}

// Downloads are compared in MiB, with decimals where they matter.
func TestMiBAndPercent(t *testing.T) {
	for n, want := range map[int64]string{
		0:          "0 MiB",
		5_000:      "<0.01 MiB",
		52_429:     "0.05 MiB",
		1_234_567:  "1.18 MiB",
		13_000_000: "12.4 MiB",
		160 << 20:  "160 MiB",
	} {
		if got := mib(n); got != want {
			t.Errorf("mib(%d) = %q, want %q", n, got, want)
		}
	}
	for _, c := range []struct {
		n, of int64
		want  string
	}{{0, 100, "0%"}, {1, 1000, "<1%"}, {52_429, 1_234_567, "4%"}, {5, 0, "–"}, {100, 100, "100%"}} {
		if got := percent(c.n, c.of); got != c.want {
			t.Errorf("percent(%d, %d) = %q, want %q", c.n, c.of, got, c.want)
		}
	}
}
