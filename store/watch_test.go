package store

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestWatch: a commit by another connection pool on the same file (another
// process) moves the generation before the commit call returns; reads do
// not.
func TestWatch(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the registry file is watched on Linux only")
	}
	dsn := filepath.Join(t.TempDir(), "registry.db")
	b := backend{name: "sqlite", dsn: dsn}
	r, other := b.open(t), b.open(t)
	w, err := WatchChanges(r)
	if err != nil || w == nil {
		t.Fatalf("WatchChanges(sqlite) = %v, %v", w, err)
	}
	defer w.Close()
	ctx := ctxT(t)
	mustRegister(t, other, input(app, "1.0.0", "production", 1))
	g := w.Generation()
	for range 3 { // reads write nothing
		if _, err := r.Channels(ctx, app); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Revision(ctx, app); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.Generation(); got != g {
		t.Fatalf("generation moved from %d to %d with only reads", g, got)
	}
	// Another file in the folder, such as the server's log, is not the database.
	if err := os.WriteFile(filepath.Join(filepath.Dir(dsn), "serve.log"), []byte("a line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := w.Generation(); got != g {
		t.Fatalf("generation moved from %d to %d when another file of the folder was written", g, got)
	}
	mustRegister(t, other, input(app, "1.1.0", "production", 1))
	if got := w.Generation(); got == g {
		t.Fatalf("generation %d did not move after a commit by another connection", got)
	}
	w.Close()
	if a, b := w.Generation(), w.Generation(); a == b {
		t.Fatalf("a closed watch must report a change on every call, got %d twice", a)
	}
}
