package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"capship/store"
)

// Device channel overrides (channel_self) are not part of an app's
// snapshot: there may be millions, and devices write them. An update check
// looks its device's override up by key (one indexed row) through a
// bounded per-app cache that also remembers "none", the answer for most
// devices.
//
// Why a sequence and not a TTL: every check already confirms its app with
// one indexed read of the app's revision (or, on SQLite, knows from the
// file watch that nothing was written); the override sequence comes in the
// same row, raised in the same transaction as each override set, removed
// or pruned, by whichever instance or process. When it moved, the devices
// set since are read (one index range, shared by the checks waiting) and
// only their entries are forgotten; a removal or prune (rare) forgets the
// app's whole override cache. The snapshot stays either way. So a write on
// another instance is seen by the next check, as releases are, and a
// trickle of new overrides costs the other devices nothing; a TTL would
// serve stale overrides for its length and re-read live ones on expiry.
type overrideCache struct {
	mu      sync.Mutex
	seq     int64 // the app's override sequence the entries are current at
	cleared int64 // the app's OverridesCleared at seq
	// Two generations bound the entries: when cur is full it becomes old
	// and a new cur starts; a hit in old moves to cur. So the devices seen
	// lately stay, and at most 2*maxCachedOverrides are held per app.
	cur, old map[string]overrideEntry
}

// overrideEntry is one device's override: channel "" for none.
type overrideEntry struct {
	channel string
	seen    int64 // unix ms the registry last recorded it in use (set or touched)
}

const (
	// maxCachedOverrides is the size of one generation of an app's
	// cache: about 100 bytes an entry, so at most ~6 MB per app.
	maxCachedOverrides = 32 << 10
	// maxChangedOverrides is the most devices set since the known
	// sequence that are forgotten one by one; past it, all are.
	maxChangedOverrides = 256
)

func newOverrideCache() *overrideCache {
	return &overrideCache{seq: -1, cur: map[string]overrideEntry{}}
}

// syncOverrides brings the app's override cache to the registry's
// revisions rev: nothing to do when the sequence did not move; the devices
// set since forgotten when only sets happened; everything forgotten after
// a removal or prune, or when the changes cannot be listed.
func (c *appCache) syncOverrides(ctx context.Context, appID string, o *overrideCache, rev store.Revisions) {
	o.mu.Lock()
	seq, cleared := o.seq, o.cleared
	o.mu.Unlock()
	if rev.Overrides <= seq {
		return
	}
	var changed []string
	all := seq < 0 || rev.OverridesCleared != cleared
	if !all {
		var err error
		changed, err = c.reg.ChangedDeviceChannels(ctx, appID, seq, maxChangedOverrides+1)
		all = err != nil || len(changed) > maxChangedOverrides
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case rev.Overrides <= o.seq: // another sync got there first
		return
	case all || o.seq != seq: // another sync moved it meanwhile: the list may miss changes
		o.cur, o.old = map[string]overrideEntry{}, nil
	default:
		for _, d := range changed {
			delete(o.cur, d)
			delete(o.old, d)
		}
	}
	o.seq, o.cleared = rev.Overrides, rev.OverridesCleared
}

// get returns the device's cached entry, and the sequence to store a
// fresh read under.
func (o *overrideCache) get(device string) (overrideEntry, int64, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.cur[device]
	if !ok {
		if e, ok = o.old[device]; ok {
			o.putLocked(device, e)
		}
	}
	return e, o.seq, ok
}

// put stores a read made at sequence seq, unless the sequence moved since:
// the read may then predate a write that the sync just forgot.
func (o *overrideCache) put(device string, e overrideEntry, seq int64) {
	o.mu.Lock()
	if seq == o.seq {
		o.putLocked(device, e)
	}
	o.mu.Unlock()
}

func (o *overrideCache) putLocked(device string, e overrideEntry) {
	if _, ok := o.cur[device]; !ok && len(o.cur) >= maxCachedOverrides {
		o.old, o.cur = o.cur, make(map[string]overrideEntry, len(o.cur))
	}
	o.cur[device] = e
}

// len is the number of cached entries (for tests).
func (o *overrideCache) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.cur) + len(o.old)
}

// overrideOf returns the name of the device's override channel ("" for
// none), from the app's cache or one indexed registry read. It records,
// at most once per touchEvery for a device, that a stale-looking override
// is in use, so expiry only removes the overrides of devices gone quiet.
func (c *appCache) overrideOf(ctx context.Context, app *appSnapshot, deviceID string) (string, error) {
	o := app.overrides
	if o == nil {
		return "", nil
	}
	e, seq, ok := o.get(deviceID)
	if !ok {
		ov, err := c.reg.DeviceChannel(ctx, app.ID, deviceID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return "", fmt.Errorf("read the device's channel: %w", err)
		default:
			e = overrideEntry{channel: ov.Channel, seen: ov.UpdatedAt.UnixMilli()}
		}
	}
	if e.channel != "" && c.expiry > 0 {
		if now := c.now(); now.UnixMilli()-e.seen > touchEvery(c.expiry).Milliseconds() && c.touch(app.ID, deviceID, now) {
			e.seen = now.UnixMilli()
			ok = false
		}
	}
	if !ok {
		o.put(deviceID, e, seq)
	}
	return e.channel, nil
}

// touchEvery is how stale an override's last record of use may get before
// a check renews it: a small part of the expiry, and at most a day, so a
// device in use never expires and costs at most one write a day.
func touchEvery(expiry time.Duration) time.Duration {
	return min(expiry/8, 24*time.Hour)
}

// touch renews an override's use in the background; false when enough
// touches are already running (a later check tries again).
func (c *appCache) touch(appID, deviceID string, at time.Time) bool {
	select {
	case c.touches <- struct{}{}:
	default:
		return false
	}
	go func() {
		defer func() { <-c.touches }()
		ctx, cancel := context.WithTimeout(context.Background(), revisionTimeout)
		defer cancel()
		if err := c.reg.TouchDeviceChannel(ctx, appID, deviceID, at); err != nil {
			c.log.Warn("device channel use not recorded", "app_id", appID, "err", err.Error())
		}
	}()
	return true
}

const (
	maxTouches      = 4                      // override touches running at once
	overridePruneN  = 1000                   // stale overrides deleted per transaction
	overridePruneAt = time.Hour              // how often stale overrides are looked for
	overridePause   = 200 * time.Millisecond // between two prune transactions
)

// pruneOverrides deletes, now and every overridePruneAt until ctx ends,
// the overrides not set or used for c.expiry, in small transactions with
// pauses between them, so that checks and writes go on meanwhile.
func (c *appCache) pruneOverrides(ctx context.Context) {
	for {
		before, total := c.now().Add(-c.expiry), 0
		for ctx.Err() == nil {
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			n, err := c.reg.PruneDeviceChannels(rctx, before, overridePruneN)
			cancel()
			total += n
			if err != nil {
				if ctx.Err() == nil {
					c.log.Warn("stale device channel overrides not deleted; trying again in an hour", "err", err.Error())
				}
				break
			}
			if n < overridePruneN || sleep(ctx, overridePause) != nil {
				break
			}
		}
		if total > 0 {
			c.log.Info("stale device channel overrides deleted", "overrides", total, "before", before.Format(time.RFC3339))
		}
		if sleep(ctx, overridePruneAt) != nil {
			return
		}
	}
}

// sleep waits d, or less when ctx ends (then it returns ctx's error).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
