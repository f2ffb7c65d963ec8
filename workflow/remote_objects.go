package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ValidateFilesURL checks the base URL a delta's objects were uploaded
// under, as ValidateBundleURL checks a bundle URL, and returns it without
// a trailing '/': devices fetch BASE/<object>, so it may not carry a
// ?query either.
func ValidateFilesURL(raw string) (base, warning string, err error) {
	u, warning, err := ValidateBundleURL(raw)
	if err != nil {
		return "", "", fmt.Errorf("files url: %w", err)
	}
	if u.RawQuery != "" || u.ForceQuery {
		return "", "", fmt.Errorf("files url: %w: it has a ?query, but devices fetch BASE/OBJECT; give the plain address of the folder holding the objects", ErrBadURL)
	}
	return strings.TrimRight(strings.TrimSpace(raw), "/"), warning, nil
}

// ObjectURL is where devices fetch a delta object: base (as
// ValidateFilesURL returns it) "/" object.
func ObjectURL(base, object string) string { return base + "/" + object }

// ObjectsCheck is what capship found when it downloaded every object of a
// delta back from BASE/<object>.
type ObjectsCheck struct {
	BaseURL   string          `json:"base_url"`
	Objects   int             `json:"objects"`    // distinct objects the delta names
	Files     int             `json:"files"`      // files they hold
	Checked   int             `json:"checked"`    // objects downloaded and compared
	Bytes     int64           `json:"bytes"`      // bytes received
	WantBytes int64           `json:"want_bytes"` // bytes of all objects, as built
	Problems  []ObjectProblem `json:"problems"`   // one per object that is not the built one, in path order
	// Stopped: the check gave up after MaxProblems problems; the objects
	// after them (Objects - Checked) were not downloaded.
	Stopped bool `json:"stopped,omitempty"`
}

// OK reports whether every object was downloaded and is exactly the built one.
func (c *ObjectsCheck) OK() bool { return len(c.Problems) == 0 && c.Checked == c.Objects }

// ObjectProblem is one object whose hosted bytes are not the built ones.
type ObjectProblem struct {
	Object     string   `json:"object"`
	URL        string   `json:"url"`
	Paths      []string `json:"paths"`            // the files this object holds
	Status     int      `json:"status,omitempty"` // HTTP status; 0 when no answer came
	Size       int64    `json:"size"`             // bytes received (at most WantSize+1)
	WantSize   int64    `json:"want_size"`
	SHA256     string   `json:"sha256,omitempty"` // of the bytes received, when the size matched
	WantSHA256 string   `json:"want_sha256"`
	Problem    string   `json:"problem"` // what differs and what to do, one sentence or two
}

// Files names the files the object holds, for people: the first, and how
// many more.
func (p ObjectProblem) Files() string {
	switch len(p.Paths) {
	case 0:
		return "no file"
	case 1:
		return p.Paths[0]
	}
	return fmt.Sprintf("%s and %d more", p.Paths[0], len(p.Paths)-1)
}

// CheckObjectsOptions tune CheckObjects; zero values take the defaults.
type CheckObjectsOptions struct {
	// Client makes the requests; default: one keeping Parallel
	// connections to the host alive. Its own Timeout, if any, applies on
	// top of RequestTimeout and StallTimeout.
	Client         *http.Client
	Parallel       int           // downloads at once; default 8
	RequestTimeout time.Duration // longest one object may take; default 5 minutes
	StallTimeout   time.Duration // longest wait for the answer or the next bytes; default 30 seconds
	MaxProblems    int           // stop starting downloads after this many problems; default 100
	Report         Reporter      // PhaseDownload events (Files: objects done), then PhaseDone
}

func (o *CheckObjectsOptions) defaults() {
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Minute
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = defaultStallTimeout
	}
	if o.MaxProblems <= 0 {
		o.MaxProblems = 100
	}
}

var errTooSlow = errors.New("too slow")

// deltaObject is one distinct object of a delta and the files it holds.
type deltaObject struct {
	name   string
	size   int64
	sha256 string
	paths  []string
}

// deltaObjects returns the distinct objects of d in the order their first
// file comes, refusing a delta that names one object two ways.
func deltaObjects(d *Delta) ([]*deltaObject, error) {
	if d == nil || len(d.Files) == 0 {
		return nil, fmt.Errorf("%w: the delta lists no files", ErrManifest)
	}
	byName := make(map[string]*deltaObject, len(d.Files))
	var out []*deltaObject
	for _, f := range d.Files {
		switch {
		case !validObjectName(f.Object):
			return nil, fmt.Errorf("%w: file %q: object name %q is not a flat, URL-safe name", ErrManifest, f.Path, f.Object)
		case f.Size <= 0:
			return nil, fmt.Errorf("%w: file %q: object size %d is not positive", ErrManifest, f.Path, f.Size)
		case len(f.ObjectSHA256) != 64 || !isLowerHex(f.ObjectSHA256):
			return nil, fmt.Errorf("%w: file %q: object_sha256 is not 64 lowercase hex characters", ErrManifest, f.Path)
		}
		o := byName[f.Object]
		if o == nil {
			o = &deltaObject{name: f.Object, size: f.Size, sha256: f.ObjectSHA256}
			byName[f.Object] = o
			out = append(out, o)
		} else if o.size != f.Size || o.sha256 != f.ObjectSHA256 {
			return nil, fmt.Errorf("%w: files %q and %q share object %s but differ in its size or SHA-256", ErrManifest, o.paths[0], f.Path, f.Object)
		}
		o.paths = append(o.paths, f.Path)
	}
	return out, nil
}

// CheckObjects downloads every object of d from BASE/<object> (each
// object once, however many files hold it; Parallel at a time) and
// compares its size and SHA-256 with the built object's. Objects that
// differ or cannot be fetched are reported in ObjectsCheck.Problems; the
// error is for a base URL that cannot be used, a damaged delta, or ctx
// ending.
func CheckObjects(ctx context.Context, base string, d *Delta, opt CheckObjectsOptions) (*ObjectsCheck, error) {
	base, _, err := ValidateFilesURL(base)
	if err != nil {
		return nil, err
	}
	objects, err := deltaObjects(d)
	if err != nil {
		return nil, err
	}
	opt.defaults()
	client := opt.Client
	if client == nil {
		tr := &http.Transport{Proxy: http.ProxyFromEnvironment}
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			tr = dt.Clone()
		}
		tr.MaxIdleConnsPerHost = opt.Parallel
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr}
	}
	check := &ObjectsCheck{BaseURL: base, Objects: len(objects), Files: len(d.Files), Problems: []ObjectProblem{}}
	for _, o := range objects {
		check.WantBytes += o.size
	}
	p := &objectsProgress{report: opt.Report, total: check.WantBytes, objects: len(objects)}

	results := make([]*ObjectProblem, len(objects))
	checked := make([]bool, len(objects))
	var problems atomic.Int64
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(opt.Parallel, len(objects)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if ctx.Err() != nil || problems.Load() >= int64(opt.MaxProblems) {
					continue // drain: the check is over
				}
				results[i] = checkObject(ctx, client, base, objects[i], &opt, p)
				if ctx.Err() != nil {
					continue
				}
				checked[i] = true
				if results[i] != nil {
					problems.Add(1)
				}
				p.object()
			}
		}()
	}
	for i := range objects {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i := range objects {
		if checked[i] {
			check.Checked++
		}
		if results[i] != nil {
			check.Problems = append(check.Problems, *results[i])
		}
	}
	check.Bytes = p.received()
	check.Stopped = check.Checked < check.Objects
	p.done()
	return check, nil
}

// checkObject downloads one object; nil when it is the built one.
func checkObject(ctx context.Context, client *http.Client, base string, o *deltaObject, opt *CheckObjectsOptions, p *objectsProgress) *ObjectProblem {
	rawURL := ObjectURL(base, o.name)
	prob := &ObjectProblem{Object: o.name, URL: rawURL, Paths: o.paths, WantSize: o.size, WantSHA256: o.sha256}
	reqCtx, cancelTimeout := context.WithTimeoutCause(ctx, opt.RequestTimeout, errTooSlow)
	defer cancelTimeout()
	reqCtx, stall, stopStall := watchStall(reqCtx, opt.StallTimeout)
	defer stopStall()
	failed := func(err error, received int64) *ObjectProblem {
		if ctx.Err() != nil {
			return nil // the whole check ends; CheckObjects returns ctx.Err()
		}
		switch cause := context.Cause(reqCtx); {
		case errors.Is(cause, ErrStalled):
			prob.Problem = fmt.Sprintf("nothing arrived for %v after %d bytes: the server stalled; try again, or check the storage", opt.StallTimeout, received)
		case errors.Is(cause, errTooSlow):
			prob.Problem = fmt.Sprintf("the download took longer than %v (%d bytes received): the server is too slow", opt.RequestTimeout, received)
		default:
			prob.Problem = fmt.Sprintf("the download failed after %d bytes: %v (check the address and that the server is reachable from here)", received, unwrapURLError(err))
		}
		return prob
	}

	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, rawURL, nil)
	if err != nil {
		prob.Problem = fmt.Sprintf("cannot request it: %v", err)
		return prob
	}
	req.Header.Set("User-Agent", "capship")
	resp, err := client.Do(req)
	if err != nil {
		return failed(err, 0)
	}
	defer resp.Body.Close()
	prob.Status = resp.StatusCode
	var notes []string
	if final := resp.Request.URL; !strings.EqualFold(final.Scheme, "https") && !isLoopbackHost(final.Hostname()) {
		notes = append(notes, fmt.Sprintf("it redirects to plain http (%s), which devices refuse to download: use an address that stays on https", final.Redacted()))
	}
	if resp.StatusCode != http.StatusOK {
		prob.Problem = statusProblem(resp.StatusCode)
		if resp.StatusCode == http.StatusNotFound {
			prob.Problem = fmt.Sprintf("the server answered HTTP 404 Not Found: upload every object of the delta folder to %s/", base)
		}
		prob.Problem = joinNotes(prob.Problem, notes)
		return prob
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(h, objectCounter{p}), io.LimitReader(stall.Reader(resp.Body), o.size+1))
	prob.Size = n
	if err != nil {
		return failed(err, n)
	}
	switch {
	case n > o.size:
		prob.Problem = fmt.Sprintf("the hosted object is larger than the built one (%d bytes): upload the objects capship built, unchanged", o.size)
	case n < o.size:
		prob.Problem = fmt.Sprintf("the hosted object has %d bytes, the built one %d: the upload is incomplete or a different file", n, o.size)
	default:
		prob.SHA256 = hex.EncodeToString(h.Sum(nil))
		if prob.SHA256 != o.sha256 {
			prob.Problem = "the hosted object has the same size but different bytes (its SHA-256 differs): upload the objects of this build again"
		}
	}
	if prob.Problem == "" && len(notes) == 0 {
		return nil
	}
	if prob.Problem != "" {
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" {
			notes = append(notes, "the server answered with an HTML page: the address may lead to a listing or login page rather than the objects")
		}
		if ce := resp.Header.Get("Content-Encoding"); ce != "" {
			notes = append(notes, fmt.Sprintf("the server re-encodes the object (Content-Encoding: %s); serve it as-is", ce))
		}
	}
	prob.Problem = joinNotes(prob.Problem, notes)
	return prob
}

func joinNotes(problem string, notes []string) string {
	if problem != "" {
		notes = append([]string{problem}, notes...)
	}
	return strings.Join(notes, "; ")
}

// unwrapURLError drops the "Get URL:" prefix, which the problem's URL
// field already says.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// objectsProgress reports a CheckObjects run from several downloads at
// once, one event at a time.
type objectsProgress struct {
	report  Reporter
	total   int64
	objects int

	mu       sync.Mutex
	bytes    int64 // received so far
	finished int   // objects checked
}

// send reports the progress so far; add bytes received, and one more
// object checked when object.
func (p *objectsProgress) send(phase Phase, add int64, object bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes += add
	if object {
		p.finished++
	}
	if p.report != nil {
		p.report(Event{Phase: phase, Files: p.finished, TotalFiles: p.objects, Bytes: p.bytes, TotalBytes: p.total})
	}
}

func (p *objectsProgress) received() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}

func (p *objectsProgress) add(n int64) { p.send(PhaseDownload, n, false) }
func (p *objectsProgress) object()     { p.send(PhaseDownload, 0, true) }
func (p *objectsProgress) done()       { p.send(PhaseDone, 0, false) }

// objectCounter counts received bytes into the progress.
type objectCounter struct{ p *objectsProgress }

func (c objectCounter) Write(b []byte) (int, error) {
	c.p.add(int64(len(b)))
	return len(b), nil
}
