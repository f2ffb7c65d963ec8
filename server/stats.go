package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"capship/store"
)

// handleStats stores device events (spec §4) and answers {"status":"ok"}.
// Events go to a bounded queue that a single writer flushes in batches, so
// a burst of stats never slows update checks down. When the queue is full,
// or the registry refused the last batch, the answer is 503: the plugin
// keeps such events and sends them again later.
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, s.cfg.MaxStatsBodyBytes, nil)
	if !ok {
		return
	}
	events, err := DecodeStats(body)
	if err != nil {
		badRequest(w, err)
		return
	}
	if len(events) > 0 {
		note(w, events[0].AppID, events[0].DeviceID)
	}
	now := time.Now().UTC()
	batch := make([]store.StatEvent, len(events))
	for i, e := range events {
		batch[i] = store.StatEvent{
			AppID:         e.AppID,
			DeviceID:      e.DeviceID,
			Action:        e.Action,
			VersionName:   e.VersionName,
			OldVersion:    e.OldVersionName,
			Platform:      e.Platform,
			PluginVersion: e.PluginVersion,
			VersionBuild:  e.VersionBuild,
			IsEmulator:    e.IsEmulator,
			IsProd:        e.IsProd,
			At:            eventTime(e.Timestamp, now),
		}
	}
	switch code := s.stats.enqueue(batch); code {
	case "":
	case codeStatsQueueFull:
		refuseStats(w, code, "the server is saving other events; send these again later")
		return
	default:
		refuseStats(w, code, "the server cannot save events right now; send these again later")
		return
	}
	noteCode(w, "ok")
	writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
}

// refuseStats answers 503: the plugin keeps the events and sends them again.
func refuseStats(w http.ResponseWriter, code, msg string) {
	noteCode(w, code)
	w.Header().Set("Retry-After", "30")
	writeJSON(w, http.StatusServiceUnavailable, encodeError(code, msg))
}

// eventTime trusts the device's clock only within a day of ours: queued
// events may be hours old, but a wrong clock must not scatter the stats.
func eventTime(ms int64, now time.Time) time.Time {
	if ms <= 0 {
		return now
	}
	t := time.UnixMilli(ms).UTC()
	if t.After(now.Add(time.Hour)) || t.Before(now.Add(-24*time.Hour)) {
		return now
	}
	return t
}

const (
	statsWriteTimeout = 10 * time.Second // one batch's transaction
	statsRetryMax     = 5 * time.Second  // longest pause between retries of a failed batch
	statsCloseTries   = 2                // attempts at the queue when the server stops
	statsFailLogEvery = time.Minute      // while writes fail, how often the log says so again

	pruneBatch = 5000                   // old events deleted per transaction
	prunePause = 200 * time.Millisecond // between two such transactions
	pruneEvery = time.Hour
)

// statsWriter buffers events and writes them in batches from one goroutine.
// An accepted event stays queued until the registry has stored it: a batch
// the registry refuses goes back to the head of the queue and is tried
// again. While the last write failed, enqueue refuses new events, so
// /stats answers 503 and the plugin keeps them; the queue never holds
// more than max events, written or not.
type statsWriter struct {
	reg      store.Registry
	log      *slog.Logger
	max      int
	batch    int
	interval time.Duration

	mu      sync.Mutex
	queue   []store.StatEvent
	writing int   // events taken from the queue by the write in progress
	failing error // the last write's error; nil once a write succeeds
	failLog time.Time
	backoff time.Duration
	retryAt time.Time
	closed  bool
	wake    chan struct{}
	done    chan struct{}
	dropped int64 // events still unsaved when the writer closed

	stopPrune context.CancelFunc
	pruned    chan struct{}
}

func newStatsWriter(reg store.Registry, log *slog.Logger, max, batch int, interval, retention time.Duration) *statsWriter {
	sw := &statsWriter{
		reg: reg, log: log, max: max, batch: batch, interval: interval,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		pruned: make(chan struct{}),
	}
	go sw.run()
	ctx, cancel := context.WithCancel(context.Background())
	sw.stopPrune = cancel
	go func() {
		defer close(sw.pruned)
		if retention > 0 {
			sw.pruneLoop(ctx, retention)
		}
	}()
	return sw
}

// enqueue adds all events or none. It returns "" when they are queued,
// else the code to refuse them with: the queue has no room, the registry
// refused the last batch, or the writer is closed.
func (sw *statsWriter) enqueue(events []store.StatEvent) string {
	sw.mu.Lock()
	switch {
	case sw.closed || sw.failing != nil:
		sw.mu.Unlock()
		return codeStatsNotSaved
	case len(sw.queue)+sw.writing+len(events) > sw.max:
		sw.mu.Unlock()
		return codeStatsQueueFull
	}
	sw.queue = append(sw.queue, events...)
	full := len(sw.queue) >= sw.batch
	sw.mu.Unlock()
	if full {
		select {
		case sw.wake <- struct{}{}:
		default:
		}
	}
	return ""
}

// health is nil while stats are saved, else why they are not, in words a
// public /readyz may show.
func (sw *statsWriter) health() error {
	sw.mu.Lock()
	err := sw.failing
	sw.mu.Unlock()
	switch {
	case err == nil:
		return nil
	case store.IsDiskFull(err):
		return errors.New("the registry's disk is full: device stats cannot be saved")
	}
	return errors.New("the registry refuses device stats; see the server log")
}

func (sw *statsWriter) run() {
	defer close(sw.done)
	tick := time.NewTicker(sw.interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-sw.wake:
		}
		sw.mu.Lock()
		closed := sw.closed
		sw.mu.Unlock()
		if !closed {
			sw.flush(false)
			continue
		}
		for try := 1; sw.flush(true) && try < statsCloseTries; try++ {
			time.Sleep(time.Second)
		}
		sw.mu.Lock()
		sw.dropped = int64(len(sw.queue))
		sw.mu.Unlock()
		return
	}
}

// flush writes what is queued, batch by batch, and stops at the first
// batch the registry refuses, which goes back to the head of the queue.
// Unless now is set it waits out the back-off of an earlier failure. It
// reports whether events remain unsaved after a failure.
func (sw *statsWriter) flush(now bool) bool {
	for {
		sw.mu.Lock()
		n := min(len(sw.queue), sw.batch)
		if n == 0 || (!now && time.Now().Before(sw.retryAt)) {
			sw.mu.Unlock()
			return false
		}
		batch := make([]store.StatEvent, n)
		copy(batch, sw.queue)
		sw.queue = append(sw.queue[:0], sw.queue[n:]...)
		sw.writing = n
		sw.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), statsWriteTimeout)
		_, err := sw.reg.RecordEvents(ctx, batch)
		cancel()

		sw.mu.Lock()
		sw.writing = 0
		if err != nil {
			sw.queue = append(batch, sw.queue...)
			sw.failing = err
			sw.backoff = min(max(2*sw.backoff, sw.interval), statsRetryMax)
			sw.retryAt = time.Now().Add(sw.backoff)
			logIt := time.Since(sw.failLog) >= statsFailLogEvery
			if logIt {
				sw.failLog = time.Now()
			}
			queued := len(sw.queue)
			sw.mu.Unlock()
			if logIt {
				sw.log.Error("stats events not saved; /stats answers 503 until the registry takes them, queued events are retried",
					"queued", queued, "disk_full", store.IsDiskFull(err), "err", err.Error())
			}
			return true
		}
		recovered := sw.failing != nil
		sw.failing, sw.backoff, sw.retryAt, sw.failLog = nil, 0, time.Time{}, time.Time{}
		sw.mu.Unlock()
		if recovered {
			sw.log.Info("stats events saved again")
		}
	}
}

// pruneLoop deletes events older than retention now and every pruneEvery.
func (sw *statsWriter) pruneLoop(ctx context.Context, retention time.Duration) {
	for {
		sw.prune(ctx, time.Now().Add(-retention))
		select {
		case <-ctx.Done():
			return
		case <-time.After(pruneEvery):
		}
	}
}

// prune deletes events recorded before a time in small transactions with
// pauses between them, so device stats keep being written meanwhile.
func (sw *statsWriter) prune(ctx context.Context, before time.Time) {
	total := 0
	defer func() {
		if total > 0 {
			sw.log.Info("old stats events deleted", "events", total, "before", before.Format(time.RFC3339))
		}
	}()
	for {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := sw.reg.PruneEvents(c, before, pruneBatch)
		cancel()
		total += n
		if err != nil {
			if ctx.Err() == nil {
				sw.log.Warn("old stats events not deleted; trying again in an hour", "disk_full", store.IsDiskFull(err), "err", err.Error())
			}
			return
		}
		if n < pruneBatch {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(prunePause):
		}
	}
}

// close stops taking events, writes what is queued (trying again once if
// the registry refuses) and waits for the writer.
func (sw *statsWriter) close() error {
	sw.stopPrune()
	<-sw.pruned
	sw.mu.Lock()
	if sw.closed {
		sw.mu.Unlock()
		<-sw.done
		return nil
	}
	sw.closed = true
	sw.mu.Unlock()
	select {
	case sw.wake <- struct{}{}:
	default:
	}
	<-sw.done
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.dropped > 0 {
		return fmt.Errorf("save stats: %w: %d events could not be written (see the log)", errStatsLost, sw.dropped)
	}
	return nil
}

var errStatsLost = errors.New("registry refused events")
