package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	// eventVersion is device_events.version_name up to its first ':'. The
	// plugin files a failed file of a delta download under
	// "VERSION:FILE" (spec §6); stats count it under VERSION.
	eventVersion string
	isUnique     func(error) bool
}

// sqlRegistry implements Registry on database/sql.
type sqlRegistry struct {
	db   *sql.DB
	d    *dialect
	path string // the SQLite file; "" for PostgreSQL

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
// concurrency on PostgreSQL too. Each of those writes changes what the
// app's devices are served, so lockApp also raises the app's revision
// (see Revision): committed with the change, or rolled back with it.
func (r *sqlRegistry) lockApp(ctx context.Context, tx *sql.Tx, appID string, create bool) (*App, error) {
	if create {
		if _, err := tx.ExecContext(ctx, `INSERT INTO apps (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
			appID, toMillis(time.Now())); err != nil {
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE apps SET revision = revision + 1 WHERE id = $1`, appID); err != nil {
		return nil, err
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
	return hinted(ErrNotFound, "no app %q in the registry: no release of it was registered", appID)
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

func (r *sqlRegistry) Revision(ctx context.Context, appID string) (int64, error) {
	var rev int64
	err := r.queryRow(ctx, `SELECT revision FROM apps WHERE id = $1`, appID).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errNoApp(appID)
	}
	if err != nil {
		return 0, fmt.Errorf("read revision of %s: %w", appID, err)
	}
	return rev, nil
}

func (r *sqlRegistry) Revisions(ctx context.Context, appID string) (Revisions, error) {
	var rev Revisions
	err := r.queryRow(ctx, `SELECT revision, override_seq, override_cleared FROM apps WHERE id = $1`, appID).
		Scan(&rev.Serve, &rev.Overrides, &rev.OverridesCleared)
	if errors.Is(err, sql.ErrNoRows) {
		return Revisions{}, errNoApp(appID)
	}
	if err != nil {
		return Revisions{}, fmt.Errorf("read revision of %s: %w", appID, err)
	}
	return rev, nil
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
		"zip_sha256", "key_id", "key_fingerprint", "min_native", "files_url", "file_count", "created_at", "native_packages"}
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
	filesURL                                      sql.NullString
	fileCount, created                            sql.NullInt64
	native                                        sql.NullString
}

func (n *nullRelease) dest() []any {
	return []any{&n.id, &n.appID, &n.version, &n.url, &n.sessionKey, &n.checksum, &n.size, &n.sha,
		&n.zipSHA, &n.keyID, &n.keyFingerprint, &n.minNative, &n.filesURL, &n.fileCount, &n.created, &n.native}
}

// release returns the scanned release, or nil when the join found none.
func (n *nullRelease) release() *Release {
	if !n.id.Valid {
		return nil
	}
	// A damaged native_packages value (only a hand edit makes one) reads
	// as not recorded; Register reports it.
	native, _ := decodeNative(n.native)
	return &Release{
		AppID: n.appID.String, Version: n.version.String, URL: n.url.String,
		SessionKey: n.sessionKey.String, Checksum: n.checksum.String, Size: n.size.Int64,
		SHA256: n.sha.String, ZipSHA256: n.zipSHA.String, KeyID: n.keyID.String,
		KeyFingerprint: n.keyFingerprint.String, MinNative: n.minNative.String,
		FilesURL: n.filesURL.String, FileCount: int(n.fileCount.Int64),
		NativePackages: native, CreatedAt: fromMillis(n.created.Int64),
	}
}

func (r *sqlRegistry) Release(ctx context.Context, appID, version string) (*Release, error) {
	var n nullRelease
	err := r.db.QueryRowContext(ctx, `SELECT `+releaseCols("r")+` FROM releases r WHERE r.app_id = $1 AND r.version = $2`,
		appID, version).Scan(n.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hinted(ErrNotFound, "no release %s of %s", version, appID)
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
		FilesURL: in.FilesURL, FileCount: len(in.Files), NativePackages: in.NativePackages,
		CreatedAt: fromMillis(toMillis(now)),
	}
	native, err := encodeNative(in.NativePackages)
	if err != nil {
		return nil, fmt.Errorf("register release: %w", err)
	}
	err = r.inTx(ctx, func(tx *sql.Tx) error {
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
		var sameFile, sameURL bool
		err = tx.QueryRowContext(ctx, `SELECT app_id, version, sha256 = $1, url = $2 FROM releases
			WHERE sha256 = $1 OR url = $2 OR (files_url = $3 AND files_url <> '')
			ORDER BY sha256 = $1 DESC, url = $2 DESC LIMIT 1`,
			in.SHA256, in.URL, in.FilesURL).Scan(&otherApp, &otherVersion, &sameFile, &sameURL)
		if err == nil {
			if !sameFile && !sameURL {
				return errDuplicateFilesURL(in, otherApp, otherVersion)
			}
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
			if err := r.checkChannelNative(ctx, tx, &in, ch); err != nil {
				return err
			}
		}
		var id int64
		err = tx.QueryRowContext(ctx, `INSERT INTO releases (app_id, version, url, session_key, checksum, size, sha256,
			zip_sha256, key_id, key_fingerprint, min_native, files_url, file_count, created_at, native_packages)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
			in.AppID, in.Version, in.URL, in.SessionKey, in.Checksum, in.Size, in.SHA256,
			in.ZipSHA256, in.KeyID, in.KeyFingerprint, in.MinNative, in.FilesURL, len(in.Files), toMillis(now), native).Scan(&id)
		if r.d.isUnique(err) {
			// A concurrent registration won; the constraint names which rule.
			switch msg := err.Error(); {
			case strings.Contains(msg, "files_url"):
				return errDuplicateFilesURL(in, "", "")
			case strings.Contains(msg, "sha256") || strings.Contains(msg, "url"):
				return errDuplicateBundle(in, "", "", strings.Contains(msg, "sha256"))
			}
			return errDuplicate(in.AppID, in.Version)
		}
		if err != nil {
			return err
		}
		if err := r.insertFiles(ctx, tx, id, in.Files); err != nil {
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

func errDuplicateFilesURL(in RegisterInput, otherApp, otherVersion string) error {
	other := "another release"
	if otherApp != "" {
		other = otherApp + " " + otherVersion
	}
	return hinted(ErrDuplicateBundle, "%s is already the files URL of %s: upload each release's objects to a folder of its own (objects overwritten there would break %s and rollbacks to it)",
		in.FilesURL, other, other)
}

func errDuplicate(appID, version string) error {
	return hinted(ErrDuplicateVersion, "version %s of %s is already registered: bump the version (package.json) and build a new bundle", version, appID)
}
