package workflow_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"capship/workflow"
)

// StartWriteback passes every byte through unchanged, across its 8 MiB
// writeback steps and in odd-sized writes.
func TestStartWriteback(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := make([]byte, 20<<20+12345)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	w := workflow.StartWriteback(f)
	for rest := want; len(rest) > 0; {
		k := min(len(rest), 1+rng.IntN(3<<20))
		if n, err := w.Write(rest[:k]); n != k || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		rest = rest[k:]
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("file holds %d bytes that differ from the %d written", len(got), len(want))
	}
	f.Close()
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write to a closed file succeeded")
	}
}
