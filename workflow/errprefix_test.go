package workflow

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An error says each step once: the build's "write zip:" is not repeated
// by WriteZip's own message.
func TestSealErrorSaysWriteZipOnce(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"index.html", "main.js"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tree, err := Scan(dir, ScanOptions{NoCodeCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	tree.Entries[0], tree.Entries[1] = tree.Entries[1], tree.Entries[0]
	key, iv := make([]byte, 16), make([]byte, 16)
	_, err = sealToTemp(context.Background(), t.TempDir(), "b.zip", tree, BuildOptions{}, nil, key, iv, nil)
	if err == nil || !strings.Contains(err.Error(), "not sorted") {
		t.Fatalf("seal with unsorted entries: %v", err)
	}
	if n := strings.Count(err.Error(), "write zip"); n != 1 {
		t.Fatalf("%q says \"write zip\" %d times, want once", err, n)
	}
}
