package store

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// testKeychain returns a Keychain under a service name of its own in the
// real Secret Service that scripts/test starts, and removes every entry of
// that service when the test ends.
func testKeychain(t *testing.T) *Keychain {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatal("DBUS_SESSION_BUS_ADDRESS is not set: run the tests with scripts/test")
		}
		t.Skip("no session bus with a Secret Service; run scripts/test")
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	service := fmt.Sprintf("capship-test-%s-%x", regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"), rnd)
	t.Cleanup(func() {
		if err := keyring.DeleteAll(service); err != nil {
			t.Errorf("clean up service %s: %v", service, err)
		}
		if out := secretTool(t, "search", "--all", "service", service); strings.Contains(out, "[/") {
			t.Errorf("entries left behind in service %s:\n%s", service, out)
		}
	})
	return NewKeychain(service)
}

// secretTool runs libsecret's secret-tool against the same Secret Service,
// to see what is really stored without going through go-keyring.
func secretTool(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("secret-tool"); err != nil {
		t.Fatalf("secret-tool not installed (libsecret-tools): scripts/test installs it")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("secret-tool", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run() // lookup of a missing item exits 1 with no output
	return stdout.String() + stderr.String()
}

func lookup(t *testing.T, k *Keychain, user string) string {
	return secretTool(t, "lookup", "service", k.Service(), "username", user)
}

var (
	pemOnce sync.Once
	pem2048 []byte
	pem4096 []byte
)

// realPEMs returns PKCS#1 private PEMs of a 2048- and a 4096-bit key.
func realPEMs(t *testing.T) ([]byte, []byte) {
	pemOnce.Do(func() {
		for _, bits := range []int{2048, 4096} {
			key, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			p := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
			if bits == 2048 {
				pem2048 = p
			} else {
				pem4096 = p
			}
		}
	})
	return pem2048, pem4096
}

func TestKeychainSetGetDelete(t *testing.T) {
	k := testKeychain(t)
	key, _ := realPEMs(t)
	const app = "com.example.app"

	if _, err := k.Get(app); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Get before Set: %v, want ErrNoKey", err)
	}
	if err := k.Set(app, key); err != nil {
		t.Fatal(err)
	}
	got, err := k.Get(app)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Get: %v, same=%v", err, bytes.Equal(got, key))
	}
	if stored := lookup(t, k, app); stored != string(key) {
		t.Fatalf("secret-tool sees %q, want the PEM", stored)
	}
	if err := k.Set(app, []byte("other")); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("second Set: %v, want ErrKeyExists", err)
	}
	if stored := lookup(t, k, app); stored != string(key) {
		t.Fatal("a refused Set changed the stored key")
	}
	list, err := k.List()
	if err != nil || len(list) != 1 || list[0].Name != app || list[0].Archived {
		t.Fatalf("List: %+v %v", list, err)
	}
	if idx := lookup(t, k, indexUser); idx != app+"\n" || strings.Contains(idx, "PRIVATE") {
		t.Fatalf("index holds %q", idx)
	}
	if err := k.Delete(app); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(app); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Get after Delete: %v", err)
	}
	if stored := lookup(t, k, app); stored != "" {
		t.Fatalf("secret-tool still finds %q", stored)
	}
	if list, _ := k.List(); len(list) != 0 {
		t.Fatalf("List after Delete: %+v", list)
	}
	if err := k.Delete(app); !errors.Is(err, ErrNoKey) {
		t.Fatalf("second Delete: %v", err)
	}
}

func TestKeychainReplaceArchives(t *testing.T) {
	k := testKeychain(t)
	clock := time.Date(2026, 11, 27, 14, 30, 0, 0, time.UTC)
	k.now = func() time.Time { return clock }
	const app = "com.example.shop"
	keys := [][]byte{[]byte("key one"), []byte("key two"), []byte("key three")}

	if archived, err := k.Replace(app, keys[0]); err != nil || archived != "" {
		t.Fatalf("first Replace: %q %v", archived, err)
	}
	a1, err := k.Replace(app, keys[1])
	if err != nil {
		t.Fatal(err)
	}
	if a1 != app+"@archived-2026-11-27T14:30:00Z" {
		t.Fatalf("archive name %q", a1)
	}
	// Same second again: a distinct name, nothing overwritten.
	a2, err := k.Replace(app, keys[2])
	if err != nil || a2 == a1 {
		t.Fatalf("second archive %q %v", a2, err)
	}
	for name, want := range map[string][]byte{app: keys[2], a1: keys[0], a2: keys[1]} {
		got, err := k.Get(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Get(%s) = %q %v, want %q", name, got, err, want)
		}
		if stored := lookup(t, k, name); stored != string(want) {
			t.Fatalf("secret-tool: %s holds %q", name, stored)
		}
	}
	list, err := k.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name)
		if e.AppID != app {
			t.Fatalf("entry %+v", e)
		}
	}
	if want := []string{app, a2, a1}; strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("List order %v, want %v (current first, newest archive first)", names, want)
	}
	if !list[1].Archived || !list[1].ArchivedAt.Equal(clock.Add(time.Second)) {
		t.Fatalf("archived entry %+v", list[1])
	}
}

func TestKeychainSizeLimit(t *testing.T) {
	k := testKeychain(t)
	p2048, p4096 := realPEMs(t)
	if len(p2048) >= MaxSecretBytes {
		t.Fatalf("an RSA-2048 PEM is %d bytes, not under the %d-byte limit", len(p2048), MaxSecretBytes)
	}
	if err := k.Set("com.example.fits", bytes.Repeat([]byte("x"), MaxSecretBytes)); err != nil {
		t.Fatalf("exactly %d bytes: %v", MaxSecretBytes, err)
	}
	for name, v := range map[string][]byte{
		"com.example.toobig":  bytes.Repeat([]byte("x"), MaxSecretBytes+1),
		"com.example.rsa4096": p4096,
	} {
		err := k.Set(name, v)
		if !errors.Is(err, ErrSecretTooBig) || !strings.Contains(err.Error(), "2560") {
			t.Fatalf("%s (%d bytes): %v, want ErrSecretTooBig", name, len(v), err)
		}
		if _, err := k.Replace(name, v); !errors.Is(err, ErrSecretTooBig) {
			t.Fatalf("Replace %s: %v", name, err)
		}
		if stored := lookup(t, k, name); stored != "" {
			t.Fatalf("%s was stored anyway", name)
		}
	}
}

// The index spreads over several entries, none over the size limit.
func TestKeychainIndexPages(t *testing.T) {
	k := testKeychain(t)
	var apps []string
	for i := range 30 {
		app := fmt.Sprintf("com.example.%s.app%03d", strings.Repeat("x", 100), i)
		apps = append(apps, app)
		if err := k.Set(app, []byte("k")); err != nil {
			t.Fatal(err)
		}
	}
	p1, p2 := lookup(t, k, indexPage(0)), lookup(t, k, indexPage(1))
	if p2 == "" || len(p1) > MaxSecretBytes || len(p2) > MaxSecretBytes {
		t.Fatalf("index pages of %d and %d bytes", len(p1), len(p2))
	}
	list, err := k.List()
	if err != nil || len(list) != len(apps) {
		t.Fatalf("List: %d entries, %v", len(list), err)
	}
	for _, app := range apps[5:] {
		if err := k.Delete(app); err != nil {
			t.Fatal(err)
		}
	}
	if p2 := lookup(t, k, indexPage(1)); p2 != "" {
		t.Fatalf("stale second index page: %q", p2)
	}
	if list, _ := k.List(); len(list) != 5 {
		t.Fatalf("List after deletes: %d", len(list))
	}
}

func TestKeychainRejectsBadNames(t *testing.T) {
	k := NewKeychain("capship-test-names") // refused before any keychain call
	for _, name := range []string{"", "capship:index", "a b", "../x", "com.x@archived-yesterday", "com.x\nother"} {
		if err := k.Set(name, []byte("k")); !errors.Is(err, ErrInvalid) {
			t.Errorf("Set(%q): %v", name, err)
		}
		if _, err := k.Get(name); !errors.Is(err, ErrInvalid) {
			t.Errorf("Get(%q): %v", name, err)
		}
	}
}

// childResult is what TestKeychainChild reports to its parent.
type childResult struct {
	Err         string
	NoKeychain  bool
	NoKey       bool
	ErrIsNil    bool
	ErrIsTooBig bool
}

// TestKeychainChild runs only as a child of TestKeychainErrors: go-keyring
// keeps its D-Bus connection for the life of the process, so each broken
// environment needs a process of its own.
func TestKeychainChild(t *testing.T) {
	if os.Getenv("CAPSHIP_KEYCHAIN_CHILD") != "1" {
		t.Skip("helper process for TestKeychainErrors")
	}
	_, err := NewKeychain("capship-test-child").Get("com.example.app")
	r := childResult{ErrIsNil: err == nil, NoKeychain: errors.Is(err, ErrNoKeychain), NoKey: errors.Is(err, ErrNoKey)}
	if err != nil {
		r.Err = err.Error()
	}
	out, _ := json.Marshal(r)
	fmt.Printf("\nCHILD-RESULT %s\n", out)
}

func runChild(t *testing.T, env ...string) childResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKeychainChild$", "-test.count=1")
	base := []string{"CAPSHIP_KEYCHAIN_CHILD=1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") && !strings.HasPrefix(kv, "DISPLAY=") &&
			!strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") && !strings.HasPrefix(kv, "GNOME_KEYRING_CONTROL=") {
			base = append(base, kv)
		}
	}
	cmd.Env = append(base, env...)
	out, _ := cmd.CombinedOutput()
	_, after, ok := strings.Cut(string(out), "CHILD-RESULT ")
	if !ok {
		t.Fatalf("child printed no result:\n%s", out)
	}
	var r childResult
	if err := json.Unmarshal([]byte(strings.SplitN(after, "\n", 2)[0]), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// startBus starts a bare session bus that activates no services, and
// returns its address. It is stopped by PID when the test ends.
func startBus(t *testing.T, dir string) string {
	t.Helper()
	conf := filepath.Join(dir, "bus.conf")
	os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=`+filepath.Join(dir, "bus")+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600)
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile", "--print-address=1")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := make([]byte, 512)
	n, err := stdout.Read(line)
	if err != nil {
		t.Fatalf("read bus address: %v", err)
	}
	return strings.TrimSpace(string(line[:n]))
}

// TestKeychainErrors runs a child process in each environment where the
// keychain cannot work and checks the sentence it gets.
func TestKeychainErrors(t *testing.T) {
	for _, bin := range []string{"dbus-daemon", "gnome-keyring-daemon", "dbus-send"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
				t.Fatalf("%s not installed: scripts/test installs it", bin)
			}
			t.Skipf("%s not installed", bin)
		}
	}
	dir := t.TempDir()
	emptyRuntime := filepath.Join(dir, "run")
	os.Mkdir(emptyRuntime, 0o700)

	bare := startBus(t, filepath.Join(dir))

	// A bus with a gnome-keyring that has no unlocked login collection.
	lockedDir := filepath.Join(dir, "locked")
	os.MkdirAll(filepath.Join(lockedDir, "home"), 0o700)
	lockedBus := startBus(t, lockedDir)
	gkd := exec.Command("gnome-keyring-daemon", "--foreground", "--components=secrets")
	gkd.Env = []string{"DBUS_SESSION_BUS_ADDRESS=" + lockedBus, "HOME=" + filepath.Join(lockedDir, "home"),
		"XDG_RUNTIME_DIR=" + lockedDir, "XDG_DATA_HOME=" + filepath.Join(lockedDir, "home"), "PATH=" + os.Getenv("PATH")}
	if err := gkd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gkd.Process.Kill(); gkd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _ := exec.Command("dbus-send", "--bus="+lockedBus, "--print-reply", "--dest=org.freedesktop.DBus",
			"/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets").Output()
		if strings.Contains(string(out), "boolean true") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("gnome-keyring-daemon did not take org.freedesktop.secrets")
		}
		time.Sleep(50 * time.Millisecond)
	}

	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"no session bus", []string{"XDG_RUNTIME_DIR=" + emptyRuntime}, "no D-Bus session bus is running"},
		{"bus address points nowhere", []string{"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(dir, "nothing-here")}, "cannot reach the D-Bus session bus"},
		{"bus without secret service", []string{"DBUS_SESSION_BUS_ADDRESS=" + bare}, "no Secret Service (gnome-keyring, KeePassXC) is running"},
		{"locked keyring", []string{"DBUS_SESSION_BUS_ADDRESS=" + lockedBus}, "the keychain is locked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runChild(t, tt.env...)
			if !r.NoKeychain || r.NoKey || r.ErrIsNil {
				t.Fatalf("got %+v, want ErrNoKeychain", r)
			}
			if !strings.Contains(r.Err, tt.want) || strings.Contains(r.Err, "--key-file") {
				t.Fatalf("error %q does not say %q, or gives a command line's advice", r.Err, tt.want)
			}
		})
	}
}
