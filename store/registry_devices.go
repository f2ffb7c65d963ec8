package store

import (
	"context"
	"fmt"
)

// DeviceChannels returns every device channel override of an app (device id
// -> channel name) in one query, so the update server can answer update
// checks from memory. Not part of Registry: the server uses it when a
// registry offers it.
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
