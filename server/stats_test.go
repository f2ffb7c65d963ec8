package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"capship/store"
)

// flakyRegistry refuses RecordEvents while fail is set, and blocks it while
// hold is non-nil, until the channel is closed.
type flakyRegistry struct {
	store.Registry
	fail  atomic.Bool
	err   error
	calls atomic.Int64
	hold  chan struct{}
}

func (f *flakyRegistry) RecordEvents(ctx context.Context, events []store.StatEvent) (int, error) {
	f.calls.Add(1)
	if f.hold != nil {
		<-f.hold
	}
	if f.fail.Load() {
		return 0, f.err
	}
	return f.Registry.RecordEvents(ctx, events)
}

// syncBuffer is an io.Writer safe for concurrent writers (the server's
// goroutines, a child process's output copier) and the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestStatsFailedWriteIsRetriedAndRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, reg store.Registry) {
		flaky := &flakyRegistry{Registry: reg, err: fmt.Errorf("record stats: %w", syscall.ENOSPC)}
		flaky.fail.Store(true)
		var logs syncBuffer
		h := newHarness(t, flaky, Config{StatsFlushInterval: 10 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		h.register("1.2.0", "production")
		body := []byte(strings.ReplaceAll(androidStatsBody, "com.example.app", h.app))
		if status, out := h.do("POST", "/stats", "", body); status != http.StatusOK {
			t.Fatalf("first POST /stats: HTTP %d %s", status, out)
		}
		acked := int64(1)
		// Once a write failed, new events are refused until one succeeds.
		var out []byte
		eventually(t, "503 from /stats", func() bool {
			var status int
			status, out = h.do("POST", "/stats", "", body)
			if status == http.StatusOK {
				acked++
			}
			return status == http.StatusServiceUnavailable
		})
		if !bytes.Contains(out, []byte(`"error":"stats_not_saved"`)) || !bytes.Contains(out, []byte(`"kind":"failed"`)) {
			t.Fatalf("refusal body: %s", out)
		}
		if status, out := h.do("GET", "/readyz", "", nil); status != http.StatusServiceUnavailable || !bytes.Contains(out, []byte("disk is full")) {
			t.Fatalf("/readyz on a full disk: HTTP %d %s", status, out)
		}
		if !strings.Contains(logs.String(), "stats events not saved") || !strings.Contains(logs.String(), `"disk_full":true`) {
			t.Fatalf("log: %s", logs.String())
		}

		flaky.fail.Store(false)
		eventually(t, "the acknowledged events stored", func() bool {
			stats, err := reg.Stats(context.Background(), h.app, time.Time{})
			return err == nil && len(stats) == 1 && stats[0].Downloads == acked && stats[0].Installs == acked
		})
		if status, out := h.do("POST", "/stats", "", body); status != http.StatusOK {
			t.Fatalf("POST /stats after recovery: HTTP %d %s", status, out)
		}
		if status, out := h.do("GET", "/readyz", "", nil); status != http.StatusOK {
			t.Fatalf("/readyz after recovery: HTTP %d %s", status, out)
		}
		if err := h.srv.Close(); err != nil {
			t.Fatal(err)
		}
		stats, err := reg.Stats(context.Background(), h.app, time.Time{})
		if err != nil || len(stats) != 1 || stats[0].Downloads != acked+1 {
			t.Fatalf("stats after close: %+v, %v", stats, err)
		}
	})
}

// TestStatsQueueLimitCountsTheBatchBeingWritten: a batch out for writing
// still takes room, so putting it back after a failure never overfills.
func TestStatsQueueLimitCountsTheBatchBeingWritten(t *testing.T) {
	flaky := &flakyRegistry{Registry: openRegistry(t, "sqlite"), err: errors.New("database is locked"), hold: make(chan struct{})}
	flaky.fail.Store(true)
	var release sync.Once
	unhold := func() { release.Do(func() { close(flaky.hold) }) }
	h := newHarness(t, flaky, Config{StatsQueue: 4, StatsBatch: 2, StatsFlushInterval: 10 * time.Millisecond})
	t.Cleanup(unhold)                // runs before the harness's cleanup closes the server
	body := []byte(androidStatsBody) // two events
	if status, out := h.do("POST", "/stats", "", body); status != http.StatusOK {
		t.Fatalf("first batch: HTTP %d %s", status, out)
	}
	eventually(t, "the writer to take the batch", func() bool { return flaky.calls.Load() == 1 })
	if status, out := h.do("POST", "/stats", "", body); status != http.StatusOK {
		t.Fatalf("second batch: HTTP %d %s", status, out)
	}
	status, out := h.do("POST", "/stats", "", body)
	if status != http.StatusServiceUnavailable || !bytes.Contains(out, []byte(`"error":"stats_queue_full"`)) {
		t.Fatalf("third batch into a queue of 4 holding 2 being written and 2 waiting: HTTP %d %s", status, out)
	}
	unhold()
	eventually(t, "the batch back in the queue", func() bool {
		h.srv.stats.mu.Lock()
		defer h.srv.stats.mu.Unlock()
		return h.srv.stats.failing != nil && h.srv.stats.writing == 0
	})
	h.srv.stats.mu.Lock()
	n := len(h.srv.stats.queue)
	h.srv.stats.mu.Unlock()
	if n != 4 {
		t.Fatalf("queue after a failed write holds %d events, want 4", n)
	}
	flaky.fail.Store(false)
}

func TestStatsRetentionPrunesOldEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, reg store.Registry) {
		h := newHarness(t, reg, Config{})
		h.register("1.2.0", "production")
		ctx := context.Background()
		old := time.Now().Add(-40 * 24 * time.Hour)
		if _, err := reg.RecordEvents(ctx, []store.StatEvent{
			{AppID: h.app, DeviceID: "a", Action: "set", VersionName: "1.1.0", At: old},
			{AppID: h.app, DeviceID: "b", Action: "set", VersionName: "1.2.0", At: time.Now()},
		}); err != nil {
			t.Fatal(err)
		}
		srv, err := New(Config{Registry: reg, StatsRetention: 30 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		eventually(t, "old events deleted", func() bool {
			stats, err := reg.Stats(ctx, h.app, time.Time{})
			return err == nil && len(stats) == 1 && stats[0].Version == "1.2.0"
		})
	})
}
