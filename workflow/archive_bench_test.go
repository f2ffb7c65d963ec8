package workflow_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"

	"capship/workflow"
)

// Benchmarks of the bundle engine. By default they run on a synthetic web
// build (about 24 MB, half JavaScript-like text, half already-compressed
// images, ~1,200 files); set CAPSHIP_BENCH_DIR to any web build folder to
// measure that instead, e.g. after
// `scripts/bench-build --keep DIR` or with a real app's www/:
//
//	CAPSHIP_BENCH_DIR=/path/to/www go test ./workflow/ -run '^$' -bench . -benchtime 3x
//
// Each result reports MB/s of input and zip/in, the archive's size over the
// input's. BenchmarkBuild times the whole bundle (zip, SHA-256, AES, file,
// fsync); scripts/bench-build times the command against zip + openssl.

// benchTree returns the folder to benchmark, scanned.
func benchTree(b *testing.B) *workflow.Tree {
	b.Helper()
	dir := os.Getenv("CAPSHIP_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
		writeSyntheticBuild(b, dir, 24<<20)
	}
	tree, err := workflow.Scan(dir, workflow.ScanOptions{NoCodeCheck: true})
	if err != nil {
		b.Fatal(err)
	}
	return tree
}

// writeSyntheticBuild writes about size bytes of a web build shaped like an
// Angular/Ionic one: many small SVG/JSON/JS files, a few big bundles, and
// already-compressed images and fonts for half of the bytes.
func writeSyntheticBuild(b testing.TB, dir string, size int) {
	rng := rand.New(rand.NewPCG(6, 6))
	files := map[string][]byte{"index.html": []byte(`<!doctype html><script>CapacitorUpdater.notifyAppReady()</script>`)}
	total := 0
	for i := 0; total < size; i++ {
		var name string
		var body []byte
		switch k := i % 10; {
		case k < 4:
			name, body = fmt.Sprintf("svg/icon-%d.svg", i), jsLike(rng, 300+rng.IntN(2000))
		case k < 6:
			name, body = fmt.Sprintf("assets/i18n/%d.json", i), jsLike(rng, 1000+rng.IntN(8000))
		case k < 8:
			name, body = fmt.Sprintf("chunk-%d.js", i), jsLike(rng, 2000+rng.IntN(rng.IntN(400<<10)+1))
		default:
			n := 5000 + rng.IntN(rng.IntN(300<<10)+1)
			body = make([]byte, n)
			for j := range body {
				body[j] = byte(rng.Uint32())
			}
			name = fmt.Sprintf("assets/img/%d.webp", i)
		}
		files[name] = body
		total += len(body)
	}
	writeByteFiles(b, dir, files)
}

func BenchmarkScan(b *testing.B) {
	tree := benchTree(b)
	b.SetBytes(tree.Bytes)
	for b.Loop() {
		if _, err := workflow.Scan(tree.Root, workflow.ScanOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteZip: the archive alone, to io.Discard, on one core and on
// all of them.
func BenchmarkWriteZip(b *testing.B) {
	tree := benchTree(b)
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			benchWriteZip(b, tree, workflow.ZipOptions{Workers: workers})
		})
	}
}

// BenchmarkWriteZipLevel shows what each deflate level costs and saves;
// DefaultZipLevel was chosen from it.
func BenchmarkWriteZipLevel(b *testing.B) {
	tree := benchTree(b)
	for level := 1; level <= 9; level++ {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			benchWriteZip(b, tree, workflow.ZipOptions{Level: level})
		})
	}
}

func benchWriteZip(b *testing.B, tree *workflow.Tree, opts workflow.ZipOptions) {
	b.SetBytes(tree.Bytes)
	var stats workflow.ZipStats
	for b.Loop() {
		var err error
		stats, err = workflow.WriteZip(context.Background(), io.Discard, tree, opts, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(stats.ZipBytes)/float64(tree.Bytes), "zip/in")
}

// BenchmarkBuild: the whole bundle as `capship bundle build --no-delta`
// makes it (BenchmarkBuildDelta adds the delta objects).
func BenchmarkBuild(b *testing.B) {
	tree := benchTree(b)
	key, err := workflow.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	b.SetBytes(tree.Bytes)
	var m *workflow.Manifest
	for b.Loop() {
		m, err = workflow.Build(context.Background(), workflow.BuildOptions{
			Dir: tree.Root, AppID: "com.example.bench", Version: "1.0.0", OutDir: out,
			Key: key, NoCodeCheck: true, Force: true, NoDelta: true,
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(m.ZipSize)/float64(tree.Bytes), "zip/in")
}
