package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"capship/store"
)

// countingRegistry counts the reads and writes an update check may cost.
type countingRegistry struct {
	store.Registry
	apps, pointReads, touches, changes atomic.Int64
	onChanges                          func() // run before ChangedDeviceChannels, when set
}

func (c *countingRegistry) ChangedDeviceChannels(ctx context.Context, appID string, since int64, limit int) ([]string, error) {
	c.changes.Add(1)
	if c.onChanges != nil {
		c.onChanges()
	}
	return c.Registry.ChangedDeviceChannels(ctx, appID, since, limit)
}

func (c *countingRegistry) App(ctx context.Context, appID string) (*store.App, error) {
	c.apps.Add(1)
	return c.Registry.App(ctx, appID)
}

func (c *countingRegistry) DeviceChannel(ctx context.Context, appID, deviceID string) (*store.DeviceOverride, error) {
	c.pointReads.Add(1)
	return c.Registry.DeviceChannel(ctx, appID, deviceID)
}

func (c *countingRegistry) TouchDeviceChannel(ctx context.Context, appID, deviceID string, at time.Time) error {
	c.touches.Add(1)
	return c.Registry.TouchDeviceChannel(ctx, appID, deviceID, at)
}

// betaHarness serves 1.0.0 on production and 1.1.0-beta.1 on beta, a
// channel devices may choose.
func betaHarness(t *testing.T, reg store.Registry, cfg Config) *harness {
	t.Helper()
	h := newHarness(t, reg, cfg)
	h.register("1.0.0", "production")
	yes := true
	if _, err := reg.CreateChannel(context.Background(), h.app, "beta", store.ChannelSettings{AllowSelfSet: &yes}); err != nil {
		t.Fatal(err)
	}
	h.register("1.1.0-beta.1", "beta")
	return h
}

// setChannel POSTs /channel_self for a device and returns the answer.
func (h *harness) setChannel(device, channel string) string {
	h.t.Helper()
	_, out := h.do("POST", "/channel_self", "", h.deviceBody(func(m map[string]any) { m["device_id"] = device; m["channel"] = channel }))
	return string(out)
}

func (h *harness) versionOf(device string) string {
	h.t.Helper()
	return fmt.Sprint(h.check(h.deviceBody(func(m map[string]any) { m["device_id"] = device }))["version"])
}

// TestOverridesReadByKey: with many overrides in the registry, an update
// check reads its own device's override once (then from the cache, "none"
// included), an override write costs the checks one point read of their
// device and no snapshot reload, and the app's revision does not move.
func TestOverridesReadByKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, reg store.Registry) {
		ctx := context.Background()
		counted := &countingRegistry{Registry: reg}
		h := betaHarness(t, counted, Config{})
		for i := range 500 {
			if err := reg.SetDeviceChannel(ctx, h.app, fmt.Sprint("other-", i), "beta", true, 0); err != nil {
				t.Fatal(err)
			}
		}
		if got := h.versionOf("plain"); got != "1.0.0" {
			t.Fatalf("device without override: %s", got)
		}
		apps, reads := counted.apps.Load(), counted.pointReads.Load()
		for range 20 {
			if got := h.versionOf("plain"); got != "1.0.0" {
				t.Fatalf("device without override: %s", got)
			}
		}
		if n := counted.pointReads.Load() - reads; n != 0 {
			t.Fatalf("20 checks of a device without override read the registry %d times; want 0 (cached)", n)
		}
		if n := counted.changes.Load(); n != 0 {
			t.Fatalf("checks without override writes listed changed overrides %d times", n)
		}
		rev, err := reg.Revision(ctx, h.app)
		if err != nil {
			t.Fatal(err)
		}
		if out := h.setChannel("mover", "beta"); !strings.Contains(out, `"status":"ok"`) {
			t.Fatalf("set: %s", out)
		}
		reads = counted.pointReads.Load() // channel_self reads the registry itself
		if got := h.versionOf("mover"); got != "1.1.0-beta.1" {
			t.Fatalf("device on beta after its own set: %s", got)
		}
		if got := h.versionOf("plain"); got != "1.0.0" {
			t.Fatalf("device without override after another's write: %s", got)
		}
		if n := counted.apps.Load() - apps; n != 0 {
			t.Fatalf("an override write reloaded the app snapshot %d times", n)
		}
		if now, err := reg.Revision(ctx, h.app); err != nil || now != rev {
			t.Fatalf("an override write moved the revision %d -> %d (%v)", rev, now, err)
		}
		if n := counted.pointReads.Load() - reads; n != 1 {
			t.Fatalf("2 devices after one device's write cost %d override reads; want 1 (the writer's)", n)
		}
		// A removal forgets the app's cached overrides: each device
		// reads its own again, once.
		if _, out := h.do("DELETE", "/channel_self", "", h.deviceBody(func(m map[string]any) { m["device_id"] = "mover" })); !strings.Contains(string(out), `"status":"ok"`) {
			t.Fatalf("unset: %s", out)
		}
		reads = counted.pointReads.Load()
		for range 3 {
			if h.versionOf("mover") != "1.0.0" || h.versionOf("plain") != "1.0.0" {
				t.Fatal("not on production after the removal")
			}
		}
		if n := counted.pointReads.Load() - reads; n != 2 {
			t.Fatalf("2 devices after a removal cost %d override reads; want 2", n)
		}
		if out := h.setChannel("mover", "production"); !strings.Contains(out, channelSelfSetDenied) {
			t.Fatalf("self-set onto production (not self-settable): %s", out)
		}
	})
}

const channelSelfSetDenied = `"error":"` + codeSelfSetDenied + `"`

// TestOverrideSeenByOtherInstance: two servers on one registry file (each
// with its own connections and file watch, like two processes): an
// override set or removed through one is what the other's next check
// serves.
func TestOverrideSeenByOtherInstance(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			dsn := backendDSN(t, backend)
			a := betaHarness(t, openDSN(t, dsn), Config{})
			b := newHarness(t, openDSN(t, dsn), Config{})
			b.app, b.key = a.app, a.key
			dev := "roaming-device"
			if got := b.versionOf(dev); got != "1.0.0" {
				t.Fatalf("b before: %s", got)
			}
			for round := range 3 {
				if out := a.setChannel(dev, "beta"); !strings.Contains(out, `"status":"ok"`) {
					t.Fatalf("set on a: %s", out)
				}
				if got := b.versionOf(dev); got != "1.1.0-beta.1" {
					t.Fatalf("round %d: b after the set on a: %s", round, got)
				}
				if _, out := a.do("DELETE", "/channel_self", "", a.deviceBody(func(m map[string]any) { m["device_id"] = dev })); !strings.Contains(string(out), `"status":"ok"`) {
					t.Fatalf("unset on a: %s", out)
				}
				if got := b.versionOf(dev); got != "1.0.0" {
					t.Fatalf("round %d: b after the unset on a: %s", round, got)
				}
			}
		})
	}
}

// TestOverrideCapAnswered: past MaxOverrides a new device gets
// too_many_overrides, kind blocked; devices that have one may still move.
func TestOverrideCapAnswered(t *testing.T) {
	h := betaHarness(t, openRegistry(t, "sqlite"), Config{MaxOverrides: 2})
	for _, dev := range []string{"one", "two"} {
		if out := h.setChannel(dev, "beta"); !strings.Contains(out, `"status":"ok"`) {
			t.Fatalf("%s: %s", dev, out)
		}
	}
	out := h.setChannel("three", "beta")
	if !strings.Contains(out, `"error":"too_many_overrides"`) || !strings.Contains(out, `"kind":"blocked"`) {
		t.Fatalf("third override with a cap of 2: %s", out)
	}
	if got := h.versionOf("three"); got != "1.0.0" {
		t.Fatalf("refused device: %s", got)
	}
	if _, out := h.do("DELETE", "/channel_self", "", h.deviceBody(func(m map[string]any) { m["device_id"] = "one" })); !strings.Contains(string(out), `"status":"ok"`) {
		t.Fatalf("unset: %s", out)
	}
	if out := h.setChannel("three", "beta"); !strings.Contains(out, `"status":"ok"`) {
		t.Fatalf("after one left: %s", out)
	}
}

// TestOverrideExpiry: overrides not used for OverrideExpiry are deleted
// by the server, and the devices go back to their default channel.
func TestOverrideExpiry(t *testing.T) {
	reg := openRegistry(t, "sqlite")
	h := betaHarness(t, reg, Config{})
	ctx := context.Background()
	for _, dev := range []string{"stale-1", "stale-2"} {
		if err := reg.SetDeviceChannel(ctx, h.app, dev, "beta", true, 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.versionOf("stale-1"); got != "1.1.0-beta.1" {
		t.Fatalf("before expiry: %s", got)
	}
	time.Sleep(20 * time.Millisecond)
	expiring := newHarness(t, reg, Config{OverrideExpiry: 10 * time.Millisecond})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err1 := reg.DeviceChannel(ctx, h.app, "stale-1")
		_, err2 := reg.DeviceChannel(ctx, h.app, "stale-2")
		if errors.Is(err1, store.ErrNotFound) && errors.Is(err2, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stale overrides not pruned within 10 s: %v %v", err1, err2)
		}
		time.Sleep(20 * time.Millisecond)
	}
	expiring.srv.Close()
	if got := h.versionOf("stale-1"); got != "1.0.0" {
		t.Fatalf("after expiry: %s", got)
	}
}

// TestOverrideTouchedWhenUsed: a check of a device whose override was last
// recorded in use long ago records it once, not on every check.
func TestOverrideTouchedWhenUsed(t *testing.T) {
	reg := openRegistry(t, "sqlite")
	counted := &countingRegistry{Registry: reg}
	h := betaHarness(t, counted, Config{OverrideExpiry: 90 * 24 * time.Hour})
	ctx := context.Background()
	if err := reg.SetDeviceChannel(ctx, h.app, "used", "beta", true, 0); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(48 * time.Hour)
	h.srv.apps.now = func() time.Time { return later }
	for range 10 {
		if got := h.versionOf("used"); got != "1.1.0-beta.1" {
			t.Fatalf("check: %s", got)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ov, err := reg.DeviceChannel(ctx, h.app, "used")
		if err != nil {
			t.Fatal(err)
		}
		if ov.UpdatedAt.UnixMilli() == later.UnixMilli() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("override use not recorded: updated %v", ov.UpdatedAt)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := counted.touches.Load(); n != 1 {
		t.Fatalf("10 checks recorded the use %d times; want 1", n)
	}
	if got := h.versionOf("plain"); got != "1.0.0" || counted.touches.Load() != 1 {
		t.Fatalf("device without override: %s, touches %d", got, counted.touches.Load())
	}
}

// TestOverrideCacheBounded: checks from more distinct devices than the
// cache holds keep it within its bound.
func TestOverrideCacheBounded(t *testing.T) {
	h := betaHarness(t, openRegistry(t, "sqlite"), Config{})
	ctx := context.Background()
	app, err := h.srv.apps.get(ctx, h.app)
	if err != nil || app == nil {
		t.Fatal(app, err)
	}
	for i := range 2*maxCachedOverrides + 1000 {
		if _, err := h.srv.apps.overrideOf(ctx, app, fmt.Sprint("device-", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := app.overrides.len(); n > 2*maxCachedOverrides || n < maxCachedOverrides {
		t.Fatalf("%d cached overrides; want between %d and %d", n, maxCachedOverrides, 2*maxCachedOverrides)
	}
}

// TestOverrideCacheRace: a read made before a write, stored after the
// write's sequence was seen, must not be kept (it would be served until
// the next write); a read at the current sequence is.
func TestOverrideCacheRace(t *testing.T) {
	c := &appCache{} // syncs that forget everything need no registry
	o := newOverrideCache()
	c.syncOverrides(context.Background(), "app", o, store.Revisions{Overrides: 1})
	if _, _, ok := o.get("dev"); ok {
		t.Fatal("hit in an empty cache")
	}
	_, seq, _ := o.get("dev")
	// another check saw a removal
	c.syncOverrides(context.Background(), "app", o, store.Revisions{Overrides: 2, OverridesCleared: 1})
	o.put("dev", overrideEntry{}, seq)
	if e, _, ok := o.get("dev"); ok {
		t.Fatalf("a read from before sequence 2 was kept: %+v", e)
	}
	_, seq, _ = o.get("dev")
	o.put("dev", overrideEntry{channel: "beta"}, seq)
	if e, _, ok := o.get("dev"); !ok || e.channel != "beta" {
		t.Fatalf("a read at the current sequence was not kept: %+v %v", e, ok)
	}
	// an older read arriving late changes nothing
	c.syncOverrides(context.Background(), "app", o, store.Revisions{Overrides: 1})
	if _, _, ok := o.get("dev"); !ok {
		t.Fatal("an older sequence emptied the cache")
	}
}

// TestOverrideManyChanges: more overrides set between two checks than are
// forgotten one by one: the app's cached overrides are all forgotten, and
// the last device set is served its channel.
func TestOverrideManyChanges(t *testing.T) {
	reg := openRegistry(t, "sqlite")
	h := betaHarness(t, reg, Config{})
	ctx := context.Background()
	if got := h.versionOf("late"); got != "1.0.0" {
		t.Fatalf("before: %s", got)
	}
	for i := range maxChangedOverrides + 10 {
		if err := reg.SetDeviceChannel(ctx, h.app, fmt.Sprint("early-", i), "beta", true, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.SetDeviceChannel(ctx, h.app, "late", "beta", true, 0); err != nil {
		t.Fatal(err)
	}
	if got := h.versionOf("late"); got != "1.1.0-beta.1" {
		t.Fatalf("the last of %d devices set: %s", maxChangedOverrides+11, got)
	}
}

// TestOverrideSyncRace: a sync that moves the cache while another lists
// the changes since the older sequence makes that one forget everything
// (its list may lack changes), never skip them.
func TestOverrideSyncRace(t *testing.T) {
	reg := openRegistry(t, "sqlite")
	counted := &countingRegistry{Registry: reg}
	c := &appCache{reg: counted}
	o := newOverrideCache()
	ctx := context.Background()
	c.syncOverrides(ctx, "app", o, store.Revisions{Overrides: 1})
	_, seq, _ := o.get("dev")
	o.put("dev", overrideEntry{}, seq)
	counted.onChanges = func() {
		counted.onChanges = nil
		c.syncOverrides(ctx, "app", o, store.Revisions{Overrides: 2}) // lists nothing: "dev" kept
	}
	c.syncOverrides(ctx, "app", o, store.Revisions{Overrides: 3})
	if _, seq, ok := o.get("dev"); ok || seq != 3 {
		t.Fatalf("after a sync raced by another: dev cached %v at sequence %d; want forgotten at 3", ok, seq)
	}
}
