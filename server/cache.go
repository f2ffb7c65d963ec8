package server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"capship/store"
)

// maxCachedApps bounds the cache: unknown app ids sent by devices (or by
// someone probing) must not grow it without limit.
const maxCachedApps = 4096

// appCache keeps one snapshot per app for ttl. A stale snapshot keeps being
// served while one goroutine reloads it, so a slow database never sits on
// the hot path once an app is warm. Writes made through this server
// (admin API, channel_self) invalidate at once; writes by other processes
// (the CLI on the same SQLite file, other instances on PostgreSQL) show up
// within ttl.
type appCache struct {
	reg store.Registry
	ttl time.Duration
	now func() time.Time

	mu      sync.RWMutex
	entries map[string]*cacheEntry

	// loads bounds the registry reads in flight, so a flood of unknown app
	// ids queues here instead of piling onto the database.
	loads chan struct{}
}

const maxConcurrentLoads = 8

type cacheEntry struct {
	snap      atomic.Pointer[appSnapshot] // nil snapshot + loaded: app unknown
	loadedAt  atomic.Int64                // unix nanoseconds
	reloading atomic.Bool
	ready     chan struct{} // closed after the first load
	err       error         // first load's error (only read after ready)
}

func newAppCache(reg store.Registry, ttl time.Duration) *appCache {
	return &appCache{reg: reg, ttl: ttl, now: time.Now, entries: make(map[string]*cacheEntry),
		loads: make(chan struct{}, maxConcurrentLoads)}
}

// get returns the app's snapshot (nil when the app is unknown).
func (c *appCache) get(ctx context.Context, appID string) (*appSnapshot, error) {
	c.mu.RLock()
	e := c.entries[appID]
	c.mu.RUnlock()
	if e == nil {
		e = c.insert(ctx, appID)
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if e.err != nil {
		return nil, e.err
	}
	if c.now().UnixNano()-e.loadedAt.Load() > int64(c.ttl) && e.reloading.CompareAndSwap(false, true) {
		go c.reload(appID, e)
	}
	return e.snap.Load(), nil
}

// insert creates the entry and loads it synchronously; concurrent callers
// for the same app wait for that one load.
func (c *appCache) insert(ctx context.Context, appID string) *cacheEntry {
	c.mu.Lock()
	if e := c.entries[appID]; e != nil {
		c.mu.Unlock()
		return e
	}
	if len(c.entries) >= maxCachedApps {
		c.evictUnknownLocked()
	}
	e := &cacheEntry{ready: make(chan struct{})}
	c.entries[appID] = e
	c.mu.Unlock()

	// Load with a context of its own: the first caller hanging up must not
	// fail the load for everyone waiting on it.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	var snap *appSnapshot
	var err error
	select {
	case c.loads <- struct{}{}:
		snap, err = loadSnapshot(lctx, c.reg, appID)
		<-c.loads
	case <-lctx.Done():
		err = fmt.Errorf("load app %s: %w", appID, lctx.Err())
	}
	cancel()
	if err != nil {
		e.err = err
		c.mu.Lock()
		if c.entries[appID] == e {
			delete(c.entries, appID) // the next request tries again
		}
		c.mu.Unlock()
	} else {
		e.snap.Store(snap)
		e.loadedAt.Store(c.now().UnixNano())
	}
	close(e.ready)
	return e
}

// evictUnknownLocked drops cached "unknown app" entries, then anything, to
// make room.
func (c *appCache) evictUnknownLocked() {
	for id, e := range c.entries {
		select {
		case <-e.ready:
			if e.snap.Load() == nil {
				delete(c.entries, id)
			}
		default:
		}
	}
	for id := range c.entries {
		if len(c.entries) < maxCachedApps {
			break
		}
		delete(c.entries, id)
	}
}

func (c *appCache) reload(appID string, e *cacheEntry) {
	defer e.reloading.Store(false)
	select {
	case c.loads <- struct{}{}:
		defer func() { <-c.loads }()
	default:
		return // the registry is busy: keep serving this snapshot a little longer
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, err := loadSnapshot(ctx, c.reg, appID)
	if err != nil {
		return // keep serving the last good snapshot; try again next request
	}
	e.snap.Store(snap)
	e.loadedAt.Store(c.now().UnixNano())
}

// invalidate drops the app's snapshot so the next request loads it afresh.
func (c *appCache) invalidate(appID string) {
	c.mu.Lock()
	delete(c.entries, appID)
	c.mu.Unlock()
}

// loadSnapshot reads one app from the registry. A nil snapshot with a nil
// error means the app is not registered.
func loadSnapshot(ctx context.Context, reg store.Registry, appID string) (*appSnapshot, error) {
	app, err := reg.App(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load app %s: %w", appID, err)
	}
	chans, err := reg.Channels(ctx, appID)
	if err != nil {
		return nil, fmt.Errorf("load channels of %s: %w", appID, err)
	}
	snap := &appSnapshot{ID: app.ID}
	for i := range chans {
		snap.Channels = append(snap.Channels, fromStoreChannel(&chans[i]))
	}
	ov, err := reg.DeviceChannels(ctx, appID)
	if err != nil {
		return nil, fmt.Errorf("load device channels of %s: %w", appID, err)
	}
	// Devices are looked up by their lower-case id (see DeviceInfo).
	snap.Overrides = make(map[string]string, len(ov))
	for device, name := range ov {
		snap.Overrides[strings.ToLower(device)] = name
	}
	snap.index()
	return snap, nil
}

func fromStoreChannel(c *store.Channel) *channel {
	return &channel{
		ID:                 channelNumber(c.AppID, c.Name),
		Name:               c.Name,
		Public:             c.Public,
		AllowSelfSet:       c.AllowSelfSet,
		IOS:                c.IOS,
		Android:            c.Android,
		Electron:           c.Electron,
		AllowEmulator:      c.AllowEmulator,
		AllowDev:           c.AllowDev,
		DisableUnderNative: c.DisableUnderNative,
		RolloutPercent:     c.Rollout,
		Current:            fromStoreRelease(c.Release),
		Previous:           fromStoreRelease(c.Previous),
	}
}

func fromStoreRelease(r *store.Release) *release {
	if r == nil {
		return nil
	}
	return &release{
		Version:    r.Version,
		URL:        r.URL,
		SessionKey: r.SessionKey,
		Checksum:   r.Checksum,
		KeyID:      r.KeyID,
		MinNative:  r.MinNative,
	}
}

// channelNumber is the numeric channel id the plugin's channel list wants
// (it rejects non-numbers): stable for an app and name, and below 2^53 so
// JavaScript reads it exactly.
func channelNumber(appID, name string) int64 {
	sum := sha256.Sum256([]byte(appID + "\x00" + name))
	return int64(binary.BigEndian.Uint64(sum[:8]) >> 12)
}
