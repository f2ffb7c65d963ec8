package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// chanRow is a channel as a write transaction sees it.
type chanRow struct {
	id             int64
	name           string
	releaseID      sql.NullInt64
	releaseVersion sql.NullString
	settings       Channel
}

// checkNewer refuses a version not greater than the channel's current one.
func (c *chanRow) checkNewer(version string) error {
	if !c.releaseVersion.Valid || compareVersions(version, c.releaseVersion.String) > 0 {
		return nil
	}
	return hinted(ErrVersionNotNewer, "channel %s serves %s, and %s is not newer", c.name, c.releaseVersion.String, version)
}

const chanSettingsCols = `c.rollout, c.public, c.allow_self_set, c.ios, c.android, c.electron,
	c.allow_emulator, c.allow_dev, c.disable_under_native, c.delta, c.updated_at`

func settingsDest(c *Channel, updated *int64) []any {
	return []any{&c.Rollout, &c.Public, &c.AllowSelfSet, &c.IOS, &c.Android, &c.Electron,
		&c.AllowEmulator, &c.AllowDev, &c.DisableUnderNative, &c.Delta, updated}
}

// lockChannel reads a channel for update. The app must be locked already.
func (r *sqlRegistry) lockChannel(ctx context.Context, tx *sql.Tx, appID, name string) (*chanRow, error) {
	c := chanRow{name: name}
	var updated int64
	dest := append([]any{&c.id, &c.releaseID, &c.releaseVersion}, settingsDest(&c.settings, &updated)...)
	err := tx.QueryRowContext(ctx, `SELECT c.id, c.release_id, r.version, `+chanSettingsCols+`
		FROM channels c LEFT JOIN releases r ON r.id = c.release_id
		WHERE c.app_id = $1 AND c.name = $2`, appID, name).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoChannel(appID, name)
	}
	if err != nil {
		return nil, err
	}
	c.settings.AppID, c.settings.Name = appID, name
	return &c, nil
}

func errNoChannel(appID, name string) error {
	return hinted(ErrNotFound, "no channel %q for %s", name, appID)
}

// createChannel inserts a channel. With firstIsPublic, it becomes the public
// default when the app has no public channel yet.
func (r *sqlRegistry) createChannel(ctx context.Context, tx *sql.Tx, appID, name string, set ChannelSettings, firstIsPublic bool) (*chanRow, error) {
	if err := validName("channel", name); err != nil {
		return nil, err
	}
	c := DefaultChannelSettings()
	if firstIsPublic && set.Public == nil {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM channels WHERE app_id = $1 AND public`, appID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			c.Public = true
		} else if err != nil {
			return nil, err
		}
	}
	if err := set.apply(&c); err != nil {
		return nil, err
	}
	now := toMillis(time.Now())
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO channels (app_id, name, rollout, public, allow_self_set, ios, android,
		electron, allow_emulator, allow_dev, disable_under_native, delta, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		appID, name, c.Rollout, c.Public, c.AllowSelfSet, c.IOS, c.Android, c.Electron,
		c.AllowEmulator, c.AllowDev, c.DisableUnderNative, c.Delta, now).Scan(&id)
	if r.d.isUnique(err) {
		return nil, hinted(ErrDuplicateChannel, "channel %q of %s already exists", name, appID)
	}
	if err != nil {
		return nil, err
	}
	if c.Public {
		if err := r.takePublic(ctx, tx, appID, id, &c, now); err != nil {
			return nil, err
		}
	}
	c.AppID, c.Name, c.UpdatedAt = appID, name, fromMillis(now)
	return &chanRow{id: id, name: name, settings: c}, nil
}

// takePublic clears the public flag of the app's other channels that serve
// one of the platforms c serves.
func (r *sqlRegistry) takePublic(ctx context.Context, tx *sql.Tx, appID string, id int64, c *Channel, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE channels SET public = FALSE, updated_at = $3
		WHERE app_id = $1 AND id <> $2 AND public AND ((ios AND $4) OR (android AND $5) OR (electron AND $6))`,
		appID, id, now, c.IOS, c.Android, c.Electron)
	return err
}

// apply copies the non-nil settings onto c and checks them.
func (s ChannelSettings) apply(c *Channel) error {
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	if s.Rollout != nil {
		if *s.Rollout < 0 || *s.Rollout > 100 {
			return hinted(ErrInvalid, "rollout must be a percentage from 0 to 100, not %d", *s.Rollout)
		}
		c.Rollout = *s.Rollout
	}
	set(&c.Public, s.Public)
	set(&c.AllowSelfSet, s.AllowSelfSet)
	set(&c.IOS, s.IOS)
	set(&c.Android, s.Android)
	set(&c.Electron, s.Electron)
	set(&c.AllowEmulator, s.AllowEmulator)
	set(&c.AllowDev, s.AllowDev)
	set(&c.DisableUnderNative, s.DisableUnderNative)
	set(&c.Delta, s.Delta)
	return nil
}

func (r *sqlRegistry) CreateChannel(ctx context.Context, appID, name string, set ChannelSettings) (*Channel, error) {
	if err := validName("app id", appID); err != nil {
		return nil, fmt.Errorf("create channel: %w", err)
	}
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := r.lockApp(ctx, tx, appID, true); err != nil {
			return err
		}
		_, err := r.createChannel(ctx, tx, appID, name, set, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create channel %s: %w", name, err)
	}
	return r.Channel(ctx, appID, name)
}

func (r *sqlRegistry) UpdateChannel(ctx context.Context, appID, name string, set ChannelSettings) (*Channel, error) {
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := r.lockApp(ctx, tx, appID, false); err != nil {
			return err
		}
		ch, err := r.lockChannel(ctx, tx, appID, name)
		if err != nil {
			return err
		}
		c := ch.settings
		if err := set.apply(&c); err != nil {
			return err
		}
		now := toMillis(time.Now())
		if _, err := tx.ExecContext(ctx, `UPDATE channels SET rollout = $2, public = $3, allow_self_set = $4, ios = $5,
			android = $6, electron = $7, allow_emulator = $8, allow_dev = $9, disable_under_native = $10, delta = $11,
			updated_at = $12 WHERE id = $1`, ch.id, c.Rollout, c.Public, c.AllowSelfSet, c.IOS, c.Android, c.Electron,
			c.AllowEmulator, c.AllowDev, c.DisableUnderNative, c.Delta, now); err != nil {
			return err
		}
		if c.Public {
			return r.takePublic(ctx, tx, appID, ch.id, &c, now)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("change channel %s: %w", name, err)
	}
	return r.Channel(ctx, appID, name)
}

// channelSelect reads channels with their current and previous releases,
// and the ids the channel row names, to tell a release that cannot be read
// (a damaged file) from none.
var channelSelect = `SELECT c.name, ` + chanSettingsCols + `, ` + releaseCols("r") + `, ` + releaseCols("p") + `,
	c.release_id, c.previous_id
	FROM channels c
	LEFT JOIN releases r ON r.id = c.release_id
	LEFT JOIN releases p ON p.id = c.previous_id`

// channelScan holds one scanned row of channelSelect.
type channelScan struct {
	c        Channel
	updated  int64
	cur, prv nullRelease
	curID    sql.NullInt64 // the channel row's release_id
	prvID    sql.NullInt64 // and previous_id
}

func (s *channelScan) dest() []any {
	d := append([]any{&s.c.Name}, settingsDest(&s.c, &s.updated)...)
	d = append(d, s.cur.dest()...)
	d = append(d, s.prv.dest()...)
	return append(d, &s.curID, &s.prvID)
}

// channel returns the scanned channel, or ErrCorrupt when the row names a
// release the join did not find: foreign keys forbid that, so the file
// lost it, and answering "no release yet" would hide the damage.
func (s *channelScan) channel(appID string) (*Channel, error) {
	if s.curID.Valid && !s.cur.id.Valid || s.prvID.Valid && !s.prv.id.Valid {
		return nil, fmt.Errorf("read channel %s of %s: a release it names cannot be read: %w", s.c.Name, appID, ErrCorrupt)
	}
	c := s.c
	c.AppID = appID
	c.UpdatedAt = fromMillis(s.updated)
	c.Release, c.Previous = s.cur.release(), s.prv.release()
	return &c, nil
}

func (r *sqlRegistry) Channel(ctx context.Context, appID, name string) (*Channel, error) {
	var s channelScan
	err := r.queryRow(ctx, channelSelect+` WHERE c.app_id = $1 AND c.name = $2`, appID, name).Scan(s.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoChannel(appID, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read channel %s: %w", name, err)
	}
	return s.channel(appID)
}

func (r *sqlRegistry) Channels(ctx context.Context, appID string) ([]Channel, error) {
	rows, err := r.query(ctx, channelSelect+` WHERE c.app_id = $1 ORDER BY c.name`, appID)
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	defer rows.Close()
	var out []Channel
	for rows.Next() {
		var s channelScan
		if err := rows.Scan(s.dest()...); err != nil {
			return nil, fmt.Errorf("list channels: %w", err)
		}
		c, err := s.channel(appID)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return out, nil
}

func (r *sqlRegistry) History(ctx context.Context, appID, channel string) ([]HistoryEntry, error) {
	if _, err := r.Channel(ctx, appID, channel); err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	rows, err := r.db.QueryContext(ctx, `SELECT r.version, h.action, h.created_at, h.rolled_back_at
		FROM channel_history h
		JOIN channels c ON c.id = h.channel_id
		JOIN releases r ON r.id = h.release_id
		WHERE c.app_id = $1 AND c.name = $2 ORDER BY h.id`, appID, channel)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	defer rows.Close()
	var out []HistoryEntry
	for rows.Next() {
		var h HistoryEntry
		var at int64
		var undone sql.NullInt64
		if err := rows.Scan(&h.Version, &h.Action, &at, &undone); err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		h.At, h.RolledBackAt = fromMillis(at), fromNullMillis(undone)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	return out, nil
}

// point makes the channel serve release id and records why; what it served
// before becomes its previous release.
func (r *sqlRegistry) point(ctx context.Context, tx *sql.Tx, ch *chanRow, id int64, action string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO channel_history (channel_id, release_id, action, created_at) VALUES ($1, $2, $3, $4)`,
		ch.id, id, action, toMillis(now)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE channels SET release_id = $2, previous_id = $3, updated_at = $4 WHERE id = $1`,
		ch.id, id, ch.releaseID, toMillis(now))
	return err
}

func (r *sqlRegistry) Promote(ctx context.Context, appID, channel, version string) (*Channel, error) {
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := r.lockApp(ctx, tx, appID, false); err != nil {
			return err
		}
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM releases WHERE app_id = $1 AND version = $2`, appID, version).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return hinted(ErrNotFound, "no release %s of %s", version, appID)
		}
		if err != nil {
			return err
		}
		ch, err := r.lockChannel(ctx, tx, appID, channel)
		if err != nil {
			return err
		}
		if err := ch.checkNewer(version); err != nil {
			return err
		}
		return r.point(ctx, tx, ch, id, ActionPromote, time.Now())
	})
	if err != nil {
		return nil, fmt.Errorf("promote %s to %s: %w", version, channel, err)
	}
	return r.Channel(ctx, appID, channel)
}

func (r *sqlRegistry) Rollback(ctx context.Context, appID, channel string) (*Channel, error) {
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := r.lockApp(ctx, tx, appID, false); err != nil {
			return err
		}
		ch, err := r.lockChannel(ctx, tx, appID, channel)
		if err != nil {
			return err
		}
		// The live stack: register/promote entries not rolled back, newest first.
		rows, err := tx.QueryContext(ctx, `SELECT id, release_id FROM channel_history
			WHERE channel_id = $1 AND action <> $2 AND rolled_back_at IS NULL ORDER BY id DESC LIMIT 3`,
			ch.id, ActionRollback)
		if err != nil {
			return err
		}
		var entries, releases []int64
		for rows.Next() {
			var e, rel int64
			if err := rows.Scan(&e, &rel); err != nil {
				rows.Close()
				return err
			}
			entries, releases = append(entries, e), append(releases, rel)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(entries) < 2 {
			return hinted(ErrNothingToRollBack, "channel %s has no earlier release to roll back to", channel)
		}
		now := toMillis(time.Now())
		if _, err := tx.ExecContext(ctx, `UPDATE channel_history SET rolled_back_at = $2 WHERE id = $1`, entries[0], now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO channel_history (channel_id, release_id, action, created_at) VALUES ($1, $2, $3, $4)`,
			ch.id, releases[1], ActionRollback, now); err != nil {
			return err
		}
		var previous sql.NullInt64
		if len(releases) > 2 {
			previous = sql.NullInt64{Int64: releases[2], Valid: true}
		}
		_, err = tx.ExecContext(ctx, `UPDATE channels SET release_id = $2, previous_id = $3, updated_at = $4 WHERE id = $1`,
			ch.id, releases[1], previous, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("roll back %s: %w", channel, err)
	}
	return r.Channel(ctx, appID, channel)
}
