package store

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"capship/store/storetest"
)

func TestOpenReadOnlyOnReadOnlyMount(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ro")
	path := filepath.Join(dir, "registry.db")
	r, err := Open(ctxT(t), path)
	if err != nil {
		t.Fatal(err)
	}
	mustRegister(t, r, input("com.example.ro", "1.0.0", "production", 1))
	r.Close()
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatalf("WAL file left after close")
	}
	storetest.ReadOnlyFolder(t, dir)

	if r, err := Open(ctxT(t), path); err == nil {
		r.Close()
		t.Fatalf("Open for writing succeeded on a read-only folder")
	}
	ro, err := OpenReadOnly(ctxT(t), path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer ro.Close()
	rels, err := ro.Releases(ctxT(t), "com.example.ro")
	if err != nil || len(rels) != 1 || rels[0].Version != "1.0.0" {
		t.Fatalf("Releases = %v, %v; want 1.0.0", rels, err)
	}
	if problems, err := IntegrityCheck(ctxT(t), ro); err != nil || len(problems) != 0 {
		t.Fatalf("IntegrityCheck = %v, %v", problems, err)
	}
}

func TestOpenReadOnlyRefusesOtherSchemas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path+"?"+sqliteParams)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateUpTo(ctxT(t), db, &sqliteDialect, 1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if r, err := OpenReadOnly(ctxT(t), path); !errors.Is(err, ErrSchemaTooOld) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("OpenReadOnly(older schema) = %v, want ErrSchemaTooOld", err)
	}
	// Not migrated behind the user's back.
	db, _ = sql.Open("sqlite", path)
	defer db.Close()
	var max int
	if err := db.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&max); err != nil || max != 1 {
		t.Fatalf("schema version %d, %v after a read-only open; want 1", max, err)
	}
	if _, err := OpenReadOnly(ctxT(t), filepath.Join(t.TempDir(), "missing.db")); !errors.Is(err, os.ErrNotExist) || !errors.Is(err, ErrNoRegistry) {
		t.Fatalf("OpenReadOnly(missing) = %v, want not exist", err)
	}
}

func TestOpenOnFullDiskSaysSo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for buf := make([]byte, 4096); ; {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	r, err := Open(ctxT(t), filepath.Join(dir, "registry.db"))
	if err == nil {
		r.Close()
		t.Fatal("Open on a full disk succeeded")
	}
	if !errors.Is(err, ErrDiskFull) || strings.Contains(err.Error(), "is it an SQLite file") {
		t.Fatalf("Open on a full disk: %v; want ErrDiskFull", err)
	}
}

func TestIntegrityCheckFindsCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	r, err := Open(ctxT(t), path)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.0.0", "1.0.1", "1.0.2"} {
		mustRegister(t, r, input("com.example.bad", v, "production", 1))
	}
	r.Close()
	storetest.DamageTable(t, path, "releases")
	ro, err := OpenReadOnly(ctxT(t), path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer ro.Close()
	problems, err := IntegrityCheck(ctxT(t), ro)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) == 0 {
		t.Fatal("IntegrityCheck found nothing in a damaged file")
	}
}

func TestChannelNamingAnUnreadableReleaseIsCorrupt(t *testing.T) {
	r, err := Open(ctxT(t), filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	mustRegister(t, r, input("com.example.lost", "1.0.0", "production", 1))
	// What a damaged page looks like to a join: the row is not found.
	conn, err := r.(*sqlRegistry).db.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`PRAGMA foreign_keys = OFF`, `DELETE FROM release_files`, `DELETE FROM releases`, `PRAGMA foreign_keys = ON`} {
		if _, err := conn.ExecContext(ctxT(t), q); err != nil && !strings.Contains(err.Error(), "no such table") {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close()
	if _, err := r.Channels(ctxT(t), "com.example.lost"); !IsCorrupt(err) {
		t.Fatalf("Channels = %v, want ErrCorrupt", err)
	}
	if _, err := r.Channel(ctxT(t), "com.example.lost", "production"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Channel = %v, want ErrCorrupt", err)
	}
}
