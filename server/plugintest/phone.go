package plugintest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkTimeout bounds one app launch (Phone.java gives up after 45 s).
const checkTimeout = 60 * time.Second

// Phone is one Android phone with the app installed. Its storage (the
// app's files, prefs, device id) lives in State and survives between
// checks, as app data does between launches. Fields may change between
// checks (a new native build, another channel).
type Phone struct {
	State          string // folder of the phone's storage; created if missing
	AppID          string // the Capacitor appId
	NativeVersion  string // versionName of the installed APK: version_build, and the version_name of the built-in bundle
	VersionCode    string // versionCode of the APK
	PluginVersion  string // plugin_version to report; "" for the plugin's own
	IsEmulator     bool   // the Android Studio emulator rather than a Pixel 6
	IsDev          bool   // a debuggable build: is_prod false
	PublicKey      string // plugins.CapacitorUpdater.publicKey, the PEM text; "" for none
	UpdateURL      string // plugins.CapacitorUpdater.updateUrl
	StatsURL       string // statsUrl; "" sends no stats
	ChannelURL     string // channelUrl
	DefaultChannel string // defaultChannel of the config
	BuiltinDir     string // the web folder built into the APK; "" for none

	h *Harness
}

// NewPhone returns a phone with its storage in state, running native
// version 1.0.0 (version code 1) of the app.
func (h *Harness) NewPhone(state string) *Phone {
	return &Phone{h: h, State: state, NativeVersion: "1.0.0", VersionCode: "1"}
}

// Result is what one launch of the app did, as Phone.java printed it.
type Result struct {
	DeviceID      string
	Request       map[string]any // the update check's JSON body, as the plugin sent it
	RequestStatus int            // the HTTP status it got
	Answer        map[string]any // what CapgoUpdater.getLatest passed to its callback
	Error         string         // Answer's error, message and version, when strings
	Message       string
	Version       string
	Kind          string // the plugin's normalizedUpdateResponseKind of an answer with error or kind; "" otherwise
	Outcome       string // the branch of backgroundDownload taken (see Phone.java)
	Stats         []Stat // every stats event sent, in order
	Events        []Event
	Work          []Work   // the download work requests
	Bundles       []Bundle // every bundle the plugin lists
	Current       Bundle   // the bundle the app runs at the end
	Files         map[string]string
	Output        string // everything the JVM printed, for failure messages
	Took          time.Duration
}

// Stat is one stats event the plugin sent, and the server's HTTP status.
type Stat struct {
	Action, VersionName, OldVersionName string
	Status                              int
}

// Event is one event the plugin sent to the web app.
type Event struct{ Name, Data string }

// Work is a download work request at the end of the run.
type Work struct {
	State    string // ENQUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED
	Attempts int
	Error    string
}

// Bundle is a web bundle the plugin knows.
type Bundle struct{ ID, Version, Status string }

// Actions lists the stats actions sent, in order.
func (r Result) Actions() []string {
	out := make([]string, len(r.Stats))
	for i, s := range r.Stats {
		out[i] = s.Action
	}
	return out
}

// Sent counts the stats events of an action.
func (r Result) Sent(action string) int {
	n := 0
	for _, s := range r.Stats {
		if s.Action == action {
			n++
		}
	}
	return n
}

// Check launches the app once: it checks for updates, installs what it is
// offered (on the next move to the background, which follows at once) and
// sends its stats. The test fails if the JVM does not finish cleanly
// within a minute or the app crashed.
func (p *Phone) Check(t testing.TB) Result {
	t.Helper()
	if p.h == nil || p.State == "" || p.AppID == "" || p.UpdateURL == "" || p.NativeVersion == "" {
		t.Fatalf("plugintest: a Phone needs NewPhone, State, AppID, UpdateURL and NativeVersion: %+v", p)
	}
	if err := p.writeSettings(); err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.h.java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dfile.encoding=UTF-8",
		"-cp", p.h.classpath, phoneClass, "check", p.State)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := Result{Output: "--- stdout\n" + stdout.String() + "--- stderr\n" + stderr.String(), Took: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("plugintest: the phone did not finish within %v:\n%s", checkTimeout, r.Output)
	}
	done, perr := r.parse(stdout.String())
	switch {
	case perr != nil:
		t.Fatalf("plugintest: %v\n%s", perr, r.Output)
	case err != nil || !done:
		t.Fatalf("plugintest: the phone failed (%v):\n%s", err, r.Output)
	}
	return r
}

func (p *Phone) writeSettings() error {
	if err := os.MkdirAll(p.State, 0o755); err != nil {
		return err
	}
	keyFile := ""
	if p.PublicKey != "" {
		keyFile = filepath.Join(p.State, "publicKey.txt")
		if err := os.WriteFile(keyFile, []byte(p.PublicKey), 0o644); err != nil {
			return err
		}
	}
	var b strings.Builder
	b.WriteString("# written by capship/server/plugintest before each check\n")
	for _, kv := range [][2]string{
		{"app_id", p.AppID}, {"native_version", p.NativeVersion}, {"version_code", p.VersionCode},
		{"plugin_version", p.PluginVersion}, {"is_emulator", strconv.FormatBool(p.IsEmulator)},
		{"is_prod", strconv.FormatBool(!p.IsDev)}, {"default_channel", p.DefaultChannel},
		{"public_key_file", keyFile}, {"update_url", p.UpdateURL}, {"stats_url", p.StatsURL},
		{"channel_url", p.ChannelURL}, {"builtin_dir", p.BuiltinDir},
	} {
		fmt.Fprintf(&b, "%s=%s\n", kv[0], propertyValue(kv[1]))
	}
	return os.WriteFile(filepath.Join(p.State, "phone.properties"), []byte(b.String()), 0o644)
}

// propertyValue escapes a value for java.util.Properties (read as UTF-8).
func propertyValue(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	s = r.Replace(s)
	if strings.HasPrefix(s, " ") {
		s = `\` + s
	}
	return s
}

// parse reads Phone.java's records; done reports the final "done" record.
func (r *Result) parse(stdout string) (done bool, err error) {
	r.Files = map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		for i := range f {
			f[i] = unescape(f[i])
		}
		want := map[string]int{"device_id": 2, "request": 3, "answer": 2, "kind": 2, "outcome": 2, "stat": 5,
			"http": 4, "event": 3, "work": 4, "bundle": 4, "current": 4, "file": 4, "crash": 3, "done": 1}
		if n, ok := want[f[0]]; !ok || len(f) != n {
			return false, fmt.Errorf("the phone printed an unknown record %q", sc.Text())
		}
		switch f[0] {
		case "device_id":
			r.DeviceID = f[1]
		case "request":
			if err := json.Unmarshal([]byte(f[1]), &r.Request); err != nil {
				return false, fmt.Errorf("update check body: %w", err)
			}
			r.RequestStatus, _ = strconv.Atoi(f[2])
		case "answer":
			if err := json.Unmarshal([]byte(f[1]), &r.Answer); err != nil {
				return false, fmt.Errorf("answer: %w", err)
			}
			r.Error, _ = r.Answer["error"].(string)
			r.Message, _ = r.Answer["message"].(string)
			r.Version, _ = r.Answer["version"].(string)
		case "kind":
			r.Kind = f[1]
		case "outcome":
			r.Outcome = f[1]
		case "stat":
			status, _ := strconv.Atoi(f[4])
			r.Stats = append(r.Stats, Stat{Action: f[1], VersionName: f[2], OldVersionName: f[3], Status: status})
		case "event":
			r.Events = append(r.Events, Event{Name: f[1], Data: f[2]})
		case "work":
			n, _ := strconv.Atoi(f[2])
			r.Work = append(r.Work, Work{State: f[1], Attempts: n, Error: f[3]})
		case "bundle":
			r.Bundles = append(r.Bundles, Bundle{ID: f[1], Version: f[2], Status: f[3]})
		case "current":
			r.Current = Bundle{ID: f[1], Version: f[2], Status: f[3]}
		case "file":
			r.Files[f[1]] = f[2] + " " + f[3]
		case "crash":
			return false, fmt.Errorf("the app crashed in %s: %s", f[1], f[2])
		case "done":
			done = true
		}
	}
	return done, sc.Err()
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
