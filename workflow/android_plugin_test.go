package workflow_test

// The Android half of the compatibility contract, proved with the plugin's
// own code. scripts/test unpacks the pinned @capgo/capacitor-updater npm
// package (8.51.x) and exports CAPSHIP_CAPGO_PLUGIN_DIR; this test compiles,
// in a temporary folder, the package's CryptoCipher.java and Logger.java,
// members of its CapgoUpdater.java (copied out at test time, with
// plugintest.JavaMember, into
// testdata/plugin-android/UpdaterSlice.java.tmpl), our stand-ins for the few
// Android classes they use (testdata/plugin-android/android/...) and
// Harness.java, which runs an update answer through them as a device does.
// No plugin code is committed.

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"capship/server/plugintest"
	"capship/workflow"
)

// pluginMembers are the members of CapgoUpdater.java the harness runs, each
// found by the start of its declaration (it must occur exactly once).
var pluginMembers = []string{
	"private final FilenameFilter filter = ",
	"private int calcTotalPercent(",
	"public void setPublicKey(",
	"public String getKeyId(",
	"private void requireSessionKeyForEncryptedUpdate(",
	"private void requireBundleChecksum(",
	"static boolean containsPathTraversalSegment(",
	"static File resolvePathInsideDirectory(",
	"static File resolveBundleDirectory(",
	"File unzip(final String id, final File zipFile, final String dest) ",
	"File unzip(final String id, final File zipFile, final String dest, final int bufferSize) ",
	"private void flattenAssets(",
	"private void assertPathInsideBundleRoot(",
	"private File getBundleDirectory(",
}

const (
	pluginJavaDir   = "android/src/main/java/ee/forgr/capacitor_updater"
	pluginMarker    = "// @PLUGIN_MEMBERS@"
	javacTimeout    = 3 * time.Minute
	harnessClass    = "ee.forgr.capacitor_updater.Harness"
	harnessTestdata = "../testdata/plugin-android"
)

// pluginHarness compiles the harness and returns the classes folder. It
// skips (fails under CAPSHIP_TEST_STRICT=1) without the plugin or a JDK.
func pluginHarness(t *testing.T) string {
	t.Helper()
	pluginDir := needEnv(t, "CAPSHIP_CAPGO_PLUGIN_DIR", "the unpacked @capgo/capacitor-updater 8.51.x npm package is needed to run its Android code")
	javac, err := exec.LookPath("javac")
	if err != nil {
		if strict() {
			t.Fatal("javac not installed: the plugin's Android code needs a JDK 17")
		}
		t.Skip("javac not installed: skipping the plugin's Android code")
	}
	var pkg struct{ Name, Version string }
	data, err := os.ReadFile(filepath.Join(pluginDir, "package.json"))
	if err == nil {
		err = json.Unmarshal(data, &pkg)
	}
	if err != nil || pkg.Name != "@capgo/capacitor-updater" || !strings.HasPrefix(pkg.Version, "8.51.") {
		t.Fatalf("CAPSHIP_CAPGO_PLUGIN_DIR=%s: want the @capgo/capacitor-updater 8.51.x package (read %+v, %v)", pluginDir, pkg, err)
	}
	t.Logf("plugin %s %s", pkg.Name, pkg.Version)

	src := filepath.Join(pluginDir, filepath.FromSlash(pluginJavaDir))
	updater, err := os.ReadFile(filepath.Join(src, "CapgoUpdater.java"))
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	for _, decl := range pluginMembers {
		m, err := plugintest.JavaMember(string(updater), decl)
		if err != nil {
			t.Fatalf("CapgoUpdater.java of %s: %v", pkg.Version, err)
		}
		members = append(members, m)
	}
	tmpl, err := os.ReadFile(filepath.Join(harnessTestdata, "UpdaterSlice.java.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(tmpl, []byte(pluginMarker)) != 1 {
		t.Fatalf("UpdaterSlice.java.tmpl: want one %q line", pluginMarker)
	}
	work := t.TempDir()
	slice := filepath.Join(work, "UpdaterSlice.java")
	body := strings.Replace(string(tmpl), pluginMarker, strings.Join(members, "\n\n"), 1)
	if err := os.WriteFile(slice, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}

	files := []string{filepath.Join(src, "CryptoCipher.java"), filepath.Join(src, "Logger.java"), slice}
	err = filepath.WalkDir(harnessTestdata, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".java") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	classes := filepath.Join(work, "classes")
	ctx, cancel := context.WithTimeout(t.Context(), javacTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, javac, append([]string{"-encoding", "UTF-8", "-nowarn", "-Xlint:none", "-d", classes}, files...)...)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("javac (within %v): %v\n%s", javacTimeout, err, out)
	}
	return classes
}

// harnessRun is what one `Harness install` printed.
type harnessRun struct {
	keyID  string
	files  map[string]string // path -> "size sha256"
	stats  string
	result []string // "OK", files, bytes  or  "ERROR", stage, message
	cause  string
	raw    toolRun
}

func (r harnessRun) ok() bool { return len(r.result) > 0 && r.result[0] == "OK" }

// runHarness runs `Harness install` on one update answer, bounded by
// toolTimeout, in a UTF-8 locale like Android's file system.
func runHarness(t *testing.T, classes, publicKey, sessionKey, checksum, bundle string) harnessRun {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "publicKey.txt")
	if err := os.WriteFile(keyFile, []byte(publicKey), 0o644); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "files")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	raw := runJava(t, classes, "install", keyFile, sessionKey, checksum, bundle, work)
	r := harnessRun{files: map[string]string{}, raw: raw}
	sc := bufio.NewScanner(strings.NewReader(raw.stdout))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		switch {
		case f[0] == "key_id" && len(f) == 2:
			r.keyID = f[1]
		case f[0] == "file" && len(f) == 4:
			r.files[f[1]] = f[2] + " " + f[3]
		case f[0] == "stats" && len(f) == 2:
			r.stats = f[1]
		case f[0] == "result" && len(f) == 4:
			r.result = f[1:]
		case f[0] == "cause" && len(f) == 2:
			r.cause = f[1]
		default:
			t.Fatalf("harness printed %q:\n%s", sc.Text(), raw)
		}
	}
	var exit *exec.ExitError
	switch {
	case len(r.result) != 3:
		t.Fatalf("harness printed no result:\n%s", raw)
	case r.ok() != (raw.err == nil) || raw.err != nil && (!errors.As(raw.err, &exit) || exit.ExitCode() != 1):
		t.Fatalf("harness result %v does not match its exit (%v):\n%s", r.result, raw.err, raw)
	}
	return r
}

func runJava(t *testing.T, classes string, args ...string) toolRun {
	t.Helper()
	env := append(os.Environ(), "LC_ALL=C.UTF-8")
	jvm := []string{"-XX:TieredStopAtLevel=1", "-Dfile.encoding=UTF-8", "-cp", classes, harnessClass}
	return runTool(t, "java", "java", "", env, append(jvm, args...)...)
}

// wantFiles is what an installed bundle must hold: every file of the web
// folder, as "size sha256".
func wantFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	want := map[string]string{}
	for name, data := range readTree(t, dir) {
		sum := sha256.Sum256(data)
		want[name] = fmt.Sprintf("%d %x", len(data), sum)
	}
	return want
}

// configPublicKey writes pub into a capacitor.config.json the way capship
// does (workflow.SetPublicKey) and returns plugins.CapacitorUpdater.publicKey
// as the app reads it (a JSON decoder, like Capacitor's).
func configPublicKey(t *testing.T, pub *rsa.PublicKey) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "capacitor.config.json")
	writeJSONFile(t, path, map[string]any{"appId": interopAppID, "appName": "Interop", "webDir": "www"})
	if err := workflow.SetPublicKey(path, string(workflow.EncodePublicKey(pub))); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Plugins struct {
			CapacitorUpdater struct {
				PublicKey string `json:"publicKey"`
			}
		} `json:"plugins"`
	}
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, &cfg)
	}
	if err != nil {
		t.Fatalf("read back %s: %v", path, err)
	}
	key := cfg.Plugins.CapacitorUpdater.PublicKey
	body, _, _ := strings.Cut(strings.TrimPrefix(key, "-----BEGIN RSA PUBLIC KEY-----\n"), "-----END RSA PUBLIC KEY-----")
	if !strings.HasPrefix(key, "-----BEGIN RSA PUBLIC KEY-----\n") || strings.ContainsAny(body, "\r\t ") || strings.ContainsRune(key, '\r') {
		t.Fatalf("config publicKey is not LF-only PKCS#1 PEM text: %q", key)
	}
	return key
}

// sealZip encrypts a zip as Build does (exported pieces of workflow) and
// returns the bundle path, its session key and its V3 checksum.
func sealZip(t *testing.T, priv *rsa.PrivateKey, checksumKey *rsa.PrivateKey, zipData []byte) (path, sessionKey, checksum string) {
	t.Helper()
	key, iv := make([]byte, 16), make([]byte, 16)
	rand.Read(key)
	rand.Read(iv)
	var enc bytes.Buffer
	w, err := workflow.NewEncryptWriter(&enc, key, iv)
	if err == nil {
		_, err = w.Write(zipData)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	sessionKey, err = workflow.SessionKeyString(priv, key, iv)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(zipData)
	checksum, err = workflow.EncryptedChecksum(checksumKey, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "crafted.zip")
	if err := os.WriteFile(path, enc.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, sessionKey, checksum
}

// craftZip writes files with zip.Writer.CreateHeader in the given method
// (which sets the data-descriptor flag, bit 3, on every entry).
func craftZip(t *testing.T, method uint16, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err == nil {
			_, err = w.Write([]byte(files[name]))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (r harnessRun) mustFail(t *testing.T, stage, stat string) {
	t.Helper()
	if r.ok() || r.result[1] != stage || !strings.Contains(","+r.stats+",", ","+stat+",") {
		t.Fatalf("want a refusal at %s with stat %s, got result %q stats %q:\n%s", stage, stat, r.result, r.stats, r.raw)
	}
}

func TestPluginAndroid(t *testing.T) {
	classes := pluginHarness(t)
	key, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	publicKey := configPublicKey(t, &key.PublicKey)
	web := filepath.Join(t.TempDir(), "www")
	writeWebBuild(t, web)
	m := buildCapshipBundle(t, key, web)
	want := wantFiles(t, web)
	var largest int
	for _, v := range want {
		size, _ := strconv.Atoi(strings.Fields(v)[0])
		largest = max(largest, size)
	}
	if len(want) < 10 || largest <= 64<<10 {
		t.Fatalf("the web folder is too small to prove much: %d files, largest %d bytes", len(want), largest)
	}

	t.Run("accepts capship bundle", func(t *testing.T) {
		r := runHarness(t, classes, publicKey, m.SessionKey, m.Checksum, m.File)
		if !r.ok() {
			t.Fatalf("the plugin refused the bundle: %q\n%s", r.result, r.raw)
		}
		for name, w := range want {
			if g, ok := r.files[name]; !ok {
				t.Errorf("installed bundle lacks %q", name)
			} else if g != w {
				t.Errorf("%q installed as %s, want %s", name, g, w)
			}
		}
		for name := range r.files {
			if _, ok := want[name]; !ok {
				t.Errorf("installed bundle has an extra %q", name)
			}
		}
		var total int64
		for _, data := range readTree(t, web) {
			total += int64(len(data))
		}
		if wantResult := []string{"OK", strconv.Itoa(len(want)), strconv.FormatInt(total, 10)}; strings.Join(r.result, " ") != strings.Join(wantResult, " ") {
			t.Errorf("result %q, want %q", r.result, wantResult)
		}
		if r.stats != "" {
			t.Errorf("the plugin would have sent stats %q", r.stats)
		}
		t.Logf("the plugin installed %s files, %s bytes; key_id %s", r.result[1], r.result[2], r.keyID)
		if r.keyID != workflow.KeyID(&key.PublicKey) || r.keyID != m.KeyID {
			t.Errorf("plugin key_id %q, workflow.KeyID %q, manifest %q", r.keyID, workflow.KeyID(&key.PublicKey), m.KeyID)
		}
	})

	t.Run("flipped byte in the bundle", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "flipped.zip")
		copyFile(t, m.File, bad, m.Size/2)
		runHarness(t, classes, publicKey, m.SessionKey, m.Checksum, bad).mustFail(t, "verify", "checksum_fail")
	})

	other, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"index.html": "<!doctype html><script>CapacitorUpdater.notifyAppReady()</script>\n", "js/app.js": "console.log(1)\n"}

	t.Run("checksum made with another key", func(t *testing.T) {
		bundle, sessionKey, checksum := sealZip(t, key, other, craftZip(t, zip.Deflate, files))
		r := runHarness(t, classes, publicKey, sessionKey, checksum, bundle)
		if r.ok() || r.result[1] != "verify" || !strings.Contains(r.result[2], "Decryption failed") {
			t.Fatalf("want the checksum decryption to fail, got %q:\n%s", r.result, r.raw)
		}
	})

	t.Run("crafted deflated zip with descriptors", func(t *testing.T) {
		// Control for the next case: the same crafting and sealing is accepted
		// when only DEFLATED entries carry a data descriptor.
		bundle, sessionKey, checksum := sealZip(t, key, key, craftZip(t, zip.Deflate, files))
		r := runHarness(t, classes, publicKey, sessionKey, checksum, bundle)
		if !r.ok() || len(r.files) != len(files) {
			t.Fatalf("want the crafted deflated zip accepted with %d files, got %q %v:\n%s", len(files), r.result, r.files, r.raw)
		}
	})

	t.Run("stored entry with a data descriptor", func(t *testing.T) {
		bundle, sessionKey, checksum := sealZip(t, key, key, craftZip(t, zip.Store, files))
		r := runHarness(t, classes, publicKey, sessionKey, checksum, bundle)
		r.mustFail(t, "unzip", "unzip_fail")
		if !strings.Contains(r.cause, "only DEFLATED entries can have EXT descriptor") {
			t.Errorf("want ZipInputStream's descriptor error as the cause, got %q", r.cause)
		}
	})

	t.Run("entry escaping the bundle folder", func(t *testing.T) {
		evil := map[string]string{"index.html": files["index.html"], "../escape.js": "alert(1)\n"}
		bundle, sessionKey, checksum := sealZip(t, key, key, craftZip(t, zip.Deflate, evil))
		runHarness(t, classes, publicKey, sessionKey, checksum, bundle).mustFail(t, "unzip", "canonical_path_fail")
	})

	t.Run("android.util.Base64 stand-in", func(t *testing.T) { testBase64Stub(t, classes) })
}

// testBase64Stub checks that the harness's android.util.Base64 stand-in
// decodes as Android does: CryptoCipher feeds it the PEM body, the IV and
// the RSA-encrypted session key.
func testBase64Stub(t *testing.T, classes string) {
	blob := make([]byte, 300)
	rand.Read(blob)
	var wrapped strings.Builder // PEM-like: 64 characters a line
	for s := base64.StdEncoding.EncodeToString(blob); s != ""; {
		n := min(64, len(s))
		wrapped.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	cases := []struct{ flags, in, want string }{
		{"0", "QUJDREVG", "414243444546"},
		{"0", "QUJD\nREVG\n", "414243444546"},      // line breaks skipped
		{"0", " QU\tJD\r\nRE VG ", "414243444546"}, // any white space skipped
		{"0", "QU*JD", "414243"},                   // so is any byte outside the alphabet
		{"0", "QUI=", "4142"},
		{"0", "QUI", "4142"}, // padding optional
		{"0", "QQ==", "41"},
		{"0", "QQ", "41"},
		{"0", "QQ=", "ERROR bad base-64"}, // one '=' after two characters
		{"0", "Q", "ERROR bad base-64"},
		{"0", "=QUJD", "ERROR bad base-64"},
		{"0", "QQ==QUJD", "ERROR bad base-64"}, // data after the padding
		{"0", "QUI=\n", "4142"},
		{"2", "+/+/", "fbffbf"}, // NO_WRAP decodes like DEFAULT
		{"8", "-_-_", "fbffbf"}, // URL_SAFE alphabet
		{"8", "+/+/", ""},       // standard characters skipped in URL_SAFE
		{"0", "", ""},
		{"0", wrapped.String(), hex.EncodeToString(blob)},
	}
	args := []string{"base64"}
	for _, c := range cases {
		args = append(args, c.flags, c.in)
	}
	r := runJava(t, classes, args...)
	if r.err != nil {
		t.Fatalf("%s", r)
	}
	got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(got) != len(cases) {
		t.Fatalf("%d answers for %d cases:\n%s", len(got), len(cases), r)
	}
	for i, c := range cases {
		if got[i] != c.want {
			t.Errorf("Base64.decode(%q, %s) = %q, want %q", c.in, c.flags, got[i], c.want)
		}
	}
}
