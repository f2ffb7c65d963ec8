package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFiles are the schema changes, applied in the order of their
// numeric prefix (0001_name.sql) and never edited once released.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the schema changes for a dialect, oldest first.
func migrations(d *dialect) ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", base)
		}
		data, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		text := strings.ReplaceAll(string(data), "{{serial}}", d.serial)
		out = append(out, migration{version: version, name: strings.TrimSuffix(base, ".sql"), sql: text})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a number", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// migrate brings the schema up to date in one transaction, recording each
// applied change in schema_migrations. Safe when several processes start at
// once: SQLite's immediate transactions and a PostgreSQL advisory lock let
// one migrate while the others wait and then find nothing left to do.
func migrate(ctx context.Context, db *sql.DB, d *dialect) error {
	return migrateUpTo(ctx, db, d, 0)
}

// migrateUpTo applies the migrations up to version upTo (0: all); tests use
// it to build the schema an older capship left behind.
func migrateUpTo(ctx context.Context, db *sql.DB, d *dialect, upTo int) error {
	all, err := migrations(d)
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate registry: %w", err)
	}
	defer tx.Rollback()
	if d.migrateLock != "" {
		if _, err := tx.ExecContext(ctx, d.migrateLock); err != nil {
			return fmt.Errorf("migrate registry: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate registry: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate registry: %w", err)
	}
	if latest := all[len(all)-1].version; current > latest {
		return fmt.Errorf("open registry: schema version %d, this capship knows up to %d: %w", current, latest, ErrSchemaTooNew)
	}
	for _, m := range all {
		if m.version <= current || (upTo > 0 && m.version > upTo) {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate registry: %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, toMillis(time.Now())); err != nil {
			return fmt.Errorf("migrate registry: %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate registry: %w", err)
	}
	return nil
}
