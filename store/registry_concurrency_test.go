package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Several registries on one database stand for several server processes.
const instances = 3

func TestConcurrentRegisterSameVersion(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		var regs []Registry
		for range instances {
			regs = append(regs, b.open(t))
		}
		mustRegister(t, regs[0], input(app, "1.0.0", "production", 1))
		const goroutines = 24
		for round, version := range []string{"1.1.0", "1.2.0", "1.3.0"} {
			var wg sync.WaitGroup
			errs := make([]error, goroutines)
			for i := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = regs[i%instances].Register(ctxT(t), input(app, version, "production", 1))
				}()
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, ErrDuplicateVersion):
					t.Fatalf("round %d: unexpected error %v", round, err)
				}
			}
			if wins != 1 {
				t.Fatalf("round %d: %d registrations of %s succeeded, want exactly 1", round, wins, version)
			}
		}
		if c := mustChannel(t, regs[1], app, "production"); c.Release.Version != "1.3.0" || c.Previous.Version != "1.2.0" {
			t.Fatalf("production = %s (previous %s)", c.Release.Version, c.Previous.Version)
		}
	})
}

func TestConcurrentRegisterAndPromoteKeepChannelMonotonic(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		var regs []Registry
		for range instances {
			regs = append(regs, b.open(t))
		}
		// Registrations of different versions race onto one channel, while
		// promotions of pre-registered versions race onto another. Whatever
		// the interleaving, each channel's history must only go up.
		for i := range 10 {
			mustRegister(t, regs[0], input(app, fmt.Sprintf("0.%d.0", i+1), "", 1))
		}
		if _, err := regs[0].CreateChannel(ctxT(t), app, "beta", ChannelSettings{}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		registered := map[string]bool{}
		for i := range 20 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				v := fmt.Sprintf("1.%d.0", i)
				_, err := regs[i%instances].Register(ctxT(t), input(app, v, "production", 1))
				switch {
				case err == nil:
					mu.Lock()
					registered[v] = true
					mu.Unlock()
				case !errors.Is(err, ErrVersionNotNewer):
					t.Errorf("register %s: %v", v, err)
				}
			}()
			go func() {
				defer wg.Done()
				v := fmt.Sprintf("0.%d.0", i%10+1)
				_, err := regs[(i+1)%instances].Promote(ctxT(t), app, "beta", v)
				if err != nil && !errors.Is(err, ErrVersionNotNewer) {
					t.Errorf("promote %s: %v", v, err)
				}
			}()
		}
		wg.Wait()
		for _, ch := range []string{"production", "beta"} {
			h, err := regs[2].History(ctxT(t), app, ch)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(h); i++ {
				if compareVersions(h[i].Version, h[i-1].Version) <= 0 {
					t.Fatalf("%s went from %s to %s", ch, h[i-1].Version, h[i].Version)
				}
			}
			last := h[len(h)-1].Version
			if c := mustChannel(t, regs[1], app, ch); c.Release.Version != last {
				t.Fatalf("%s serves %s, history ends at %s", ch, c.Release.Version, last)
			}
		}
		if len(registered) == 0 {
			t.Fatal("no registration succeeded")
		}
		releases, err := regs[0].Releases(ctxT(t), app)
		if err != nil {
			t.Fatal(err)
		}
		if want := 10 + len(registered); len(releases) != want {
			t.Fatalf("%d releases stored, want %d (refused registrations must leave nothing)", len(releases), want)
		}
	})
}

func TestReadWhileRegistering(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		writer, reader := b.open(t), b.open(t)
		mustRegister(t, writer, input(app, "1.0.0", "production", 1))
		done := make(chan struct{})
		var wg sync.WaitGroup
		var reads sync.WaitGroup
		for range 4 {
			reads.Add(1)
			go func() {
				defer reads.Done()
				last := "1.0.0"
				for {
					select {
					case <-done:
						return
					default:
					}
					ch, err := reader.Channel(ctxT(t), app, "production")
					if err != nil || ch.Release == nil {
						t.Errorf("read channel during writes: %+v, %v", ch, err)
						return
					}
					// Registrations only move forward: a reader never sees the
					// channel go back.
					v := ch.Release.Version
					if compareVersions(v, last) < 0 {
						t.Errorf("channel went back from %s to %s", last, v)
						return
					}
					last = v
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 30; i++ {
				if _, err := writer.Register(ctxT(t), input(app, fmt.Sprintf("1.%d.0", i), "production", 1)); err != nil {
					t.Errorf("register: %v", err)
					return
				}
			}
		}()
		wg.Wait()
		close(done)
		reads.Wait()
	})
}

func TestMigrations(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		// Several processes opening a new database at once: all succeed,
		// each migration is applied once.
		var wg sync.WaitGroup
		regs := make([]Registry, 4)
		errs := make([]error, len(regs))
		for i := range regs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				regs[i], errs[i] = Open(ctxT(t), b.dsn)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("open %d: %v", i, err)
			}
			defer regs[i].Close()
		}
		mustRegister(t, regs[0], input(app, "1.0.0", "production", 1))
		regs[0].Close()
		// Reopening changes nothing and keeps the data.
		r := b.open(t)
		if _, err := r.Release(ctxT(t), app, "1.0.0"); err != nil {
			t.Fatalf("data lost on reopen: %v", err)
		}
		sr := r.(*sqlRegistry)
		all, err := migrations(sr.d)
		if err != nil {
			t.Fatal(err)
		}
		var rows, max int
		if err := sr.db.QueryRowContext(ctxT(t), `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&rows, &max); err != nil {
			t.Fatal(err)
		}
		if rows != len(all) || max != all[len(all)-1].version {
			t.Fatalf("schema_migrations has %d rows up to %d, want %d up to %d", rows, max, len(all), all[len(all)-1].version)
		}
		// A database from a newer capship is refused, not damaged.
		if _, err := sr.db.ExecContext(ctxT(t), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)`); err != nil {
			t.Fatal(err)
		}
		if r2, err := Open(ctxT(t), b.dsn); !errors.Is(err, ErrSchemaTooNew) {
			if r2 != nil {
				r2.Close()
			}
			t.Fatalf("open newer schema: %v, want ErrSchemaTooNew", err)
		}
		if err := r.Ping(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMigrateFromOlderSchema(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		// The schema of a capship that knew only migration 1, with a release
		// in it; opening with this capship upgrades it and keeps the data.
		db, _ := schemaUpTo(t, b, 1)
		// What that capship wrote for a first release on production.
		in := input(app, "1.0.0", "production", 1)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO apps (id, key_id, key_fingerprint, created_at) VALUES ($1, $2, $3, 1)`, []any{app, in.KeyID, in.KeyFingerprint}},
			{`INSERT INTO releases (app_id, version, url, session_key, checksum, size, sha256, zip_sha256, key_id, key_fingerprint, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)`,
				[]any{app, in.Version, in.URL, in.SessionKey, in.Checksum, in.Size, in.SHA256, in.ZipSHA256, in.KeyID, in.KeyFingerprint}},
			{`INSERT INTO channels (app_id, name, release_id, public, updated_at) SELECT $1, 'production', id, TRUE, 1 FROM releases WHERE app_id = $1`, []any{app}},
			{`INSERT INTO channel_history (channel_id, release_id, action, created_at) SELECT c.id, c.release_id, 'register', 1 FROM channels c WHERE c.app_id = $1`, []any{app}},
		} {
			if _, err := db.ExecContext(ctxT(t), q.sql, q.args...); err != nil {
				t.Fatalf("old schema: %v", err)
			}
		}
		r := b.open(t)
		if c := mustChannel(t, r, app, "production"); c.Release == nil || c.Release.Version != "1.0.0" {
			t.Fatalf("after upgrade production serves %+v", c.Release)
		}
		var version int
		if err := db.QueryRowContext(ctxT(t), `SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil || version < 2 {
			t.Fatalf("schema version %d, %v", version, err)
		}
		// Migration 2's rule now holds.
		if _, err := r.Register(ctxT(t), replay(in, app, "2.0.0", 1)); !errors.Is(err, ErrDuplicateBundle) {
			t.Fatalf("replay after upgrade: %v", err)
		}
		// Migration 3's revision starts at 0 and moves with the next change.
		if rev, err := r.Revision(ctxT(t), app); err != nil || rev != 0 {
			t.Fatalf("revision after upgrade: %d, %v; want 0", rev, err)
		}
		mustRegister(t, r, input(app, "1.1.0", "production", 1))
		if rev, err := r.Revision(ctxT(t), app); err != nil || rev != 1 {
			t.Fatalf("revision after a register: %d, %v; want 1", rev, err)
		}
	})
}

func TestSQLiteFileAndFolders(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "capship")
	path := filepath.Join(dir, "registry.db")
	r, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for p, want := range map[string]fs.FileMode{dir: 0o700 | fs.ModeDir, path: 0o600} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode(), want)
		}
	}
	var mode string
	if err := r.(*sqlRegistry).db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := r.(*sqlRegistry).db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v", fk, err)
	}
	junk := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(junk, []byte("this is not a database, just text that is long enough to matter"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := Open(context.Background(), junk); err == nil {
		r.Close()
		t.Fatal("opened a text file as registry")
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "a?b.db")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("path with '?': %v", err)
	}
	if _, err := Open(context.Background(), ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty dsn: %v", err)
	}
}

func TestDefaultDBPath(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/srv/data")
	if got := DefaultDBPath(); got != "/srv/data/capship/registry.db" {
		t.Fatalf("with XDG_DATA_HOME: %s", got)
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/rm")
	if got := DefaultDBPath(); got != "/home/rm/.local/share/capship/registry.db" {
		t.Fatalf("without XDG_DATA_HOME: %s", got)
	}
	t.Setenv("XDG_DATA_HOME", "relative/ignored")
	if got := DefaultDBPath(); got != "/home/rm/.local/share/capship/registry.db" {
		t.Fatalf("relative XDG_DATA_HOME must be ignored (XDG spec): %s", got)
	}
}

func TestPostgresUnreachable(t *testing.T) {
	_, err := Open(context.Background(), "postgres://capship:s3cret-pw@/no_such_database?host=/nonexistent&sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("opened a database that does not exist")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error reveals the password: %v", err)
	}
}
