package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// errNoChange rolls back a transaction that found nothing to do.
var errNoChange = errors.New("nothing changed")

// bumpOverrides raises the app's override sequence (and, for removals,
// its cleared count), moves its override count by delta and returns the
// new sequence. It is each override write's first statement, so it also
// locks the app row: concurrent writes of one app's overrides (on
// PostgreSQL) keep the count exact, commit in sequence order, and take
// their locks in one order. sql.ErrNoRows when the app does not exist.
func bumpOverrides(ctx context.Context, tx *sql.Tx, appID string, delta int64, removal bool) (seq int64, err error) {
	cleared := 0
	if removal {
		cleared = 1
	}
	err = tx.QueryRowContext(ctx, `UPDATE apps SET override_seq = override_seq + 1, override_count = override_count + $2,
		override_cleared = override_cleared + $3 WHERE id = $1 RETURNING override_seq`, appID, delta, cleared).Scan(&seq)
	return seq, err
}

func (r *sqlRegistry) SetDeviceChannel(ctx context.Context, appID, deviceID, channel string, selfSet bool, max int) error {
	deviceID = strings.ToLower(deviceID)
	if deviceID == "" {
		return hinted(ErrInvalid, "set device channel: empty device id")
	}
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		var id int64
		var allow bool
		err := tx.QueryRowContext(ctx, `SELECT id, allow_self_set FROM channels WHERE app_id = $1 AND name = $2`,
			appID, channel).Scan(&id, &allow)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoChannel(appID, channel)
		}
		if err != nil {
			return err
		}
		if selfSet && !allow {
			return hinted(ErrSelfSetDenied, "channel %s does not allow devices to set it themselves", channel)
		}
		seq, err := bumpOverrides(ctx, tx, appID, 0, false)
		if err != nil {
			return err
		}
		now := toMillis(time.Now())
		res, err := tx.ExecContext(ctx, `UPDATE device_channels SET channel_id = $3, updated_at = $4, seq = $5 WHERE app_id = $1 AND device_id = $2`,
			appID, deviceID, id, now, seq)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		if max > 0 {
			var count int64
			if err := tx.QueryRowContext(ctx, `SELECT override_count FROM apps WHERE id = $1`, appID).Scan(&count); err != nil {
				return err
			}
			if count >= int64(max) {
				return hinted(ErrTooManyOverrides, "app %s already has %d device channel overrides, the most this server allows: raise capship serve --max-overrides, or let stale ones expire (--override-expiry)", appID, count)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_channels (app_id, device_id, channel_id, updated_at, seq) VALUES ($1, $2, $3, $4, $5)`,
			appID, deviceID, id, now, seq); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE apps SET override_count = override_count + 1 WHERE id = $1`, appID)
		return err
	})
	if err != nil {
		return fmt.Errorf("set device channel: %w", err)
	}
	return nil
}

func (r *sqlRegistry) UnsetDeviceChannel(ctx context.Context, appID, deviceID string) error {
	none := false
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		_, err := bumpOverrides(ctx, tx, appID, -1, true)
		if errors.Is(err, sql.ErrNoRows) {
			none = true
			return errNoChange // no such app
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM device_channels WHERE app_id = $1 AND device_id = $2`, appID, strings.ToLower(deviceID))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			none = true
			return errNoChange // leave the sequence and the count alone
		}
		return err
	})
	if err != nil && !none {
		return fmt.Errorf("unset device channel: %w", err)
	}
	return nil
}

func (r *sqlRegistry) DeviceChannel(ctx context.Context, appID, deviceID string) (*DeviceOverride, error) {
	var o DeviceOverride
	var at int64
	err := r.queryRow(ctx, `SELECT c.name, d.updated_at FROM device_channels d JOIN channels c ON c.id = d.channel_id
		WHERE d.app_id = $1 AND d.device_id = $2`, appID, strings.ToLower(deviceID)).Scan(&o.Channel, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hinted(ErrNotFound, "device has no channel of its own")
	}
	if err != nil {
		return nil, fmt.Errorf("read device channel: %w", err)
	}
	o.UpdatedAt = fromMillis(at)
	return &o, nil
}

func (r *sqlRegistry) ChangedDeviceChannels(ctx context.Context, appID string, since int64, limit int) ([]string, error) {
	rows, err := r.query(ctx, `SELECT device_id FROM device_channels WHERE app_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		appID, since, limit)
	if err != nil {
		return nil, fmt.Errorf("list changed device channels: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var device string
		if err := rows.Scan(&device); err != nil {
			return nil, fmt.Errorf("list changed device channels: %w", err)
		}
		out = append(out, device)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list changed device channels: %w", err)
	}
	return out, nil
}

func (r *sqlRegistry) TouchDeviceChannel(ctx context.Context, appID, deviceID string, at time.Time) error {
	if _, err := r.db.ExecContext(ctx, `UPDATE device_channels SET updated_at = $3 WHERE app_id = $1 AND device_id = $2 AND updated_at < $3`,
		appID, strings.ToLower(deviceID), toMillis(at)); err != nil {
		return fmt.Errorf("touch device channel: %w", err)
	}
	return nil
}

func (r *sqlRegistry) PruneDeviceChannels(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	type key struct{ app, device string }
	var deleted int
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		deleted = 0
		rows, err := tx.QueryContext(ctx, `SELECT app_id, device_id FROM device_channels WHERE updated_at < $1 ORDER BY updated_at LIMIT $2`,
			toMillis(before), limit)
		if err != nil {
			return err
		}
		byApp := map[string][]string{}
		var apps []string
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.app, &k.device); err != nil {
				rows.Close()
				return err
			}
			if byApp[k.app] == nil {
				apps = append(apps, k.app)
			}
			byApp[k.app] = append(byApp[k.app], k.device)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		slices.Sort(apps) // two prunes lock the app rows in one order
		for _, app := range apps {
			// The app row first, as every override write locks it.
			if _, err := bumpOverrides(ctx, tx, app, 0, true); err != nil {
				return err
			}
			var n int64
			for _, device := range byApp[app] {
				// A device that set or touched its override meanwhile keeps it.
				res, err := tx.ExecContext(ctx, `DELETE FROM device_channels WHERE app_id = $1 AND device_id = $2 AND updated_at < $3`,
					app, device, toMillis(before))
				if err != nil {
					return err
				}
				k, err := res.RowsAffected()
				if err != nil {
					return err
				}
				n += k
			}
			if _, err := tx.ExecContext(ctx, `UPDATE apps SET override_count = override_count - $2 WHERE id = $1`, app, n); err != nil {
				return err
			}
			deleted += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune device channels: %w", err)
	}
	return deleted, nil
}
