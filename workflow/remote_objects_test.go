package workflow

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// objectHost is a loopback file host for delta objects: name -> bytes,
// counting the GETs of each and the most downloads at once.
type objectHost struct {
	mu      sync.Mutex
	objects map[string][]byte
	gets    map[string]int
	handle  map[string]http.HandlerFunc // special answers by object name

	inFlight, maxInFlight atomic.Int64
	srv                   *httptest.Server
}

func newObjectHost(t *testing.T) *objectHost {
	h := &objectHost{objects: map[string][]byte{}, gets: map[string]int{}, handle: map[string]http.HandlerFunc{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := h.inFlight.Add(1)
		defer h.inFlight.Add(-1)
		for {
			m := h.maxInFlight.Load()
			if n <= m || h.maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		name := strings.TrimPrefix(r.URL.Path, "/files/")
		h.mu.Lock()
		h.gets[name]++
		data, ok := h.objects[name]
		special := h.handle[name]
		h.mu.Unlock()
		switch {
		case special != nil:
			special(w, r)
		case !ok:
			http.NotFound(w, r)
		default:
			time.Sleep(2 * time.Millisecond) // let downloads overlap
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(data)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *objectHost) base() string { return h.srv.URL + "/files" }

// deltaOf builds a delta of files (path -> object name) whose objects
// have the given bytes, and hosts those bytes.
func (h *objectHost) deltaOf(files [][2]string, objects map[string][]byte) *Delta {
	d := &Delta{Dir: "/out/app-1.0.0.files"}
	for _, f := range files {
		data := objects[f[1]]
		sum := sha256.Sum256(data)
		d.Files = append(d.Files, DeltaFile{Path: f[0], Object: f[1], Size: int64(len(data)),
			ObjectSHA256: hex.EncodeToString(sum[:]), SHA256: strings.Repeat("0", 64), FileHash: strings.Repeat("0", 512), Brotli: true})
	}
	h.mu.Lock()
	for name, data := range objects {
		h.objects[name] = data
	}
	h.mu.Unlock()
	return d
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func checkCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestCheckObjectsAllGood(t *testing.T) {
	h := newObjectHost(t)
	objects := map[string][]byte{}
	var files [][2]string
	for i := range 40 {
		name := fmt.Sprintf("obj%02d.br", i)
		objects[name] = randomBytes(1 + i*997)
		files = append(files, [2]string{fmt.Sprintf("assets/f%02d.js", i), name})
	}
	// Three files of one content share an object: fetched once.
	files = append(files, [2]string{"copy/a.js", "obj07.br"}, [2]string{"copy/b.js", "obj07.br"})
	d := h.deltaOf(files, objects)

	var events []Event
	var inReport atomic.Bool
	report := func(e Event) {
		if !inReport.CompareAndSwap(false, true) {
			t.Error("the reporter was called from two goroutines at once")
		}
		events = append(events, e)
		inReport.Store(false)
	}
	// A trailing '/' on the base is dropped, not doubled.
	check, err := CheckObjects(checkCtx(t), h.base()+"/", d, CheckObjectsOptions{Parallel: 3, Report: report})
	if err != nil {
		t.Fatal(err)
	}
	if !check.OK() || check.Objects != 40 || check.Files != 42 || check.Checked != 40 || check.Bytes != check.WantBytes || check.Stopped {
		t.Fatalf("check = %+v", check)
	}
	if check.BaseURL != h.base() {
		t.Fatalf("base %q, want %q", check.BaseURL, h.base())
	}
	for name := range objects {
		if h.gets[name] != 1 {
			t.Errorf("%s fetched %d times, want once", name, h.gets[name])
		}
	}
	if m := h.maxInFlight.Load(); m > 3 || m < 2 {
		t.Errorf("at most %d downloads at once, want up to Parallel (3) and some overlap", m)
	}
	last := events[len(events)-1]
	if last.Phase != PhaseDone || last.Files != 40 || last.TotalFiles != 40 || last.Bytes != check.WantBytes || last.TotalBytes != check.WantBytes {
		t.Fatalf("last event %+v", last)
	}
	for i := 1; i < len(events); i++ {
		if events[i].Bytes < events[i-1].Bytes || events[i].Files < events[i-1].Files {
			t.Fatalf("progress went back: %+v then %+v", events[i-1], events[i])
		}
	}
}

func TestCheckObjectsProblems(t *testing.T) {
	h := newObjectHost(t)
	good, short, long, flipped, html := randomBytes(5000), randomBytes(5000), randomBytes(5000), randomBytes(5000), randomBytes(300)
	d := h.deltaOf([][2]string{
		{"a/good.js", "good"}, {"b/missing.js", "missing"}, {"c/short.js", "short"}, {"d/long.js", "long"},
		{"e/flipped.js", "flipped"}, {"f/broken.js", "broken"}, {"g/page.js", "page"}, {"h/also-missing.css", "missing"},
	}, map[string][]byte{"good": good, "missing": randomBytes(10), "short": short, "long": long, "flipped": flipped,
		"broken": randomBytes(10), "page": html})
	h.mu.Lock()
	delete(h.objects, "missing")
	h.objects["short"] = short[:4000]
	h.objects["long"] = append(append([]byte{}, long...), 'x')
	h.objects["flipped"] = bytes.Clone(flipped)
	h.objects["flipped"][17] ^= 1
	h.handle["broken"] = func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusBadGateway) }
	h.handle["page"] = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(bytes.Repeat([]byte("<p>login</p>"), 25)) // 300 bytes, not the object
	}
	h.mu.Unlock()

	check, err := CheckObjects(checkCtx(t), h.base(), d, CheckObjectsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if check.OK() || check.Checked != 7 || check.Objects != 7 || check.Stopped {
		t.Fatalf("check = %+v", check)
	}
	got := map[string]ObjectProblem{}
	var order []string
	for _, p := range check.Problems {
		t.Logf("%s: %s", p.Object, p.Problem)
		got[p.Object] = p
		order = append(order, p.Object)
		if p.URL != h.base()+"/"+p.Object || p.WantSHA256 == "" || p.WantSize == 0 || p.Problem == "" {
			t.Errorf("problem %+v lacks what was expected", p)
		}
	}
	if want := "missing short long flipped broken page"; strings.Join(order, " ") != want {
		t.Fatalf("problems in order %v, want %s (the order of their first file)", order, want)
	}
	expect := []struct {
		object string
		status int
		size   int64
		sha    bool
		words  []string
	}{
		{"missing", 404, 0, false, []string{"404", "upload every object", h.base() + "/"}},
		{"short", 200, 4000, false, []string{"4000 bytes", "5000", "incomplete"}},
		{"long", 200, 5001, false, []string{"larger"}},
		{"flipped", 200, 5000, true, []string{"different bytes", "SHA-256"}},
		{"broken", 502, 0, false, []string{"502", "storage server failed"}},
		{"page", 200, 300, true, []string{"HTML page"}},
	}
	for _, e := range expect {
		p := got[e.object]
		if p.Status != e.status || p.Size != e.size || (p.SHA256 != "") != e.sha {
			t.Errorf("%s: status %d size %d sha %q; want %d, %d, sha %v", e.object, p.Status, p.Size, p.SHA256, e.status, e.size, e.sha)
		}
		for _, w := range e.words {
			if !strings.Contains(p.Problem, w) {
				t.Errorf("%s: problem %q does not say %q", e.object, p.Problem, w)
			}
		}
	}
	if p := got["missing"]; strings.Join(p.Paths, ",") != "b/missing.js,h/also-missing.css" {
		t.Errorf("missing object's paths %v, want both files it holds", p.Paths)
	}
	if p := got["flipped"]; p.SHA256 == p.WantSHA256 {
		t.Errorf("flipped: hosted and built SHA-256 are the same: %+v", p)
	}
}

func TestCheckObjectsTimeouts(t *testing.T) {
	h := newObjectHost(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	d := h.deltaOf([][2]string{{"a.js", "stalls"}, {"b.js", "dribbles"}, {"c.js", "mute"}},
		map[string][]byte{"stalls": randomBytes(1000), "dribbles": randomBytes(1000), "mute": randomBytes(10)})
	h.handle["stalls"] = func(w http.ResponseWriter, r *http.Request) {
		w.Write(h.objects["stalls"][:400])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	h.handle["dribbles"] = func(w http.ResponseWriter, r *http.Request) {
		for _, b := range h.objects["dribbles"] {
			w.Write([]byte{b})
			w.(http.Flusher).Flush()
			select {
			case <-time.After(10 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}
	h.handle["mute"] = func(w http.ResponseWriter, r *http.Request) { // never answers
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	start := time.Now()
	check, err := CheckObjects(checkCtx(t), h.base(), d, CheckObjectsOptions{StallTimeout: 200 * time.Millisecond, RequestTimeout: 600 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the check took %v", took)
	}
	got := map[string]ObjectProblem{}
	for _, p := range check.Problems {
		t.Logf("%s: %s", p.Object, p.Problem)
		got[p.Object] = p
	}
	if p := got["stalls"]; !strings.Contains(p.Problem, "stalled") || p.Size != 400 || p.Status != 200 {
		t.Errorf("stalling object: %+v", p)
	}
	if p := got["dribbles"]; !strings.Contains(p.Problem, "longer than 600ms") || p.Size == 0 || p.Size == 1000 {
		t.Errorf("slow object: %+v", p)
	}
	if p := got["mute"]; !strings.Contains(p.Problem, "stalled") || p.Status != 0 {
		t.Errorf("object whose server never answers: %+v", p)
	}
}

func TestCheckObjectsStopsAfterMaxProblems(t *testing.T) {
	h := newObjectHost(t)
	objects := map[string][]byte{}
	var files [][2]string
	for i := range 200 {
		name := fmt.Sprint("o", i)
		objects[name] = randomBytes(10)
		files = append(files, [2]string{fmt.Sprintf("f%03d", i), name})
	}
	d := h.deltaOf(files, objects)
	h.mu.Lock()
	clear(h.objects) // nothing uploaded
	h.mu.Unlock()
	check, err := CheckObjects(checkCtx(t), h.base(), d, CheckObjectsOptions{Parallel: 2, MaxProblems: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !check.Stopped || check.OK() || len(check.Problems) < 5 || len(check.Problems) > 6 || check.Checked != len(check.Problems) {
		t.Fatalf("check = objects %d checked %d problems %d stopped %v", check.Objects, check.Checked, len(check.Problems), check.Stopped)
	}

	// A host that refuses connections: every object fails, no HTTP status.
	h.srv.Close()
	check, err = CheckObjects(checkCtx(t), h.base(), d, CheckObjectsOptions{MaxProblems: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !check.Stopped || len(check.Problems) < 3 || check.Problems[0].Status != 0 || !strings.Contains(check.Problems[0].Problem, "reachable") {
		t.Fatalf("unreachable host: %+v", check.Problems)
	}
}

func TestCheckObjectsRefuses(t *testing.T) {
	h := newObjectHost(t)
	d := h.deltaOf([][2]string{{"a.js", "x"}, {"b.js", "x"}}, map[string][]byte{"x": randomBytes(10)})
	ctx := checkCtx(t)
	for _, base := range []string{"https://cdn.example.com/files?sig=1", "http://cdn.example.com/files", "ftp://x/y", "", "https://u:p@cdn.example.com/f"} {
		if _, err := CheckObjects(ctx, base, d, CheckObjectsOptions{}); !errors.Is(err, ErrBadURL) {
			t.Errorf("base %q: %v, want ErrBadURL", base, err)
		}
	}
	bad := func(mutate func(d *Delta)) *Delta {
		c := &Delta{Files: append([]DeltaFile{}, d.Files...)}
		mutate(c)
		return c
	}
	for name, delta := range map[string]*Delta{
		"nil":              nil,
		"no files":         {},
		"shared, two size": bad(func(d *Delta) { d.Files[1].Size++ }),
		"shared, two sums": bad(func(d *Delta) { d.Files[1].ObjectSHA256 = strings.Repeat("a", 64) }),
		"object path":      bad(func(d *Delta) { d.Files[0].Object = "a/b" }),
		"object dot-dot":   bad(func(d *Delta) { d.Files[0].Object = ".." }),
		"no object sum":    bad(func(d *Delta) { d.Files[0].ObjectSHA256 = "" }),
		"zero size":        bad(func(d *Delta) { d.Files[0].Size = 0 }),
	} {
		if _, err := CheckObjects(ctx, h.base(), delta, CheckObjectsOptions{}); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: %v, want ErrManifest", name, err)
		}
	}
	if n := len(h.gets); n != 0 {
		t.Fatalf("refused checks downloaded %d objects", n)
	}
	// Cancelled: the context's error, not a list of problems.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := CheckObjects(cctx, h.base(), d, CheckObjectsOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled check: %v", err)
	}
}
