package workflow

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dustin/go-humanize"
)

// Problem is one finding of the preflight check. Blocking problems stop the
// build; the others are warnings worth showing before a release.
type Problem struct {
	Path     string // slash path relative to the folder ("." for the folder itself; "" for the app, not the web build)
	Message  string // what is wrong and what to do about it
	Blocking bool
	// Kind names the problems a caller has its own advice for (a flag, a
	// key); "" for the others.
	Kind ProblemKind
	// Folder is, for ProblemIndexDeeper, the folder that holds index.html.
	Folder string
}

// ProblemKind names a preflight problem a caller may add advice to.
type ProblemKind string

// Problems with a known way out: another web build folder (the CLI's
// --dir), or, for ProblemNoReadyCall, skipping the check (--no-code-check).
const (
	ProblemNoFolder    ProblemKind = "no_folder"     // the web build folder does not exist
	ProblemNotFolder   ProblemKind = "not_folder"    // it is a file
	ProblemIndexDeeper ProblemKind = "index_deeper"  // index.html is one folder down (Folder)
	ProblemNoIndex     ProblemKind = "no_index"      // no index.html at the root
	ProblemNoReadyCall ProblemKind = "no_ready_call" // no file calls notifyAppReady()
)

// Entry is one file that goes into the bundle.
type Entry struct {
	Name   string // slash path inside the archive, checked by CheckEntryName
	Path   string // the file to read (a symlink inside the folder is resolved to its target)
	Size   int64
	Method uint16 // zip.Store for already-compressed types, zip.Deflate for the rest
}

// Tree is a checked build folder: its files in archive order and what the
// preflight found.
type Tree struct {
	Root     string  // the folder as given
	Entries  []Entry // sorted by Name, in byte order
	Files    int     // len(Entries)
	Bytes    int64   // sum of the entries' sizes
	Problems []Problem
}

// ScanOptions tunes Scan.
type ScanOptions struct {
	// NoCodeCheck skips looking for notifyAppReady (--no-code-check).
	NoCodeCheck bool
	// Report receives PhaseScan events, at most about ten per second.
	Report Reporter
}

// PreflightError is a blocking Problem as an error; Tree.Err returns it.
type PreflightError struct {
	Root    string
	Problem Problem
	More    int // further blocking problems not shown
}

func (e *PreflightError) Error() string {
	msg := fmt.Sprintf("check build folder: %s: %s", problemLocation(e.Root, e.Problem.Path), e.Problem.Message)
	if e.More > 0 {
		msg += fmt.Sprintf(" (and %d more %s)", e.More, plural(e.More, "problem", "problems"))
	}
	return msg
}

func problemLocation(root, p string) string {
	if p == "." || p == "" {
		return root
	}
	return filepath.Join(root, filepath.FromSlash(p))
}

// Err returns the first blocking problem as a *PreflightError, or nil when
// the folder can be bundled.
func (t *Tree) Err() error {
	var first *Problem
	more := 0
	for i := range t.Problems {
		if !t.Problems[i].Blocking {
			continue
		}
		if first == nil {
			first = &t.Problems[i]
		} else {
			more++
		}
	}
	if first == nil {
		return nil
	}
	return &PreflightError{Root: t.Root, Problem: *first, More: more}
}

// Warnings returns the problems that do not block the build.
func (t *Tree) Warnings() []Problem {
	var w []Problem
	for _, p := range t.Problems {
		if !p.Blocking {
			w = append(w, p)
		}
	}
	return w
}

// Thresholds of the non-blocking warnings.
const (
	largeFileWarning = 10 << 20
	// maxEntrySize keeps every entry below the 4 GiB that would need Zip64
	// sizes in its local header (which archive/zip cannot write raw); no
	// device downloads such a bundle anyway.
	maxEntrySize = 1<<32 - 1
)

// storedExts are the already-compressed types that go into the archive as
// they are (deflating them costs time and saves nothing).
var storedExts = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".avif": true,
	".woff": true, ".woff2": true, ".mp3": true, ".mp4": true, ".webm": true,
	".zip": true, ".gz": true, ".br": true,
}

// methodFor picks the compression method of a file from its name.
func methodFor(name string) uint16 {
	if storedExts[strings.ToLower(path.Ext(name))] {
		return zip.Store
	}
	return zip.Deflate
}

// skipName reports whether a file or folder is OS or VCS litter that never
// belongs in a bundle.
func skipName(name string) bool {
	for _, s := range [...]string{".DS_Store", "Thumbs.db", "__MACOSX", ".git"} {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

// Limits on entry names: what Open accepts, and what device file systems
// (ext4/f2fs on Android, APFS on iOS) can create.
const (
	maxNameLen    = 1024
	maxSegmentLen = 255
)

// CheckEntryName reports why name cannot be a file entry of a bundle, or nil.
// The rules are the plugin's (spec §2): a relative path with forward slashes,
// no empty, "." or ".." segment, no NUL, no backslash, valid UTF-8; plus
// lengths a device can store. A folder entry's trailing "/" is not allowed.
func CheckEntryName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > maxNameLen:
		return fmt.Errorf("path longer than %d bytes: shorten it", maxNameLen)
	case !utf8.ValidString(name):
		return errors.New("name is not valid UTF-8, which devices cannot decode: rename the file")
	case strings.IndexByte(name, 0) >= 0:
		return errors.New("name contains a NUL byte")
	case strings.IndexByte(name, '\\') >= 0:
		return errors.New("name contains a backslash, which the plugin rejects: rename the file")
	case name[0] == '/':
		return errors.New("name is an absolute path")
	}
	for i, seg := range strings.Split(name, "/") {
		switch {
		case seg == "":
			return errors.New("name has an empty path segment")
		case seg == "." || seg == "..":
			return fmt.Errorf("name has a %q segment", seg)
		case i == 0 && len(seg) >= 2 && seg[1] == ':' && isASCIILetter(seg[0]):
			return errors.New("name starts with a drive letter")
		case len(seg) > maxSegmentLen:
			return fmt.Errorf("file or folder name longer than %d bytes, which device file systems refuse: shorten it", maxSegmentLen)
		}
	}
	return nil
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// Scan checks the build folder dir and lists its files in archive order. It
// always returns a Tree (with every Problem found) and, when something blocks
// the build, the first blocking problem as a *PreflightError (also t.Err()).
// It reads only the files needed for the code check.
func Scan(dir string, opts ScanOptions) (*Tree, error) {
	s := &scanner{
		t:      &Tree{Root: dir},
		report: opts.Report,
		onPath: map[string]bool{},
	}
	s.scan(opts)
	s.t.Files = len(s.t.Entries)
	if s.report != nil {
		s.report(Event{Phase: PhaseScan, Files: s.t.Files, TotalFiles: s.t.Files, Bytes: s.t.Bytes, TotalBytes: s.t.Bytes})
	}
	return s.t, s.t.Err()
}

type scanner struct {
	t        *Tree
	report   Reporter
	lastSent time.Time
	onPath   map[string]bool // real paths of the folders being walked (symlink loops)
	maps     []Entry         // source maps
	empty    []string        // empty files
	hidden   []string        // files with a dot segment in their name
}

func (s *scanner) problem(p string, blocking bool, format string, a ...any) {
	s.t.Problems = append(s.t.Problems, Problem{Path: p, Message: fmt.Sprintf(format, a...), Blocking: blocking})
}

// known records a blocking problem of a kind callers have advice for.
func (s *scanner) known(p string, kind ProblemKind, folder, format string, a ...any) {
	s.problem(p, true, format, a...)
	last := &s.t.Problems[len(s.t.Problems)-1]
	last.Kind, last.Folder = kind, folder
}

func (s *scanner) scan(opts ScanOptions) {
	dir := s.t.Root
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.known(".", ProblemNoFolder, "", "folder not found: build the web app first (npm run build), or use the folder it builds into")
		return
	case err != nil:
		s.problem(".", true, "cannot open the folder: %v", unwrapPathError(err))
		return
	case !fi.IsDir():
		s.known(".", ProblemNotFolder, "", "not a folder: use the web build folder (the one holding index.html)")
		return
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		s.problem(".", true, "cannot resolve the folder: %v", unwrapPathError(err))
		return
	}
	real, err = filepath.Abs(real)
	if err != nil {
		s.problem(".", true, "cannot resolve the folder: %v", err)
		return
	}
	s.walk(real, real, "")
	if len(s.t.Entries) == 0 {
		if s.t.Err() == nil { // else the problems found say why
			s.problem(".", true, "the folder holds no files: build the web app first (npm run build)")
		}
		return
	}
	slices.SortFunc(s.t.Entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	s.checkIndex()
	if !opts.NoCodeCheck {
		s.checkCode()
	}
	s.summarize()
}

// walk lists the folder dir (a real path inside root) whose archive name is rel.
func (s *scanner) walk(root, dir, rel string) {
	s.onPath[dir] = true
	defer delete(s.onPath, dir)
	des, err := os.ReadDir(dir)
	if err != nil {
		s.problem(orDot(rel), true, "cannot read the folder: %v", unwrapPathError(err))
		return
	}
	for _, de := range des {
		if skipName(de.Name()) {
			continue
		}
		name := de.Name()
		if rel != "" {
			name = rel + "/" + name
		}
		disk := filepath.Join(dir, de.Name())
		if err := CheckEntryName(name); err != nil {
			s.problem(displayName(name), true, "%v", err)
			continue
		}
		fi, err := os.Lstat(disk)
		if err != nil {
			s.problem(name, true, "cannot read: %v", unwrapPathError(err))
			continue
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			disk, fi = s.resolve(root, disk, name)
			if fi == nil {
				continue
			}
		}
		switch m := fi.Mode(); {
		case m.IsDir():
			if s.onPath[disk] {
				s.problem(name, true, "symlink loops back to a folder that contains it: remove the link")
				continue
			}
			s.walk(root, disk, name)
		case m.IsRegular():
			s.add(Entry{Name: name, Path: disk, Size: fi.Size(), Method: methodFor(name)})
		default:
			s.problem(name, true, "is a %s; only regular files can go into a bundle: remove it from the build folder", kindOf(m))
		}
	}
}

// resolve follows the symlink at disk. A link that stays inside root is
// bundled as what it points to; anything else is a blocking problem.
func (s *scanner) resolve(root, disk, name string) (string, fs.FileInfo) {
	target, err := filepath.EvalSymlinks(disk)
	if err != nil {
		s.problem(name, true, "broken symlink: %v: remove it or restore its target", unwrapPathError(err))
		return "", nil
	}
	if r, err := filepath.Rel(root, target); err != nil || !filepath.IsLocal(r) {
		s.problem(name, true, "symlink leads outside the build folder (to %s): copy the file in instead", target)
		return "", nil
	}
	fi, err := os.Stat(target)
	if err != nil {
		s.problem(name, true, "cannot read symlink target: %v", unwrapPathError(err))
		return "", nil
	}
	return target, fi
}

func (s *scanner) add(e Entry) {
	if e.Size > maxEntrySize {
		s.problem(e.Name, true, "file is %s, more than the 4 GiB a bundle entry can hold: no device would download it; leave it out of the web build", humanize.IBytes(uint64(e.Size)))
		return
	}
	s.t.Entries = append(s.t.Entries, e)
	s.t.Bytes += e.Size
	switch {
	case e.Size == 0:
		s.empty = append(s.empty, e.Name)
	case e.Size >= largeFileWarning:
		s.problem(e.Name, false, "large file (%s): every device downloads it with each update", humanize.IBytes(uint64(e.Size)))
	}
	if strings.HasSuffix(e.Name, ".map") {
		s.maps = append(s.maps, e)
	}
	if isHidden(e.Name) {
		s.hidden = append(s.hidden, e.Name)
	}
	if s.report != nil && time.Since(s.lastSent) >= 100*time.Millisecond {
		s.lastSent = time.Now()
		s.report(Event{Phase: PhaseScan, Files: len(s.t.Entries), Bytes: s.t.Bytes, Current: e.Name})
	}
}

// checkIndex requires index.html at the root; when it sits one folder down,
// says which folder to pass instead.
func (s *scanner) checkIndex() {
	if _, ok := s.find("index.html"); ok {
		return
	}
	for _, e := range s.t.Entries {
		if base := path.Base(e.Name); strings.EqualFold(base, "index.html") && e.Name == base {
			s.problem(e.Name, true, "the plugin needs index.html, in lower case, at the root: rename it")
			return
		}
	}
	top := map[string]bool{}
	for _, e := range s.t.Entries {
		first, _, _ := strings.Cut(e.Name, "/")
		top[first] = true
	}
	if len(top) == 1 {
		for first := range top {
			if _, ok := s.find(first + "/index.html"); ok {
				loc := problemLocation(s.t.Root, first)
				s.known("index.html", ProblemIndexDeeper, loc, "not found at the root of the folder, but %s/index.html is: use that folder (%s)", first, loc)
				return
			}
		}
	}
	s.known("index.html", ProblemNoIndex, "", "not found at the root of the folder: use the web build output (the folder holding index.html)")
}

func (s *scanner) find(name string) (Entry, bool) {
	i, ok := slices.BinarySearchFunc(s.t.Entries, name, func(e Entry, n string) int { return strings.Compare(e.Name, n) })
	if !ok {
		return Entry{}, false
	}
	return s.t.Entries[i], true
}

// codeMarker is what an app calls to tell the plugin an update works; without
// it the plugin rolls every update back.
const codeMarker = "notifyAppReady"

// checkCode looks for codeMarker in the .js and .html files, index.html first,
// and stops at the first hit.
func (s *scanner) checkCode() {
	candidates := make([]Entry, 0, 64)
	if e, ok := s.find("index.html"); ok {
		candidates = append(candidates, e)
	}
	for _, e := range s.t.Entries {
		switch strings.ToLower(path.Ext(e.Name)) {
		case ".js", ".mjs", ".cjs", ".html", ".htm":
			if e.Name != "index.html" {
				candidates = append(candidates, e)
			}
		}
	}
	buf := make([]byte, 64<<10)
	for _, e := range candidates {
		found, err := fileContains(e.Path, []byte(codeMarker), buf)
		if err != nil {
			s.problem(e.Name, true, "cannot read: %v", unwrapPathError(err))
			return
		}
		if found {
			return
		}
	}
	s.known(".", ProblemNoReadyCall, "", "no .js or .html file calls %s(): without it the plugin rolls every update back; call CapacitorUpdater.notifyAppReady() when the app starts", codeMarker)
}

// fileContains reports whether the file holds needle, reading it in buf-sized
// pieces (so a match may straddle two reads).
func fileContains(name string, needle, buf []byte) (bool, error) {
	f, err := os.Open(name)
	if err != nil {
		return false, err
	}
	defer f.Close()
	keep := 0
	for {
		n, err := f.Read(buf[keep:])
		if bytes.Contains(buf[:keep+n], needle) {
			return true, nil
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		end := keep + n
		keep = min(len(needle)-1, end)
		copy(buf, buf[end-keep:end])
	}
}

// summarize adds one warning per kind of harmless-but-wasteful file.
func (s *scanner) summarize() {
	if n := len(s.maps); n > 0 {
		var size int64
		for _, e := range s.maps {
			size += e.Size
		}
		msg := "source map included"
		if n > 1 {
			msg = fmt.Sprintf("source map included, and %d more", n-1)
		}
		s.problem(s.maps[0].Name, false, "%s (%s in all): devices download them for nothing; build without source maps or delete them", msg, humanize.IBytes(uint64(size)))
	}
	if n := len(s.hidden); n > 0 {
		msg := "hidden file included"
		if n > 1 {
			msg = fmt.Sprintf("hidden file included, and %d more", n-1)
		}
		s.problem(s.hidden[0], false, "%s: every device gets it; check that it holds no secret (an .env file, a key) or delete it", msg)
	}
	if n := len(s.empty); n > 0 {
		msg := "empty file"
		if n > 1 {
			msg = fmt.Sprintf("empty file, and %d more", n-1)
		}
		s.problem(s.empty[0], false, "%s: check that the build finished", msg)
	}
}

// isHidden reports whether a segment of name starts with a dot, other than
// .well-known (app links and the like belong in a web build).
func isHidden(name string) bool {
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") && seg != ".well-known" {
			return true
		}
	}
	return false
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// displayName makes a name that failed CheckEntryName printable.
func displayName(name string) string {
	if utf8.ValidString(name) && !strings.ContainsRune(name, 0) {
		return name
	}
	q := fmt.Sprintf("%+q", name)
	return q[1 : len(q)-1]
}

func orDot(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// unwrapPathError drops the path from an *fs.PathError: the Problem already
// names the file.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
