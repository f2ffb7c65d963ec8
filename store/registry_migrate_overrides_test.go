package store

import (
	"database/sql"
	"testing"
)

// TestMigrateOverridesToLowerCase: a registry of schema 4 whose overrides
// were stored as devices sent their id (iOS: upper case, before the
// server lowered it) upgrades: each device keeps one override under its
// lower-case id (the lower-case row, else the one set last), counted.
func TestMigrateOverridesToLowerCase(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db, _ := schemaUpTo(t, b, 4)
		in := input(app, "1.0.0", "production", 1)
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.ExecContext(ctxT(t), q, args...); err != nil {
				t.Fatalf("schema 4: %v", err)
			}
		}
		exec(`INSERT INTO apps (id, key_id, key_fingerprint, created_at, revision) VALUES ($1, $2, $3, 1, 1)`, app, in.KeyID, in.KeyFingerprint)
		exec(`INSERT INTO channels (app_id, name, public, updated_at) VALUES ($1, 'production', TRUE, 1)`, app)
		exec(`INSERT INTO channels (app_id, name, public, updated_at) VALUES ($1, 'beta', FALSE, 1)`, app)
		for _, o := range []struct {
			device, channel string
			at              int
		}{
			{"AAAA-1", "production", 1}, {"aaaa-1", "beta", 2}, // a lower-case row wins
			{"BBBB-2", "production", 1}, {"Bbbb-2", "beta", 3}, // no lower-case row: the last set wins
			{"CCCC-3", "beta", 1},
			{"dddd-4", "beta", 1},
		} {
			exec(`INSERT INTO device_channels (app_id, device_id, channel_id, updated_at)
				SELECT $1, $2, id, $4 FROM channels WHERE app_id = $1 AND name = $3`, app, o.device, o.channel, o.at)
		}
		r := b.open(t)
		for device, want := range map[string]string{"aaaa-1": "beta", "BBBB-2": "beta", "cccc-3": "beta", "DDDD-4": "beta"} {
			if o, err := r.DeviceChannel(ctxT(t), app, device); err != nil || o.Channel != want {
				t.Fatalf("device %s after upgrade: %+v, %v; want %s", device, o, err, want)
			}
		}
		if n := overrideCount(t, r, app); n != 4 {
			t.Fatalf("%d overrides after upgrade, want 4", n)
		}
	})
}

// schemaUpTo opens b's database with the schema an older capship left
// behind: the migrations up to upTo. It returns the connection, closed
// when the test ends, and the backend's dialect.
func schemaUpTo(t *testing.T, b backend, upTo int) (*sql.DB, *dialect) {
	t.Helper()
	driver, dsn, d := "pgx", b.dsn, &postgresDialect
	if b.name == "sqlite" {
		driver, dsn, d = "sqlite", b.dsn+"?"+sqliteParams, &sqliteDialect
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := migrateUpTo(ctxT(t), db, d, upTo); err != nil {
		t.Fatal(err)
	}
	return db, d
}
