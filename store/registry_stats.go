package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	sqlite3 "modernc.org/sqlite/lib"
)

// eventsPerInsert bounds the rows of one INSERT on PostgreSQL (11
// parameters each, well under its limit). Many rows per statement save
// round trips to the server; SQLite, in process, runs one prepared
// single-row INSERT per event instead, which beats compiling a large one.
const eventsPerInsert = 200

const insertEvent = `INSERT INTO device_events (app_id, device_id, action, version_name,
	old_version_name, platform, plugin_version, version_build, is_emulator, is_prod, created_at) VALUES `

func (r *sqlRegistry) RecordEvents(ctx context.Context, events []StatEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	now := toMillis(time.Now())
	stored := 0
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		known, err := knownApps(ctx, tx, events)
		if err != nil {
			return err
		}
		rows := eventsPerInsert
		if r.d.prepare {
			rows = 1
		}
		var one *sql.Stmt
		var b strings.Builder
		args := make([]any, 0, rows*11)
		flush := func() error {
			var err error
			switch {
			case len(args) == 0:
				return nil
			case rows > 1:
				_, err = tx.ExecContext(ctx, insertEvent+b.String(), args...)
			case one == nil:
				if one, err = tx.PrepareContext(ctx, insertEvent+b.String()); err == nil {
					_, err = one.ExecContext(ctx, args...)
				}
			default:
				_, err = one.ExecContext(ctx, args...)
			}
			b.Reset()
			args = args[:0]
			return err
		}
		defer func() {
			if one != nil {
				one.Close()
			}
		}()
		for _, e := range events {
			if !known[e.AppID] {
				continue
			}
			at := now
			if !e.At.IsZero() {
				at = toMillis(e.At)
			}
			if len(args) > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)",
				n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11)
			args = append(args, e.AppID, e.DeviceID, e.Action, e.VersionName, e.OldVersion,
				e.Platform, e.PluginVersion, e.VersionBuild, e.IsEmulator, e.IsProd, at)
			stored++
			if len(args) == rows*11 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	})
	if IsDiskFull(err) {
		return 0, fmt.Errorf("record stats: %w: %w", ErrDiskFull, err)
	}
	if err != nil {
		return 0, fmt.Errorf("record stats: %w", err)
	}
	return stored, nil
}

// knownApps returns which of the events' app ids the registry knows.
func knownApps(ctx context.Context, tx *sql.Tx, events []StatEvent) (map[string]bool, error) {
	known := map[string]bool{}
	for _, e := range events {
		if _, asked := known[e.AppID]; asked {
			continue
		}
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM apps WHERE id = $1`, e.AppID).Scan(&one)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		known[e.AppID] = err == nil
	}
	return known, nil
}

func (r *sqlRegistry) Stats(ctx context.Context, appID string, since time.Time) ([]ReleaseStats, error) {
	from := int64(0)
	if !since.IsZero() {
		from = toMillis(since)
	}
	byVersion := map[string]*ReleaseStats{}
	get := func(v string) *ReleaseStats {
		s := byVersion[v]
		if s == nil {
			s = &ReleaseStats{Version: v, ByAction: map[string]int64{}}
			byVersion[v] = s
		}
		return s
	}
	failure := map[string]bool{}
	for _, a := range FailureActions {
		failure[a] = true
	}
	rows, err := r.db.QueryContext(ctx, `SELECT `+r.d.eventVersion+`, action, COUNT(*), MAX(created_at) FROM device_events
		WHERE app_id = $1 AND created_at >= $2 GROUP BY 1, action`, appID, from)
	if err != nil {
		return nil, fmt.Errorf("read stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var version, action string
		var n, last int64
		if err := rows.Scan(&version, &action, &n, &last); err != nil {
			return nil, fmt.Errorf("read stats: %w", err)
		}
		s := get(version)
		s.ByAction[action] += n
		switch {
		case action == "download_complete":
			s.Downloads += n
		case action == "set":
			s.Installs += n
		case failure[action]:
			s.Failures += n
		}
		if t := fromMillis(last); t.After(s.LastAt) {
			s.LastAt = t
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stats: %w", err)
	}
	rows.Close()
	devices, err := r.db.QueryContext(ctx, `SELECT `+r.d.eventVersion+`, COUNT(DISTINCT device_id) FROM device_events
		WHERE app_id = $1 AND created_at >= $2 GROUP BY 1`, appID, from)
	if err != nil {
		return nil, fmt.Errorf("read stats: %w", err)
	}
	defer devices.Close()
	for devices.Next() {
		var version string
		var n int64
		if err := devices.Scan(&version, &n); err != nil {
			return nil, fmt.Errorf("read stats: %w", err)
		}
		get(version).Devices = n
	}
	if err := devices.Err(); err != nil {
		return nil, fmt.Errorf("read stats: %w", err)
	}
	out := make([]ReleaseStats, 0, len(byVersion))
	for _, s := range byVersion {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return compareVersions(out[i].Version, out[j].Version) > 0 })
	return out, nil
}

func (r *sqlRegistry) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var deleted int64
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		// By id, the insertion order: old rows come first, so each batch
		// stops early instead of reading the whole table.
		res, err := tx.ExecContext(ctx, `DELETE FROM device_events WHERE id IN
			(SELECT id FROM device_events WHERE created_at < $1 ORDER BY id LIMIT $2)`, toMillis(before), limit)
		if err != nil {
			return err
		}
		deleted, err = res.RowsAffected()
		return err
	})
	if IsDiskFull(err) {
		return 0, fmt.Errorf("prune stats: %w: %w", ErrDiskFull, err)
	}
	if err != nil {
		return 0, fmt.Errorf("prune stats: %w", err)
	}
	return int(deleted), nil
}

// IsDiskFull reports whether err says the registry's disk (or quota) is
// full: SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100), or ENOSPC.
func IsDiskFull(err error) bool {
	var pg *pgconn.PgError
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrDiskFull), errors.Is(err, syscall.ENOSPC), isCode(err, sqlite3.SQLITE_FULL):
		return true
	case errors.As(err, &pg):
		return pg.Code == "53100"
	}
	return false
}
