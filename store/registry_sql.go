package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// dialect is what differs between the SQL backends; the queries themselves
// are shared ($1-style parameters work on both).
type dialect struct {
	name        string
	serial      string // auto-increment primary key column type
	forUpdate   string // row lock suffix for SELECT in a write transaction
	migrateLock string // statement serializing migrations, if needed
	prepare     bool   // keep hot queries prepared (the driver has no statement cache of its own)
	isUnique    func(error) bool
}

// sqlRegistry implements Registry on database/sql.
type sqlRegistry struct {
	db *sql.DB
	d  *dialect

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // prepared hot queries, by text
}

// prepared returns the query prepared once for the life of the registry,
// so the hot read paths of the update server skip parsing and planning: on
// SQLite, preparing costs more than running these queries. (pgx caches
// prepared statements by itself.)
func (r *sqlRegistry) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, ok := r.stmts[query]; ok {
		return st, nil
	}
	st, err := r.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if r.stmts == nil {
		r.stmts = map[string]*sql.Stmt{}
	}
	r.stmts[query] = st
	return st, nil
}

// queryRow runs a hot single-row query, prepared where that helps.
func (r *sqlRegistry) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if !r.d.prepare {
		return r.db.QueryRowContext(ctx, query, args...)
	}
	st, err := r.prepared(ctx, query)
	if err != nil {
		// Let the unprepared query report the error the usual way.
		return r.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// query runs a hot query, prepared where that helps.
func (r *sqlRegistry) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if !r.d.prepare {
		return r.db.QueryContext(ctx, query, args...)
	}
	st, err := r.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func toMillis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func fromNullMillis(ms sql.NullInt64) *time.Time {
	if !ms.Valid {
		return nil
	}
	t := fromMillis(ms.Int64)
	return &t
}

// hinted returns an error that errors.Is sentinel and reads as msg.
func hinted(sentinel error, format string, a ...any) error {
	return &codeError{sentinel: sentinel, message: fmt.Sprintf(format, a...)}
}

// inTx runs fn in a write transaction. On SQLite it holds the database's
// write lock from the start; on PostgreSQL fn takes row locks (lockApp).
func (r *sqlRegistry) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (r *sqlRegistry) Ping(ctx context.Context) error {
	if err := r.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping registry: %w", err)
	}
	return nil
}

func (r *sqlRegistry) Close() error {
	r.mu.Lock()
	for _, st := range r.stmts {
		st.Close()
	}
	r.stmts = nil
	r.mu.Unlock()
	return r.db.Close()
}

// --- apps ---

// lockApp returns the app, locked against concurrent writers until the
// transaction ends; with create, it records an unknown app first. Every
// write that checks a rule takes this lock first, so the rules hold under
// concurrency on PostgreSQL too.
func (r *sqlRegistry) lockApp(ctx context.Context, tx *sql.Tx, appID string, create bool) (*App, error) {
	if create {
		if _, err := tx.ExecContext(ctx, `INSERT INTO apps (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
			appID, toMillis(time.Now())); err != nil {
			return nil, err
		}
	}
	a := App{ID: appID}
	var created int64
	err := tx.QueryRowContext(ctx, `SELECT key_id, key_fingerprint, created_at FROM apps WHERE id = $1`+r.d.forUpdate, appID).
		Scan(&a.KeyID, &a.KeyFingerprint, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoApp(appID)
	}
	if err != nil {
		return nil, err
	}
	a.CreatedAt = fromMillis(created)
	return &a, nil
}

func errNoApp(appID string) error {
	return hinted(ErrNotFound, "no app %q in the registry: register its first release with 'capship release register'", appID)
}

func (r *sqlRegistry) App(ctx context.Context, appID string) (*App, error) {
	a := App{ID: appID}
	var created int64
	err := r.queryRow(ctx, `SELECT key_id, key_fingerprint, created_at FROM apps WHERE id = $1`, appID).
		Scan(&a.KeyID, &a.KeyFingerprint, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoApp(appID)
	}
	if err != nil {
		return nil, fmt.Errorf("read app %s: %w", appID, err)
	}
	a.CreatedAt = fromMillis(created)
	return &a, nil
}

func (r *sqlRegistry) Apps(ctx context.Context) ([]App, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT id, key_id, key_fingerprint, created_at FROM apps ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	defer rows.Close()
	var out []App
	for rows.Next() {
		var a App
		var created int64
		if err := rows.Scan(&a.ID, &a.KeyID, &a.KeyFingerprint, &created); err != nil {
			return nil, fmt.Errorf("list apps: %w", err)
		}
		a.CreatedAt = fromMillis(created)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	return out, nil
}

// --- releases ---

// releaseCols are a release's columns under the table alias a.
func releaseCols(a string) string {
	cols := []string{"id", "app_id", "version", "url", "session_key", "checksum", "size", "sha256",
		"zip_sha256", "key_id", "key_fingerprint", "min_native", "created_at"}
	for i, c := range cols {
		cols[i] = a + "." + c
	}
	return strings.Join(cols, ", ")
}

// nullRelease scans releaseCols of an outer join, where all may be NULL.
type nullRelease struct {
	id                                            sql.NullInt64
	appID, version, url, sessionKey, checksum     sql.NullString
	size                                          sql.NullInt64
	sha, zipSHA, keyID, keyFingerprint, minNative sql.NullString
	created                                       sql.NullInt64
}

func (n *nullRelease) dest() []any {
	return []any{&n.id, &n.appID, &n.version, &n.url, &n.sessionKey, &n.checksum, &n.size, &n.sha,
		&n.zipSHA, &n.keyID, &n.keyFingerprint, &n.minNative, &n.created}
}

// release returns the scanned release, or nil when the join found none.
func (n *nullRelease) release() *Release {
	if !n.id.Valid {
		return nil
	}
	return &Release{
		AppID: n.appID.String, Version: n.version.String, URL: n.url.String,
		SessionKey: n.sessionKey.String, Checksum: n.checksum.String, Size: n.size.Int64,
		SHA256: n.sha.String, ZipSHA256: n.zipSHA.String, KeyID: n.keyID.String,
		KeyFingerprint: n.keyFingerprint.String, MinNative: n.minNative.String,
		CreatedAt: fromMillis(n.created.Int64),
	}
}

func (r *sqlRegistry) Release(ctx context.Context, appID, version string) (*Release, error) {
	var n nullRelease
	err := r.db.QueryRowContext(ctx, `SELECT `+releaseCols("r")+` FROM releases r WHERE r.app_id = $1 AND r.version = $2`,
		appID, version).Scan(n.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hinted(ErrNotFound, "no release %s of %s: see 'capship release list'", version, appID)
	}
	if err != nil {
		return nil, fmt.Errorf("read release %s: %w", version, err)
	}
	return n.release(), nil
}

func (r *sqlRegistry) Releases(ctx context.Context, appID string) ([]Release, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+releaseCols("r")+` FROM releases r WHERE r.app_id = $1 ORDER BY r.id DESC`, appID)
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	defer rows.Close()
	var out []Release
	for rows.Next() {
		var n nullRelease
		if err := rows.Scan(n.dest()...); err != nil {
			return nil, fmt.Errorf("list releases: %w", err)
		}
		out = append(out, *n.release())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	return out, nil
}

func (r *sqlRegistry) Register(ctx context.Context, in RegisterInput) (*Release, error) {
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("register release: %w", err)
	}
	now := time.Now()
	rel := &Release{
		AppID: in.AppID, Version: in.Version, URL: in.URL, SessionKey: in.SessionKey,
		Checksum: in.Checksum, Size: in.Size, SHA256: in.SHA256, ZipSHA256: in.ZipSHA256,
		KeyID: in.KeyID, KeyFingerprint: in.KeyFingerprint, MinNative: in.MinNative,
		CreatedAt: fromMillis(toMillis(now)),
	}
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		app, err := r.lockApp(ctx, tx, in.AppID, true)
		if err != nil {
			return err
		}
		switch {
		case app.KeyFingerprint == "":
			if _, err := tx.ExecContext(ctx, `UPDATE apps SET key_id = $2, key_fingerprint = $3 WHERE id = $1`,
				in.AppID, in.KeyID, in.KeyFingerprint); err != nil {
				return err
			}
		case app.KeyFingerprint != in.KeyFingerprint || app.KeyID != in.KeyID:
			return hinted(ErrKeyMismatch, "bundle was sealed with key %s but %s is registered with key %s: seal it with the app's key (devices could not decrypt it)",
				in.KeyFingerprint, in.AppID, app.KeyFingerprint)
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM releases WHERE app_id = $1 AND version = $2`, in.AppID, in.Version).Scan(&one)
		if err == nil {
			return errDuplicate(in.AppID, in.Version)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var otherApp, otherVersion string
		var sameFile bool
		err = tx.QueryRowContext(ctx, `SELECT app_id, version, sha256 = $1 FROM releases WHERE sha256 = $1 OR url = $2`,
			in.SHA256, in.URL).Scan(&otherApp, &otherVersion, &sameFile)
		if err == nil {
			return errDuplicateBundle(in, otherApp, otherVersion, sameFile)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var ch *chanRow
		if in.Channel != "" {
			if ch, err = r.lockChannel(ctx, tx, in.AppID, in.Channel); errors.Is(err, ErrNotFound) {
				ch, err = r.createChannel(ctx, tx, in.AppID, in.Channel, ChannelSettings{}, true)
			}
			if err != nil {
				return err
			}
			if err := ch.checkNewer(in.Version); err != nil {
				return err
			}
		}
		var id int64
		err = tx.QueryRowContext(ctx, `INSERT INTO releases (app_id, version, url, session_key, checksum, size, sha256,
			zip_sha256, key_id, key_fingerprint, min_native, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
			in.AppID, in.Version, in.URL, in.SessionKey, in.Checksum, in.Size, in.SHA256,
			in.ZipSHA256, in.KeyID, in.KeyFingerprint, in.MinNative, toMillis(now)).Scan(&id)
		if r.d.isUnique(err) {
			// A concurrent registration won; the constraint names which rule.
			if msg := err.Error(); strings.Contains(msg, "sha256") || strings.Contains(msg, "url") {
				return errDuplicateBundle(in, "", "", strings.Contains(msg, "sha256"))
			}
			return errDuplicate(in.AppID, in.Version)
		}
		if err != nil {
			return err
		}
		if ch != nil {
			return r.point(ctx, tx, ch, id, ActionRegister, now)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("register release: %w", err)
	}
	return rel, nil
}

func errDuplicateBundle(in RegisterInput, otherApp, otherVersion string, sameFile bool) error {
	other := "another release"
	if otherApp != "" {
		other = otherApp + " " + otherVersion
	}
	if sameFile {
		return hinted(ErrDuplicateBundle, "this encrypted bundle is already registered as %s: build a new bundle for %s (replaying an old bundle under a new version is refused)",
			other, in.Version)
	}
	return hinted(ErrDuplicateBundle, "%s is already the URL of %s: upload each bundle to its own URL (overwriting it would break %s and rollbacks to it)",
		in.URL, other, other)
}

func errDuplicate(appID, version string) error {
	return hinted(ErrDuplicateVersion, "version %s of %s is already registered: bump the version (package.json) and build a new bundle", version, appID)
}

// --- channels ---

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
	return hinted(ErrVersionNotNewer, "channel %s serves %s, and %s is not newer: bump the version, or use 'capship release rollback --channel %s' to go back",
		c.name, c.releaseVersion.String, version, c.name)
}

const chanSettingsCols = `c.rollout, c.public, c.allow_self_set, c.ios, c.android, c.electron,
	c.allow_emulator, c.allow_dev, c.disable_under_native, c.updated_at`

func settingsDest(c *Channel, updated *int64) []any {
	return []any{&c.Rollout, &c.Public, &c.AllowSelfSet, &c.IOS, &c.Android, &c.Electron,
		&c.AllowEmulator, &c.AllowDev, &c.DisableUnderNative, updated}
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
	return hinted(ErrNotFound, "no channel %q for %s: create it with 'capship channel create %s' (see 'capship channel list')", name, appID, name)
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
		electron, allow_emulator, allow_dev, disable_under_native, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		appID, name, c.Rollout, c.Public, c.AllowSelfSet, c.IOS, c.Android, c.Electron,
		c.AllowEmulator, c.AllowDev, c.DisableUnderNative, now).Scan(&id)
	if r.d.isUnique(err) {
		return nil, hinted(ErrDuplicateChannel, "channel %q of %s already exists: change it with 'capship channel set %s'", name, appID, name)
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
			android = $6, electron = $7, allow_emulator = $8, allow_dev = $9, disable_under_native = $10, updated_at = $11
			WHERE id = $1`, ch.id, c.Rollout, c.Public, c.AllowSelfSet, c.IOS, c.Android, c.Electron,
			c.AllowEmulator, c.AllowDev, c.DisableUnderNative, now); err != nil {
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

// channelSelect reads channels with their current and previous releases.
var channelSelect = `SELECT c.name, ` + chanSettingsCols + `, ` + releaseCols("r") + `, ` + releaseCols("p") + `
	FROM channels c
	LEFT JOIN releases r ON r.id = c.release_id
	LEFT JOIN releases p ON p.id = c.previous_id`

// channelScan holds one scanned row of channelSelect.
type channelScan struct {
	c        Channel
	updated  int64
	cur, prv nullRelease
}

func (s *channelScan) dest() []any {
	d := append([]any{&s.c.Name}, settingsDest(&s.c, &s.updated)...)
	d = append(d, s.cur.dest()...)
	return append(d, s.prv.dest()...)
}

func (s *channelScan) channel(appID string) *Channel {
	c := s.c
	c.AppID = appID
	c.UpdatedAt = fromMillis(s.updated)
	c.Release, c.Previous = s.cur.release(), s.prv.release()
	return &c
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
	return s.channel(appID), nil
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
		out = append(out, *s.channel(appID))
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
			return hinted(ErrNotFound, "no release %s of %s: register it first (see 'capship release list')", version, appID)
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
			return hinted(ErrNothingToRollBack, "channel %s has no earlier release to roll back to (see 'capship release list')", channel)
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

// --- devices ---

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

// --- stats ---

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
	rows, err := r.db.QueryContext(ctx, `SELECT version_name, action, COUNT(*), MAX(created_at) FROM device_events
		WHERE app_id = $1 AND created_at >= $2 GROUP BY version_name, action`, appID, from)
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
	devices, err := r.db.QueryContext(ctx, `SELECT version_name, COUNT(DISTINCT device_id) FROM device_events
		WHERE app_id = $1 AND created_at >= $2 GROUP BY version_name`, appID, from)
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

// --- admin tokens ---

// tokenPrefix starts every secret, so that leaked tokens are easy to spot.
const tokenPrefix = "capship_"

func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func (r *sqlRegistry) CreateToken(ctx context.Context, name, appID string) (string, *Token, error) {
	if err := validName("token name", name); err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	if appID != "" {
		if err := validName("app id", appID); err != nil {
			return "", nil, fmt.Errorf("create token: %w", err)
		}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	now := time.Now()
	tok := &Token{Name: name, AppID: appID, CreatedAt: fromMillis(toMillis(now))}
	err := r.db.QueryRowContext(ctx, `INSERT INTO admin_tokens (name, app_id, hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		name, appID, hashToken(secret), toMillis(now)).Scan(&tok.ID)
	if r.d.isUnique(err) {
		return "", nil, fmt.Errorf("create token: %w", hinted(ErrDuplicateToken,
			"a token named %q exists: pick another name or revoke it first ('capship token revoke %s')", name, name))
	}
	if err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	return secret, tok, nil
}

const tokenCols = `id, name, app_id, created_at, last_used_at, revoked_at`

func scanToken(sc interface{ Scan(...any) error }) (*Token, error) {
	var t Token
	var created int64
	var used, revoked sql.NullInt64
	if err := sc.Scan(&t.ID, &t.Name, &t.AppID, &created, &used, &revoked); err != nil {
		return nil, err
	}
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = fromMillis(created), fromNullMillis(used), fromNullMillis(revoked)
	return &t, nil
}

func (r *sqlRegistry) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM admin_tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

func (r *sqlRegistry) RevokeToken(ctx context.Context, nameOrID string) error {
	id, err := strconv.ParseInt(nameOrID, 10, 64)
	if err != nil {
		id = -1
	}
	res, err := r.db.ExecContext(ctx, `UPDATE admin_tokens SET revoked_at = $3
		WHERE (name = $1 OR id = $2) AND revoked_at IS NULL`, nameOrID, id, toMillis(time.Now()))
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("revoke token: %w", hinted(ErrNotFound, "no active token %q (see 'capship token list')", nameOrID))
	}
	return nil
}

func (r *sqlRegistry) Authenticate(ctx context.Context, secret string) (*Token, error) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return nil, ErrUnauthorized
	}
	t, err := scanToken(r.db.QueryRowContext(ctx, `UPDATE admin_tokens SET last_used_at = $2
		WHERE hash = $1 AND revoked_at IS NULL RETURNING `+tokenCols, hashToken(secret), toMillis(time.Now())))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("check token: %w", err)
	}
	return t, nil
}
