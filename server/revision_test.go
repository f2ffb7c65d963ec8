package server

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"capship/store"
)

// TestCommittedChangeReachesTheNextCheck: a change committed by another
// process (another connection pool on the same SQLite file or PostgreSQL
// database, and the capship binary itself) is what the very next update
// check gets. The cache TTL is an hour, and nothing sleeps.
func TestCommittedChangeReachesTheNextCheck(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			dsn := backendDSN(t, backend)
			h := newHarness(t, openDSN(t, dsn), Config{CacheTTL: time.Hour})
			other := openDSN(t, dsn) // the CLI, or another server instance
			ctx := context.Background()
			onVersion := func(v string) []byte {
				return h.deviceBody(func(m map[string]any) { m["version_name"] = v })
			}
			want := func(what string, body []byte, key, value string) {
				t.Helper()
				if got := h.check(body); got[key] != value {
					t.Fatalf("%s: the next check got %v, want %s %q", what, got, key, value)
				}
			}
			if _, err := other.Register(ctx, releaseInput(h.app, "1.0.0", "production", h.key)); err != nil {
				t.Fatal(err)
			}
			want("first release", onVersion("builtin"), "version", "1.0.0")
			want("on it", onVersion("1.0.0"), "kind", "up_to_date")

			if _, err := other.Register(ctx, releaseInput(h.app, "1.1.0", "production", h.key)); err != nil {
				t.Fatal(err)
			}
			want("register", onVersion("1.0.0"), "version", "1.1.0")
			if _, err := other.Rollback(ctx, h.app, "production"); err != nil {
				t.Fatal(err)
			}
			want("rollback", onVersion("1.1.0"), "version", "1.0.0")
			if _, err := other.Promote(ctx, h.app, "production", "1.1.0"); err != nil {
				t.Fatal(err)
			}
			want("promote", onVersion("1.0.0"), "version", "1.1.0")
			no := false
			if _, err := other.UpdateChannel(ctx, h.app, "production", store.ChannelSettings{Android: &no}); err != nil {
				t.Fatal(err)
			}
			want("channel set", onVersion("1.0.0"), "error", codePlatformAndroid)
			yes := true
			if _, err := other.UpdateChannel(ctx, h.app, "production", store.ChannelSettings{Android: &yes}); err != nil {
				t.Fatal(err)
			}
			want("channel set back", onVersion("1.0.0"), "version", "1.1.0")

			// The release manager's rollback, as its own process.
			bin := os.Getenv("CAPSHIP_TEST_BINARY")
			if bin == "" {
				if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
					t.Fatal("CAPSHIP_TEST_BINARY is not set (run scripts/test)")
				}
				t.Skip("CAPSHIP_TEST_BINARY not set: skipping the rollback by the capship binary")
			}
			cmd := exec.CommandContext(t.Context(), bin, "release", "rollback", "--channel", "production", "--app", h.app, "--db", dsn, "--json")
			cmd.Stdin = nil
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("capship release rollback: %v\n%s", err, out)
			}
			want("capship release rollback", onVersion("1.1.0"), "version", "1.0.0")
		})
	}
}
