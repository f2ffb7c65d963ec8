package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"capship/store"
	"capship/workflow"
)

// Object storage (`capship serve --storage DIR`): bundles and delta objects
// under content-addressed keys, immutable once written.
//
//	DIR/<app_id>/<zip_sha256>.zip                  a bundle
//	DIR/<app_id>/<zip_sha256>.files/<object>       its delta objects
//	DIR/.capship/sha256/<key>                      "sha256 size mtime_ns" of each object
//	DIR/.capship/tmp/put-*                         uploads in progress
//
// Every path goes through an os.Root on DIR, so neither a key nor a
// symlink inside DIR reaches a file outside it.
//
// The sha256 sidecar is written after the object is in place and records
// the size and modification time of the file it describes: a sidecar that
// does not match its file (a crash between the two, a file replaced by
// hand) is ignored, the object hashed again and the sidecar rewritten, so a
// wrong ETag is never served.

const (
	storageMeta = ".capship"
	storageTmp  = storageMeta + "/tmp"
	storageSums = storageMeta + "/sha256"
	// copyChunk is how much of an upload or a download moves between two
	// extensions of the connection's deadline.
	copyChunk = 256 << 10
)

// Errors of the object store, mapped to HTTP answers in storage_http.go.
var (
	errObjectNotFound = errors.New("no such object")
	errObjectConflict = errors.New("the object exists with other bytes; objects are immutable: upload under a new key")
	errDiskFull       = errors.New("the storage disk is full")
)

// badKeyError says why a key is not one of the two shapes.
type badKeyError struct{ key, why string }

func (e *badKeyError) Error() string {
	return fmt.Sprintf("object key %q: %s; keys are APP_ID/ZIP_SHA256.zip or APP_ID/ZIP_SHA256.files/OBJECT", e.key, e.why)
}

// digestError is an upload whose bytes are not what its header declared.
type digestError struct {
	want, got  string
	size, read int64
}

func (e *digestError) Error() string {
	if e.read != e.size {
		return fmt.Sprintf("the body held %d bytes, not the %d of Content-Length; nothing was stored", e.read, e.size)
	}
	return fmt.Sprintf("the body's sha256 is %s, not the %s of X-Capship-Sha256; nothing was stored", e.got, e.want)
}

// objectStore keeps objects in a folder.
type objectStore struct {
	root *os.Root
	dir  string

	linkMu sync.Mutex // serializes the rename fallback where hard links fail
}

// openObjectStore opens (creating) dir and removes the uploads a crash
// left in its temp folder. One capship serve per folder: a second one
// starting would remove the first one's uploads in progress (they fail
// and are retried, no object is harmed).
func openObjectStore(dir string) (*objectStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open storage %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open storage %s: %w", dir, err)
	}
	st := &objectStore{root: root, dir: dir}
	if err := root.RemoveAll(storageTmp); err != nil {
		root.Close()
		return nil, fmt.Errorf("remove unfinished uploads in %s: %w", dir, err)
	}
	for _, d := range []string{storageTmp, storageSums} {
		if err := root.MkdirAll(d, 0o755); err != nil {
			root.Close()
			return nil, fmt.Errorf("open storage %s: %w", dir, err)
		}
	}
	return st, nil
}

func (st *objectStore) close() error { return st.root.Close() }

// parseObjectKey checks that key is exactly one of the two shapes and
// returns its app id.
func parseObjectKey(key string) (string, error) {
	parts := strings.Split(key, "/")
	bad := func(why string) (string, error) { return "", &badKeyError{key, why} }
	if len(parts) != 2 && len(parts) != 3 {
		return bad("wrong number of parts")
	}
	if store.ValidAppID(parts[0]) != nil {
		return bad("the app id uses letters, digits, '.', '_' and '-' (up to 128, starting with a letter or digit)")
	}
	suffix := ".zip"
	if len(parts) == 3 {
		suffix = ".files"
		if !workflow.ValidObjectName(parts[2]) {
			return bad("the object name uses letters, digits, '.', '_', '-' and '~' (up to 255, not . or ..)")
		}
	}
	sum, ok := strings.CutSuffix(parts[1], suffix)
	if !ok || !isSHA256Hex(sum) {
		return bad("the bundle part is 64 lowercase hex digits then " + suffix)
	}
	return parts[0], nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// open returns a stored object, its size and its sha256. Only regular
// files are objects.
func (st *objectStore) open(key string) (*os.File, fs.FileInfo, string, error) {
	f, err := st.root.Open(key)
	if err != nil {
		return nil, nil, "", st.notFound(key, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	var sum string
	if err == nil {
		sum, err = st.sum(key, f, fi)
	}
	if err != nil {
		f.Close()
		return nil, nil, "", st.notFound(key, err)
	}
	return f, fi, sum, nil
}

// notFound turns a missing file (or one a symlink puts outside DIR) into
// errObjectNotFound.
func (st *objectStore) notFound(key string, err error) error {
	var pe *fs.PathError
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.As(err, &pe) && pe.Err.Error() == "path escapes from parent" {
		return errObjectNotFound
	}
	return fmt.Errorf("read object %s: %w", key, err)
}

// stat returns the size and sha256 of a stored object.
func (st *objectStore) stat(key string) (int64, string, error) {
	f, fi, sum, err := st.open(key)
	if err != nil {
		return 0, "", err
	}
	f.Close()
	return fi.Size(), sum, nil
}

// sum is the object's sha256 from its sidecar, or hashed (and the sidecar
// rewritten) when the sidecar is missing or does not describe this file.
func (st *objectStore) sum(key string, f *os.File, fi fs.FileInfo) (string, error) {
	if b, err := st.root.ReadFile(path.Join(storageSums, key)); err == nil {
		if sum, ok := parseSidecar(string(b), fi); ok {
			return sum, nil
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	st.writeSidecar(key, sum, fi) // best effort: the next read hashes again
	return sum, nil
}

func sidecarLine(sum string, fi fs.FileInfo) string {
	return fmt.Sprintf("%s %d %d\n", sum, fi.Size(), fi.ModTime().UnixNano())
}

func parseSidecar(s string, fi fs.FileInfo) (string, bool) {
	f := strings.Fields(s)
	if len(f) != 3 || !isSHA256Hex(f[0]) {
		return "", false
	}
	size, err1 := strconv.ParseInt(f[1], 10, 64)
	mtime, err2 := strconv.ParseInt(f[2], 10, 64)
	return f[0], err1 == nil && err2 == nil && size == fi.Size() && mtime == fi.ModTime().UnixNano()
}

// writeSidecar records sum for the object described by fi, through a temp
// file and a rename.
func (st *objectStore) writeSidecar(key, sum string, fi fs.FileInfo) error {
	name := path.Join(storageSums, key)
	if err := st.root.MkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	tmp, f, err := st.createTemp()
	if err != nil {
		return err
	}
	// No fsync: a sidecar lost or cut short in a crash does not parse
	// or match, and the object is hashed again.
	_, err = f.WriteString(sidecarLine(sum, fi))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = st.root.Rename(tmp, name)
	}
	if err != nil {
		st.root.Remove(tmp)
	}
	return err
}

// createTemp creates an empty file in the temp folder.
func (st *objectStore) createTemp() (string, *os.File, error) {
	for range 10 {
		var b [12]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", nil, err
		}
		name := storageTmp + "/put-" + hex.EncodeToString(b[:])
		f, err := st.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return name, f, err
	}
	return "", nil, errors.New("create a temp file: too many name collisions")
}

// put stores size bytes of body under key if they hash to sum. It
// reports whether the object is new; an object already stored with the
// same bytes is not written again (body is still read and checked).
// Nothing is visible under key unless every byte arrived and matched.
func (st *objectStore) put(key string, size int64, sum string, body io.Reader) (created bool, err error) {
	if _, have, err := st.stat(key); err == nil {
		if have != sum {
			return false, errObjectConflict
		}
		return false, verifyBody(io.Discard, body, size, sum)
	} else if !errors.Is(err, errObjectNotFound) {
		return false, err
	}
	tmp, f, err := st.createTemp()
	if err != nil {
		return false, st.writeErr(key, err)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		st.root.Remove(tmp)
	}()
	w := &fileWriter{f: f}
	if err := verifyBody(w, body, size, sum); err != nil {
		if w.err != nil {
			return false, st.writeErr(key, w.err)
		}
		return false, err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	f = nil
	if err != nil {
		return false, st.writeErr(key, err)
	}
	// The folders to fsync once the object is in: its own, and the
	// parent of each one MkdirAll creates.
	top := path.Dir(key)
	for d := top; d != "."; d = path.Dir(d) {
		if _, err := st.root.Lstat(d); err == nil {
			break
		}
		top = path.Dir(d)
	}
	if err := st.root.MkdirAll(path.Dir(key), 0o755); err != nil {
		return false, st.writeErr(key, err)
	}
	switch err := st.place(tmp, key); {
	case errors.Is(err, fs.ErrExist): // another upload of the key won
		if _, have, err := st.stat(key); errors.Is(err, errObjectNotFound) {
			return false, fmt.Errorf("store object %s: the path is taken by something other than a file inside the storage folder (a symlink?)", key)
		} else if err != nil {
			return false, err
		} else if have != sum {
			return false, errObjectConflict
		}
		return false, nil
	case err != nil:
		return false, st.writeErr(key, err)
	}
	for d := path.Dir(key); ; d = path.Dir(d) {
		if err := st.syncDir(d); err != nil {
			return true, st.writeErr(key, err)
		}
		if d == top {
			break
		}
	}
	if fi, err := st.root.Stat(key); err == nil {
		st.writeSidecar(key, sum, fi) // best effort: reads hash again without it
	}
	return true, nil
}

// place makes tmp visible as key unless key exists: a hard link, which
// fails when key exists, or where the filesystem has none a rename under
// a lock (safe within this process).
func (st *objectStore) place(tmp, key string) error {
	err := st.root.Link(tmp, key)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	st.linkMu.Lock()
	defer st.linkMu.Unlock()
	if _, serr := st.root.Lstat(key); serr == nil {
		return fs.ErrExist
	}
	return st.root.Rename(tmp, key)
}

func (st *objectStore) syncDir(name string) error {
	d, err := st.root.Open(name)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) { // some filesystems cannot sync a folder
		return err
	}
	return nil
}

// writeErr names the key and flags a full disk.
func (st *objectStore) writeErr(key string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("store object %s: %w (%s): %w", key, errDiskFull, st.dir, err)
	}
	return fmt.Errorf("store object %s: %w", key, err)
}

// fileWriter remembers a write error, to tell a full disk from a client
// that went away.
type fileWriter struct {
	f   *os.File
	err error
}

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// verifyBody copies exactly size bytes of body to w, hashing them, and
// checks them against sum.
func verifyBody(w io.Writer, body io.Reader, size int64, sum string) error {
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	n, err := io.CopyBuffer(io.MultiWriter(w, h), io.LimitReader(body, size+1), *buf)
	if err != nil {
		return err
	}
	if got := hexSum(h); n != size || got != sum {
		return &digestError{want: sum, got: got, size: size, read: n}
	}
	return nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyChunk); return &b }}

// progressReader moves the read deadline on as bytes arrive: a slow but
// steady upload of any size goes through, a stalled one times out.
type progressReader struct {
	r       io.Reader
	extend  func(time.Time) error
	timeout time.Duration
}

func (p *progressReader) Read(b []byte) (int, error) {
	p.extend(time.Now().Add(p.timeout))
	return p.r.Read(b)
}
