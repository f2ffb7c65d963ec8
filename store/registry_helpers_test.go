package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// backend opens registries on one fresh, empty database; every call of
// open returns a new Registry (a new connection pool) on that same
// database, like several server processes sharing it.
type backend struct {
	name string
	dsn  string
}

func (b backend) open(t testing.TB) Registry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Open(ctx, b.dsn)
	if err != nil {
		t.Fatalf("open %s registry: %v", b.name, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// eachBackend runs test once on a fresh SQLite file and once on a fresh
// PostgreSQL schema (CAPSHIP_TEST_POSTGRES; skipped without it unless
// CAPSHIP_TEST_STRICT=1).
func eachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		test(t, backend{name: "sqlite", dsn: filepath.Join(t.TempDir(), "registry.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		test(t, backend{name: "postgres", dsn: postgresSchema(t)})
	})
}

// postgresSchema creates a schema with a random name in the test server's
// database, drops it when the test ends, and returns a DSN whose
// search_path points at it, so parallel tests and packages never collide.
func postgresSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv("CAPSHIP_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatal("CAPSHIP_TEST_POSTGRES is not set (scripts/test starts PostgreSQL and sets it)")
		}
		t.Skip("CAPSHIP_TEST_POSTGRES not set: run scripts/test for the PostgreSQL backend")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema := "capship_test_" + randomHex(8)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// input returns a well-formed registration of app at version, sealed with
// test key number key, onto channel.
func input(app, version, channel string, key int) RegisterInput {
	iv := make([]byte, 16)
	block := make([]byte, 256)
	rand.Read(iv)
	rand.Read(block)
	return RegisterInput{
		AppID:          app,
		Version:        version,
		URL:            "https://cdn.example.com/" + app + "/" + version + ".zip.enc",
		SessionKey:     base64.StdEncoding.EncodeToString(iv) + ":" + base64.StdEncoding.EncodeToString(block),
		Checksum:       strings.Repeat(sha(app+version), 8),
		Size:           4096,
		SHA256:         sha("enc" + app + version),
		ZipSHA256:      sha("zip" + app + version),
		KeyID:          fmt.Sprintf("MIIBCgKCAQEAkey%05d", key),
		KeyFingerprint: "sha256:" + sha(fmt.Sprint("key", key)),
		Channel:        channel,
	}
}

// historyLines shows a channel's history as "ACTION VERSION", with
// " (rolled back)" on entries a rollback undid.
func historyLines(h []HistoryEntry) []string {
	var out []string
	for _, e := range h {
		s := e.Action + " " + e.Version
		if e.RolledBackAt != nil {
			s += " (rolled back)"
		}
		out = append(out, s)
	}
	return out
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustRegister(t testing.TB, r Registry, in RegisterInput) *Release {
	t.Helper()
	rel, err := r.Register(ctxT(t), in)
	if err != nil {
		t.Fatalf("register %s %s on %q: %v", in.AppID, in.Version, in.Channel, err)
	}
	return rel
}

func mustChannel(t testing.TB, r Registry, app, name string) *Channel {
	t.Helper()
	c, err := r.Channel(ctxT(t), app, name)
	if err != nil {
		t.Fatalf("channel %s: %v", name, err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }
