package server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"capship/store"
)

// maxCachedApps bounds the cache: unknown app ids sent by devices (or by
// someone probing) must not grow it without limit.
const maxCachedApps = 4096

// appCache keeps one snapshot per app and checks on every update check
// that it is still current: it reads the app's registry revision (one
// indexed row; concurrent checks share one read, see freshCall) and
// reloads the snapshot when the revision moved. So a release registered,
// promoted or rolled back, or a channel changed, by this server, by the
// CLI on the same SQLite file or by another instance on the same
// PostgreSQL, is what the very next check sees. Device overrides do not
// move the revision and are not in the snapshot: they are read by key
// (overrides.go), and the same read tells when they changed.
type appCache struct {
	reg    store.Registry
	watch  *store.Watch // nil: read the revision on every check
	log    *slog.Logger
	expiry time.Duration // of unused device overrides; 0: they never expire
	now    func() time.Time

	mu      sync.RWMutex
	entries map[string]*cacheEntry

	// loads bounds the snapshot loads in flight, so a flood of unknown app
	// ids queues here instead of piling onto the database.
	loads chan struct{}

	touches   chan struct{} // override touches running (overrides.go)
	stopPrune context.CancelFunc
	pruned    chan struct{} // closed when pruneOverrides returned
}

const (
	maxConcurrentLoads = 8
	loadTimeout        = 10 * time.Second
	revisionTimeout    = 5 * time.Second
	noApp              = -1 // the revision of an app the registry does not know
)

// snapState is one loaded snapshot with the revision it was loaded at.
type snapState struct {
	snap     *appSnapshot // nil: app unknown
	rev      int64
	loadedAt int64 // unix nanoseconds
}

type cacheEntry struct {
	state     atomic.Pointer[snapState]
	checked   atomic.Uint64               // watch generation at which state was last confirmed current
	revision  *freshCall[store.Revisions] // the app's registry revisions, read fresh
	reload    *freshCall[*snapState]      // a snapshot load, shared by the checks that need it
	overrides *overrideCache              // the app's device overrides, kept across snapshots
	ready     chan struct{}               // closed after the first load
	err       error                       // first load's error (only read after ready)
}

// newAppCache makes the cache and, with an expiry, starts deleting unused
// device overrides; close stops that.
func newAppCache(reg store.Registry, watch *store.Watch, log *slog.Logger, expiry time.Duration) *appCache {
	c := &appCache{reg: reg, watch: watch, log: log, expiry: expiry, now: time.Now, entries: make(map[string]*cacheEntry),
		loads: make(chan struct{}, maxConcurrentLoads), touches: make(chan struct{}, maxTouches), pruned: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	c.stopPrune = cancel
	go func() {
		defer close(c.pruned)
		if expiry > 0 {
			c.pruneOverrides(ctx)
		}
	}()
	return c
}

// close stops the pruning of unused overrides and waits for the override
// touches running (taking every slot also stops new ones).
func (c *appCache) close() {
	c.stopPrune()
	<-c.pruned
	for range maxTouches {
		c.touches <- struct{}{}
	}
}

// generation is the watch's change number, read before a check confirms
// its snapshot; 0 without a watch.
func (c *appCache) generation() uint64 {
	if c.watch == nil {
		return 0
	}
	return c.watch.Generation()
}

// confirmed records that the snapshot was current as of generation g.
func (e *cacheEntry) confirmed(g uint64) {
	for cur := e.checked.Load(); g > cur && !e.checked.CompareAndSwap(cur, g); cur = e.checked.Load() {
	}
}

// get returns the app's current snapshot (nil when the app is unknown).
func (c *appCache) get(ctx context.Context, appID string) (*appSnapshot, error) {
	c.mu.RLock()
	e := c.entries[appID]
	c.mu.RUnlock()
	inserted := false
	if e == nil {
		e, inserted = c.insert(ctx, appID)
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if e.err != nil {
		return nil, e.err
	}
	st := e.state.Load()
	if inserted {
		return st.snap, nil // this check loaded it
	}
	g := c.generation()
	if c.watch != nil && g == e.checked.Load() {
		// Nothing was written to the database since the snapshot was
		// last confirmed current.
		return st.snap, nil
	}
	rev, err := e.revision.do(ctx)
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		// The registry does not answer: nothing can have been committed
		// there since, so the snapshot is as current as can be known.
		c.log.Warn("registry revision read failed; answering from the cached app", "app_id", appID, "err", err.Error())
		return st.snap, nil
	}
	switch {
	case rev.Serve != st.rev:
		if cur := e.state.Load(); cur.rev == rev.Serve {
			e.confirmed(g)
			return cur.snap, nil // another check reloaded it meanwhile
		}
		fresh, err := e.reload.do(ctx)
		if err != nil {
			// The cached snapshot is known to be out of date (a rollback,
			// say): better no answer than a withdrawn release.
			return nil, err
		}
		e.keep(fresh)
		e.confirmed(g)
		return fresh.snap, nil
	}
	e.confirmed(g)
	return st.snap, nil
}

// keep stores a loaded snapshot unless a newer one is already there.
func (e *cacheEntry) keep(st *snapState) {
	for {
		cur := e.state.Load()
		if cur != nil && (cur.rev > st.rev || cur.rev == st.rev && cur.loadedAt >= st.loadedAt) {
			return
		}
		if e.state.CompareAndSwap(cur, st) {
			return
		}
	}
}

// insert creates the entry and loads it synchronously; concurrent callers
// for the same app wait for that one load. created is false when another
// check had created the entry (its load may predate this check).
func (c *appCache) insert(ctx context.Context, appID string) (e *cacheEntry, created bool) {
	c.mu.Lock()
	if e := c.entries[appID]; e != nil {
		c.mu.Unlock()
		return e, false
	}
	if len(c.entries) >= maxCachedApps {
		c.evictUnknownLocked()
	}
	e = &cacheEntry{ready: make(chan struct{}), overrides: newOverrideCache()}
	// The override cache is synced in the shared read, so one listing of
	// the changed overrides serves every check waiting on it.
	e.revision = newFreshCall(revisionTimeout, func(ctx context.Context) (store.Revisions, error) {
		rev, err := c.revisionOf(ctx, appID)
		if err == nil && rev.Serve != noApp {
			c.syncOverrides(ctx, appID, e.overrides, rev)
		}
		return rev, err
	})
	e.reload = newFreshCall(loadTimeout, func(ctx context.Context) (*snapState, error) { return c.load(ctx, appID, e.overrides) })
	c.entries[appID] = e
	c.mu.Unlock()

	// The load runs with a context of its own: the first caller hanging up
	// must not fail it for everyone waiting on it.
	g := c.generation()
	st, err := e.reload.do(context.WithoutCancel(ctx))
	if err != nil {
		e.err = err
		c.mu.Lock()
		if c.entries[appID] == e {
			delete(c.entries, appID) // the next request tries again
		}
		c.mu.Unlock()
	} else {
		e.keep(st)
		e.confirmed(g)
	}
	close(e.ready)
	return e, true
}

// evictUnknownLocked drops cached "unknown app" entries, then anything, to
// make room.
func (c *appCache) evictUnknownLocked() {
	for id, e := range c.entries {
		select {
		case <-e.ready:
			if st := e.state.Load(); st == nil || st.snap == nil {
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

// revisionOf reads the app's revisions; Serve is noApp when it is not
// registered.
func (c *appCache) revisionOf(ctx context.Context, appID string) (store.Revisions, error) {
	rev, err := c.reg.Revisions(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Revisions{Serve: noApp}, nil
	}
	return rev, err
}

// load reads the app's revision, then its snapshot: a change committed in
// between is in the snapshot but not in its revision, so it only causes one
// more reload, never a stale answer. The snapshot shares the entry's
// override cache, brought up to the override revisions read.
func (c *appCache) load(ctx context.Context, appID string, ov *overrideCache) (*snapState, error) {
	select {
	case c.loads <- struct{}{}:
		defer func() { <-c.loads }()
	case <-ctx.Done():
		return nil, fmt.Errorf("load app %s: %w", appID, ctx.Err())
	}
	rev, err := c.revisionOf(ctx, appID)
	if err != nil {
		return nil, fmt.Errorf("load app %s: %w", appID, err)
	}
	if rev.Serve != noApp {
		c.syncOverrides(ctx, appID, ov, rev)
	}
	st := &snapState{rev: rev.Serve}
	if rev.Serve != noApp {
		if st.snap, err = loadSnapshot(ctx, c.reg, appID); err != nil {
			return nil, err
		}
		if st.snap == nil { // deleted in between: read again next time
			st.rev = noApp
		} else {
			st.snap.overrides = ov
			if err := loadDeltas(ctx, c.reg, appID, st.snap, c.current(appID)); err != nil {
				return nil, err
			}
		}
	}
	st.loadedAt = c.now().UnixNano()
	return st, nil
}

// current returns the app's cached snapshot, if any (nil otherwise).
func (c *appCache) current(appID string) *appSnapshot {
	c.mu.RLock()
	e := c.entries[appID]
	c.mu.RUnlock()
	if e == nil {
		return nil
	}
	if st := e.state.Load(); st != nil {
		return st.snap
	}
	return nil
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
		Delta:              c.Delta,
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
		SHA256:     r.SHA256,
		FilesURL:   r.FilesURL,
		FileCount:  r.FileCount,
	}
}

// loadDeltas gives each release of snap that has files its manifest
// answer: the one prev already holds for the same release, else built from
// the registry's file list. A manifest of 15,000 files is so read once per
// release, not once per reload.
func loadDeltas(ctx context.Context, reg store.Registry, appID string, snap, prev *appSnapshot) error {
	known := map[string]*deltaForm{}
	if prev != nil {
		for _, c := range prev.Channels {
			for _, r := range []*release{c.Current, c.Previous} {
				if r != nil && r.delta != nil {
					known[r.SHA256] = r.delta
				}
			}
		}
	}
	for _, c := range snap.Channels {
		for _, r := range []*release{c.Current, c.Previous} {
			if r == nil || r.FileCount == 0 || r.FilesURL == "" {
				continue
			}
			if d, ok := known[r.SHA256]; ok {
				r.delta = d
				continue
			}
			files, err := reg.ReleaseFiles(ctx, appID, r.Version)
			if err != nil {
				return fmt.Errorf("load files of %s %s: %w", appID, r.Version, err)
			}
			if len(files) == 0 {
				continue
			}
			r.delta = newDeltaForm(r, r.FilesURL, files)
			known[r.SHA256] = r.delta
		}
	}
	return nil
}

// channelNumber is the numeric channel id the plugin's channel list wants
// (it rejects non-numbers): stable for an app and name, and below 2^53 so
// JavaScript reads it exactly.
func channelNumber(appID, name string) int64 {
	sum := sha256.Sum256([]byte(appID + "\x00" + name))
	return int64(binary.BigEndian.Uint64(sum[:8]) >> 12)
}
