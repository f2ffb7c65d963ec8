package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
	if err := checkSQLitePath(path); err != nil {
		return nil, err
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
		return nil, openError(path, err)
	}
	r := &sqlRegistry{db: db, d: &sqliteDialect, path: path}
	if err := migrate(ctx, db, r.d); err != nil {
		db.Close()
		if isDiskFull(path, err) {
			return nil, fmt.Errorf("%w: %w (registry %s)", err, ErrDiskFull, path)
		}
		return nil, fmt.Errorf("%w (registry %s)", err, path)
	}
	return r, nil
}

// checkSQLitePath refuses a path the driver would read as a URI or its
// parameters.
func checkSQLitePath(path string) error {
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return fmt.Errorf("open registry %s: %w: the path may not contain '?' or '#' or start with 'file:'", path, ErrInvalid)
	}
	return nil
}

// sqliteReadOnlyParams are sqliteParams for a connection that never
// writes: no journal mode switch, which would write the file.
const sqliteReadOnlyParams = "mode=ro" +
	"&_pragma=busy_timeout(15000)" +
	"&_pragma=foreign_keys(1)"

// ErrNoRegistry: a command that only reads found no registry file. The
// first registration (or any command that writes) creates it.
var ErrNoRegistry = errors.New("no registry")

// NoRegistryError says where the registry file was looked for; it
// errors.Is ErrNoRegistry.
type NoRegistryError struct{ Path string }

func (e *NoRegistryError) Error() string {
	return "no registry at " + e.Path + ": register a release first"
}

// Is makes errors.Is(err, ErrNoRegistry) hold, and fs.ErrNotExist: the
// file is not there.
func (e *NoRegistryError) Is(target error) bool {
	return target == ErrNoRegistry || target == fs.ErrNotExist
}

// openSQLiteReadOnly opens the existing registry file at path without
// creating, migrating or writing anything. A WAL file in a folder nobody
// may write to (a read-only mount), with no -shm file beside it, can only
// be read as immutable: nothing else can be writing it there.
func openSQLiteReadOnly(ctx context.Context, path string) (Registry, error) {
	if err := checkSQLitePath(path); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open registry: %w", &NoRegistryError{Path: path})
	} else if err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open registry %s: %w", path, err)
	}
	uri := "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath() + "?" + sqliteReadOnlyParams
	var db *sql.DB
	for _, extra := range []string{"", "&immutable=1"} {
		if db, err = sql.Open("sqlite", uri+extra); err != nil {
			return nil, fmt.Errorf("open registry %s: %w", path, err)
		}
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
		if err = readSchemaVersion(ctx, db, path); err == nil {
			break
		}
		db.Close()
		if !isCantOpen(err) {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	return &sqlRegistry{db: db, d: &sqliteDialect, path: path}, nil
}

// readSchemaVersion refuses a schema other than the one this capship
// writes; a read-only open cannot migrate it.
func readSchemaVersion(ctx context.Context, db *sql.DB, path string) error {
	if err := pingSQLite(ctx, db); err != nil {
		return openError(path, err)
	}
	all, err := migrations(&sqliteDialect)
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	latest := all[len(all)-1].version
	var current int
	err = db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current)
	switch {
	case err != nil && strings.Contains(err.Error(), "no such table"):
		current = 0
	case err != nil:
		return openError(path, err)
	}
	switch {
	case current > latest:
		return fmt.Errorf("open registry %s: schema version %d, this capship knows up to %d: %w", path, current, latest, ErrSchemaTooNew)
	case current < latest:
		return fmt.Errorf("open registry %s read-only: schema version %d, this capship needs %d: %w", path, current, latest, ErrSchemaTooOld)
	}
	return nil
}

// openError says why the first use of a registry file failed, with the
// fix when it is known.
func openError(path string, err error) error {
	switch {
	case isBusy(err):
		return fmt.Errorf("open registry %s: %w: another capship process keeps it locked; try again when it is done", path, err)
	case isDiskFull(path, err):
		return fmt.Errorf("open registry %s: %w: %w", path, ErrDiskFull, err)
	case isCode(err, sqlite3.SQLITE_READONLY), isCantOpen(err) && folderReadOnly(filepath.Dir(path)):
		return fmt.Errorf("open registry %s: %w: the file or its folder is read-only; only commands that read can use it", path, err)
	case isCorrupt(err):
		return fmt.Errorf("open registry %s: %w: %w", path, ErrCorrupt, err)
	}
	return fmt.Errorf("open registry %s: %w (is it an SQLite file?)", path, err)
}

// isDiskFull reports whether err comes from a full disk: SQLite's
// SQLITE_FULL, ENOSPC, or an I/O error while the filesystem holding path
// has no free block left (SQLite reports some failed writes as I/O errors).
func isDiskFull(path string, err error) bool {
	if err == nil {
		return false
	}
	if isCode(err, sqlite3.SQLITE_FULL) || errors.Is(err, syscall.ENOSPC) {
		return true
	}
	return isCode(err, sqlite3.SQLITE_IOERR) && noSpaceLeft(filepath.Dir(path))
}

func isCode(err error, code int) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == code
}

// isCorrupt reports whether err is SQLite finding a damaged file.
func isCorrupt(err error) bool {
	return isCode(err, sqlite3.SQLITE_CORRUPT) || isCode(err, sqlite3.SQLITE_NOTADB)
}

// folderReadOnly reports whether no file can be created in dir (SQLite
// needs its -wal and -shm files there to write).
func folderReadOnly(dir string) bool {
	f, err := os.CreateTemp(dir, ".capship-probe-*")
	if err != nil {
		return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)
	}
	f.Close()
	os.Remove(f.Name())
	return false
}

func isCantOpen(err error) bool { return isCode(err, sqlite3.SQLITE_CANTOPEN) }

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

func isBusy(err error) bool { return isCode(err, sqlite3.SQLITE_BUSY) }

// IntegrityCheck runs SQLite's integrity_check on reg and returns the
// problems it reports (none: the file is sound). A PostgreSQL registry
// has no such check (ErrInvalid).
func IntegrityCheck(ctx context.Context, reg Registry) ([]string, error) {
	r, ok := reg.(*sqlRegistry)
	if !ok || r.d != &sqliteDialect {
		return nil, fmt.Errorf("check registry: %w: only an SQLite registry file can be checked", ErrInvalid)
	}
	return r.pragmaCheck(ctx, "integrity_check")
}

// QuickCheck runs SQLite's quick_check on reg, which is cheaper than
// IntegrityCheck, checks that every release a channel names exists, and
// returns the problems found. A PostgreSQL registry has nothing to check
// here: no problems.
func QuickCheck(ctx context.Context, reg Registry) ([]string, error) {
	r, ok := reg.(*sqlRegistry)
	if !ok || r.d != &sqliteDialect {
		return nil, nil
	}
	problems, err := r.pragmaCheck(ctx, "quick_check")
	if err != nil || len(problems) > 0 {
		return problems, err
	}
	rows, err := r.db.QueryContext(ctx, "PRAGMA foreign_key_check(channels)")
	if err != nil {
		if isCorrupt(err) {
			return []string{err.Error()}, nil
		}
		return nil, fmt.Errorf("check registry %s: %w", r.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, parent string
		var rowid, fk sql.NullInt64
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return nil, fmt.Errorf("check registry %s: %w", r.path, err)
		}
		problems = append(problems, fmt.Sprintf("row %d of %s names a missing row of %s", rowid.Int64, table, parent))
	}
	if err := rows.Err(); err != nil {
		if isCorrupt(err) {
			return append(problems, err.Error()), nil
		}
		return nil, fmt.Errorf("check registry %s: %w", r.path, err)
	}
	return problems, nil
}

// IsCorrupt reports whether err says the registry file is damaged.
func IsCorrupt(err error) bool { return errors.Is(err, ErrCorrupt) || isCorrupt(err) }

// pragmaCheck runs PRAGMA integrity_check or quick_check and returns its
// rows other than "ok".
func (r *sqlRegistry) pragmaCheck(ctx context.Context, pragma string) ([]string, error) {
	rows, err := r.db.QueryContext(ctx, "PRAGMA "+pragma)
	if err != nil {
		return nil, fmt.Errorf("check registry %s: %w", r.path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, fmt.Errorf("check registry %s: %w", r.path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		if isCorrupt(err) {
			return append(problems, err.Error()), nil
		}
		return nil, fmt.Errorf("check registry %s: %w", r.path, err)
	}
	return problems, nil
}
