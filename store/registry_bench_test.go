package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// benchBackends are the backends for benchmarks: SQLite always, PostgreSQL
// when CAPSHIP_TEST_POSTGRES is set.
func benchBackends(b *testing.B, bench func(b *testing.B, r Registry)) {
	b.Run("sqlite", func(b *testing.B) {
		bench(b, backend{name: "sqlite", dsn: filepath.Join(b.TempDir(), "r.db")}.open(b))
	})
	b.Run("postgres", func(b *testing.B) {
		bench(b, backend{name: "postgres", dsn: postgresSchema(b)}.open(b))
	})
}

// BenchmarkLoadApp is what the update server reads from the registry when
// its cache of an app is cold or stale: the app, its channels with their
// releases (device overrides are read one by key, see
// BenchmarkDeviceChannel).
func BenchmarkLoadApp(b *testing.B) {
	benchBackends(b, func(b *testing.B, r Registry) {
		ctx := ctxT(b)
		for i := range 20 {
			mustRegister(b, r, input(app, fmt.Sprintf("1.%d.0", i), "production", 1))
		}
		mustRegister(b, r, input(app, "2.0.0-beta.1", "beta", 1))
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := r.App(ctx, app); err != nil {
					b.Fatal(err)
				}
				if chans, err := r.Channels(ctx, app); err != nil || len(chans) != 2 {
					b.Fatal(chans, err)
				}
			}
		})
	})
}

// BenchmarkDeviceChannel is what an update check reads when its device is
// not in the server's override cache: one row by key, whatever the number
// of overrides (10,000 here, every other device asked has one).
func BenchmarkDeviceChannel(b *testing.B) {
	benchBackends(b, func(b *testing.B, r Registry) {
		ctx := ctxT(b)
		mustRegister(b, r, input(app, "1.0.0", "production", 1))
		mustRegister(b, r, input(app, "2.0.0-beta.1", "beta", 1))
		for i := range 10000 {
			if err := r.SetDeviceChannel(ctx, app, fmt.Sprint("device-", 2*i), "beta", false, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1) % 20000
				if ov, err := r.DeviceChannel(ctx, app, fmt.Sprint("device-", i)); i%2 == 0 && (err != nil || ov.Channel != "beta") || i%2 == 1 && !errors.Is(err, ErrNotFound) {
					b.Fatal(i, ov, err)
				}
			}
		})
	})
}

// BenchmarkRecordEvents stores stats in batches of 100, as the server does.
func BenchmarkRecordEvents(b *testing.B) {
	benchBackends(b, func(b *testing.B, r Registry) {
		ctx := ctxT(b)
		mustRegister(b, r, input(app, "1.0.0", "production", 1))
		batch := make([]StatEvent, 100)
		for i := range batch {
			batch[i] = StatEvent{AppID: app, DeviceID: fmt.Sprint("device-", i), Action: "download_complete", VersionName: "1.0.0", Platform: "ios"}
		}
		b.ResetTimer()
		for b.Loop() {
			if n, err := r.RecordEvents(ctx, batch); err != nil || n != len(batch) {
				b.Fatal(n, err)
			}
		}
		b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkRegister registers one release after another onto a channel.
func BenchmarkRegister(b *testing.B) {
	benchBackends(b, func(b *testing.B, r Registry) {
		ctx := ctxT(b)
		i := 0
		for b.Loop() {
			i++
			if _, err := r.Register(ctx, input(app, fmt.Sprintf("1.0.%d", i), "production", 1)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRegisterFiles registers releases of 15,000 files each, the
// delta form of a large bundle.
func BenchmarkRegisterFiles(b *testing.B) {
	benchBackends(b, func(b *testing.B, r Registry) {
		ctx := ctxT(b)
		i := 0
		for b.Loop() {
			b.StopTimer()
			i++
			in := withFiles(input(app, fmt.Sprintf("1.0.%d", i), "production", 1), 15000)
			b.StartTimer()
			if _, err := r.Register(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
