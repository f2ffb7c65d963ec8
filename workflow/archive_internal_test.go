package workflow

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
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
	pool := newChunkPool(8)
	defer pool.close()
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

// asyncWriter delivers every byte in order, reports the first error of the
// writer behind it, and writes nothing more after Abort.
func TestAsyncWriter(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 100000) // 1.6 MB, several buffers
	var out bytes.Buffer
	a := newAsyncWriter(&out)
	for p := data; len(p) > 0; {
		k := min(len(p), 1+len(p)%99991)
		if n, err := a.Write(p[:k]); n != k || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		p = p[k:]
	}
	if err := a.Close(); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("Close = %v, %d bytes arrived of %d", err, out.Len(), len(data))
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := a.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}

	boom := errors.New("disk full")
	b := newAsyncWriter(failAfter{err: boom})
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = b.Write(make([]byte, 100<<10))
	}
	if cerr := b.Close(); !errors.Is(err, boom) || !errors.Is(cerr, boom) {
		t.Errorf("Write = %v, Close = %v, want %v from both", err, cerr, boom)
	}

	var dropped bytes.Buffer
	c := newAsyncWriter(&dropped)
	c.Write([]byte("never sent"))
	c.Abort()
	c.Abort()
	if dropped.Len() != 0 {
		t.Errorf("Abort sent %q", dropped.String())
	}
}

type failAfter struct{ err error }

func (f failAfter) Write([]byte) (int, error) { return 0, f.err }

// The pool hands back the chunk returned last, holds no more than its
// budget, and still serves (from the heap) when it runs dry.
func TestChunkPool(t *testing.T) {
	p := newChunkPool(2)
	a, b, c := p.get(), p.get(), p.get() // the third comes from the heap
	for _, x := range [][]byte{a, b, c} {
		if len(x) != 0 || cap(x) != zipChunk {
			t.Fatalf("chunk len %d cap %d", len(x), cap(x))
		}
		copy(x[:zipChunk], make([]byte, zipChunk)) // writable to the end
	}
	p.put(a)
	p.put(b)
	p.put(c) // over the budget: dropped
	if got := p.get(); &got[:1][0] != &b[:1][0] {
		t.Error("get did not return the chunk put last")
	}
	if len(p.free) != 1 {
		t.Errorf("pool holds %d chunks, want 1", len(p.free))
	}
	p.close()
	p.close()
}
