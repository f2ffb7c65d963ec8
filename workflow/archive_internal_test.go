package workflow

import (
	"archive/zip"
	"bytes"
	"context"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyStored re-reads a stored file after its CRC was taken; content that
// changed in between is an error, never an archive whose header lies.
func TestCopyStoredDetectsChange(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.png")
	body := []byte("0123456789")
	if err := os.WriteFile(p, body, 0o644); err != nil {
		t.Fatal(err)
	}
	e := &Entry{Name: "a.png", Path: p, Size: int64(len(body)), Method: zip.Store}
	for _, tt := range []struct {
		name string
		crc  uint32
		size int64
		ok   bool
	}{
		{"same", crc32.ChecksumIEEE(body), e.Size, true},
		{"other content", crc32.ChecksumIEEE(body) ^ 1, e.Size, false},
		{"grew", crc32.ChecksumIEEE(body[:9]), 9, false},
		{"shrank", crc32.ChecksumIEEE(body), 11, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ee := *e
			ee.Size = tt.size
			var buf bytes.Buffer
			err := copyStored(context.Background(), &buf, &zipJob{e: &ee, crc: tt.crc, method: zip.Store}, make([]byte, 4))
			if (err == nil) != tt.ok {
				t.Fatalf("copyStored = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "changed") {
				t.Errorf("error %q does not say the file changed", err)
			}
		})
	}
}

// spillBuffer keeps at most limit bytes in memory, moves the rest to an
// unlinked temp file, and gives back exactly what was written.
func TestSpillBuffer(t *testing.T) {
	tmp := t.TempDir()
	pool := &chunkPool{free: make(chan []byte, 8)}
	data := bytes.Repeat([]byte("abcdefghij"), 20000) // 200,000 bytes
	for _, limit := range []int64{0, 1, zipChunk, 3 * zipChunk, 1 << 20} {
		b := spillBuffer{pool: pool, limit: limit, size: 1 << 30, tempDir: tmp}
		for p := data; len(p) > 0; {
			k := min(len(p), 7777)
			if n, err := b.Write(p[:k]); err != nil || n != k {
				t.Fatalf("limit %d: Write = %d, %v", limit, n, err)
			}
			p = p[k:]
		}
		if b.spilled != (int64(len(data)) > limit) {
			t.Errorf("limit %d: spilled = %v", limit, b.spilled)
		}
		var mem int64
		for _, c := range b.chunks {
			mem += int64(cap(c))
		}
		if mem > (limit+zipChunk-1)/zipChunk*zipChunk {
			t.Errorf("limit %d: %d bytes in memory", limit, mem)
		}
		var out bytes.Buffer
		if _, err := b.WriteTo(&out); err != nil || !bytes.Equal(out.Bytes(), data) {
			t.Errorf("limit %d: WriteTo = %v, %d bytes back", limit, err, out.Len())
		}
		b.release()
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("limit %d: left %v", limit, left)
		}
	}
	// An entry that fits in memory refuses to grow to its own size.
	b := spillBuffer{pool: pool, limit: 100, size: 100, tempDir: tmp}
	if _, err := b.Write(make([]byte, 99)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write(make([]byte, 1)); err != errNoGain {
		t.Errorf("Write reaching the file's size = %v, want errNoGain", err)
	}
	b.release()
}
