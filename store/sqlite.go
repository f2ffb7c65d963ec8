package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open registry %s: %w (is it an SQLite file?)", path, err)
	}
	r := &sqlRegistry{db: db, d: &sqliteDialect}
	if err := migrate(ctx, db, r.d); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (registry %s)", err, path)
	}
	return r, nil
}
