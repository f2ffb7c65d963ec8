package workflow

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sealedForTest encrypts zipData as Build would (fixed AES key and IV, which
// changes nothing the device checks) and returns the options to open it.
func sealedForTest(t testing.TB, key *rsa.PrivateKey, zipData []byte) OpenOptions {
	t.Helper()
	aesKey, iv := bytes.Repeat([]byte{0x42}, 16), bytes.Repeat([]byte{0x24}, 16)
	path := filepath.Join(t.TempDir(), "bundle.zip")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewEncryptWriter(f, aesKey, iv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(zipData); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	sk, err := SessionKeyString(key, aesKey, iv)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(zipData)
	checksum, err := EncryptedChecksum(key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return OpenOptions{File: path, SessionKey: sk, Checksum: checksum, PublicKey: &key.PublicKey}
}

// makeZip writes a zip with archive/zip; each step adds entries.
func makeZip(t testing.TB, steps ...func(*zip.Writer) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, step := range steps {
		if err := step(zw); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// file adds a deflated regular file with mode 0644.
func file(name, body string) func(*zip.Writer) error {
	return func(zw *zip.Writer) error {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o644)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, body)
		return err
	}
}

// raw adds an entry whose header is exactly h (CreateRaw), with body as its
// stored bytes; CRC and sizes are filled in unless already set.
func raw(h zip.FileHeader, body []byte) func(*zip.Writer) error {
	return func(zw *zip.Writer) error {
		if h.CRC32 == 0 {
			h.CRC32 = crc32.ChecksumIEEE(body)
		}
		if h.CompressedSize64 == 0 {
			h.CompressedSize64 = uint64(len(body))
		}
		if h.UncompressedSize64 == 0 && h.Method == zip.Store {
			h.UncompressedSize64 = uint64(len(body))
		}
		w, err := zw.CreateRaw(&h)
		if err != nil {
			return err
		}
		_, err = w.Write(body)
		return err
	}
}

func unixHeader(name string, mode uint32) zip.FileHeader {
	return zip.FileHeader{Name: name, CreatorVersion: 3<<8 | 20, ReaderVersion: 20, ExternalAttrs: mode << 16}
}

const indexHTML = "<!doctype html><script>notifyAppReady()</script>"

// listTree returns every path under dir (slash-separated, folders with "/");
// none when dir does not exist.
func listTree(t testing.TB, dir string) []string {
	t.Helper()
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			rel += "/"
		} else if !d.Type().IsRegular() {
			t.Errorf("%s is not a regular file: %v", rel, d.Type())
		}
		names = append(names, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

func TestOpenVector(t *testing.T) {
	v := readVector(t)
	parent := t.TempDir()
	dest := filepath.Join(parent, "out")
	var events []Event
	res, err := Open(t.Context(), OpenOptions{
		File:       vectorPath("bundle.enc"),
		SessionKey: v.SessionKey,
		Checksum:   v.Checksum,
		PublicKey:  testPublicKey(t, "test.pub.pem"),
		ExtractDir: dest,
	}, func(e Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	if res.ZipSHA256 != v.ZipSHA256 || res.SHA256 != v.SHA256 || res.KeyID != v.KeyID || res.KeyFingerprint != v.KeyFingerprint {
		t.Fatalf("result %+v does not match the vector", res)
	}
	if res.Files != 4 || res.Entries != 5 || res.Bytes != 1587 || res.Root != "" || res.ExtractDir != dest {
		t.Fatalf("result %+v", res)
	}
	if len(events) == 0 || events[len(events)-1].Phase != PhaseDone {
		t.Fatalf("events %v: want PhaseDone last", events)
	}
	// Compare with what archive/zip reads from the plain zip.
	zr, err := zip.OpenReader(vectorPath("plain.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var want []string
	for _, f := range zr.File {
		want = append(want, f.Name)
		if f.FileInfo().IsDir() {
			continue
		}
		rc, _ := f.Open()
		body, _ := io.ReadAll(rc)
		rc.Close()
		got, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(f.Name)))
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("%s: extracted %q, %v; want %q", f.Name, got, err, body)
		}
	}
	sort.Strings(want)
	if got := listTree(t, dest); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("extracted %v, want %v", got, want)
	}
	if got := listTree(t, parent); len(got) != len(want)+1 {
		t.Fatalf("left temp files beside the extraction: %v", got)
	}
}

func TestOpenWithoutExtract(t *testing.T) {
	key := testPrivateKey(t, "test.pem")
	opts := sealedForTest(t, key, makeZip(t, file("www/index.html", indexHTML), file("www/a.js", "x")))
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	res, err := Open(t.Context(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Root != "www" || res.Files != 2 || res.ExtractDir != "" {
		t.Fatalf("result %+v", res)
	}
	if left := listTree(t, tmp); len(left) > 0 {
		t.Fatalf("left in the temp folder: %v", left)
	}
}

// Every refusal of Open, and that each leaves nothing behind.
func TestOpenRefuses(t *testing.T) {
	v := readVector(t)
	key := testPrivateKey(t, "test.pem")
	pub := testPublicKey(t, "test.pub.pem")
	good := OpenOptions{File: vectorPath("bundle.enc"), SessionKey: v.SessionKey, Checksum: v.Checksum, PublicKey: pub}
	enc := readVectorFile(t, "bundle.enc")
	variant := func(data []byte) string {
		p := filepath.Join(t.TempDir(), "bundle.zip")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := bytes.Clone(enc)
	flipped[len(enc)/2] ^= 0x01
	otherZip := sealedForTest(t, key, makeZip(t, file("index.html", indexHTML)))
	otherKey := sealedForTest(t, testPrivateKey(t, "other.pem"), readVectorFile(t, "plain.zip"))

	for _, c := range []struct {
		name   string
		change func(*OpenOptions)
		is     error
	}{
		{"wrong public key", func(o *OpenOptions) { o.PublicKey = testPublicKey(t, "other.pub.pem") }, ErrSessionKey},
		{"RSA-4096 public key", func(o *OpenOptions) { o.PublicKey = &testPrivateKeyAnySize(t, "rsa4096.pem").PublicKey }, ErrKeySize},
		{"no public key", func(o *OpenOptions) { o.PublicKey = nil }, nil},
		{"one flipped byte", func(o *OpenOptions) { o.File = variant(flipped) }, ErrChecksumMismatch},
		{"truncated by one byte", func(o *OpenOptions) { o.File = variant(enc[:len(enc)-1]) }, ErrCiphertext},
		{"truncated by one block", func(o *OpenOptions) { o.File = variant(enc[:len(enc)-16]) }, ErrCiphertext},
		{"empty file", func(o *OpenOptions) { o.File = variant(nil) }, ErrCiphertext},
		{"plain zip, not encrypted", func(o *OpenOptions) { o.File = vectorPath("plain.zip") }, ErrCiphertext},
		{"checksum of another zip", func(o *OpenOptions) { o.Checksum = otherZip.Checksum }, ErrChecksumMismatch},
		{"checksum from another key", func(o *OpenOptions) { o.Checksum = otherKey.Checksum }, ErrChecksumMismatch},
		{"plain SHA-256 as checksum", func(o *OpenOptions) { o.Checksum = v.ZipSHA256 }, ErrChecksumFormat},
		{"no checksum", func(o *OpenOptions) { o.Checksum = "" }, ErrChecksumFormat},
		{"session key of another bundle", func(o *OpenOptions) { o.SessionKey = otherZip.SessionKey }, ErrCiphertext},
		{"malformed session key", func(o *OpenOptions) { o.SessionKey = strings.Replace(v.SessionKey, ":", ";", 1) }, ErrSessionKey},
		{"missing file", func(o *OpenOptions) { o.File = filepath.Join(t.TempDir(), "nope") }, fs.ErrNotExist},
		{"folder as file", func(o *OpenOptions) { o.File = t.TempDir() }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			opts := good
			opts.ExtractDir = filepath.Join(parent, "out")
			c.change(&opts)
			_, err := Open(t.Context(), opts, nil)
			if err == nil || c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("err = %v, want %v", err, c.is)
			}
			if left := listTree(t, parent); len(left) > 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
}

func TestOpenExtractTarget(t *testing.T) {
	v := readVector(t)
	opts := OpenOptions{File: vectorPath("bundle.enc"), SessionKey: v.SessionKey, Checksum: v.Checksum, PublicKey: testPublicKey(t, "test.pub.pem")}

	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts.ExtractDir = full
	if _, err := Open(t.Context(), opts, nil); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("non-empty target: %v", err)
	}
	if got := listTree(t, full); len(got) != 1 {
		t.Fatalf("non-empty target was changed: %v", got)
	}

	opts.ExtractDir = filepath.Join(t.TempDir(), "missing", "out")
	if _, err := Open(t.Context(), opts, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing parent: %v", err)
	}

	empty := t.TempDir()
	opts.ExtractDir = empty
	if _, err := Open(t.Context(), opts, nil); err != nil {
		t.Fatalf("empty target: %v", err)
	}
	if _, err := os.Stat(filepath.Join(empty, "index.html")); err != nil {
		t.Fatal(err)
	}
}

func TestOpenCancel(t *testing.T) {
	v := readVector(t)
	parent := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Open(ctx, OpenOptions{File: vectorPath("bundle.enc"), SessionKey: v.SessionKey, Checksum: v.Checksum,
		PublicKey: testPublicKey(t, "test.pub.pem"), ExtractDir: filepath.Join(parent, "out")}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if left := listTree(t, parent); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// deflated returns data compressed with raw deflate.
func deflated(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(data)
	fw.Close()
	return buf.Bytes()
}

// Zips that pass the checksum (they are signed with the right key) but that
// devices would refuse or that would escape the folder: Open must refuse
// them before writing anything.
func TestOpenUnsafeZips(t *testing.T) {
	key := testPrivateKey(t, "test.pem")
	index := file("index.html", indexHTML)
	zeros := make([]byte, 4<<20)
	storedWithDescriptor := func(zw *zip.Writer) error {
		// CreateHeader sets the data descriptor bit even for STORED.
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "a.png", Method: zip.Store})
		if err != nil {
			return err
		}
		_, err = w.Write([]byte("png"))
		return err
	}
	nonUTF8 := func(zw *zip.Writer) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "caf\u00e9.txt", Method: zip.Deflate, NonUTF8: true})
		if err != nil {
			return err
		}
		_, err = w.Write([]byte("x"))
		return err
	}
	lyingSize := unixHeader("big.js", 0o100644)
	lyingSize.UncompressedSize64 = 3 // the body holds 5
	badCRC := unixHeader("bad.js", 0o100644)
	badCRC.CRC32 = 12345
	bzip2 := unixHeader("b.js", 0o100644)
	bzip2.Method = 12
	encrypted := unixHeader("e.js", 0o100644)
	encrypted.Flags = 0x1
	bomb := unixHeader("bomb.js", 0o100644)
	bomb.Method = zip.Deflate
	bomb.UncompressedSize64 = uint64(len(zeros))
	bomb.CRC32 = crc32.ChecksumIEEE(zeros)

	for _, c := range []struct {
		name    string
		zip     []byte
		limits  ExtractLimits
		mention string
	}{
		{"path traversal", makeZip(t, index, file("../evil.js", "x")), ExtractLimits{}, ".."},
		{"deep traversal", makeZip(t, index, file("a/../../evil.js", "x")), ExtractLimits{}, ".."},
		{"absolute path", makeZip(t, index, raw(unixHeader("/etc/evil", 0o100644), []byte("x"))), ExtractLimits{}, "absolute"},
		{"backslash", makeZip(t, index, file(`a\..\evil.js`, "x")), ExtractLimits{}, "backslash"},
		{"drive letter", makeZip(t, index, file("C:/evil.js", "x")), ExtractLimits{}, "drive letter"},
		{"NUL in name", makeZip(t, index, file("a\x00.js", "x")), ExtractLimits{}, "NUL"},
		{"symlink", makeZip(t, index, raw(unixHeader("link", 0o120777), []byte("/etc/passwd"))), ExtractLimits{}, "symbolic link"},
		{"fifo", makeZip(t, index, raw(unixHeader("fifo", 0o010644), nil)), ExtractLimits{}, "not a regular file"},
		{"folder with file mode", makeZip(t, index, raw(unixHeader("assets/", 0o100644), nil)), ExtractLimits{}, "iOS would create a file"},
		{"file with folder mode", makeZip(t, index, raw(unixHeader("app.js", 0o040755), []byte("x"))), ExtractLimits{}, "not a regular file"},
		{"duplicate entry", makeZip(t, index, file("a.js", "1"), file("a.js", "2")), ExtractLimits{}, "twice"},
		{"file is also a folder", makeZip(t, index, file("a", "1"), file("a/b.js", "2")), ExtractLimits{}, "also the folder"},
		{"no index.html", makeZip(t, file("app.js", "x")), ExtractLimits{}, "index.html"},
		{"index.html is a folder", makeZip(t, raw(unixHeader("index.html/", 0o040755), nil), file("index.html/a", "x")), ExtractLimits{}, "index.html"},
		{"two top folders", makeZip(t, file("a/index.html", indexHTML), file("b/x.js", "x")), ExtractLimits{}, "index.html"},
		{"top folder beside .DS_Store", makeZip(t, file("www/index.html", indexHTML), file(".DS_Store", "x")), ExtractLimits{}, "lone folder"},
		{"stored with data descriptor", makeZip(t, index, storedWithDescriptor), ExtractLimits{}, "data descriptor"},
		{"non-ASCII name without UTF-8 flag", makeZip(t, index, nonUTF8), ExtractLimits{}, "UTF-8 flag"},
		{"zip encryption", makeZip(t, index, raw(encrypted, []byte("x"))), ExtractLimits{}, "encrypted"},
		{"bzip2", makeZip(t, index, raw(bzip2, []byte("x"))), ExtractLimits{}, "compression method 12"},
		{"more bytes than declared", makeZip(t, index, raw(lyingSize, []byte("hello"))), ExtractLimits{}, "not a valid zip"},
		{"bad CRC", makeZip(t, index, raw(badCRC, []byte("hello"))), ExtractLimits{}, "checksum"},
		{"zip bomb ratio", makeZip(t, index, raw(bomb, deflated(t, zeros))), ExtractLimits{MaxRatio: 100}, "zip bomb"},
		{"file too big", makeZip(t, index, file("big.js", strings.Repeat("x", 2000))), ExtractLimits{MaxFileSize: 1000}, "limit"},
		{"too many bytes", makeZip(t, index, file("a.js", strings.Repeat("x", 600)), file("b.js", strings.Repeat("x", 600))), ExtractLimits{MaxTotalSize: 1000}, "in all"},
		{"too many entries", makeZip(t, index, file("a.js", "1"), file("b.js", "2")), ExtractLimits{MaxEntries: 2}, "entries"},
		{"empty zip", makeZip(t), ExtractLimits{}, "empty"},
		{"prefix before the first entry", append([]byte("MZ junk before the zip"), makeZip(t, index)...), ExtractLimits{}, "offset 0"},
		{"not a zip", []byte("just some signed bytes"), ExtractLimits{}, "not a valid zip"},
	} {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			opts := sealedForTest(t, key, c.zip)
			opts.ExtractDir = filepath.Join(parent, "out")
			opts.Limits = c.limits
			_, err := Open(t.Context(), opts, nil)
			if !errors.Is(err, ErrUnsafeZip) || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("err = %v, want ErrUnsafeZip mentioning %q", err, c.mention)
			}
			if left := listTree(t, parent); len(left) > 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
}

// A zip whose local headers disagree with its central directory: Android
// (which reads local headers) and iOS (central directory) would see
// different files.
func TestOpenLocalHeaderMismatch(t *testing.T) {
	key := testPrivateKey(t, "test.pem")
	data := makeZip(t, file("index.html", indexHTML), file("app.js", "console.log(1)"))
	// Rename app.js to evl.js in its local header only.
	i := bytes.Index(data, []byte("app.js"))
	bad := bytes.Clone(data)
	copy(bad[i:], "evl.js")
	opts := sealedForTest(t, key, bad)
	if _, err := Open(t.Context(), opts, nil); !errors.Is(err, ErrUnsafeZip) || !strings.Contains(err.Error(), "local header") {
		t.Fatalf("err = %v", err)
	}
	// A stray local entry between the last entry and the central directory.
	cd := bytes.LastIndex(data, []byte("PK\x01\x02"))
	for bytes.LastIndex(data[:cd], []byte("PK\x01\x02")) > 0 {
		cd = bytes.LastIndex(data[:cd], []byte("PK\x01\x02"))
	}
	hidden := makeZip(t, file("hidden.js", "evil()"))
	hidden = hidden[:bytes.Index(hidden, []byte("PK\x01\x02"))]
	smuggled := append(append(bytes.Clone(data[:cd]), hidden...), data[cd:]...)
	// Point the end record at the moved central directory.
	eocd := bytes.LastIndex(smuggled, []byte("PK\x05\x06"))
	off := uint32(cd + len(hidden))
	smuggled[eocd+16], smuggled[eocd+17], smuggled[eocd+18], smuggled[eocd+19] = byte(off), byte(off>>8), byte(off>>16), byte(off>>24)
	opts = sealedForTest(t, key, smuggled)
	if _, err := Open(t.Context(), opts, nil); !errors.Is(err, ErrUnsafeZip) || !strings.Contains(err.Error(), "missing from the central directory") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	key := testPrivateKey(f, "test.pem")
	f.Add(readVectorFile(f, "plain.zip"))
	f.Add(makeZip(f, file("index.html", indexHTML)))
	f.Add(makeZip(f, file("www/index.html", indexHTML), file("www/a/b.js", "x")))
	f.Add(makeZip(f, file("index.html", indexHTML), file("../x", "x")))
	f.Add(makeZip(f, file("index.html", indexHTML), raw(unixHeader("l", 0o120777), []byte("/etc"))))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	// Seal once with a fixed session key; per input only the checksum changes.
	base := sealedForTest(f, key, nil)
	aesKey, iv := bytes.Repeat([]byte{0x42}, 16), bytes.Repeat([]byte{0x24}, 16)
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "bundle.zip")
		out, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := NewEncryptWriter(out, aesKey, iv)
		w.Write(data)
		w.Close()
		out.Close()
		sum := sha256.Sum256(data)
		checksum, err := EncryptedChecksum(key, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		opts := base
		opts.File, opts.Checksum = path, checksum
		opts.ExtractDir = filepath.Join(dir, "out")
		opts.Limits = ExtractLimits{MaxEntries: 1000, MaxFileSize: 1 << 20, MaxTotalSize: 4 << 20}
		res, err := Open(t.Context(), opts, nil)
		names := listTree(t, dir)
		if err != nil {
			if len(names) != 1 || names[0] != "bundle.zip" {
				t.Fatalf("error %v left %v", err, names)
			}
			return
		}
		if res.ZipSHA256 != hex.EncodeToString(sum[:]) {
			t.Fatal("wrong zip digest")
		}
		var files int
		for _, n := range names {
			if n != "bundle.zip" && !strings.HasPrefix(n, "out/") && n != "out/" {
				t.Fatalf("wrote %q outside the extract folder", n)
			}
			if strings.HasPrefix(n, "out/") && !strings.HasSuffix(n, "/") {
				files++
			}
		}
		if files != res.Files {
			t.Fatalf("extracted %d files, result says %d", files, res.Files)
		}
	})
}
