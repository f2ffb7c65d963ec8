package workflow_test

import (
	"archive/zip"
	"errors"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"capship/workflow"
)

// appFiles is a minimal web build that passes the preflight.
func appFiles() map[string]string {
	return map[string]string{
		"index.html":       `<!doctype html><script src="main.js"></script>`,
		"main.js":          `CapacitorUpdater.notifyAppReady();`,
		"assets/style.css": `body{margin:0}`,
	}
}

// writeFiles creates files (slash paths relative to dir) with their contents.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	b := make(map[string][]byte, len(files))
	for name, body := range files {
		b[name] = []byte(body)
	}
	writeByteFiles(t, dir, b)
}

func TestScanProblems(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the folder to scan
		opts    workflow.ScanOptions
		path    string // Problem.Path of the first blocking problem
		message string // part of its message
		kind    workflow.ProblemKind
	}{
		{
			name:    "missing folder",
			setup:   func(t *testing.T, dir string) string { return filepath.Join(dir, "www") },
			path:    ".",
			message: "folder not found",
			kind:    workflow.ProblemNoFolder,
		},
		{
			name: "not a folder",
			setup: func(t *testing.T, dir string) string {
				writeFiles(t, dir, map[string]string{"www": "x"})
				return filepath.Join(dir, "www")
			},
			path:    ".",
			message: "not a folder",
			kind:    workflow.ProblemNotFolder,
		},
		{
			name:    "empty folder",
			setup:   func(t *testing.T, dir string) string { return dir },
			path:    ".",
			message: "holds no files",
		},
		{
			name: "only litter",
			setup: func(t *testing.T, dir string) string {
				writeFiles(t, dir, map[string]string{".DS_Store": "x", "__MACOSX/index.html": "x", ".git/HEAD": "x", "Thumbs.db": "x"})
				return dir
			},
			path:    ".",
			message: "holds no files",
		},
		{
			name: "no index.html",
			setup: func(t *testing.T, dir string) string {
				writeFiles(t, dir, map[string]string{"main.js": "notifyAppReady()", "a/b.html": "x"})
				return dir
			},
			path:    "index.html",
			message: "not found at the root",
			kind:    workflow.ProblemNoIndex,
		},
		{
			name: "index.html one folder down",
			setup: func(t *testing.T, dir string) string {
				writeFiles(t, dir, map[string]string{"browser/index.html": "notifyAppReady", "browser/main.js": ""})
				return dir
			},
			path:    "index.html",
			message: "browser/index.html is: use that folder",
			kind:    workflow.ProblemIndexDeeper,
		},
		{
			name: "index.html in upper case",
			setup: func(t *testing.T, dir string) string {
				writeFiles(t, dir, map[string]string{"Index.HTML": "notifyAppReady"})
				return dir
			},
			path:    "Index.HTML",
			message: "in lower case",
		},
		{
			name: "no notifyAppReady",
			setup: func(t *testing.T, dir string) string {
				files := appFiles()
				files["main.js"] = "console.log('hi')"
				files["notes.txt"] = "notifyAppReady" // neither .js nor .html
				files["style.css"] = "/* notifyAppReady */"
				writeFiles(t, dir, files)
				return dir
			},
			path:    ".",
			message: "notifyAppReady",
			kind:    workflow.ProblemNoReadyCall,
		},
		{
			name: "backslash in a name",
			setup: func(t *testing.T, dir string) string {
				files := appFiles()
				files[`assets/a\b.js`] = "x"
				writeFiles(t, dir, files)
				return dir
			},
			path:    `assets/a\b.js`,
			message: "backslash",
		},
		{
			name: "name not UTF-8",
			setup: func(t *testing.T, dir string) string {
				files := appFiles()
				files["assets/caf\xe9.js"] = "x"
				writeFiles(t, dir, files)
				return dir
			},
			path:    `assets/caf\xe9.js`,
			message: "not valid UTF-8",
		},
		{
			name: "symlink outside",
			setup: func(t *testing.T, dir string) string {
				www := filepath.Join(dir, "www")
				writeFiles(t, www, appFiles())
				writeFiles(t, dir, map[string]string{"secret.txt": "x"})
				mustSymlink(t, filepath.Join(dir, "secret.txt"), filepath.Join(www, "assets", "secret.txt"))
				return www
			},
			path:    "assets/secret.txt",
			message: "leads outside the build folder",
		},
		{
			name: "relative symlink outside",
			setup: func(t *testing.T, dir string) string {
				www := filepath.Join(dir, "www")
				writeFiles(t, www, appFiles())
				writeFiles(t, dir, map[string]string{"node_modules/x.js": "x"})
				mustSymlink(t, "../../node_modules", filepath.Join(www, "assets", "lib"))
				return www
			},
			path:    "assets/lib",
			message: "leads outside the build folder",
		},
		{
			name: "broken symlink",
			setup: func(t *testing.T, dir string) string {
				writeFiles(t, dir, appFiles())
				mustSymlink(t, "nowhere.js", filepath.Join(dir, "gone.js"))
				return dir
			},
			path:    "gone.js",
			message: "broken symlink",
		},
		{
			name: "symlink loop",
			setup: func(t *testing.T, dir string) string {
				writeFiles(t, dir, appFiles())
				mustSymlink(t, "..", filepath.Join(dir, "assets", "up"))
				return dir
			},
			path:    "assets/up",
			message: "loops back",
		},
		{
			name: "named pipe",
			setup: func(t *testing.T, dir string) string {
				writeFiles(t, dir, appFiles())
				if err := mkfifo(filepath.Join(dir, "assets", "pipe")); err != nil {
					t.Skipf("mkfifo: %v", err)
				}
				return dir
			},
			path:    "assets/pipe",
			message: "is a named pipe",
		},
		{
			name: "socket",
			setup: func(t *testing.T, dir string) string {
				writeFiles(t, dir, appFiles())
				l, err := net.Listen("unix", filepath.Join(dir, "s.sock"))
				if err != nil {
					t.Skipf("unix socket: %v", err)
				}
				t.Cleanup(func() { l.Close() })
				return dir
			},
			path:    "s.sock",
			message: "is a socket",
		},
		{
			name: "device",
			setup: func(t *testing.T, dir string) string {
				writeFiles(t, dir, appFiles())
				mustSymlink(t, "/dev/null", filepath.Join(dir, "null"))
				return dir
			},
			path:    "null",
			message: "leads outside", // a link to a device is outside by definition; TestScanDevice has a real one
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t, t.TempDir())
			tree, err := workflow.Scan(dir, tt.opts)
			if tree == nil {
				t.Fatal("Scan returned no tree")
			}
			var pe *workflow.PreflightError
			if !errors.As(err, &pe) {
				t.Fatalf("Scan error = %v, want a *PreflightError", err)
			}
			if pe.Problem.Path != tt.path || !strings.Contains(pe.Problem.Message, tt.message) {
				t.Errorf("first problem = %q: %q, want %q: …%q…", pe.Problem.Path, pe.Problem.Message, tt.path, tt.message)
			}
			// Advice for a flag or a key is the caller's: a kind, never "--".
			if pe.Problem.Kind != tt.kind || strings.Contains(pe.Problem.Message, "--") {
				t.Errorf("first problem: kind %q, want %q; %q", pe.Problem.Kind, tt.kind, pe.Problem.Message)
			}
			if tt.kind == workflow.ProblemIndexDeeper && pe.Problem.Folder != filepath.Join(dir, "browser") {
				t.Errorf("the folder holding index.html: %q", pe.Problem.Folder)
			}
			if err.Error() != tree.Err().Error() {
				t.Errorf("Scan error %q differs from tree.Err() %q", err, tree.Err())
			}
			// The message names the file, as a path the person can find.
			want := filepath.Join(dir, filepath.FromSlash(tt.path))
			if !strings.Contains(err.Error(), want) && !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q does not name %s", err, want)
			}
			if !strings.HasPrefix(err.Error(), "check build folder: ") {
				t.Errorf("error %q does not say what failed", err)
			}
		})
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestScanCodeCheck(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
		opts  workflow.ScanOptions
		ok    bool
	}{
		{"in index.html", map[string]string{"index.html": "<script>CapacitorUpdater.notifyAppReady()</script>"}, workflow.ScanOptions{}, true},
		{"in a nested .js", map[string]string{"index.html": "x", "a/b/chunk-X.js": "u.notifyAppReady()"}, workflow.ScanOptions{}, true},
		{"in a .mjs", map[string]string{"index.html": "x", "m.MJS": "notifyAppReady"}, workflow.ScanOptions{}, true},
		{"only in a map", map[string]string{"index.html": "x", "m.js.map": "notifyAppReady"}, workflow.ScanOptions{}, false},
		{"split name", map[string]string{"index.html": "notifyApp Ready"}, workflow.ScanOptions{}, false},
		{"skipped", map[string]string{"index.html": "x"}, workflow.ScanOptions{NoCodeCheck: true}, true},
		{"at the end of a big file", map[string]string{"index.html": "x", "big.js": strings.Repeat("a", 1<<20-3) + "notifyAppReady"}, workflow.ScanOptions{}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			_, err := workflow.Scan(dir, tt.opts)
			if ok := err == nil; ok != tt.ok {
				t.Errorf("Scan error = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// The marker is found wherever it falls relative to the read buffer.
func TestScanCodeCheckStraddlesReads(t *testing.T) {
	dir := t.TempDir()
	for _, off := range []int{64<<10 - 14, 64<<10 - 7, 64<<10 - 1, 64 << 10, 128<<10 - 13} {
		body := strings.Repeat("x", off) + "notifyAppReady" + strings.Repeat("y", 100)
		writeFiles(t, dir, map[string]string{"index.html": "", "main.js": body})
		if _, err := workflow.Scan(dir, workflow.ScanOptions{}); err != nil {
			t.Errorf("marker at %d: %v", off, err)
		}
	}
}

func TestScanTree(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "www")
	files := appFiles()
	files["assets/img/logo.PNG"] = "png"
	files["assets/ü.js"] = "x"
	files["a.js"] = "x"
	files["a/b.js"] = "y"
	files["a-b.js"] = "z"
	files["main.js.map"] = "{}"
	files["chunk.js.map"] = "{}"
	files["empty.txt"] = ""
	files[".well-known/assetlinks.json"] = "[]"
	files[".env"] = "API_KEY=x"
	files["assets/.cache/x.json"] = "{}"
	files["assets/.DS_Store"] = "x"
	files["sub/.git/config"] = "x"
	files["sub/__MACOSX/._x"] = "x"
	files["sub/thumbs.db"] = "x"
	writeFiles(t, dir, files)
	mustSymlink(t, "main.js", filepath.Join(dir, "alias.js"))
	mustSymlink(t, "../assets", filepath.Join(dir, "sub", "linked"))
	big := filepath.Join(dir, "video.mp4")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(12 << 20); err != nil { // sparse: fast
		t.Fatal(err)
	}
	f.Close()

	var events []workflow.Event
	tree, err := workflow.Scan(dir, workflow.ScanOptions{Report: func(e workflow.Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var total int64
	for _, e := range tree.Entries {
		names = append(names, e.Name)
		total += e.Size
	}
	want := []string{
		".env", ".well-known/assetlinks.json", "a-b.js", "a.js", "a/b.js", "alias.js", "assets/.cache/x.json", "assets/img/logo.PNG",
		"assets/style.css", "assets/ü.js", "chunk.js.map", "empty.txt", "index.html", "main.js",
		"main.js.map", "sub/linked/.cache/x.json", "sub/linked/img/logo.PNG", "sub/linked/style.css", "sub/linked/ü.js", "video.mp4",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if tree.Files != len(want) || tree.Bytes != total {
		t.Errorf("Files, Bytes = %d, %d; want %d, %d", tree.Files, tree.Bytes, len(want), total)
	}
	methods := map[string]uint16{}
	for _, e := range tree.Entries {
		methods[e.Name] = e.Method
	}
	for name, m := range map[string]uint16{"assets/img/logo.PNG": zip.Store, "video.mp4": zip.Store, "main.js": zip.Deflate, "chunk.js.map": zip.Deflate} {
		if methods[name] != m {
			t.Errorf("%s: method %d, want %d", name, methods[name], m)
		}
	}
	// Symlinks inside the folder read their target.
	for _, e := range tree.Entries {
		if e.Name == "alias.js" && filepath.Base(e.Path) != "main.js" {
			t.Errorf("alias.js reads %s, want its target main.js", e.Path)
		}
	}
	warnings := map[string]string{}
	for _, p := range tree.Warnings() {
		warnings[p.Path] = p.Message
	}
	for path, msg := range map[string]string{
		"video.mp4":    "large file (12 MiB)",
		"chunk.js.map": "source map included, and 1 more",
		"empty.txt":    "empty file",
		".env":         "hidden file included, and 2 more: every device gets it",
	} {
		if !strings.Contains(warnings[path], msg) {
			t.Errorf("warning for %s = %q, want …%q…", path, warnings[path], msg)
		}
	}
	if len(tree.Warnings()) != len(tree.Problems) {
		t.Errorf("blocking problems in a good tree: %+v", tree.Problems)
	}
	if len(events) == 0 {
		t.Fatal("no PhaseScan events")
	}
	last := events[len(events)-1]
	if last.Phase != workflow.PhaseScan || last.Files != tree.Files || last.TotalBytes != tree.Bytes {
		t.Errorf("last event %+v, want the totals", last)
	}
}

func TestCheckEntryName(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"index.html", true},
		{"assets/img/a b.png", true},
		{".well-known/x", true},
		{"日本/ファイル.js", true},
		{"a..b/c...js", true},
		{"", false},
		{"/etc/passwd", false},
		{"../x", false},
		{"a/../x", false},
		{"a/..", false},
		{"./x", false},
		{"a//b", false},
		{"a/", false},
		{`a\b`, false},
		{"a\x00b", false},
		{"caf\xe9", false},
		{"C:/x", false},
		{"c:x", false},
		{strings.Repeat("a", 255), true},
		{strings.Repeat("a", 256), false},
		{strings.Repeat("a/", 512) + "b", false},
	} {
		err := workflow.CheckEntryName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("CheckEntryName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

// FuzzCheckEntryName: whatever CheckEntryName accepts is a clean relative
// path that stays inside the folder it is extracted to, on any OS.
func FuzzCheckEntryName(f *testing.F) {
	for _, s := range []string{"index.html", "a/b/c.js", "../x", `a\b`, "a//b", "C:/x", "\xff", "a/./b", "日本.js", "a\x00", "/x", "a/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if workflow.CheckEntryName(name) != nil {
			return
		}
		switch {
		case !utf8.ValidString(name):
			t.Fatalf("accepted invalid UTF-8 %q", name)
		case strings.ContainsAny(name, "\\\x00"):
			t.Fatalf("accepted backslash or NUL in %q", name)
		case path.Clean(name) != name || path.IsAbs(name):
			t.Fatalf("accepted unclean or absolute %q", name)
		case !filepath.IsLocal(filepath.FromSlash(name)):
			t.Fatalf("accepted %q, which is not local", name)
		case strings.HasPrefix(name, "../") || name == ".." || strings.Contains(name, "/../") || strings.HasSuffix(name, "/.."):
			t.Fatalf("accepted a .. segment in %q", name)
		}
	})
}
