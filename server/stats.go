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
// a burst of stats never slows update checks down. When the queue is full
// the answer is 503: the plugin keeps such events and sends them again later.
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
	if !s.stats.enqueue(batch) {
		noteCode(w, "queue_full")
		w.Header().Set("Retry-After", "30")
		writeJSON(w, http.StatusServiceUnavailable, encodeError(codeStatsQueueFull, "the server is saving other events; send these again later"))
		return
	}
	noteCode(w, "ok")
	writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
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

// statsWriter buffers events and writes them in batches from one goroutine.
type statsWriter struct {
	reg      store.Registry
	log      *slog.Logger
	max      int
	batch    int
	interval time.Duration

	mu      sync.Mutex
	queue   []store.StatEvent
	closed  bool
	wake    chan struct{}
	done    chan struct{}
	dropped int64 // events lost to registry errors
}

func newStatsWriter(reg store.Registry, log *slog.Logger, max, batch int, interval time.Duration) *statsWriter {
	sw := &statsWriter{
		reg: reg, log: log, max: max, batch: batch, interval: interval,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	go sw.run()
	return sw
}

// enqueue adds all events or none; false when the queue has no room (or
// the writer is closed).
func (sw *statsWriter) enqueue(events []store.StatEvent) bool {
	sw.mu.Lock()
	if sw.closed || len(sw.queue)+len(events) > sw.max {
		sw.mu.Unlock()
		return false
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
	return true
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
		sw.flush()
		if closed {
			return
		}
	}
}

// flush writes everything queued, batch by batch.
func (sw *statsWriter) flush() {
	for {
		sw.mu.Lock()
		n := min(len(sw.queue), sw.batch)
		if n == 0 {
			sw.mu.Unlock()
			return
		}
		batch := make([]store.StatEvent, n)
		copy(batch, sw.queue)
		sw.queue = append(sw.queue[:0], sw.queue[n:]...)
		sw.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := sw.reg.RecordEvents(ctx, batch)
		cancel()
		if err != nil {
			sw.mu.Lock()
			sw.dropped += int64(n)
			dropped := sw.dropped
			sw.mu.Unlock()
			sw.log.Error("stats events lost", "events", n, "lost_total", dropped, "err", err.Error())
		}
	}
}

// close stops taking events, writes what is queued and waits for the writer.
func (sw *statsWriter) close() error {
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
