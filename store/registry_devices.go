package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DeviceChannels returns every device channel override of an app (device id
// -> channel name) in one query, so the update server can answer update
// checks from memory.
func (r *sqlRegistry) DeviceChannels(ctx context.Context, appID string) (map[string]string, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT d.device_id, c.name FROM device_channels d
		JOIN channels c ON c.id = d.channel_id WHERE d.app_id = $1`, appID)
	if err != nil {
		return nil, fmt.Errorf("list device channels: %w", err)
	}
	defer rows.Close()
	out := make(map[string]string)
	for rows.Next() {
		var device, name string
		if err := rows.Scan(&device, &name); err != nil {
			return nil, fmt.Errorf("list device channels: %w", err)
		}
		out[device] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list device channels: %w", err)
	}
	return out, nil
}

// resolveQuery ranks the candidate channels of a device: its override (1),
// the channel named by its defaultChannel (2), the public default for its
// platform (3); the best one comes first.
var resolveQuery = `SELECT a.key_id, a.key_fingerprint, a.created_at,
		CASE WHEN c.id IS NULL THEN 0 WHEN c.id = dc.channel_id THEN 1 WHEN c.name = $3 THEN 2 ELSE 3 END AS rank,
		` + strings.TrimPrefix(channelSelect, "SELECT ") + `
		JOIN apps a ON a.id = c.app_id
		LEFT JOIN device_channels dc ON dc.app_id = $1 AND dc.device_id = $2
		WHERE c.app_id = $1 AND (c.id = dc.channel_id OR c.name = $3 OR (c.public AND (
			($4 = 'ios' AND c.ios) OR ($4 = 'android' AND c.android) OR ($4 = 'electron' AND c.electron))))
		ORDER BY rank, c.name LIMIT 1`

func (r *sqlRegistry) Resolve(ctx context.Context, q DeviceQuery) (*Resolution, error) {
	// One round trip in the usual case: the app and the best channel.
	rows, err := r.query(ctx, resolveQuery, q.AppID, q.DeviceID, q.DefaultChannel, q.Platform)
	if err != nil {
		return nil, fmt.Errorf("resolve channel: %w", err)
	}
	defer rows.Close()
	res := &Resolution{App: App{ID: q.AppID}}
	if rows.Next() {
		var s channelScan
		var created int64
		var rank int
		dest := append([]any{&res.App.KeyID, &res.App.KeyFingerprint, &created, &rank}, s.dest()...)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("resolve channel: %w", err)
		}
		res.App.CreatedAt = fromMillis(created)
		res.Channel = s.channel(q.AppID)
		res.Source = [...]string{"", SourceOverride, SourceDefaultChannel, SourcePublic}[rank]
		return res, rows.Err()
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("resolve channel: %w", err)
	}
	// No channel applies: tell an unknown app from a known one.
	app, err := r.App(ctx, q.AppID)
	if err != nil {
		return nil, err
	}
	res.App = *app
	return res, nil
}

func (r *sqlRegistry) SetDeviceChannel(ctx context.Context, appID, deviceID, channel string, selfSet bool) error {
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
			return hinted(ErrSelfSetDenied, "channel %s does not allow devices to set it themselves: allow it with 'capship channel set %s --self-set'", channel, channel)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO device_channels (app_id, device_id, channel_id, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (app_id, device_id) DO UPDATE SET channel_id = excluded.channel_id, updated_at = excluded.updated_at`,
			appID, deviceID, id, toMillis(time.Now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("set device channel: %w", err)
	}
	return nil
}

func (r *sqlRegistry) UnsetDeviceChannel(ctx context.Context, appID, deviceID string) error {
	if _, err := r.db.ExecContext(ctx, `DELETE FROM device_channels WHERE app_id = $1 AND device_id = $2`, appID, deviceID); err != nil {
		return fmt.Errorf("unset device channel: %w", err)
	}
	return nil
}

func (r *sqlRegistry) DeviceChannel(ctx context.Context, appID, deviceID string) (string, error) {
	var name string
	err := r.queryRow(ctx, `SELECT c.name FROM device_channels d JOIN channels c ON c.id = d.channel_id
		WHERE d.app_id = $1 AND d.device_id = $2`, appID, deviceID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", hinted(ErrNotFound, "device has no channel of its own")
	}
	if err != nil {
		return "", fmt.Errorf("read device channel: %w", err)
	}
	return name, nil
}
