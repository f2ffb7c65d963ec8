package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
			return hinted(ErrSelfSetDenied, "channel %s does not allow devices to set it themselves", channel)
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
