package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// overrideCount is the app's override count as the registry keeps it,
// checked against the rows.
func overrideCount(t *testing.T, r Registry, appID string) int {
	t.Helper()
	db := r.(*sqlRegistry).db
	var kept, rows int
	if err := db.QueryRow(`SELECT override_count FROM apps WHERE id = $1`, appID).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM device_channels WHERE app_id = $1`, appID).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if kept != rows {
		t.Fatalf("override_count %d, but %d rows", kept, rows)
	}
	return rows
}

// selfSetBeta opens a registry whose app has production and beta (a
// channel devices may choose), and n devices named prefix-0… on beta,
// set with max.
func selfSetBeta(t *testing.T, b backend, prefix string, n, max int) Registry {
	t.Helper()
	r := b.open(t)
	mustRegister(t, r, input(app, "1.0.0", "production", 1))
	if _, err := r.CreateChannel(ctxT(t), app, "beta", ChannelSettings{AllowSelfSet: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := r.SetDeviceChannel(ctxT(t), app, fmt.Sprint(prefix, "-", i), "beta", true, max); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// TestOverrideSequence: every override set, changed, removed or pruned
// moves the app's override sequence and leaves its revision alone; a
// touch and an unset of nothing move neither.
func TestOverrideSequence(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := selfSetBeta(t, b, "", 0, 0)
		ctx := ctxT(t)
		last, err := r.Revisions(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		step := func(name string, moves, clears bool, fn func() error) {
			t.Helper()
			if err := fn(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			now, err := r.Revisions(ctx, app)
			if err != nil {
				t.Fatal(err)
			}
			if now.Serve != last.Serve {
				t.Fatalf("%s moved the revision %d -> %d", name, last.Serve, now.Serve)
			}
			if moved := now.Overrides > last.Overrides; moved != moves || now.Overrides < last.Overrides {
				t.Fatalf("%s: override sequence %d -> %d, want moved=%v", name, last.Overrides, now.Overrides, moves)
			}
			if cleared := now.OverridesCleared != last.OverridesCleared; cleared != clears {
				t.Fatalf("%s: overrides cleared %d -> %d, want moved=%v", name, last.OverridesCleared, now.OverridesCleared, clears)
			}
			last = now
		}
		step("set", true, false, func() error { return r.SetDeviceChannel(ctx, app, "Dev-1", "beta", true, 0) })
		step("change", true, false, func() error { return r.SetDeviceChannel(ctx, app, "dev-1", "production", false, 0) })
		step("touch", false, false, func() error { return r.TouchDeviceChannel(ctx, app, "dev-1", time.Now().Add(time.Minute)) })
		step("unset", true, true, func() error { return r.UnsetDeviceChannel(ctx, app, "DEV-1") })
		step("unset again", false, false, func() error { return r.UnsetDeviceChannel(ctx, app, "dev-1") })
		step("set again", true, false, func() error { return r.SetDeviceChannel(ctx, app, "dev-1", "beta", true, 0) })
		before := last.Overrides
		step("other device", true, false, func() error { return r.SetDeviceChannel(ctx, app, "dev-2", "beta", true, 0) })
		if got, err := r.ChangedDeviceChannels(ctx, app, before-1, 10); err != nil || fmt.Sprint(got) != "[dev-1 dev-2]" {
			t.Fatalf("changed since %d: %v, %v; want [dev-1 dev-2]", before-1, got, err)
		}
		if got, err := r.ChangedDeviceChannels(ctx, app, before, 10); err != nil || fmt.Sprint(got) != "[dev-2]" {
			t.Fatalf("changed since %d: %v, %v; want [dev-2]", before, got, err)
		}
		if got, err := r.ChangedDeviceChannels(ctx, app, last.Overrides, 10); err != nil || len(got) != 0 {
			t.Fatalf("changed since now: %v, %v", got, err)
		}
		step("prune", true, true, func() error {
			n, err := r.PruneDeviceChannels(ctx, time.Now().Add(time.Hour), 10)
			if err == nil && n != 2 {
				err = fmt.Errorf("pruned %d, want 2", n)
			}
			return err
		})
		if _, err := r.Revisions(ctx, "com.example.other"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown app: %v", err)
		}
	})
}

// TestOverrideCap: past max overrides an app gets no new one, while the
// devices that have one may still change or remove it; room made by a
// removal is usable again.
func TestOverrideCap(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := selfSetBeta(t, b, "dev", 3, 3)
		ctx := ctxT(t)
		if err := r.SetDeviceChannel(ctx, app, "dev-3", "beta", true, 3); !errors.Is(err, ErrTooManyOverrides) {
			t.Fatalf("fourth override with a cap of 3: %v", err)
		}
		if err := r.SetDeviceChannel(ctx, app, "DEV-0", "production", false, 3); err != nil {
			t.Fatalf("changing an existing override at the cap: %v", err)
		}
		if n := overrideCount(t, r, app); n != 3 {
			t.Fatalf("%d overrides, want 3", n)
		}
		if err := r.UnsetDeviceChannel(ctx, app, "dev-1"); err != nil {
			t.Fatal(err)
		}
		if err := r.SetDeviceChannel(ctx, app, "dev-3", "beta", true, 3); err != nil {
			t.Fatalf("override after one was removed: %v", err)
		}
		if err := r.SetDeviceChannel(ctx, app, "dev-4", "beta", true, 0); err != nil {
			t.Fatalf("no cap: %v", err)
		}
		if n := overrideCount(t, r, app); n != 4 {
			t.Fatalf("%d overrides, want 4", n)
		}
	})
}

// TestPruneDeviceChannels deletes the overrides neither set nor touched
// since a time, in batches, and keeps the count exact.
func TestPruneDeviceChannels(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := selfSetBeta(t, b, "old", 5, 0)
		ctx := ctxT(t)
		cut := time.Now().Add(time.Second)
		time.Sleep(1100 * time.Millisecond) // past cut, in the registry's milliseconds
		if err := r.SetDeviceChannel(ctx, app, "new", "beta", true, 0); err != nil {
			t.Fatal(err)
		}
		if err := r.TouchDeviceChannel(ctx, app, "old-4", time.Now()); err != nil {
			t.Fatal(err)
		}
		// A late touch with an older time does not move the record back.
		if err := r.TouchDeviceChannel(ctx, app, "new", cut.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		var total int
		for {
			n, err := r.PruneDeviceChannels(ctx, cut, 2)
			if err != nil {
				t.Fatal(err)
			}
			if n > 2 {
				t.Fatalf("pruned %d in a batch of 2", n)
			}
			total += n
			if n < 2 {
				break
			}
		}
		if total != 4 {
			t.Fatalf("pruned %d, want 4 (old-0 to old-3)", total)
		}
		for _, dev := range []string{"new", "old-4"} {
			if _, err := r.DeviceChannel(ctx, app, dev); err != nil {
				t.Fatalf("%s: %v", dev, err)
			}
		}
		if _, err := r.DeviceChannel(ctx, app, "old-0"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("old-0 kept: %v", err)
		}
		if n := overrideCount(t, r, app); n != 2 {
			t.Fatalf("%d overrides left, want 2", n)
		}
	})
}
