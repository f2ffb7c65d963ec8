package workflow_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"capship/workflow"
)

// fixtureFiles is a web build with every kind of entry WriteZip treats
// differently: text to deflate, already-compressed types, incompressible
// data under a deflatable name, empty files, non-ASCII names, and big
// compressible files (which spill to disk under a small memory budget).
func fixtureFiles() map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	files := map[string][]byte{
		"index.html":            []byte(`<!doctype html><script src="main.js"></script><script src="polyfills.js"></script><script>CapacitorUpdater.notifyAppReady()</script>`),
		"main.js":               jsLike(rng, 300<<10),
		"polyfills.js":          jsLike(rng, 40<<10),
		"assets/i18n/de.json":   []byte(`[` + strings.Repeat(`{"hello":"Hallo","world":"Welt"},`, 20) + `{}]`),
		"assets/img/logo.png":   random(50 << 10),
		"assets/img/photo.JPG":  random(20 << 10),
		"assets/fonts/a.woff2":  random(10 << 10),
		"assets/data.bin":       random(70 << 10), // deflate cannot shrink it: stored
		"assets/tiny.bin":       random(10),
		"assets/empty.js":       nil,
		"assets/empty.png":      nil,
		"assets/ümlaut/ファイル.js": []byte(strings.Repeat("ü", 1000)),
		"media/big.js":          jsLike(rng, 3<<20),
		"media/big-random.svg":  random(600 << 10), // bigger than the spill limit, incompressible
		"z.txt":                 []byte("last"),    // too short to shrink: stored
	}
	return files
}

// jsLike returns n bytes of text that compresses like minified JavaScript.
func jsLike(rng *rand.Rand, n int) []byte {
	words := []string{"function", "return", "const ", "let ", "this.", "=>", "(", ")", "{", "}", ";", ",", ".map", ".filter",
		"document", "window", "null", "undefined", "true", "false", "\"use strict\"", "async ", "await ", "new ", "Promise",
		"e", "t", "n", "r", "i", "o", "a", "s", "0", "1", "=", "==", "!==", "&&", "||", "?", ":", "[", "]", "+", "\n"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		if rng.IntN(20) == 0 {
			fmt.Fprintf(&b, "_%x", rng.Uint32()&0xffff)
		}
	}
	return b.Bytes()[:n]
}

func writeByteFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func scanFixture(t testing.TB, dir string) *workflow.Tree {
	t.Helper()
	tree, err := workflow.Scan(dir, workflow.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func writeZipFile(t testing.TB, tree *workflow.Tree, opts workflow.ZipOptions) ([]byte, workflow.ZipStats) {
	t.Helper()
	var buf bytes.Buffer
	stats, err := workflow.WriteZip(context.Background(), &buf, tree, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.ZipBytes != int64(buf.Len()) {
		t.Errorf("ZipBytes = %d, wrote %d", stats.ZipBytes, buf.Len())
	}
	return buf.Bytes(), stats
}

// strict reports whether a missing external tool must fail the test.
func strict() bool { return os.Getenv("CAPSHIP_TEST_STRICT") == "1" }

func TestWriteZip(t *testing.T) {
	dir := t.TempDir()
	files := fixtureFiles()
	writeByteFiles(t, dir, files)
	tree := scanFixture(t, dir)
	tmp := t.TempDir()
	var events []workflow.Event
	var buf bytes.Buffer
	stats, err := workflow.WriteZip(context.Background(), &buf, tree,
		workflow.ZipOptions{MemoryBudget: 1 << 20, TempDir: tmp},
		func(e workflow.Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()

	wantStored := map[string]bool{
		"assets/img/logo.png": true, "assets/img/photo.JPG": true, "assets/fonts/a.woff2": true,
		"assets/data.bin": true, "assets/tiny.bin": true, "assets/empty.js": true, "assets/empty.png": true,
		"media/big-random.svg": true, "z.txt": true,
	}
	if stats.Files != len(files) || stats.Stored != len(wantStored) || stats.Deflated != len(files)-len(wantStored) {
		t.Errorf("stats %+v, want %d files, %d stored", stats, len(files), len(wantStored))
	}
	if stats.Spilled != 1 { // media/big.js compresses to more than a quarter of the budget
		t.Errorf("Spilled = %d, want 1", stats.Spilled)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temp files left behind: %v", left)
	}

	// archive/zip reads back every file, in order, with the right method.
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		want, ok := files[f.Name]
		if !ok {
			t.Errorf("unexpected entry %q", f.Name)
			continue
		}
		if got := readZipEntry(t, f); !bytes.Equal(got, want) {
			t.Errorf("%s: content differs", f.Name)
		}
		if wantMethod := methodName(wantStored[f.Name]); methodName(f.Method == zip.Store) != wantMethod {
			t.Errorf("%s: method %d, want %s", f.Name, f.Method, wantMethod)
		}
		if f.Mode() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", f.Name, f.Mode())
		}
		if !f.Modified.Equal(time.Date(1980, 2, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: modified %v", f.Name, f.Modified)
		}
	}
	if !sort.StringsAreSorted(names) || len(names) != len(files) {
		t.Errorf("entries not sorted or missing: %q", names)
	}

	checkRawZip(t, data)
	checkUnzip(t, data)
	checkJava(t, data, files, wantStored)

	if len(events) == 0 {
		t.Fatal("no PhasePack events")
	}
	last := events[len(events)-1]
	if last.Phase != workflow.PhasePack || last.Files != len(files) || last.Bytes != tree.Bytes || last.TotalBytes != tree.Bytes {
		t.Errorf("last event %+v", last)
	}
}

func methodName(stored bool) string {
	if stored {
		return "stored"
	}
	return "deflated"
}

func readZipEntry(t *testing.T, f *zip.File) []byte {
	t.Helper()
	r, err := f.Open()
	if err != nil {
		t.Fatalf("open %s: %v", f.Name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", f.Name, err)
	}
	return b
}

// rawEntry is a header as it is on disk.
type rawEntry struct {
	name                 string
	flags, method        uint16
	time, date           uint16
	crc                  uint32
	csize, usize         uint32
	extraLen             uint16
	offset, externalAttr uint32
	creator, reader      uint16
}

// checkRawZip parses the archive byte by byte: local headers back to back
// from offset 0, then a central directory that repeats them exactly, then
// the end record. It checks the flags the plugin cares about (spec §2).
func checkRawZip(t *testing.T, data []byte) {
	t.Helper()
	le := binary.LittleEndian
	var locals []rawEntry
	off := 0
	for le.Uint32(data[off:]) == 0x04034b50 {
		h := data[off:]
		e := rawEntry{
			reader: le.Uint16(h[4:]), flags: le.Uint16(h[6:]), method: le.Uint16(h[8:]),
			time: le.Uint16(h[10:]), date: le.Uint16(h[12:]), crc: le.Uint32(h[14:]),
			csize: le.Uint32(h[18:]), usize: le.Uint32(h[22:]), offset: uint32(off),
		}
		nameLen, extraLen := int(le.Uint16(h[26:])), int(le.Uint16(h[28:]))
		e.name = string(h[30 : 30+nameLen])
		e.extraLen = uint16(extraLen)
		if e.flags&0x8 != 0 {
			t.Errorf("%s: data descriptor flag set (method %d)", e.name, e.method)
		}
		ascii := true
		for _, c := range []byte(e.name) {
			ascii = ascii && c < 0x80
		}
		if wantUTF8 := !ascii; (e.flags&0x800 != 0) != wantUTF8 {
			t.Errorf("%s: UTF-8 flag %v, want %v", e.name, e.flags&0x800 != 0, wantUTF8)
		}
		if e.flags&^0x800 != 0 {
			t.Errorf("%s: unexpected flags %#x", e.name, e.flags)
		}
		if extraLen != 0 {
			t.Errorf("%s: %d bytes of extra fields", e.name, extraLen)
		}
		if e.method == zip.Store && e.csize != e.usize {
			t.Errorf("%s: stored with sizes %d != %d", e.name, e.csize, e.usize)
		}
		body := data[off+30+nameLen+extraLen : off+30+nameLen+extraLen+int(e.csize)]
		if e.method == zip.Store && crc32.ChecksumIEEE(body) != e.crc {
			t.Errorf("%s: local CRC does not match the data", e.name)
		}
		locals = append(locals, e)
		off += 30 + nameLen + extraLen + int(e.csize)
	}
	cdStart := off
	for i := 0; le.Uint32(data[off:]) == 0x02014b50; i++ {
		h := data[off:]
		c := rawEntry{
			creator: le.Uint16(h[4:]), reader: le.Uint16(h[6:]), flags: le.Uint16(h[8:]), method: le.Uint16(h[10:]),
			time: le.Uint16(h[12:]), date: le.Uint16(h[14:]), crc: le.Uint32(h[16:]),
			csize: le.Uint32(h[20:]), usize: le.Uint32(h[24:]), externalAttr: le.Uint32(h[38:]), offset: le.Uint32(h[42:]),
		}
		nameLen, extraLen, commentLen := int(le.Uint16(h[28:])), int(le.Uint16(h[30:])), int(le.Uint16(h[32:]))
		c.name = string(h[46 : 46+nameLen])
		if i >= len(locals) {
			t.Fatalf("central directory has more entries than the archive")
		}
		l := locals[i]
		l2 := c
		l2.creator, l2.externalAttr = l.creator, l.externalAttr
		if l2 != l {
			t.Errorf("central entry %+v differs from local %+v", c, l)
		}
		if c.creator>>8 != 3 || c.externalAttr>>16 != 0o100644 {
			t.Errorf("%s: creator %#x attrs %#o, want unix regular 0644", c.name, c.creator, c.externalAttr>>16)
		}
		if extraLen != 0 || commentLen != 0 {
			t.Errorf("%s: central extra %d comment %d", c.name, extraLen, commentLen)
		}
		off += 46 + nameLen + extraLen + commentLen
		if i == len(locals)-1 && le.Uint32(data[off:]) != 0x06054b50 {
			t.Fatalf("no end record after the central directory")
		}
	}
	end := data[off:]
	if le.Uint32(end) != 0x06054b50 || int(le.Uint16(end[10:])) != len(locals) ||
		int(le.Uint32(end[12:])) != off-cdStart || int(le.Uint32(end[16:])) != cdStart || len(end) != 22 {
		t.Errorf("end record %x does not match (entries %d, directory at %d size %d)", end, len(locals), cdStart, off-cdStart)
	}
}

func checkUnzip(t *testing.T, data []byte) {
	t.Helper()
	if _, err := exec.LookPath("unzip"); err != nil {
		if strict() {
			t.Fatal("unzip not installed")
		}
		t.Log("unzip not installed: skipping unzip -t")
		return
	}
	out, err := exec.Command("unzip", "-t", tempZip(t, data)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No errors detected") {
		t.Errorf("unzip -t: %v\n%s", err, out)
	}
}

func tempZip(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "b.zip")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkJava reads the archive with java.util.zip.ZipInputStream, as the
// Android plugin does, and with ZipFile (central directory).
func checkJava(t *testing.T, data []byte, files map[string][]byte, stored map[string]bool) {
	t.Helper()
	out, stderr, err := runZipCheck(t, data)
	if out == nil {
		return
	}
	if err != nil {
		t.Fatalf("java ZipCheck: %v\n%s", err, stderr)
	}
	var want []string
	for name, body := range files {
		want = append(want, fmt.Sprintf("%s\t%s\t%d\t%s", name, methodName(stored[name]), len(body),
			strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 16)))
	}
	sort.Strings(want)
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("java sees:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// runZipCheck runs testdata/zipcheck/ZipCheck.java on data. It returns a nil
// output when java is missing (and the test may skip that check).
func runZipCheck(t *testing.T, data []byte) (out []byte, stderr string, err error) {
	t.Helper()
	java, lookErr := exec.LookPath("java")
	if lookErr != nil {
		if strict() {
			t.Fatal("java not installed: the Android-side zip check needs a JDK 11+")
		}
		t.Log("java not installed: skipping the ZipInputStream check")
		return nil, "", nil
	}
	src, absErr := filepath.Abs(filepath.Join("testdata", "zipcheck", "ZipCheck.java"))
	if absErr != nil {
		t.Fatal(absErr)
	}
	cmd := exec.Command(java, src, tempZip(t, data))
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	out, err = cmd.Output()
	if out == nil {
		out = []byte{}
	}
	return out, errBuf.String(), err
}

// The Java check is the one that matters (the Android plugin extracts with
// ZipInputStream), so it must catch the classic mistake: a STORED entry
// written by zip.Writer.CreateHeader, which always sets the data descriptor
// flag.
func TestZipCheckCatchesStoredDescriptor(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "logo.png", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("not really a png"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runZipCheck(t, buf.Bytes())
	if out == nil {
		return
	}
	if err == nil || !strings.Contains(stderr, "only DEFLATED entries can have EXT descriptor") {
		t.Errorf("ZipCheck accepted a stored entry with a data descriptor: err %v\n%s%s", err, out, stderr)
	}
}

// The same files give the same bytes, whatever the worker count, memory
// budget, file times, modes or folder name.
func TestWriteZipDeterministic(t *testing.T) {
	files := fixtureFiles()
	dir1 := filepath.Join(t.TempDir(), "www")
	writeByteFiles(t, dir1, files)
	dir2 := filepath.Join(t.TempDir(), "dist", "app")
	writeByteFiles(t, dir2, files)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for name := range files {
		p := filepath.Join(dir2, filepath.FromSlash(name))
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	first, _ := writeZipFile(t, scanFixture(t, dir1), workflow.ZipOptions{Workers: 1})
	for _, opts := range []workflow.ZipOptions{
		{Workers: 1},
		{Workers: 2},
		{Workers: 7, MemoryBudget: 1},
		{Workers: 3, MemoryBudget: 300 << 10},
	} {
		for _, dir := range []string{dir1, dir2} {
			got, _ := writeZipFile(t, scanFixture(t, dir), opts)
			if !bytes.Equal(got, first) {
				t.Errorf("%s with %+v: %d bytes differ from the first run's %d", dir, opts, len(got), len(first))
			}
		}
	}
	// The level is the one option that changes the output.
	other, _ := writeZipFile(t, scanFixture(t, dir1), workflow.ZipOptions{Level: 1})
	if bytes.Equal(other, first) {
		t.Error("level 1 gave the same bytes as the default level")
	}
}

func TestWriteZipCancel(t *testing.T) {
	dir := t.TempDir()
	writeByteFiles(t, dir, fixtureFiles())
	tree := scanFixture(t, dir)
	tmp := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelAfter{limit: 100 << 10, cancel: cancel}
	_, err := workflow.WriteZip(ctx, w, tree, workflow.ZipOptions{MemoryBudget: 1 << 20, TempDir: tmp}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteZip after cancel = %v, want context.Canceled", err)
	}
	if w.n > w.limit+1<<20 {
		t.Errorf("kept writing %d bytes after the cancel", w.n-w.limit)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temp files left behind: %v", left)
	}

	// Already cancelled: nothing written.
	var buf bytes.Buffer
	if _, err := workflow.WriteZip(ctx, &buf, tree, workflow.ZipOptions{}, nil); !errors.Is(err, context.Canceled) || buf.Len() != 0 {
		t.Errorf("WriteZip with a done context = %v, %d bytes", err, buf.Len())
	}
}

// cancelAfter cancels its context once limit bytes went through.
type cancelAfter struct {
	n, limit int
	cancel   func()
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.n += len(p)
	if c.n >= c.limit {
		c.cancel()
	}
	return len(p), nil
}

func TestWriteZipWriteError(t *testing.T) {
	dir := t.TempDir()
	writeByteFiles(t, dir, fixtureFiles())
	boom := errors.New("disk full")
	_, err := workflow.WriteZip(context.Background(), failWriter{boom}, scanFixture(t, dir), workflow.ZipOptions{}, nil)
	if !errors.Is(err, boom) {
		t.Errorf("WriteZip = %v, want the writer's error", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// A file that changes between Scan and WriteZip fails the build instead of
// producing an archive whose headers lie.
func TestWriteZipChangedFile(t *testing.T) {
	for _, name := range []string{"main.js", "assets/img/logo.png"} {
		for _, change := range []string{"grow", "shrink", "rewrite"} {
			t.Run(name+"/"+change, func(t *testing.T) {
				dir := t.TempDir()
				files := fixtureFiles()
				writeByteFiles(t, dir, files)
				tree := scanFixture(t, dir)
				body := bytes.Clone(files[name])
				switch change {
				case "grow":
					body = append(body, 'x')
				case "shrink":
					body = body[:len(body)-1]
				case "rewrite":
					body[len(body)/2] ^= 1
				}
				if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), body, 0o644); err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				_, err := workflow.WriteZip(context.Background(), &buf, tree, workflow.ZipOptions{}, nil)
				if change == "rewrite" {
					// A same-size rewrite before WriteZip reads the file is
					// simply the new content (copyStored's own check covers
					// a change between its two reads).
					if err != nil {
						t.Fatal(err)
					}
					zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
					if err != nil {
						t.Fatal(err)
					}
					for _, f := range zr.File {
						if f.Name == name && !bytes.Equal(readZipEntry(t, f), body) {
							t.Errorf("%s: archive holds neither the old nor the new content", name)
						}
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "changed") {
					t.Errorf("WriteZip = %v, want an error naming %s as changed", err, name)
				}
			})
		}
	}
}

func TestWriteZipRefusesBlockedTree(t *testing.T) {
	dir := t.TempDir()
	writeByteFiles(t, dir, map[string][]byte{"main.js": []byte("x")})
	tree, _ := workflow.Scan(dir, workflow.ScanOptions{})
	var buf bytes.Buffer
	_, err := workflow.WriteZip(context.Background(), &buf, tree, workflow.ZipOptions{}, nil)
	var pe *workflow.PreflightError
	if !errors.As(err, &pe) || buf.Len() != 0 {
		t.Errorf("WriteZip of a blocked tree = %v with %d bytes, want the PreflightError and nothing written", err, buf.Len())
	}
	if _, err := workflow.WriteZip(context.Background(), &buf, scanFixtureOK(t), workflow.ZipOptions{Level: 10}, nil); err == nil {
		t.Error("level 10 accepted")
	}
}

// A Tree built by hand is held to Scan's rules before anything is written.
func TestWriteZipRefusesBadEntries(t *testing.T) {
	good := scanFixtureOK(t)
	for _, tt := range []struct {
		name string
		edit func(es []workflow.Entry) []workflow.Entry
		want string
	}{
		{"traversal", func(es []workflow.Entry) []workflow.Entry { es[0].Name = "../evil.js"; return es }, `".." segment`},
		{"backslash", func(es []workflow.Entry) []workflow.Entry { es[0].Name = `a\b.css`; return es }, "backslash"},
		{"duplicate", func(es []workflow.Entry) []workflow.Entry { return append(es[:1], es...) }, "listed twice"},
		{"unsorted", func(es []workflow.Entry) []workflow.Entry { es[0], es[1] = es[1], es[0]; return es }, "not sorted"},
		{"4 GiB", func(es []workflow.Entry) []workflow.Entry { es[0].Size = 1 << 32; return es }, "out of range"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tree := *good
			tree.Entries = tt.edit(append([]workflow.Entry(nil), good.Entries...))
			var buf bytes.Buffer
			_, err := workflow.WriteZip(context.Background(), &buf, &tree, workflow.ZipOptions{}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || buf.Len() != 0 {
				t.Errorf("WriteZip = %v with %d bytes written, want an error about %q and nothing written", err, buf.Len(), tt.want)
			}
		})
	}
}

func scanFixtureOK(t *testing.T) *workflow.Tree {
	dir := t.TempDir()
	writeFiles(t, dir, appFiles())
	return scanFixture(t, dir)
}

// Past 65,535 entries the archive needs the Zip64 end records; archive/zip
// and unzip must still read it. The entries all read one empty file, so the
// test needs no 65,536 files on disk.
func TestWriteZipManyEntries(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, appFiles())
	tree := scanFixture(t, dir)
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 1 << 16
	for i := range n {
		tree.Entries = append(tree.Entries, workflow.Entry{Name: fmt.Sprintf("e/%05d", i), Path: empty, Method: zip.Deflate})
	}
	sort.Slice(tree.Entries, func(i, j int) bool { return tree.Entries[i].Name < tree.Entries[j].Name })
	tree.Files = len(tree.Entries)
	data, stats := writeZipFile(t, tree, workflow.ZipOptions{})
	if stats.Files != n+3 {
		t.Fatalf("wrote %d entries, want %d", stats.Files, n+3)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != n+3 {
		t.Errorf("archive/zip reads %d entries, want %d", len(zr.File), n+3)
	}
	if !bytes.Contains(data[len(data)-200:], []byte{0x50, 0x4b, 0x06, 0x06}) {
		t.Error("no Zip64 end record")
	}
	checkUnzip(t, data)

	// Below the limit, no Zip64 record.
	small, _ := writeZipFile(t, scanFixtureOK(t), workflow.ZipOptions{})
	if bytes.Contains(small, []byte{0x50, 0x4b, 0x06, 0x06}) {
		t.Error("Zip64 end record in a small archive")
	}
}

// The deflate cache changes nothing in the archive: the next archive takes
// every deflated entry from it (and every "does not shrink" from its
// notes); a damaged entry is deflated again.
func TestWriteZipCache(t *testing.T) {
	dir := t.TempDir()
	writeByteFiles(t, dir, fixtureFiles())
	tree := scanFixture(t, dir)
	want, plain := writeZipFile(t, tree, workflow.ZipOptions{Workers: 2})
	cache := t.TempDir()
	check := func(name string, opts workflow.ZipOptions, cached int) {
		t.Helper()
		opts.CacheDir = cache
		got, stats := writeZipFile(t, tree, opts)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: the archive differs from one made without the cache", name)
		}
		if stats.Cached != cached || stats.Deflated != plain.Deflated || stats.Stored != plain.Stored {
			t.Fatalf("%s: %d deflated (%d from the cache), %d stored; want %d (%d), %d", name,
				stats.Deflated, stats.Cached, stats.Stored, plain.Deflated, cached, plain.Stored)
		}
	}
	check("first", workflow.ZipOptions{}, 0)
	check("second", workflow.ZipOptions{}, plain.Deflated)
	check("small budget", workflow.ZipOptions{Workers: 3, MemoryBudget: 1 << 20, TempDir: t.TempDir()}, plain.Deflated)

	var entries []string
	filepath.WalkDir(filepath.Join(cache, "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "deflate") {
			entries = append(entries, p)
		}
		return nil
	})
	// One per deflated file, and a note for each of the four files deflate
	// cannot shrink (data.bin, tiny.bin, z.txt, big-random.svg).
	if len(entries) != plain.Deflated+4 {
		t.Fatalf("%d cache entries for %d deflated files", len(entries), plain.Deflated)
	}
	for _, p := range entries {
		b, _ := os.ReadFile(p)
		b[len(b)-1] ^= 1
		os.WriteFile(p, b, 0o600)
	}
	check("damaged", workflow.ZipOptions{}, 0)
	check("repaired", workflow.ZipOptions{}, plain.Deflated)
}
