package workflow

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/flate"
	"golang.org/x/sync/semaphore"
)

// DefaultZipLevel is the deflate level of bundles. Measured on the large
// corpus (README "Performance"): level 5 of klauspost/compress/flate output
// is within about 1% of `zip -6`, and twice as fast as level 7; lower levels
// cost more than the 3% size budget.
const DefaultZipLevel = 5

// ZipOptions tunes WriteZip. None of them changes the bytes written, except
// Level.
type ZipOptions struct {
	Workers int    // parallel compressors; 0 means one per CPU
	Level   int    // deflate level 1..9; 0 means DefaultZipLevel
	TempDir string // where entries too big to keep in memory wait; "" means os.TempDir()
	// MemoryBudget bounds the compressed bytes held in memory while they wait
	// for their turn; an entry bigger than a quarter of it waits in a temp
	// file. 0 means 16 MiB.
	MemoryBudget int64
	// Sums, when it has one element per entry of the tree, receives the
	// SHA-256 and CRC-32 of each entry's bytes as they went into the
	// archive (read once for both), in entry order.
	Sums []EntrySum
	// CacheDir, when not "", keeps the deflated bytes of each file content
	// between archives (the object cache, see DefaultCacheDir), so that
	// the next archive deflates only what changed. The bytes written are
	// the same either way.
	CacheDir string
}

// EntrySum is what WriteZip saw of one file: the SHA-256 and CRC-32 of the
// bytes it archived.
type EntrySum struct {
	SHA256 [sha256.Size]byte
	CRC32  uint32
}

// ZipStats describes a written archive.
type ZipStats struct {
	Files    int   // entries written
	Stored   int   // entries written as they are
	Deflated int   // entries deflated
	Spilled  int   // deflated entries that waited in a temp file
	Cached   int   // deflated entries whose bytes came from the cache
	Bytes    int64 // input bytes
	ZipBytes int64 // archive bytes written to w
}

const (
	defaultZipBudget = 16 << 20
	minZipBudget     = 4 * zipChunk
	zipChunk         = 32 << 10 // unit of the in-memory buffers
	zipReadBuf       = 64 << 10
	// zipQueueLen bounds how many entries workers may finish ahead of the
	// writer. Small entries cost no budget, and while one worker deflates a
	// big file the others must find enough of them to stay busy.
	zipQueueLen = 4096
	// zipModTime and zipModDate are the MS-DOS time of every entry:
	// 1980-02-01 00:00:00. One month past the DOS epoch, so no time zone
	// conversion turns it into a date before 1980.
	zipModTime   = 0
	zipModDate   = 2<<5 | 1
	zipVersion20 = 20 // 2.0: deflate
	zipVersion45 = 45 // 4.5: Zip64
	creatorUnix  = 3
	flagUTF8     = 0x800
	localHeader  = 30
	uint32max    = 1<<32 - 1
)

// errNoGain stops deflating an entry whose output already is as big as the
// file: it is stored instead.
var errNoGain = errors.New("deflate does not shrink the file")

// WriteZip writes the files of t to w as a zip archive that every device's
// plugin accepts (spec §2) and that depends only on the files' names and
// contents: entries sorted, fixed time stamps, modes 0644, no folder entries,
// no extra fields, Zip64 only past 4 GiB or 65,535 entries. Already-compressed
// types, empty files and files deflate cannot shrink are stored, with their
// CRC and sizes in the local header (no data descriptor); the rest are
// deflated on opts.Workers cores at once, and written in order. Memory stays
// within opts.MemoryBudget plus a fixed amount per worker, whatever the size
// of the tree. It refuses a tree with blocking problems, reports PhasePack
// events about ten times a second, and returns ctx's error when cancelled.
func WriteZip(ctx context.Context, w io.Writer, t *Tree, opts ZipOptions, report Reporter) (ZipStats, error) {
	if err := t.Err(); err != nil {
		return ZipStats{}, err
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return ZipStats{}, err
	}
	if err := checkEntries(t.Entries); err != nil {
		return ZipStats{}, err
	}
	if err := ctx.Err(); err != nil {
		return ZipStats{}, err
	}
	z := &zipper{
		tree:    t,
		opts:    opts,
		cache:   openDeflateCache(opts.CacheDir, opts.Level),
		budget:  semaphore.NewWeighted(opts.MemoryBudget),
		spill:   opts.MemoryBudget / 4,
		pool:    newChunkPool(int(opts.MemoryBudget / zipChunk)),
		report:  report,
		copyBuf: make([]byte, zipReadBuf),
	}
	return z.run(ctx, w)
}

// checkEntries holds a Tree not made by Scan to the same rules: valid
// names, strictly sorted (so no duplicates), sizes below 4 GiB.
func checkEntries(entries []Entry) error {
	for i, e := range entries {
		if err := CheckEntryName(e.Name); err != nil {
			return fmt.Errorf("entry %q: %w", e.Name, err)
		}
		if i > 0 && entries[i-1].Name >= e.Name {
			return fmt.Errorf("entry %q: entries not sorted, or listed twice", e.Name)
		}
		if e.Size < 0 || e.Size > maxEntrySize {
			return fmt.Errorf("entry %q: size %d out of range", e.Name, e.Size)
		}
	}
	return nil
}

func (o ZipOptions) withDefaults() (ZipOptions, error) {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Level == 0 {
		o.Level = DefaultZipLevel
	}
	if o.Level < flate.BestSpeed || o.Level > flate.BestCompression {
		return o, fmt.Errorf("deflate level %d out of range 1..9", o.Level)
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.MemoryBudget == 0 {
		o.MemoryBudget = defaultZipBudget
	}
	o.MemoryBudget = max(o.MemoryBudget, minZipBudget) / zipChunk * zipChunk
	return o, nil
}

type zipper struct {
	tree    *Tree
	opts    ZipOptions
	budget  *semaphore.Weighted // bytes of chunks reserved by jobs in flight
	spill   int64               // a deflated entry bigger than this goes to a temp file
	pool    *chunkPool
	cache   *objectCache // nil: no cache
	report  Reporter
	copyBuf []byte // the writer's, for stored files
}

// zipJob is one entry on its way through the pipeline. A worker fills in
// the fields below done and then closes it.
type zipJob struct {
	e    *Entry
	idx  int   // of e in the tree
	cost int64 // budget reserved for its buffer
	done chan struct{}

	err    error
	cached bool // out came from the cache
	method uint16
	crc    uint32
	sum    [sha256.Size]byte // of the file, when opts.Sums asks for it
	out    spillBuffer       // deflated bytes, when method is zip.Deflate
}

func (z *zipper) run(ctx context.Context, w io.Writer) (stats ZipStats, err error) {
	defer z.pool.close() // last: every goroutine is done and every chunk back
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Jobs go to the writer in archive order through queue (whose capacity
	// bounds how far workers run ahead) and to the workers through jobs.
	queue := make(chan *zipJob, zipQueueLen)
	jobs := make(chan *zipJob)
	wg.Go(func() { z.dispatch(ctx, queue, jobs) })
	for range z.opts.Workers {
		wg.Go(func() { z.work(ctx, jobs) })
	}
	var pending *zipJob
	defer func() {
		cancel()
		wg.Wait()
		if pending != nil {
			pending.discard()
		}
		for j := range queue {
			j.discard()
		}
	}()

	cw := &zipCountWriter{w: w}
	aw := newAsyncWriter(cw)
	defer aw.Abort()
	zw := zip.NewWriter(aw)
	var offset int64
	lastReport := time.Time{}
	for j := range queue {
		pending = j
		select {
		case <-j.done:
		case <-ctx.Done():
			return stats, ctx.Err()
		}
		if j.err != nil {
			if ctx.Err() != nil {
				return stats, ctx.Err()
			}
			return stats, fmt.Errorf("add %s to zip: %w", j.e.Name, j.err)
		}
		size, err := z.writeEntry(ctx, zw, j, offset)
		if err != nil {
			if ctx.Err() != nil {
				return stats, ctx.Err()
			}
			return stats, fmt.Errorf("add %s to zip: %w", j.e.Name, err)
		}
		pending = nil
		if len(z.opts.Sums) == len(z.tree.Entries) {
			z.opts.Sums[j.idx] = EntrySum{SHA256: j.sum, CRC32: j.crc}
		}
		offset += localHeader + int64(len(j.e.Name)) + size
		stats.Files++
		stats.Bytes += j.e.Size
		if j.method == zip.Store {
			stats.Stored++
		} else {
			stats.Deflated++
			if j.out.spilled {
				stats.Spilled++
			}
			if j.cached {
				stats.Cached++
			}
		}
		j.discard()
		z.budget.Release(j.cost)
		if z.report != nil && (stats.Files == len(z.tree.Entries) || time.Since(lastReport) >= 100*time.Millisecond) {
			lastReport = time.Now()
			z.report(Event{Phase: PhasePack, Files: stats.Files, TotalFiles: len(z.tree.Entries),
				Bytes: stats.Bytes, TotalBytes: z.tree.Bytes, Current: j.e.Name})
		}
	}
	if err := ctx.Err(); err != nil {
		return stats, err
	}
	if err := zw.Close(); err != nil {
		return stats, fmt.Errorf("write directory: %w", err)
	}
	if err := aw.Close(); err != nil {
		return stats, fmt.Errorf("flush: %w", err)
	}
	stats.ZipBytes = cw.n
	return stats, nil
}

// dispatch hands out the entries in order, each once its buffer fits in the
// memory budget. Budget is released by the writer in the same order, so
// the entry the writer waits for always gets its share.
func (z *zipper) dispatch(ctx context.Context, queue, jobs chan<- *zipJob) {
	defer close(queue)
	defer close(jobs)
	for i := range z.tree.Entries {
		e := &z.tree.Entries[i]
		j := &zipJob{e: e, idx: i, method: e.Method, done: make(chan struct{})}
		if e.Size == 0 {
			j.method = zip.Store
		}
		if j.method == zip.Deflate {
			j.cost = (min(e.Size, z.spill) + zipChunk - 1) / zipChunk * zipChunk
		}
		if err := z.budget.Acquire(ctx, j.cost); err != nil {
			return
		}
		select {
		case queue <- j:
		case <-ctx.Done():
			return
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			return
		}
	}
}

// work compresses (or, for stored entries, checksums) jobs until jobs closes.
func (z *zipper) work(ctx context.Context, jobs <-chan *zipJob) {
	fw, err := flate.NewWriter(io.Discard, z.opts.Level)
	buf := make([]byte, zipReadBuf)
	var sum hash.Hash
	if len(z.opts.Sums) == len(z.tree.Entries) || z.cache != nil {
		sum = sha256.New()
	}
	c := &zipCacheWork{payload: sha256.New(), buf: bufio.NewWriterSize(nil, 64<<10)}
	for j := range jobs {
		switch {
		case err != nil:
			j.err = err
		case ctx.Err() != nil:
			j.err = ctx.Err()
		default:
			if j.method == zip.Deflate && z.cache != nil && j.e.Size > 0 {
				j.err = z.prepareCached(ctx, j, fw, buf, sum, c)
			} else {
				j.err = z.prepare(ctx, j, fw, buf, sum)
			}
			// Give back the budget the compressed bytes did not need, so
			// the workers can run further ahead of the writer.
			if used := j.out.inMemory(); used < j.cost {
				z.budget.Release(j.cost - used)
				j.cost = used
			}
		}
		close(j.done)
	}
}

// prepare reads the job's file once: its CRC-32, its SHA-256 when sum is
// not nil, and, for deflated entries, the compressed bytes.
func (z *zipper) prepare(ctx context.Context, j *zipJob, fw *flate.Writer, buf []byte, sum hash.Hash) error {
	f, err := os.Open(j.e.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	crc := crc32.NewIEEE()
	if sum != nil {
		sum.Reset()
	}
	var dst io.Writer
	if j.method == zip.Deflate {
		j.out = spillBuffer{pool: z.pool, limit: min(j.e.Size, z.spill), size: j.e.Size, tempDir: z.opts.TempDir}
		fw.Reset(&j.out)
		dst = fw
	}
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, rerr := f.Read(buf)
		n += int64(k)
		if n > j.e.Size {
			return errChanged()
		}
		crc.Write(buf[:k])
		if sum != nil {
			sum.Write(buf[:k])
		}
		if dst != nil && k > 0 {
			if _, err := dst.Write(buf[:k]); errors.Is(err, errNoGain) {
				dst = nil
			} else if err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if n != j.e.Size {
		return errChanged()
	}
	if dst != nil {
		if err := fw.Close(); errors.Is(err, errNoGain) {
			dst = nil
		} else if err != nil {
			return err
		}
	}
	if j.method == zip.Deflate && (dst == nil || j.out.n >= j.e.Size) {
		j.method = zip.Store
		j.out.release()
	}
	j.crc = crc.Sum32()
	if sum != nil {
		sum.Sum(j.sum[:0])
	}
	return nil
}

// zipCacheWork holds a worker's hash and buffer for the deflate cache.
type zipCacheWork struct {
	payload hash.Hash
	buf     *bufio.Writer
}

// prepareCached prepares a deflated entry through the cache: one read for
// its CRC-32 and SHA-256, then its deflated bytes from the cache, or from
// a second read that deflates them and puts them in the cache. A damaged
// cache entry is deflated again.
func (z *zipper) prepareCached(ctx context.Context, j *zipJob, fw *flate.Writer, buf []byte, sum hash.Hash, c *zipCacheWork) error {
	j.method = zip.Store // the first read only sums
	if err := z.prepare(ctx, j, fw, buf, sum); err != nil {
		return err
	}
	j.method = zip.Deflate
	crc, digest := j.crc, j.sum
	if hit := z.cache.lookup(digest, j.e.Size); hit != nil {
		if hit.raw {
			j.method = zip.Store
			return nil
		}
		j.out = spillBuffer{pool: z.pool, limit: min(j.e.Size, z.spill), size: j.e.Size, tempDir: z.opts.TempDir}
		err := hit.copyTo(&j.out, buf, c.payload)
		if err == nil && j.out.n < j.e.Size {
			j.cached = true
			return nil
		}
		j.out.release()
		z.cache.remove(digest)
	}
	if err := z.prepare(ctx, j, fw, buf, sum); err != nil {
		return err
	}
	if j.crc != crc || j.sum != digest {
		return errChanged()
	}
	h := &objectHeader{kind: objectKindRaw, plainSize: j.e.Size, plainSum: digest}
	entry := z.cache.create(digest, c.buf)
	if j.method == zip.Deflate && entry != nil {
		c.payload.Reset()
		if _, err := j.out.WriteTo(io.MultiWriter(entry, c.payload)); err != nil {
			entry.abort()
			return err
		}
		h.kind, h.payloadSize = objectKindStream, j.out.n
		c.payload.Sum(h.payloadSum[:0])
	}
	entry.commit(h)
	return nil
}

func errChanged() error {
	return fmt.Errorf("file changed while the bundle was being built: wait for the web build to finish, then build the bundle again")
}

// writeEntry writes the local header and data of j; it returns the data size.
func (z *zipper) writeEntry(ctx context.Context, zw *zip.Writer, j *zipJob, offset int64) (int64, error) {
	size := j.e.Size
	if j.method == zip.Deflate {
		size = j.out.n
	}
	fh := &zip.FileHeader{
		Name:               j.e.Name,
		Method:             j.method,
		CRC32:              j.crc,
		CompressedSize64:   uint64(size),
		UncompressedSize64: uint64(j.e.Size),
		CreatorVersion:     creatorUnix<<8 | zipVersion20,
		ReaderVersion:      zipVersion20,
		ModifiedTime:       zipModTime,
		ModifiedDate:       zipModDate,
	}
	if offset >= uint32max {
		fh.ReaderVersion = zipVersion45 // the central directory gives its offset in a Zip64 field
	}
	if !isPlainASCII(j.e.Name) {
		fh.Flags |= flagUTF8
	}
	fh.SetMode(0o644)
	dst, err := zw.CreateRaw(fh)
	if err != nil {
		return 0, err
	}
	if j.method == zip.Deflate {
		_, err := j.out.WriteTo(dst)
		return size, err
	}
	return size, copyStored(ctx, dst, j, z.copyBuf)
}

// copyStored copies a stored entry's file, checking that it still has the
// size and CRC its header promised.
func copyStored(ctx context.Context, dst io.Writer, j *zipJob, buf []byte) error {
	f, err := os.Open(j.e.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	crc := crc32.NewIEEE()
	r := &ctxReader{ctx: ctx, r: io.LimitReader(f, j.e.Size)}
	n, err := io.CopyBuffer(io.MultiWriter(dst, crc), r, buf)
	if err != nil {
		return err
	}
	var one [1]byte
	if extra, _ := f.Read(one[:]); n != j.e.Size || extra != 0 || crc.Sum32() != j.crc {
		return errChanged()
	}
	return nil
}

// discard frees what a job holds, once its worker is done with it.
func (j *zipJob) discard() {
	select {
	case <-j.done:
		j.out.release()
	default:
	}
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// spillBuffer holds an entry's compressed bytes: in chunks up to limit,
// then in an unlinked temp file. Once it holds size bytes it refuses more
// (errNoGain) unless the file is bigger than the in-memory limit, where the
// decision waits for the end.
type spillBuffer struct {
	pool    *chunkPool
	limit   int64 // most bytes kept in memory
	size    int64 // the entry's uncompressed size
	tempDir string

	chunks  [][]byte
	n       int64
	file    *os.File
	spilled bool // went to a temp file
	removed bool // the temp file's name is already gone
}

func (b *spillBuffer) Write(p []byte) (int, error) {
	if b.n+int64(len(p)) >= b.size && b.size <= b.limit {
		return 0, errNoGain
	}
	if b.file == nil && b.n+int64(len(p)) > b.limit {
		if err := b.spill(); err != nil {
			return 0, err
		}
	}
	if b.file != nil {
		k, err := b.file.Write(p)
		b.n += int64(k)
		return k, err
	}
	written := len(p)
	for len(p) > 0 {
		if len(b.chunks) == 0 || len(b.chunks[len(b.chunks)-1]) == zipChunk {
			b.chunks = append(b.chunks, b.pool.get())
		}
		last := &b.chunks[len(b.chunks)-1]
		k := copy((*last)[len(*last):zipChunk], p)
		*last = (*last)[:len(*last)+k]
		p = p[k:]
	}
	b.n += int64(written)
	return written, nil
}

// inMemory is the size of the chunks it holds.
func (b *spillBuffer) inMemory() int64 { return int64(len(b.chunks)) * zipChunk }

// spill moves the buffered bytes to a temp file that has no name on systems
// that allow it, so nothing is left behind even if the process dies.
func (b *spillBuffer) spill() error {
	f, err := os.CreateTemp(b.tempDir, "capship-zip-*")
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	b.file, b.spilled = f, true
	b.removed = os.Remove(f.Name()) == nil
	for _, c := range b.chunks {
		if _, err := f.Write(c); err != nil {
			return fmt.Errorf("write temp file: %w", err)
		}
		b.pool.put(c)
	}
	b.chunks = nil
	return nil
}

func (b *spillBuffer) WriteTo(w io.Writer) (int64, error) {
	if b.file == nil {
		var n int64
		for _, c := range b.chunks {
			k, err := w.Write(c)
			n += int64(k)
			if err != nil {
				return n, err
			}
		}
		return n, nil
	}
	if _, err := b.file.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("read temp file: %w", err)
	}
	n, err := io.Copy(w, io.LimitReader(b.file, b.n))
	if err == nil && n != b.n {
		err = fmt.Errorf("read temp file: %w", io.ErrUnexpectedEOF)
	}
	return n, err
}

// release gives the chunks back and closes and removes the temp file.
func (b *spillBuffer) release() {
	for _, c := range b.chunks {
		b.pool.put(c)
	}
	b.chunks = nil
	if b.file != nil {
		b.file.Close()
		if !b.removed {
			os.Remove(b.file.Name())
			b.removed = true
		}
		b.file = nil
	}
}

type zipCountWriter struct {
	w io.Writer
	n int64
}

func (c *zipCountWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
