package store

import (
	"fmt"
	"testing"
	"time"
)

func TestPruneEventsInBatches(t *testing.T) {
	const app = "com.example.prune"
	eachBackend(t, func(t *testing.T, b backend) {
		r := b.open(t)
		ctx := ctxT(t)
		mustRegister(t, r, input(app, "1.0.0", "production", 1))
		now := time.Now()
		var events []StatEvent
		for i := range 12 {
			events = append(events, StatEvent{AppID: app, DeviceID: fmt.Sprint("old", i), Action: "set", VersionName: "0.9.0", At: now.Add(-100 * 24 * time.Hour)})
		}
		for i := range 3 {
			events = append(events, StatEvent{AppID: app, DeviceID: fmt.Sprint("new", i), Action: "set", VersionName: "1.0.0", At: now.Add(-time.Hour)})
		}
		if _, err := r.RecordEvents(ctx, events); err != nil {
			t.Fatal(err)
		}
		if n, err := r.PruneEvents(ctx, now.Add(-90*24*time.Hour), 0); n != 0 || err != nil {
			t.Fatalf("limit 0: deleted %d, %v", n, err)
		}
		var got []int
		for {
			n, err := r.PruneEvents(ctx, now.Add(-90*24*time.Hour), 5)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
			if n < 5 {
				break
			}
		}
		if fmt.Sprint(got) != "[5 5 2]" {
			t.Fatalf("deleted per call %v, want [5 5 2]", got)
		}
		stats, err := r.Stats(ctx, app, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(stats) != 1 || stats[0].Version != "1.0.0" || stats[0].Installs != 3 {
			t.Fatalf("stats after pruning: %+v", stats)
		}
	})
}
