package workflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PhaseUpload is the part of an upload job that sends objects to storage.
const PhaseUpload Phase = "upload"

// ErrObjectMissing is what an ObjectStore's Stat returns for a key that
// holds nothing yet.
var ErrObjectMissing = errors.New("object not found")

// ErrAccessDenied means the storage refused the credentials or the
// request (HTTP 401 or 403); retrying does not help.
var ErrAccessDenied = errors.New("access denied")

// ErrObjectConflict means a key already holds other bytes than the ones to
// upload; capship never overwrites them.
var ErrObjectConflict = errors.New("a different object is already stored under this key")

// ObjectInfo is what storage holds under a key.
type ObjectInfo struct {
	Size   int64
	SHA256 string // lowercase hex; empty when the storage does not know it
}

// UploadObject is one file to upload: the encrypted bundle or one object of
// its delta folder.
type UploadObject struct {
	Key    string // under the storage's root: APP/ZIPSHA.zip or APP/ZIPSHA.files/OBJECT
	Path   string // the local file
	Size   int64
	SHA256 string // of the file, lowercase hex, as the manifest says
}

// ObjectStore is where an upload goes: a capship server's storage or an
// S3-compatible bucket.
type ObjectStore interface {
	// Stat says what key holds, or ErrObjectMissing.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// Put stores the Size bytes of body under o.Key, calling sent with the
	// bytes of each chunk read for sending (Upload takes back what a
	// failed try counted).
	Put(ctx context.Context, o UploadObject, body io.ReadSeeker, sent func(int64)) error
	// PublicURL is the URL devices fetch key from; ok is false while the
	// store does not know it yet (a capship server says it in its answer
	// to a Put).
	PublicURL(key string) (u string, ok bool)
	// Retryable says whether err, returned by Stat or Put, is transient:
	// a dropped connection, HTTP 5xx or 429.
	Retryable(err error) bool
	// Describe names the storage for people, e.g. "s3://bucket/prefix".
	Describe() string
}

// UploadKeys are where a manifest's bundle and delta objects go under a
// storage's root.
func UploadKeys(m *Manifest) (zip, files string) {
	base := m.AppID + "/" + m.ZipSHA256
	return base + ".zip", base + ".files"
}

// UploadPlan lists the objects of a built bundle to upload: the encrypted
// bundle first, then each distinct object of its delta folder.
func UploadPlan(m *Manifest) ([]UploadObject, error) {
	if err := ValidAppID(m.AppID); err != nil { // it heads every key
		return nil, fmt.Errorf("%w: app_id: %w", ErrManifest, err)
	}
	zipKey, filesKey := UploadKeys(m)
	plan := []UploadObject{{Key: zipKey, Path: m.File, Size: m.Size, SHA256: m.SHA256}}
	if m.Delta == nil {
		return plan, nil
	}
	objects, err := deltaObjects(m.Delta)
	if err != nil {
		return nil, err
	}
	for _, o := range objects {
		plan = append(plan, UploadObject{Key: filesKey + "/" + o.name, Path: filepath.Join(m.Delta.Dir, o.name), Size: o.size, SHA256: o.sha256})
	}
	return plan, nil
}

// UploadOptions tune Upload; zero values take the defaults.
type UploadOptions struct {
	Parallel int           // uploads at once; default 8
	Attempts int           // tries of one object for transient errors; default 5
	Backoff  time.Duration // wait before the second try, doubled after each; default 500ms
	NoCheck  bool          // skip the download-back check
	// Client downloads the objects back for the check; nil for a default.
	Client *http.Client
	Report Reporter // PhaseUpload events (Files: objects done), then the check's, then PhaseDone
}

func (o *UploadOptions) defaults() {
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.Report == nil {
		o.Report = func(Event) {}
	}
}

// UploadResult is what Upload did and where devices find the release.
type UploadResult struct {
	Target   string `json:"target"`              // the storage, for people
	URL      string `json:"url"`                 // of the encrypted bundle
	FilesURL string `json:"files_url,omitempty"` // base of the delta objects; empty without a delta
	Objects  int    `json:"objects"`             // in the plan, the bundle included
	Uploaded int    `json:"uploaded"`            // sent now
	Skipped  int    `json:"skipped"`             // already there with the same size and SHA-256
	Bytes    int64  `json:"bytes"`               // sent now
	// TotalBytes is the size of every object of the plan.
	TotalBytes int64 `json:"total_bytes"`
	Retries    int   `json:"retries"` // tries repeated after a transient error
	// Check and ObjectsCheck are the download-back checks over the public
	// URLs; nil when skipped (or ObjectsCheck without a delta).
	Check        *URLCheck     `json:"-"`
	ObjectsCheck *ObjectsCheck `json:"-"`
}

// Checked reports whether the hosted bytes were downloaded back and are the
// built ones.
func (r *UploadResult) Checked() bool {
	return r.Check != nil && r.Check.OK() && (r.FilesURL == "" || r.ObjectsCheck != nil && r.ObjectsCheck.OK())
}

// Upload sends the manifest's bundle and delta objects to st (Parallel at
// a time, skipping what st already holds with the same size and SHA-256,
// retrying transient errors), then downloads them back from their public
// URLs and compares them with the built ones unless NoCheck. The check's
// findings are in the result; the error is for an upload that failed.
func Upload(ctx context.Context, m *Manifest, st ObjectStore, opt UploadOptions) (*UploadResult, error) {
	opt.defaults()
	plan, err := UploadPlan(m)
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	res := &UploadResult{Target: st.Describe(), Objects: len(plan)}
	for _, o := range plan {
		res.TotalBytes += o.Size
	}
	p := &uploadProgress{report: opt.Report, total: res.TotalBytes, objects: len(plan)}
	if err := uploadAll(ctx, st, plan, &opt, p, res); err != nil {
		return nil, err
	}
	zipKey, filesKey := UploadKeys(m)
	if err := learnURL(ctx, st, plan, &opt, res); err != nil {
		return nil, err
	}
	res.URL, _ = st.PublicURL(zipKey)
	if m.Delta != nil {
		res.FilesURL, _ = st.PublicURL(filesKey)
	}
	opt.Report(Event{Phase: PhaseDone, Files: len(plan), TotalFiles: len(plan), Bytes: res.TotalBytes, TotalBytes: res.TotalBytes, Skipped: res.Skipped})
	if opt.NoCheck {
		return res, nil
	}
	if res.Check, err = CheckURL(ctx, opt.Client, res.URL, m.Size, m.SHA256, opt.Report); err != nil {
		return res, fmt.Errorf("upload: check %s: %w", res.URL, err)
	}
	if m.Delta != nil {
		res.ObjectsCheck, err = CheckObjects(ctx, res.FilesURL, m.Delta, CheckObjectsOptions{Client: opt.Client, Parallel: opt.Parallel, Report: opt.Report})
		if err != nil {
			return res, fmt.Errorf("upload: check %s/: %w", res.FilesURL, err)
		}
	}
	return res, nil
}

// uploadAll runs the plan, Parallel at a time; the first error that is not
// transient (or stays so after Attempts tries) stops it.
func uploadAll(ctx context.Context, st ObjectStore, plan []UploadObject, opt *UploadOptions, p *uploadProgress, res *UploadResult) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range min(opt.Parallel, len(plan)) {
		wg.Go(func() {
			for i := range jobs {
				if ctx.Err() != nil {
					continue
				}
				skipped, retries, err := uploadOne(ctx, st, plan[i], opt, p, false)
				mu.Lock()
				res.Retries += retries
				switch {
				case err != nil:
					if first == nil {
						first = err
						cancel(err)
					}
				case skipped:
					res.Skipped++
				default:
					res.Uploaded++
					res.Bytes += plan[i].Size
				}
				mu.Unlock()
			}
		})
	}
	for i := range plan {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// learnURL makes sure st knows the public URL of the plan's keys: a
// capship server only says it in its answer to an upload, so when every
// object was skipped, the smallest is sent again (the server keeps it as
// it is).
func learnURL(ctx context.Context, st ObjectStore, plan []UploadObject, opt *UploadOptions, res *UploadResult) error {
	if _, ok := st.PublicURL(plan[0].Key); ok {
		return nil
	}
	smallest := slices.MinFunc(plan, func(a, b UploadObject) int { return cmp.Compare(a.Size, b.Size) })
	// Its bytes and its object were counted already: report them apart.
	quiet := &uploadProgress{report: func(Event) {}, total: smallest.Size, objects: 1}
	_, retries, err := uploadOne(ctx, st, smallest, opt, quiet, true)
	res.Retries += retries
	if err != nil {
		return err
	}
	if _, ok := st.PublicURL(plan[0].Key); !ok {
		return fmt.Errorf("upload to %s: the storage did not say the public URL of %s", st.Describe(), smallest.Key)
	}
	return nil
}

// uploadOne skips o when st holds it already (unless force), else sends
// it, retrying transient errors with a doubling wait.
func uploadOne(ctx context.Context, st ObjectStore, o UploadObject, opt *UploadOptions, p *uploadProgress, force bool) (skipped bool, retries int, err error) {
	wait := opt.Backoff
	for attempt := 1; ; attempt++ {
		skipped, err = tryOne(ctx, st, o, p, force)
		if err == nil || ctx.Err() != nil || attempt >= opt.Attempts || !st.Retryable(err) {
			break
		}
		retries++
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait *= 2
	}
	if err != nil {
		if retries > 0 {
			return false, retries, fmt.Errorf("upload %s to %s (after %d tries): %w", o.Key, st.Describe(), retries+1, err)
		}
		return false, retries, fmt.Errorf("upload %s to %s: %w", o.Key, st.Describe(), err)
	}
	p.object(skipped, o.Size)
	return skipped, retries, nil
}

func tryOne(ctx context.Context, st ObjectStore, o UploadObject, p *uploadProgress, force bool) (skipped bool, err error) {
	if !force {
		info, err := st.Stat(ctx, o.Key)
		switch {
		case err == nil && info.Size == o.Size && info.SHA256 == o.SHA256:
			return true, nil
		case err == nil && info.SHA256 != "":
			return false, fmt.Errorf("%w (%d bytes, sha256 %s; this build's is %d bytes, sha256 %s): the key names the zip's SHA-256, so the storage holds a damaged copy; delete it there and upload again",
				ErrObjectConflict, info.Size, info.SHA256, o.Size, o.SHA256)
		case err != nil && !errors.Is(err, ErrObjectMissing):
			return false, err
		}
	}
	f, err := os.Open(o.Path)
	if err != nil {
		return false, fmt.Errorf("%w (upload the bundle from the folder 'capship bundle build' wrote, with its .files folder beside it)", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return false, err
	} else if st.Size() != o.Size {
		return false, fmt.Errorf("%s has %d bytes, the manifest says %d: it changed since the build; build the bundle again", o.Path, st.Size(), o.Size)
	}
	var counted atomic.Int64 // parts of one object may go at once
	err = st.Put(ctx, o, f, func(n int64) { counted.Add(n); p.add(n) })
	if err != nil {
		p.add(-counted.Load()) // a retry sends these bytes again
	}
	return false, err
}

// uploadProgress reports an upload from several goroutines, one event at
// a time.
type uploadProgress struct {
	report  Reporter
	total   int64
	objects int

	mu       sync.Mutex
	bytes    int64 // sent or skipped so far
	finished int
	skipped  int
}

func (p *uploadProgress) send(add int64, object, skipped bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes += add
	if object {
		p.finished++
	}
	if skipped {
		p.skipped++
	}
	p.report(Event{Phase: PhaseUpload, Files: p.finished, TotalFiles: p.objects, Bytes: p.bytes, TotalBytes: p.total, Skipped: p.skipped})
}

func (p *uploadProgress) add(n int64) { p.send(n, false, false) }

// object counts one object done; a skipped one counts its bytes as done.
func (p *uploadProgress) object(skipped bool, size int64) {
	if skipped {
		p.send(size, true, true)
		return
	}
	p.send(0, true, false)
}

// countingReader calls sent with the bytes of each Read.
type countingReader struct {
	r    io.Reader
	sent func(int64)
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 && c.sent != nil {
		c.sent(int64(n))
	}
	return n, err
}

// joinKey joins a storage prefix and a key with one '/'.
func joinKey(prefix, key string) string {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return key
	}
	return prefix + "/" + key
}
