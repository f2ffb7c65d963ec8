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
	"strconv"
	"strings"
	"time"
)

// tokenPrefix starts every secret, so that leaked tokens are easy to spot.
const tokenPrefix = "capship_"

// tokenBytes is the entropy of a token; its secret is the prefix and these
// bytes in unpadded base64url, so every real secret has the same length.
const tokenBytes = 32

var tokenLen = len(tokenPrefix) + base64.RawURLEncoding.EncodedLen(tokenBytes)

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
	var raw [tokenBytes]byte
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
			"a token named %q exists: pick another name or revoke it first", name))
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
		return fmt.Errorf("revoke token: %w", hinted(ErrNotFound, "no active token %q", nameOrID))
	}
	return nil
}

func (r *sqlRegistry) Authenticate(ctx context.Context, secret string) (*Token, error) {
	// Garbage is refused without a database round trip.
	if len(secret) != tokenLen || !strings.HasPrefix(secret, tokenPrefix) {
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
