// Package plugintest runs the Android code of the @capgo/capacitor-updater
// plugin as a phone does, for tests of any package: a Phone checks for
// updates against a real server, downloads, installs and reports stats
// through the plugin's own classes, run in a JVM.
//
// Compile builds, once per test binary, the plugin's update path from the
// unpacked npm package (CAPSHIP_CAPGO_PLUGIN_DIR, set by scripts/test):
// CapgoUpdater.java, DownloadService.java, DownloadWorkerManager.java and
// the classes they need, whole and unmodified, plus members copied at build
// time out of CapacitorUpdaterPlugin.java (which needs the whole Capacitor
// bridge). They compile against our stand-ins for Android, AndroidX, and
// Capacitor (testdata/plugin-android-phone, and the shared ones in
// testdata/plugin-android), Debian's org.json, OkHttp 3.13 and Okio jars,
// and our Phone.java, which does what the plugin's CapacitorUpdaterPlugin
// does around them. No plugin code is committed.
//
// It uses the standard library only, so that any test can import it.
package plugintest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	pluginJavaDir  = "android/src/main/java/ee/forgr/capacitor_updater"
	pluginVersions = "8.51." // the plugin line the stand-ins and Phone.java were written against
	sliceTemplate  = "PluginSlice.java.tmpl"
	sliceMarker    = "// @PLUGIN_MEMBERS@"
	compileTimeout = 3 * time.Minute
	phoneClass     = "ee.forgr.capacitor_updater.Phone"
)

// pluginFiles are the plugin's sources compiled whole: the update path
// (CapgoUpdater, DownloadService, DownloadWorkerManager) and what it needs.
var pluginFiles = []string{
	"CapgoUpdater.java", "DownloadService.java", "DownloadWorkerManager.java", "DataManager.java",
	"BundleInfo.java", "BundleStatus.java", "Callback.java", "Logger.java", "InternalUtils.java", "CryptoCipher.java",
}

// sliceMembers are the members of CapacitorUpdaterPlugin.java copied into
// PluginSlice, each found by the start of its declaration.
var sliceMembers = []string{
	"private final String pluginVersion = ",
	"private int lastNotifiedStatPercent = ",
	"static String normalizedUpdateResponseKind(",
	"private boolean isValidURL(",
	// The plugin's own notifyDownload, not the override in load()'s anonymous CapgoUpdater.
	"\n    public void notifyDownload(final String id, final int percent) {",
}

// libraries are the Debian packages (and the jar each ships) the plugin's
// code links against: Android's own org.json, OkHttp 3.13 and Okio.
var libraries = []struct{ pkg, jar string }{
	{"libandroid-json-java", "/usr/share/java/com.android.json.jar"},
	{"libokhttp-java", "/usr/share/java/okhttp.jar"},
	{"libokio-java", "/usr/share/java/okio.jar"},
}

// Standing-in folders: ours for the phone, and the Android stand-ins shared
// with workflow's harness (Base64, Log, annotations, Bridge), which has its
// own Harness.java under ee/ that is not part of the phone.
const (
	phoneStandIns = "testdata/plugin-android-phone"
	sharedDir     = "testdata/plugin-android"
)

var sharedStandIns = []string{"android", "androidx", "com", "org"}

// Harness is the compiled phone.
type Harness struct {
	// PluginVersion is the version of the plugin's npm package.
	PluginVersion string
	java          string
	classpath     string // our classes first: the OkHttp shim replaces the jar's RequestBody
}

var compiled struct {
	once sync.Once
	h    *Harness
	skip string // why the harness cannot run here (a missing tool or package)
	err  error
}

// Compile returns the phone harness, built once per test binary (and
// cached between runs in the user's cache folder, keyed by every input).
// Without the plugin package, a JDK, the Debian jars or brotli the test is
// skipped, or fails when CAPSHIP_TEST_STRICT=1 (as under scripts/test).
func Compile(t testing.TB) *Harness {
	t.Helper()
	compiled.once.Do(func() {
		compiled.h, compiled.skip, compiled.err = compile()
	})
	switch {
	case compiled.err != nil:
		t.Fatalf("plugintest: %v", compiled.err)
	case compiled.skip != "":
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatalf("plugintest: %s", compiled.skip)
		}
		t.Skipf("plugintest: %s", compiled.skip)
	}
	return compiled.h
}

func compile() (*Harness, string, error) {
	pluginDir := os.Getenv("CAPSHIP_CAPGO_PLUGIN_DIR")
	if pluginDir == "" {
		return nil, "CAPSHIP_CAPGO_PLUGIN_DIR is not set: the unpacked @capgo/capacitor-updater " + pluginVersions + "x npm package is needed; scripts/test sets it", nil
	}
	javac, err := exec.LookPath("javac")
	if err != nil {
		return nil, "javac not installed: the plugin's Android code needs a JDK 17 (Debian: openjdk-17-jdk-headless)", nil
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, "java not installed (Debian: openjdk-17-jdk-headless)", nil
	}
	if _, err := exec.LookPath("brotli"); err != nil {
		return nil, "brotli not installed: the stand-in for org.brotli.dec runs it (Debian: brotli)", nil
	}
	jars := make([]string, len(libraries))
	for i, l := range libraries {
		if _, err := os.Stat(l.jar); err != nil {
			return nil, fmt.Sprintf("%s missing: install the Debian package %s", l.jar, l.pkg), nil
		}
		jars[i] = l.jar
	}
	version, err := pluginVersion(pluginDir)
	if err != nil {
		return nil, "", err
	}
	root, err := repoRoot()
	if err != nil {
		return nil, "", err
	}
	sources, err := sourceFiles(root, pluginDir)
	if err != nil {
		return nil, "", err
	}
	slice, err := pluginSlice(root, pluginDir, version)
	if err != nil {
		return nil, "", err
	}
	classes, err := buildClasses(javac, jars, sources, slice)
	if err != nil {
		return nil, "", err
	}
	cp := strings.Join(append([]string{classes}, jars...), string(os.PathListSeparator))
	return &Harness{PluginVersion: version, java: java, classpath: cp}, "", nil
}

// pluginVersion checks that dir holds the plugin's npm package of the line
// this harness was written for, and returns its version.
func pluginVersion(dir string) (string, error) {
	var pkg struct{ Name, Version string }
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err == nil {
		err = json.Unmarshal(data, &pkg)
	}
	if err != nil || pkg.Name != "@capgo/capacitor-updater" || !strings.HasPrefix(pkg.Version, pluginVersions) {
		return "", fmt.Errorf("CAPSHIP_CAPGO_PLUGIN_DIR=%s: want the @capgo/capacitor-updater %sx package (read %+v, %v)", dir, pluginVersions, pkg, err)
	}
	return pkg.Version, nil
}

// repoRoot finds the capship module's folder from the test's working
// directory (a package folder of the module).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module capship\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no capship go.mod above the working directory: run the tests inside the module")
		}
		dir = parent
	}
}

// sourceFiles lists the plugin's files and the stand-ins, in a stable order.
func sourceFiles(root, pluginDir string) ([]string, error) {
	var files []string
	for _, f := range pluginFiles {
		files = append(files, filepath.Join(pluginDir, filepath.FromSlash(pluginJavaDir), f))
	}
	dirs := []string{filepath.Join(root, filepath.FromSlash(phoneStandIns))}
	for _, d := range sharedStandIns {
		dirs = append(dirs, filepath.Join(root, filepath.FromSlash(sharedDir), d))
	}
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.HasSuffix(path, ".java") {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list the stand-ins: %w", err)
		}
	}
	return files, nil
}

// pluginSlice fills PluginSlice.java.tmpl with the members of the plugin's
// CapacitorUpdaterPlugin.java.
func pluginSlice(root, pluginDir, version string) ([]byte, error) {
	src, err := os.ReadFile(filepath.Join(pluginDir, filepath.FromSlash(pluginJavaDir), "CapacitorUpdaterPlugin.java"))
	if err != nil {
		return nil, err
	}
	var members []string
	for _, decl := range sliceMembers {
		m, err := JavaMember(string(src), decl)
		if err != nil {
			return nil, fmt.Errorf("CapacitorUpdaterPlugin.java of %s: %w", version, err)
		}
		members = append(members, m)
	}
	tmpl, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(phoneStandIns), sliceTemplate))
	if err != nil {
		return nil, err
	}
	if bytes.Count(tmpl, []byte(sliceMarker)) != 1 {
		return nil, fmt.Errorf("%s: want one %q line", sliceTemplate, sliceMarker)
	}
	return bytes.Replace(tmpl, []byte(sliceMarker), []byte(strings.Join(members, "\n\n")), 1), nil
}

// buildClasses compiles the sources into a cache folder named by the hash
// of every input, unless an earlier run did, and returns its classes folder.
func buildClasses(javac string, jars, sources []string, slice []byte) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, "plugintest v1")
	if real, err := filepath.EvalSymlinks(javac); err == nil {
		javac = real
	}
	for _, f := range append([]string{javac}, jars...) {
		st, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintln(h, f, st.Size(), st.ModTime().UnixNano())
	}
	for _, f := range sources {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintln(h, filepath.Base(f), len(data))
		h.Write(data)
	}
	h.Write(slice)
	key := hex.EncodeToString(h.Sum(nil))[:20]

	// scripts/test names the folder it keeps test downloads in; by
	// default it is the user's cache folder's capship-test.
	base := os.Getenv("CAPSHIP_TEST_CACHE")
	if base == "" {
		userCache, err := os.UserCacheDir()
		if err != nil {
			userCache = os.TempDir()
		}
		base = filepath.Join(userCache, "capship-test")
	}
	parent := filepath.Join(base, "plugin-android-phone")
	final := filepath.Join(parent, key)
	defer prune(parent, key)
	if _, err := os.Stat(filepath.Join(final, "ok")); err == nil {
		now := time.Now()
		os.Chtimes(filepath.Join(final, "ok"), now, now) // last used, for prune
		return filepath.Join(final, "classes"), nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // left over only when another process won the rename
	slicePath := filepath.Join(tmp, "src", "PluginSlice.java")
	if err := os.MkdirAll(filepath.Dir(slicePath), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(slicePath, slice, 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), compileTimeout)
	defer cancel()
	args := []string{"-encoding", "UTF-8", "-nowarn", "-Xlint:none", "-Xmaxerrs", "50",
		"-cp", strings.Join(jars, string(os.PathListSeparator)), "-d", filepath.Join(tmp, "classes")}
	cmd := exec.CommandContext(ctx, javac, append(args, append(slices.Clone(sources), slicePath)...)...)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("javac (within %v): %v\n%s", compileTimeout, err, out)
	}
	if err := os.WriteFile(filepath.Join(tmp, "ok"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, statErr := os.Stat(filepath.Join(final, "ok")); statErr != nil {
			return "", fmt.Errorf("store the compiled phone: %w", err)
		}
	}
	return filepath.Join(final, "classes"), nil
}

// cacheAge is how long a compiled phone nobody used stays in the cache.
const cacheAge = 7 * 24 * time.Hour

// prune removes the compiled phones of other inputs (an older plugin or
// stand-ins) not used for cacheAge, and builds a killed run left behind.
func prune(parent, keep string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		dir := filepath.Join(parent, e.Name())
		marker, age := filepath.Join(dir, "ok"), cacheAge
		if strings.HasPrefix(e.Name(), "build-") {
			marker, age = dir, compileTimeout+time.Hour
		}
		if st, err := os.Stat(marker); e.Name() != keep && e.IsDir() && err == nil && time.Since(st.ModTime()) > age {
			os.RemoveAll(dir)
		}
	}
}
