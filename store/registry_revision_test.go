package store

import (
	"errors"
	"testing"
	"time"
)

// TestRevision: every committed change of what devices are served raises
// the app's revision, as seen by another connection pool on the same
// database (another process); refused writes, device overrides and stats
// leave it alone.
func TestRevision(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		w, r := b.open(t), b.open(t) // writer and reader: two processes
		ctx := ctxT(t)
		if _, err := r.Revision(ctx, app); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revision of an unknown app: %v, want ErrNotFound", err)
		}
		last := int64(-1)
		step := func(what string, raised bool, write func() error) {
			t.Helper()
			err := write()
			if raised && err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			rev, rerr := r.Revision(ctx, app)
			if rerr != nil {
				t.Fatalf("revision after %s: %v", what, rerr)
			}
			switch {
			case raised && rev <= last:
				t.Fatalf("%s: revision %d, want more than %d", what, rev, last)
			case !raised && rev != last:
				t.Fatalf("%s (err %v): revision went from %d to %d, want unchanged", what, err, last, rev)
			}
			last = rev
		}
		step("first register", true, func() error { _, err := w.Register(ctx, input(app, "1.0.0", "production", 1)); return err })
		step("register", true, func() error { _, err := w.Register(ctx, input(app, "1.1.0", "production", 1)); return err })
		step("register without channel", true, func() error { _, err := w.Register(ctx, input(app, "1.2.0", "", 1)); return err })
		step("promote", true, func() error { _, err := w.Promote(ctx, app, "production", "1.2.0"); return err })
		step("rollback", true, func() error { _, err := w.Rollback(ctx, app, "production"); return err })
		step("channel create", true, func() error {
			_, err := w.CreateChannel(ctx, app, "beta", ChannelSettings{AllowSelfSet: ptr(true)})
			return err
		})
		step("channel set", true, func() error {
			_, err := w.UpdateChannel(ctx, app, "production", ChannelSettings{Rollout: ptr(50)})
			return err
		})
		step("channel set delta", true, func() error {
			_, err := w.UpdateChannel(ctx, app, "production", ChannelSettings{Delta: ptr(false)})
			return err
		})
		step("register with files", true, func() error {
			_, err := w.Register(ctx, withFiles(input(app, "1.3.0", "production", 1), 20))
			return err
		})

		step("refused register (duplicate version)", false, func() error {
			_, err := w.Register(ctx, input(app, "1.1.0", "production", 1))
			if !errors.Is(err, ErrDuplicateVersion) {
				t.Fatalf("duplicate register: %v", err)
			}
			return err
		})
		step("refused register (invalid files)", false, func() error {
			in := withFiles(input(app, "1.4.0", "production", 1), 2)
			in.Files[1].Path = "../x"
			_, err := w.Register(ctx, in)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("invalid files: %v", err)
			}
			return err
		})
		step("refused promote (not newer)", false, func() error {
			_, err := w.Promote(ctx, app, "production", "1.0.0")
			if !errors.Is(err, ErrVersionNotNewer) {
				t.Fatalf("promote older: %v", err)
			}
			return err
		})
		step("device override", false, func() error { return w.SetDeviceChannel(ctx, app, "device-1", "beta", true, 0) })
		step("device override removed", false, func() error { return w.UnsetDeviceChannel(ctx, app, "device-1") })
		step("stats", false, func() error {
			_, err := w.RecordEvents(ctx, []StatEvent{{AppID: app, DeviceID: "device-1", Action: "set", VersionName: "1.1.0", At: time.Now()}})
			return err
		})
		if rev, err := r.Revision(ctx, "com.example.other"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another app: revision %d, %v", rev, err)
		}
	})
}
