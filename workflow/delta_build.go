package workflow

import (
	"bufio"
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/andybalholm/brotli"
	"golang.org/x/sync/semaphore"
)

const (
	// DefaultBrotliLevel is the brotli quality of delta objects, chosen by
	// measurement on the large corpus (README "Performance > Bundle
	// build"): 6% smaller than quality 4 for twice its time, where 6 and
	// above cost 20% to 3.5 times more for at most 4% less.
	DefaultBrotliLevel = 5
	// brotliWindow is the brotli window (lgwin) of delta objects: 512 KiB.
	// Memory, measured on a 15 MB file at quality 5: 13 MB allocated (8 MB
	// live) at 19, 25 (13) at 20, 54 (21) at 21; the stream is 1% bigger
	// than at 21 on the large corpus. Never 22, the library's default: both
	// plugins copy a stream whose first bytes are 0b 02 80 or 1b 00 06
	// (which only window 22 starts with) and whose last is 03 without
	// decoding it, taking it for a wrapper of stored bytes.
	brotliWindow = 19
	// brotliMemory bounds the memory of the compressions running at once
	// (brotliCost each), whatever the number of workers: one file of 1 MiB
	// or more, and small ones beside it.
	brotliMemory = 16 << 20
	// brotliWrapLevel compresses a file whose own name ends in ".br": the
	// plugin decodes every file named so, so such a file must travel as a
	// brotli stream of itself (file_name NAME.br.br). Its bytes are
	// usually brotli already: quality 0 wraps them fast.
	brotliWrapLevel = 0
	// brotliMinSize and brotliMinGain are Capgo's rule: compress files of
	// 8 KiB or more, keep the stream when it saves at least 10 bytes.
	brotliMinSize = 8 << 10
	brotliMinGain = 10
	// maxDeltaBaseName: a phone keeps every file it installs from a
	// manifest in its cache as <sha256>_<name>, and device file systems
	// allow 255 bytes per name; a longer file name fails the install.
	maxDeltaBaseName = 255 - 65
)

var (
	// errWriteObject marks a failure to write an object (not a cache read).
	errWriteObject = errors.New("write object")
	// errNoShrink: brotli did not pay for a file; it goes plain.
	errNoShrink = errors.New("brotli does not shrink the file")
	// errBusy: a compression waits for memory.
	errBusy = errors.New("compression memory in use")
)

// deltaStats counts what a delta build did (tests and benchmarks).
type deltaStats struct {
	Signed     atomic.Int64 // RSA signatures made
	SigHits    atomic.Int64 // signatures found in the cache
	Compressed atomic.Int64 // contents brotli-compressed
	CacheHits  atomic.Int64 // contents whose compression came from the cache
	Objects    atomic.Int64 // objects written
}

// deltaBlocker says why tree cannot go file by file (the release then goes
// as a zip only), with the warning for the build; "" when it can.
func deltaBlocker(t *Tree) (string, *Problem) {
	var empty, long []string
	for _, e := range t.Entries {
		if e.Size == 0 {
			empty = append(empty, e.Name)
		}
		if len(path.Base(e.Name)) > maxDeltaBaseName {
			long = append(long, e.Name)
		}
	}
	if len(empty) > 0 {
		more := andMore(len(empty) - 1)
		return fmt.Sprintf("%s is empty%s: the plugin refuses empty files in a delta manifest, so phones get this release as the whole zip", empty[0], more),
			&Problem{Path: empty[0], Message: fmt.Sprintf("empty file%s: phones cannot get it file by file (the plugin refuses empty files in a delta manifest), so this release goes to them as the whole zip; delete it or give it content", more)}
	}
	if len(long) > 0 {
		n, more := len(path.Base(long[0])), andMore(len(long)-1)
		return fmt.Sprintf("the name of %s is %d bytes%s: phones store each file of a delta as <sha256>_<name>, which device file systems refuse past 255 bytes, so phones get this release as the whole zip", long[0], n, more),
			&Problem{Path: long[0], Message: fmt.Sprintf("file name of %d bytes%s: phones cannot get it file by file (the plugin caches it as <sha256>_<name>, past the 255 bytes device file systems allow), so this release goes to them as the whole zip; shorten it to %d bytes", n, more, maxDeltaBaseName)}
	}
	return "", nil
}

func andMore(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" (and %d more)", n)
}

// deltaJob is one distinct content of the tree: the object all its files
// share.
type deltaJob struct {
	first int // its first entry in the tree
	count int // entries of this content
	size  int64
	sum   [sha256.Size]byte
	crc   uint32

	sig     []byte // the V3 file hash's RSA block
	signed  bool   // sig was made by this build
	brotli  bool
	objSize int64
	objSum  [sha256.Size]byte
}

// deltaBuild writes the objects of one bundle.
type deltaBuild struct {
	tree         *Tree
	sums         []EntrySum
	jobs         []deltaJob
	tmp          string // the temp folder of the objects
	key          *rsa.PrivateKey
	aesKey       []byte
	iv           []byte
	level        int
	caches       map[int]*objectCache // by quality; nil values cache nothing
	stats        *deltaStats
	workers      int
	memory       *semaphore.Weighted // of memoryBudget
	memoryBudget int64
}

// brotliCost estimates the memory a compression of size bytes takes: the
// encoder works on blocks of up to twice the window, and takes about 12
// bytes per byte of block (measured).
func (b *deltaBuild) brotliCost(size int64) int64 {
	return min(12*min(size, 2<<brotliWindow)+256<<10, b.memoryBudget)
}

// writeDelta writes one object per distinct content of tree (whose
// SHA-256 and CRC-32 sums are as WriteZip saw them) into a new temp folder
// in outDir, named after dirName, and returns it with the Delta naming
// dirName's final path. The folder's files are durable when it returns;
// on an error or when ctx is cancelled the folder is gone. Compressed
// objects and signatures come from the cache under opts.CacheDir when
// there, and go there when made. Events: PhaseDelta.
func writeDelta(ctx context.Context, outDir, dirName string, tree *Tree, sums []EntrySum, opts BuildOptions, aesKey, iv []byte, report Reporter) (tmp string, d *Delta, err error) {
	b := &deltaBuild{tree: tree, sums: sums, key: opts.Key, aesKey: aesKey, iv: iv, level: DefaultBrotliLevel,
		caches: map[int]*objectCache{}, stats: opts.deltaStats, workers: opts.Workers,
		memory: semaphore.NewWeighted(brotliMemory), memoryBudget: brotliMemory}
	if opts.brotliLevel != nil {
		b.level = *opts.brotliLevel
	}
	if b.stats == nil {
		b.stats = &deltaStats{}
	}
	if b.workers <= 0 {
		b.workers = runtime.GOMAXPROCS(0)
	}
	if opts.brotliMem > 0 {
		b.memory, b.memoryBudget = semaphore.NewWeighted(opts.brotliMem), opts.brotliMem
	}
	cacheDir := opts.cacheDir()
	for _, q := range []int{b.level, brotliWrapLevel} {
		b.caches[q] = openObjectCache(cacheDir, q, brotliWindow)
	}

	// One job per distinct content; its first file is the one read.
	jobOf := make([]int32, len(tree.Entries))
	index := make(map[[sha256.Size]byte]int, len(tree.Entries))
	for i, e := range tree.Entries {
		j, ok := index[sums[i].SHA256]
		if !ok {
			j = len(b.jobs)
			index[sums[i].SHA256] = j
			b.jobs = append(b.jobs, deltaJob{first: i, size: e.Size, sum: sums[i].SHA256, crc: sums[i].CRC32})
		}
		b.jobs[j].count++
		jobOf[i] = int32(j)
	}
	sigs := openSigCache(cacheDir, opts.Key)
	found := make([][]byte, len(b.jobs))
	b.stats.SigHits.Add(int64(sigs.load(index, found)))
	for i := range b.jobs {
		b.jobs[i].sig = found[i]
	}
	found, index = nil, nil
	saveSigs := func() {
		var made []sigRecord
		for i := range b.jobs {
			if j := &b.jobs[i]; j.signed {
				made = append(made, sigRecord{sum: j.sum, sig: j.sig})
			}
		}
		sigs.save(made)
	}
	defer func() {
		// Signatures are worth keeping even when the build fails: they are
		// most of a first build's time.
		if err != nil {
			saveSigs()
		}
	}()

	b.tmp, err = os.MkdirTemp(outDir, "."+dirName+".tmp-*")
	if err != nil {
		return "", nil, fmt.Errorf("write delta objects: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(b.tmp)
		}
	}()
	if err := b.run(ctx, report); err != nil {
		return "", nil, err
	}
	if err := syncFolder(b.tmp); err != nil {
		return "", nil, fmt.Errorf("write delta objects: %w", err)
	}
	if err := os.Chmod(b.tmp, 0o755); err != nil {
		return "", nil, fmt.Errorf("write delta objects: %w", err)
	}
	if cacheDir != "" {
		pruneObjects(filepath.Join(cacheDir, "objects"), objectCacheLimit, time.Now())
	}

	d = &Delta{Dir: filepath.Join(outDir, dirName), Files: make([]DeltaFile, len(tree.Entries))}
	type names struct{ sum, fileHash, objSum string }
	strs := make([]names, len(b.jobs))
	for i := range b.jobs {
		j := &b.jobs[i]
		strs[i] = names{hex.EncodeToString(j.sum[:]), hex.EncodeToString(j.sig), hex.EncodeToString(j.objSum[:])}
	}
	saveSigs()
	for i := range b.jobs {
		b.jobs[i].sig = nil // kept as hex from now on
	}
	for i, e := range tree.Entries {
		j, s := &b.jobs[jobOf[i]], &strs[jobOf[i]]
		d.Files[i] = DeltaFile{Path: e.Name, SHA256: s.sum, FileHash: s.fileHash, Object: s.sum, Size: j.objSize,
			ObjectSHA256: s.objSum, Brotli: j.brotli, PlainSize: e.Size}
	}
	return b.tmp, d, nil
}

// run writes every job's object on b.workers goroutines, biggest first,
// and reports progress from this one.
func (b *deltaBuild) run(ctx context.Context, report Reporter) error {
	order := make([]int, len(b.jobs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(b.jobs[y].size, b.jobs[x].size) })

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		failure error
	)
	done := make(chan int, len(b.jobs))
	// A job whose compression would pass brotliMemory waits in later while
	// the worker goes on with others (signing, most likely); each worker
	// then takes the waiting ones, waiting for memory this time.
	var (
		laterMu sync.Mutex
		later   []int
	)
	for range min(b.workers, len(b.jobs)) {
		wg.Go(func() {
			w := b.newWorker()
			one := func(ji int, mayWait bool) bool {
				j := &b.jobs[ji]
				err := w.do(wctx, j, mayWait)
				if errors.Is(err, errBusy) {
					laterMu.Lock()
					later = append(later, ji)
					laterMu.Unlock()
					return true
				}
				if err != nil {
					errOnce.Do(func() {
						failure = fmt.Errorf("write delta object of %s: %w", b.tree.Entries[j.first].Name, err)
					})
					cancel()
					return false
				}
				done <- ji
				return true
			}
			for wctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= len(order) {
					break
				}
				if !one(order[k], true) {
					return
				}
			}
			for wctx.Err() == nil {
				laterMu.Lock()
				if len(later) == 0 {
					laterMu.Unlock()
					return
				}
				ji := later[len(later)-1]
				later = later[:len(later)-1]
				laterMu.Unlock()
				if !one(ji, false) {
					return
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(done)
	}()

	ev := Event{Phase: PhaseDelta, TotalFiles: len(b.tree.Entries), TotalBytes: b.tree.Bytes}
	if report != nil {
		report(ev)
	}
	last := time.Now()
	for i := range done {
		j := &b.jobs[i]
		ev.Files += j.count
		ev.Bytes += j.size * int64(j.count)
		ev.Current = b.tree.Entries[j.first].Name
		if report != nil && (ev.Files == ev.TotalFiles || time.Since(last) >= 100*time.Millisecond) {
			last = time.Now()
			report(ev)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return failure
}

// deltaWorker holds one goroutine's buffers, hashes and compressors.
type deltaWorker struct {
	b         *deltaBuild
	block     cipher.Block
	enc       *cbcWriter
	sink      objectSink
	buf       []byte
	cacheBuf  *bufio.Writer
	br        map[int]*brotli.Writer
	crc       hash.Hash32
	plainHash hash.Hash
	payHash   hash.Hash
}

func (b *deltaBuild) newWorker() *deltaWorker {
	block, _ := aes.NewCipher(b.aesKey) // the key's size was checked by the caller
	return &deltaWorker{
		b:         b,
		block:     block,
		enc:       &cbcWriter{buf: make([]byte, 0, sealChunk+aes.BlockSize)},
		sink:      objectSink{h: sha256.New()},
		buf:       make([]byte, 64<<10),
		cacheBuf:  bufio.NewWriterSize(nil, 64<<10),
		br:        map[int]*brotli.Writer{},
		crc:       crc32.NewIEEE(),
		plainHash: sha256.New(),
		payHash:   sha256.New(),
	}
}

// do signs the job's content (unless the cache had it) and writes its
// object. With mayDefer, a compression that would pass brotliMemory now is
// not started: do returns errBusy (the signature is kept).
func (w *deltaWorker) do(ctx context.Context, j *deltaJob, mayDefer bool) error {
	if j.sig == nil {
		sig, err := rsaPrivateOp(w.b.key, j.sum[:])
		if err != nil {
			return err
		}
		j.sig, j.signed = sig, true
		w.b.stats.Signed.Add(1)
	}
	e := &w.b.tree.Entries[j.first]
	quality, forced, ok := w.b.brotliFor(e)
	if !ok {
		return w.writePlain(ctx, j)
	}
	cache := w.b.caches[quality]
	if hit := cache.lookup(j.sum, j.size); hit != nil {
		if hit.raw {
			if !forced {
				w.b.stats.CacheHits.Add(1)
				return w.writePlain(ctx, j)
			}
		} else {
			err := w.writeObject(j, func(dst io.Writer) error { return hit.copyTo(dst, w.buf, w.payHash) })
			if err == nil {
				j.brotli = true
				w.b.stats.CacheHits.Add(1)
				return nil
			}
			if !errors.Is(err, errCacheEntry) {
				return err
			}
			cache.remove(j.sum) // damaged: compress again
		}
	}
	return w.compress(ctx, j, quality, forced, cache, mayDefer)
}

// brotliFor says whether a file's object may be a brotli stream, at which
// quality, and whether it must be one (a name ending in ".br").
// Already-compressed types are not tried: on the large corpus brotli took
// 0.4% off their 90 MB, for as much time as 15 MB of text.
func (b *deltaBuild) brotliFor(e *Entry) (quality int, forced, ok bool) {
	if strings.HasSuffix(e.Name, ".br") {
		return brotliWrapLevel, true, true
	}
	if e.Size >= brotliMinSize && !storedExts[strings.ToLower(path.Ext(e.Name))] {
		return b.level, false, true
	}
	return 0, false, false
}

func (w *deltaWorker) writePlain(ctx context.Context, j *deltaJob) error {
	j.brotli = false
	return w.writeObject(j, func(dst io.Writer) error { return w.copySource(ctx, j, dst, false) })
}

// compress writes the job's object as a brotli stream of its file, and the
// stream to the cache on the way. When the stream does not save
// brotliMinGain bytes (and the file may go plain), the object is written
// again plain and the cache notes it.
func (w *deltaWorker) compress(ctx context.Context, j *deltaJob, quality int, forced bool, cache *objectCache, mayDefer bool) error {
	cost := w.b.brotliCost(j.size)
	if mayDefer {
		if !w.b.memory.TryAcquire(cost) {
			return errBusy
		}
	} else if err := w.b.memory.Acquire(ctx, cost); err != nil {
		return err
	}
	defer w.b.memory.Release(cost)
	w.b.stats.Compressed.Add(1)
	entry := cache.create(j.sum, w.cacheBuf)
	defer entry.abort()
	out := brotliOut{h: w.payHash}
	out.h.Reset()
	err := w.writeObject(j, func(dst io.Writer) error {
		out.dst = dst
		if entry != nil {
			out.dst = io.MultiWriter(dst, entry)
		}
		bw := w.brotli(quality)
		bw.Reset(&out)
		if err := w.copySource(ctx, j, bw, true); err != nil {
			return err
		}
		err := bw.Close()
		bw.Reset(nil) // let go of a big file's buffers before the next waits for memory
		if err != nil {
			return err
		}
		if out.n > 0 && out.first&0x0f == 0x0b {
			// Never with brotliWindow; see there.
			return errors.New("brotli stream starts like the plugin's stored-bytes wrapper")
		}
		if !forced && out.n+brotliMinGain > j.size {
			return errNoShrink
		}
		return nil
	})
	if errors.Is(err, errNoShrink) {
		entry.commit(&objectHeader{kind: objectKindRaw, plainSize: j.size, plainSum: j.sum})
		return w.writePlain(ctx, j)
	}
	if err != nil {
		return err
	}
	h := &objectHeader{kind: objectKindStream, plainSize: j.size, payloadSize: out.n, plainSum: j.sum}
	out.h.Sum(h.payloadSum[:0])
	entry.commit(h)
	j.brotli = true
	return nil
}

func (w *deltaWorker) brotli(quality int) *brotli.Writer {
	bw := w.br[quality]
	if bw == nil {
		bw = brotli.NewWriterOptions(nil, brotli.WriterOptions{Quality: quality, LGWin: brotliWindow})
		w.br[quality] = bw
	}
	return bw
}

// brotliOut passes a brotli stream on, counting and hashing it and keeping
// its first byte.
type brotliOut struct {
	dst   io.Writer
	h     hash.Hash
	n     int64
	first byte
}

func (o *brotliOut) Write(p []byte) (int, error) {
	if o.n == 0 && len(p) > 0 {
		o.first = p[0]
	}
	n, err := o.dst.Write(p)
	o.h.Write(p[:n])
	o.n += int64(n)
	return n, err
}

// writeObject writes the job's object file: what fill writes, encrypted
// with the session key. On error the file is gone.
func (w *deltaWorker) writeObject(j *deltaJob, fill func(io.Writer) error) error {
	name := filepath.Join(w.b.tmp, hex.EncodeToString(j.sum[:]))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("%w: %w", errWriteObject, err)
	}
	w.sink.f, w.sink.n = f, 0
	w.sink.h.Reset()
	w.enc.reset(&w.sink, cipher.NewCBCEncrypter(w.block, w.b.iv))
	err = fill(w.enc)
	if err == nil {
		err = w.enc.Close()
	}
	if err == nil && syncEachObject {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("%w: %w", errWriteObject, err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%w: %w", errWriteObject, cerr)
	}
	if err != nil {
		os.Remove(name)
		return err
	}
	j.objSize = w.sink.n
	w.sink.h.Sum(j.objSum[:0])
	w.b.stats.Objects.Add(1)
	return nil
}

// objectSink is the object file, hashed and counted as it is written.
type objectSink struct {
	f *os.File
	h hash.Hash
	n int64
}

func (s *objectSink) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.h.Write(p[:n])
	s.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("%w: %w", errWriteObject, err)
	}
	return n, nil
}

// copySource writes the job's file to dst, checking that it still is what
// the zip holds: its size and CRC-32, and its SHA-256 when strict (a
// compressed stream goes to the cache under that SHA-256).
func (w *deltaWorker) copySource(ctx context.Context, j *deltaJob, dst io.Writer, strict bool) error {
	f, err := os.Open(w.b.tree.Entries[j.first].Path)
	if err != nil {
		return err
	}
	defer f.Close()
	w.crc.Reset()
	w.plainHash.Reset()
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, rerr := f.Read(w.buf)
		if k > 0 {
			n += int64(k)
			if n > j.size {
				return errChanged()
			}
			w.crc.Write(w.buf[:k])
			if strict {
				w.plainHash.Write(w.buf[:k])
			}
			if _, err := dst.Write(w.buf[:k]); err != nil {
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
	if n != j.size || w.crc.Sum32() != j.crc {
		return errChanged()
	}
	if strict {
		var sum [sha256.Size]byte
		if w.plainHash.Sum(sum[:0]); sum != j.sum {
			return errChanged()
		}
	}
	return nil
}
