package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	storerelease "capship/store/release"
	"capship/workflow"
)

// BenchmarkPhoneBytes measures what a phone on one release downloads of the
// next when a fix changes little, against the full zip: the objects of the
// files it does not hold, plus the update answer that lists every file
// (gzip-compressed, as OkHttp and iOS ask for it). Run it on a web build:
//
//	CAPSHIP_BENCH_DIR=path/to/www go test ./server -run '^$' -bench PhoneBytes -benchtime 1x
//
// Two fixes: one file's content changes (a hot-fixed asset), and a one-line
// change in an Angular-style build, where the fixed chunk gets a new hashed
// name, and main-*.js (which imports it) and index.html change with it.
func BenchmarkPhoneBytes(b *testing.B) {
	src := os.Getenv("CAPSHIP_BENCH_DIR")
	if src == "" {
		b.Skip("set CAPSHIP_BENCH_DIR to a web build folder")
	}
	key, err := workflow.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	build := func(version, dir string) *workflow.Manifest {
		m, err := workflow.Build(b.Context(), workflow.BuildOptions{Dir: dir, AppID: "com.capship.bench", Version: version, OutDir: b.TempDir(), Key: key}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if m.Delta == nil {
			b.Fatalf("no delta: %s", m.DeltaSkipped)
		}
		return m
	}
	v1 := copyTree(b, src)
	m1 := build("1.0.0", v1)
	held := map[string]bool{}
	for _, f := range m1.Delta.Files {
		held[f.SHA256] = true
	}
	chunk := largestFile(b, v1, "chunk-", ".js")
	for _, fix := range []struct {
		name   string
		change func(dir string)
	}{
		{"one file", func(dir string) { appendTo(b, filepath.Join(dir, chunk), "\n// fix\n") }},
		{"angular chunk", func(dir string) {
			old := filepath.Join(dir, chunk)
			renamed := filepath.Join(dir, "chunk-FIXED001.js")
			if err := os.Rename(old, renamed); err != nil {
				b.Fatal(err)
			}
			appendTo(b, renamed, "\n// fix\n")
			main := largestFile(b, dir, "main-", ".js")
			appendTo(b, filepath.Join(dir, main), "\n// imports chunk-FIXED001.js\n")
			appendTo(b, filepath.Join(dir, "index.html"), "\n<!-- rebuilt -->\n")
		}},
	} {
		b.Run(strings.ReplaceAll(fix.name, " ", "_"), func(b *testing.B) {
			v2 := copyTree(b, src)
			fix.change(v2)
			m2 := build("1.0.1", v2)
			rel := &release{Version: m2.Version, URL: "https://cdn.example.com/com.capship.bench/" + filepath.Base(m2.File),
				SessionKey: m2.SessionKey, Checksum: m2.Checksum}
			var dl workflow.DeltaDownload
			var answer []byte
			for b.Loop() {
				dl = m2.Delta.Download(held)
				d := newDeltaForm(rel, "https://cdn.example.com/com.capship.bench/"+filepath.Base(m2.Delta.Dir), storerelease.Files(m2.Delta))
				answer = d.gzip()
			}
			total := dl.Bytes + int64(len(answer))
			b.ReportMetric(float64(dl.Files), "files")
			b.ReportMetric(float64(dl.Bytes), "object-bytes")
			b.ReportMetric(float64(len(answer)), "answer-gzip-bytes")
			b.ReportMetric(float64(m2.Size), "zip-bytes")
			b.ReportMetric(100*float64(total)/float64(m2.Size), "%-of-zip")
			b.Logf("%s: %d of %d files in %d objects, %d bytes + answer %d bytes gzip = %d bytes, %.2f%% of the %d-byte zip (objects alone %.3f%%)",
				fix.name, dl.Files, dl.TotalFiles, dl.Objects, dl.Bytes, len(answer), total, 100*float64(total)/float64(m2.Size), m2.Size,
				100*float64(dl.Bytes)/float64(m2.Size))
		})
	}
}

func copyTree(b *testing.B, src string) string {
	b.Helper()
	dst := filepath.Join(b.TempDir(), "www")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		b.Fatal(err)
	}
	return dst
}

// largestFile is the name of the largest file in dir (not below it) with
// that prefix and suffix.
func largestFile(b *testing.B, dir, prefix, suffix string) string {
	b.Helper()
	var best string
	var size int64
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && strings.HasPrefix(e.Name(), prefix) && strings.HasSuffix(e.Name(), suffix) && info.Size() > size {
			best, size = e.Name(), info.Size()
		}
	}
	if best == "" {
		b.Fatalf("no %s*%s in %s", prefix, suffix, dir)
	}
	return best
}

func appendTo(b *testing.B, path, text string) {
	b.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		b.Fatal(err)
	}
}
