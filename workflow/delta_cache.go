package workflow

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
)

// The object cache keeps, between builds, the brotli stream of every file
// content Build compressed for the delta, and the deflated bytes of every
// zip entry, keyed by the plain SHA-256 and the compression settings, so
// that the next release compresses only what changed. It holds no secret:
// the bundle and the objects are encrypted per release, after the cache.
//
// One entry per file, <base>/objects/<variant>/<2 hex>/<64 hex>, the
// variant being br<quality>-w<window> or deflate<level>-<library version>:
// a fixed header (objectHeaderSize bytes) then the compressed stream. An
// entry whose content did not shrink holds no stream and says so ("raw"), so the
// next build does not try again. Entries are written to a temp file in
// their folder and renamed, so concurrent capship processes see whole
// entries or none; one that is damaged (size, header, or the SHA-256 of
// its stream) is ignored and replaced.

const (
	objectMagic      = "CSHPOBJ1"
	objectHeaderSize = 96
	objectKindStream = 1
	objectKindRaw    = 2
	// objectCacheLimit bounds the object cache; pruning keeps it below
	// three quarters of it, dropping the entries least recently used. The
	// large corpus's text compresses to about 25 MB, so this holds the
	// history of many releases.
	objectCacheLimit = 1 << 30
	// pruneEvery is how often at most a build looks at the whole cache.
	pruneEvery = time.Hour
	// touchAfter: a hit refreshes the entry's time (its place in the
	// least-recently-used order) when it is older than this.
	touchAfter = time.Hour
	// staleTemp: temp files older than this are left over by a process
	// that died, and pruning removes them.
	staleTemp = time.Hour
)

// errCacheEntry means a cache entry is damaged; the caller compresses again.
var errCacheEntry = errors.New("cache entry damaged")

// DefaultCacheDir is where Build keeps compressed objects and file
// signatures between builds: capship under the user's cache folder
// (XDG_CACHE_HOME or ~/.cache on Linux). "" when there is none.
func DefaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil || dir == "" {
		return ""
	}
	return filepath.Join(dir, "capship")
}

// objectCache is one variant (quality and window) of the object cache.
// A nil *objectCache caches nothing.
type objectCache struct {
	root    string // <base>/objects
	dir     string // root/br<q>-w<lgwin>
	quality int
	window  int
	now     func() time.Time
}

func openObjectCache(base string, quality, window int) *objectCache {
	return openCacheVariant(base, fmt.Sprintf("br%d-w%d", quality, window), quality, window)
}

// openDeflateCache is the variant of the zip's deflated entries: keyed by
// the level and the version of the deflate library too, since another
// version may write other (equally valid) bytes, and a zip is always the
// same bytes for the same files.
func openDeflateCache(base string, level int) *objectCache {
	return openCacheVariant(base, fmt.Sprintf("deflate%d-%s", level, flateVersion()), level, 15)
}

func openCacheVariant(base, name string, quality, window int) *objectCache {
	if base == "" {
		return nil
	}
	root := filepath.Join(base, "objects")
	return &objectCache{root: root, dir: filepath.Join(root, name), quality: quality, window: window, now: time.Now}
}

// flateVersion is the version of klauspost/compress built in, made safe
// for a folder name.
var flateVersion = sync.OnceValue(func() string {
	v := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/klauspost/compress" {
				if d.Replace != nil {
					d = d.Replace
				}
				v = d.Version
			}
		}
	}
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, v)
})

func (c *objectCache) path(sum [sha256.Size]byte) string {
	h := hex.EncodeToString(sum[:])
	return filepath.Join(c.dir, h[:2], h)
}

// objectHeader is the fixed start of a cache entry.
type objectHeader struct {
	kind        byte
	plainSize   int64
	payloadSize int64
	plainSum    [sha256.Size]byte
	payloadSum  [sha256.Size]byte
}

func (c *objectCache) encodeHeader(h *objectHeader) []byte {
	b := make([]byte, objectHeaderSize)
	copy(b, objectMagic)
	b[8], b[9], b[10] = h.kind, byte(c.quality), byte(c.window)
	binary.LittleEndian.PutUint64(b[16:], uint64(h.plainSize))
	binary.LittleEndian.PutUint64(b[24:], uint64(h.payloadSize))
	copy(b[32:64], h.plainSum[:])
	copy(b[64:96], h.payloadSum[:])
	return b
}

// cachedObject is a cache entry whose header matched: open for copyTo,
// unless raw.
type cachedObject struct {
	f          *os.File // nil when raw
	raw        bool     // the content does not shrink: it goes plain
	size       int64
	payloadSum [sha256.Size]byte
}

// lookup opens the entry for a plain content of that SHA-256 and size; nil
// when there is none, or it is damaged (then it is removed).
func (c *objectCache) lookup(sum [sha256.Size]byte, plainSize int64) *cachedObject {
	if c == nil {
		return nil
	}
	p := c.path(sum)
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	var hdr [objectHeaderSize]byte
	st, err := f.Stat()
	if err == nil {
		_, err = io.ReadFull(f, hdr[:])
	}
	ok := err == nil && string(hdr[:8]) == objectMagic && int(hdr[9]) == c.quality && int(hdr[10]) == c.window &&
		int64(binary.LittleEndian.Uint64(hdr[16:])) == plainSize && bytes.Equal(hdr[32:64], sum[:])
	size := int64(binary.LittleEndian.Uint64(hdr[24:]))
	switch {
	case !ok:
	case !allZero(hdr[11:16]):
		ok = false
	case hdr[8] == objectKindRaw && size == 0 && st.Size() == objectHeaderSize && allZero(hdr[64:96]):
	case hdr[8] == objectKindStream && size > 0 && st.Size() == objectHeaderSize+size:
	default:
		ok = false
	}
	if !ok {
		f.Close()
		c.remove(sum)
		return nil
	}
	if now := c.now(); now.Sub(st.ModTime()) > touchAfter {
		_ = os.Chtimes(p, now, now) // its place in the least-recently-used order; best effort
	}
	if hdr[8] == objectKindRaw {
		f.Close() // no stream to read
		return &cachedObject{raw: true}
	}
	o := &cachedObject{f: f, size: size}
	copy(o.payloadSum[:], hdr[64:96])
	return o
}

// copyTo writes the entry's brotli stream to w and checks it against the
// SHA-256 in the header (errCacheEntry when it does not match). It closes
// the entry.
func (o *cachedObject) copyTo(w io.Writer, buf []byte, h hash.Hash) error {
	defer o.f.Close()
	h.Reset()
	n, err := io.CopyBuffer(io.MultiWriter(w, h), struct{ io.Reader }{io.LimitReader(o.f, o.size)}, buf)
	if err != nil {
		if errors.Is(err, errWriteObject) {
			return err
		}
		return fmt.Errorf("%w: %v", errCacheEntry, err)
	}
	if n != o.size || !bytes.Equal(h.Sum(nil), o.payloadSum[:]) {
		return errCacheEntry
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (c *objectCache) remove(sum [sha256.Size]byte) {
	if c != nil {
		os.Remove(c.path(sum))
	}
}

// objectEntry is a cache entry being written: the header's room, then the
// brotli stream through a buffer.
type objectEntry struct {
	c   *objectCache
	f   *os.File
	buf *bufio.Writer
	sum [sha256.Size]byte
}

// create starts the entry for sum, or returns nil when the cache cannot
// take it (the build goes on without it).
func (c *objectCache) create(sum [sha256.Size]byte, buf *bufio.Writer) *objectEntry {
	if c == nil {
		return nil
	}
	dir := filepath.Dir(c.path(sum))
	f, err := os.CreateTemp(dir, ".tmp-*")
	if errors.Is(err, fs.ErrNotExist) {
		if os.MkdirAll(dir, 0o700) == nil {
			f, err = os.CreateTemp(dir, ".tmp-*")
		}
	}
	if err != nil {
		return nil
	}
	if _, err := f.Write(make([]byte, objectHeaderSize)); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil
	}
	buf.Reset(f)
	return &objectEntry{c: c, f: f, buf: buf, sum: sum}
}

// Write takes brotli bytes. A write error drops the entry (the build goes
// on): later writes are ignored and commit does nothing.
func (e *objectEntry) Write(p []byte) (int, error) {
	if e.f != nil {
		if _, err := e.buf.Write(p); err != nil {
			e.abort()
		}
	}
	return len(p), nil
}

// commit completes the entry with its header and renames it into place.
// Failing only costs a later build the compression.
func (e *objectEntry) commit(h *objectHeader) {
	if e == nil || e.f == nil {
		return
	}
	defer e.abort()
	if e.buf.Flush() != nil || e.f.Truncate(objectHeaderSize+h.payloadSize) != nil {
		return
	}
	if _, err := e.f.WriteAt(e.c.encodeHeader(h), 0); err != nil {
		return
	}
	if e.f.Close() != nil {
		return
	}
	if os.Rename(e.f.Name(), e.c.path(e.sum)) == nil {
		e.f = nil
	}
}

// abort removes an entry not committed; it may be called more than once.
func (e *objectEntry) abort() {
	if e == nil || e.f == nil {
		return
	}
	e.f.Close()
	os.Remove(e.f.Name())
	e.f = nil
}

// pruneObjects keeps the object cache under root below limit: at most once
// per pruneEvery (a stamp file says when it last ran, so concurrent
// processes do not all walk it), it removes temp files left by dead
// processes, and when the entries pass limit, the least recently used
// ones down to three quarters of it. Errors are ignored: another process
// may be pruning at the same time.
func pruneObjects(root string, limit int64, now time.Time) {
	stamp := filepath.Join(root, ".pruned")
	if st, err := os.Stat(stamp); err == nil && now.Sub(st.ModTime()) < pruneEvery {
		return
	} else if errors.Is(err, fs.ErrNotExist) {
		if f, err := os.OpenFile(stamp, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			f.Close()
		}
	}
	if err := os.Chtimes(stamp, now, now); err != nil {
		return
	}
	type entry struct {
		path string
		size int64
		at   time.Time
	}
	var entries []entry
	var total int64
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == stamp {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".tmp-") {
			if now.Sub(info.ModTime()) > staleTemp {
				os.Remove(p)
			}
			return nil
		}
		entries = append(entries, entry{p, info.Size(), info.ModTime()})
		total += info.Size()
		return nil
	})
	if total <= limit {
		return
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.at.Compare(b.at) })
	for _, e := range entries {
		if total <= limit/4*3 {
			break
		}
		if os.Remove(e.path) == nil {
			total -= e.size
		}
	}
}
