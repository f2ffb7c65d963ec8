package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"capship/store"
)

// More old events than one prune transaction deletes are all deleted:
// the pruner goes on batch after batch until a batch comes back short.
func TestStatsRetentionPrunesPastOneBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, reg store.Registry) {
		h := newHarness(t, reg, Config{})
		h.register("1.2.0", "production")
		ctx := context.Background()
		old := time.Now().Add(-40 * 24 * time.Hour)
		events := make([]store.StatEvent, pruneBatch+25)
		for i := range events {
			events[i] = store.StatEvent{AppID: h.app, DeviceID: fmt.Sprintf("old-%d", i), Action: "set", VersionName: "1.1.0", At: old}
		}
		events = append(events, store.StatEvent{AppID: h.app, DeviceID: "new", Action: "set", VersionName: "1.2.0", At: time.Now()})
		if n, err := reg.RecordEvents(ctx, events); err != nil || n != len(events) {
			t.Fatalf("record %d events: %d stored, %v", len(events), n, err)
		}
		srv, err := New(Config{Registry: reg, StatsRetention: 30 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		eventually(t, "every old event deleted", func() bool {
			stats, err := reg.Stats(ctx, h.app, time.Time{})
			return err == nil && len(stats) == 1 && stats[0].Version == "1.2.0"
		})
	})
}
