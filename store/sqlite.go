package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteParams make every connection wait for locks instead of failing
// (busy_timeout), let readers run beside the one writer (WAL), enforce
// foreign keys, and take the write lock when a transaction begins
// (_txlock=immediate), so that read-then-write transactions never deadlock.
const sqliteParams = "_txlock=immediate" +
	"&_pragma=busy_timeout(15000)" +
	"&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(NORMAL)" +
	"&_pragma=foreign_keys(1)"

var sqliteDialect = dialect{
	name:    "sqlite",
	serial:  "INTEGER PRIMARY KEY",
	prepare: true,
	eventVersion: `CASE WHEN instr(version_name, ':') > 0 THEN substr(version_name, 1, instr(version_name, ':') - 1)
		ELSE version_name END`,
	isUnique: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) &&
			(e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
	},
}

// openSQLite opens the registry file at path, creating it (mode 0600) and
// its missing folders (mode 0700) first.
func openSQLite(ctx context.Context, path string) (Registry, error) {
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open registry %s: %w: the path may not contain '?' or '#' or start with 'file:'", path, ErrInvalid)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open registry: create folder: %w", err)
	}
	// Create the file ourselves so that it is private from the start.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		f.Close()
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("open registry: %w", err)
	}
	db, err := sql.Open("sqlite", path+"?"+sqliteParams)
	if err != nil {
		return nil, fmt.Errorf("open registry %s: %w", path, err)
	}
	// One writer at a time anyway; a few connections serve parallel reads.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	if err := pingSQLite(ctx, db); err != nil {
		db.Close()
		if isBusy(err) {
			return nil, fmt.Errorf("open registry %s: %w: another capship process keeps it locked; try again when it is done", path, err)
		}
		return nil, fmt.Errorf("open registry %s: %w (is it an SQLite file?)", path, err)
	}
	r := &sqlRegistry{db: db, d: &sqliteDialect, path: path}
	if err := migrate(ctx, db, r.d); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (registry %s)", err, path)
	}
	return r, nil
}

// pingSQLite opens the first connection, which also switches a new file to
// WAL. When several processes open a new file at once, that switch can
// fail with SQLITE_BUSY at once (SQLite does not wait where waiting could
// deadlock), so it is retried for up to 15 s, like any other lock wait.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(15 * time.Second)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := db.PingContext(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait + time.Duration(rand.Int64N(int64(wait)))):
		}
	}
}

func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}
