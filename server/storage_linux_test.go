package server

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A full disk, for real: the storage folder is a 1 MiB tmpfs (needs root;
// skipped elsewhere).
func TestStorageFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	h := newStorageHarness(t, Config{Storage: dir})

	big := newObject(2 << 20)
	key := h.zipKey(big)
	res, body := h.put(key, h.token, big.data, big.sum)
	if res.StatusCode != 507 || errorCode(body) != "disk_full" || !strings.Contains(string(body), "free space") {
		t.Fatalf("upload larger than the disk: HTTP %d %s, want 507 disk_full", res.StatusCode, body)
	}
	if res, _ := h.get(key); res.StatusCode != 404 {
		t.Errorf("after a full disk GET answers %d, want 404", res.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(key))); !os.IsNotExist(err) {
		t.Errorf("object file after a full disk: %v", err)
	}
	if left := h.leftovers(); len(left) != 0 {
		t.Errorf("temp files left after a full disk: %v", left)
	}
	// The space came back: a small upload goes through.
	small := newObject(64 << 10)
	if res, body := h.put(h.zipKey(small), h.token, small.data, small.sum); res.StatusCode != 201 {
		t.Errorf("small upload after the full disk: HTTP %d %s", res.StatusCode, body)
	}
}
