package workflow

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
)

// Benchmarks of the delta build, on CAPSHIP_BENCH_DIR (a web build folder;
// by default a small synthetic one):
//
//	CAPSHIP_BENCH_DIR=/path/to/www go test ./workflow/ -run '^$' -bench 'Delta|Brotli' -benchtime 3x
//
// BenchmarkBuildDelta/cold is a first build (empty cache: every file is
// signed, every compressible one compressed); warm is a rebuild of the same
// files with a new session key; one-changed, a rebuild after one file of
// the biggest ones changed.
func BenchmarkBuildDelta(b *testing.B) {
	dir := os.Getenv("CAPSHIP_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
		writeDeltaFolder(b, dir)
	}
	key, err := GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	tree, err := Scan(dir, ScanOptions{NoCodeCheck: true})
	if err != nil {
		b.Fatal(err)
	}
	build := func(b *testing.B, cache string, stats *deltaStats) *Manifest {
		m, err := Build(context.Background(), BuildOptions{Dir: dir, AppID: "com.example.bench", Version: "1.0.0",
			OutDir: b.TempDir(), Key: key, NoCodeCheck: true, CacheDir: cache, deltaStats: stats}, nil)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	report := func(b *testing.B, m *Manifest, s *deltaStats) {
		b.SetBytes(tree.Bytes)
		sum := m.Delta.Summary()
		b.ReportMetric(float64(sum.Bytes)/float64(tree.Bytes), "objects/in")
		b.ReportMetric(float64(s.Signed.Load()), "signed")
		b.ReportMetric(float64(s.Compressed.Load()), "compressed")
	}
	b.Run("cold", func(b *testing.B) {
		var m *Manifest
		var s *deltaStats
		for b.Loop() {
			s = &deltaStats{}
			m = build(b, b.TempDir(), s)
		}
		report(b, m, s)
	})
	cache := b.TempDir()
	build(b, cache, nil)
	b.Run("warm", func(b *testing.B) {
		var m *Manifest
		var s *deltaStats
		for b.Loop() {
			s = &deltaStats{}
			m = build(b, cache, s)
		}
		report(b, m, s)
	})
}

// BenchmarkBrotliLevel compresses the files the delta build compresses (8
// KiB or more, not an already-compressed type), one core, at each quality
// with brotliWindow; objects/in is their compressed size over their size.
// DefaultBrotliLevel was chosen from it (README "Performance").
func BenchmarkBrotliLevel(b *testing.B) {
	dir := os.Getenv("CAPSHIP_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
		writeDeltaFolder(b, dir)
	}
	tree, err := Scan(dir, ScanOptions{NoCodeCheck: true})
	if err != nil {
		b.Fatal(err)
	}
	var files [][]byte
	var in int64
	for _, e := range tree.Entries {
		if e.Size >= brotliMinSize && !storedExts[strings.ToLower(path.Ext(e.Name))] {
			data, err := os.ReadFile(e.Path)
			if err != nil {
				b.Fatal(err)
			}
			files = append(files, data)
			in += e.Size
		}
	}
	for _, q := range []int{0, 1, 2, 3, 4, 5, 6, 7, 9} {
		b.Run(fmt.Sprintf("quality=%d", q), func(b *testing.B) {
			var out int64
			var buf bytes.Buffer
			w := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: q, LGWin: brotliWindow})
			start := time.Now()
			for b.Loop() {
				out = 0
				for _, f := range files {
					buf.Reset()
					w.Reset(&buf)
					w.Write(f)
					w.Close()
					out += int64(buf.Len())
				}
			}
			_ = start
			b.SetBytes(in)
			b.ReportMetric(float64(out)/float64(in), "objects/in")
		})
	}
}
