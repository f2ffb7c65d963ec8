package cli

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/muesli/termenv"

	"capship/store"
	"capship/workflow"
)

func writeWizardApp(t *testing.T, dir, appID string) {
	t.Helper()
	files := map[string]string{
		"capacitor.config.json": `{"appId": "` + appID + `", "appName": "Shop", "webDir": "web build"}`,
		"package.json":          `{"name": "shop", "version": "2.3.4"}`,
		"web build/index.html":  `<!doctype html><script src="app.js"></script>`,
		"web build/app.js":      `CapacitorUpdater.notifyAppReady()`,
	}
	for name, text := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Without a terminal, or with --no-input, capship prints the commands that
// do what the wizard does, filled in from the project.
func TestWizardWithoutTerminal(t *testing.T) {
	dir := t.TempDir()
	writeWizardApp(t, dir, testApp)
	db := filepath.Join(dir, "reg.db")
	for _, tc := range []struct {
		name string
		args []string
		why  string
	}{
		{"no tty", []string{"-C", dir, "--db", db}, "not a terminal"},
		{"no-input", []string{"wizard", "-C", dir, "--db", db, "--no-input"}, "--no-input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, tc.args...)
			if r.code != 0 || !strings.Contains(r.err, tc.why) {
				t.Fatalf("exit %d, stderr %q", r.code, r.err)
			}
			// The commands are what was asked for: stdout, so that
			// 'capship --no-input > release.sh' keeps them.
			for _, want := range []string{
				"capship key create --app " + testApp,
				"capship bundle build --app " + testApp + " --dir 'web build' --version 2.3.4 --out capship-out",
				"capship release register --manifest capship-out/" + workflow.ManifestFileName(testApp, "2.3.4") +
					" --url https://YOUR-STORAGE/" + workflow.BundleFileName(testApp, "2.3.4") +
					" --files-url https://YOUR-STORAGE/" + workflow.DeltaDirName(testApp, "2.3.4") + " --channel production --db " + db,
				"capship release rollback --channel production --app " + testApp + " --db " + db,
			} {
				if !strings.Contains(r.out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.out)
				}
			}
		})
	}
	r := run(t, nil, "wizard", "-C", dir, "extra")
	if r.code != 2 {
		t.Fatalf("an extra argument: exit %d, want 2", r.code)
	}
	r = run(t, map[string]string{"CAPSHIP_SERVER": "https://updates.example.com"}, "-C", dir)
	if want := "rollback --channel production --app " + testApp + " --server https://updates.example.com # token from $CAPSHIP_TOKEN"; r.code != 0 || !strings.Contains(r.out, want) {
		t.Fatalf("with CAPSHIP_SERVER: exit %d, stdout lacks %q:\n%s", r.code, want, r.out)
	}
	// With a server, the config is pointed at it (the test app has no URLs yet).
	if want := "\ncapship config set-server https://updates.example.com\n"; !strings.Contains(r.out, want) {
		t.Errorf("with CAPSHIP_SERVER: stdout lacks %q:\n%s", want, r.out)
	}
	if r := run(t, nil, "-C", dir, "--no-input"); !strings.Contains(r.out, "#    capship config set-server https://YOUR-SERVER") {
		t.Errorf("without a server: stdout does not say how to point the app at one:\n%s", r.out)
	}
	// With a server, capship uploads to its storage and registers there.
	if want := "capship bundle upload --manifest capship-out/" + workflow.ManifestFileName(testApp, "2.3.4") + " --register --channel production --server https://updates.example.com"; !strings.Contains(r.out, want) || strings.Contains(r.out, "YOUR-STORAGE") {
		t.Errorf("with CAPSHIP_SERVER: stdout lacks %q or still asks for a URL:\n%s", want, r.out)
	}
}

// Bad registry choices are refused before the wizard starts, not after the
// pack: the terminal streams are injected, so the interactive path is
// reached without a real terminal.
func TestWizardRefusesBadServer(t *testing.T) {
	dir := t.TempDir()
	tty := func(env map[string]string, args ...string) runResult {
		var out, errb bytes.Buffer
		s := IO{In: strings.NewReader(""), Out: &out, Err: &errb, StdinTTY: true, StdoutTTY: true,
			Getenv: func(k string) string { return env[k] }}
		return runResult{Run(context.Background(), args, s), out.String(), errb.String()}
	}
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"-C", dir, "--db", "a.db", "--server", "https://s.example.com"}, "exclude each other"},
		{nil, []string{"-C", dir, "--token", "t"}, "--token goes with --server"},
		{nil, []string{"-C", dir, "--server", "https://s.example.com"}, "no admin token"},
		{map[string]string{"CAPSHIP_TOKEN": "t"}, []string{"-C", dir, "--server", "http://s.example.com"}, "use https://"},
	} {
		r := tty(tc.env, tc.args...)
		if r.code != 2 || !strings.Contains(r.err, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, r.code, r.err, tc.want)
		}
	}
}

// The wizard follows NO_COLOR and the terminal's abilities.
func TestWizardRenderer(t *testing.T) {
	env := map[string]string{"TERM": "xterm-256color"}
	s := IO{Out: &bytes.Buffer{}, StdoutTTY: true, Getenv: func(k string) string { return env[k] }}
	if p := wizardRenderer(s).ColorProfile(); p != termenv.ANSI256 {
		t.Fatalf("xterm-256color: profile %v, want ANSI256", p)
	}
	env["NO_COLOR"] = "1"
	if p := wizardRenderer(s).ColorProfile(); p != termenv.Ascii {
		t.Fatalf("NO_COLOR: profile %v, want Ascii", p)
	}
}

// The printed commands really do the release: run them with the built
// binary, the real keychain and a loopback server standing in for storage.
func TestWizardPrintedCommandsWork(t *testing.T) {
	bin := os.Getenv("CAPSHIP_TEST_BINARY")
	if bin == "" || os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatal("CAPSHIP_TEST_BINARY and DBUS_SESSION_BUS_ADDRESS must be set (scripts/test sets them)")
		}
		t.Skip("needs CAPSHIP_TEST_BINARY and a keychain; run scripts/test")
	}
	root := t.TempDir()
	app := filepath.Join(root, "app")
	appID := "com.capship.noinput.t" + time.Now().Format("150405000000")
	writeWizardApp(t, app, appID)
	t.Cleanup(func() { _ = store.NewKeychain("capship").Delete(appID) })
	db := filepath.Join(root, "reg.db")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(filepath.Join(app, "capship-out"))), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-C", app, "--db", db)
	cmd.Dir = root
	printed, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("capship without a terminal: %v\n%s", err, printed)
	}
	var script strings.Builder
	script.WriteString("set -e\n")
	sc := bufio.NewScanner(bytes.NewReader(printed))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "cd ") || strings.HasPrefix(line, "capship ") {
			script.WriteString(strings.ReplaceAll(line, "https://YOUR-STORAGE/", "http://"+ln.Addr().String()+"/") + "\n")
		}
	}
	sh := exec.CommandContext(ctx, "sh", "-c", script.String())
	sh.Dir = root
	sh.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("the printed commands failed: %v\nscript:\n%s\noutput:\n%s", err, script.String(), out)
	}
	reg, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if rel, err := reg.Release(ctx, appID, "2.3.4"); err != nil || rel.FileCount == 0 {
		t.Fatalf("the printed commands registered %+v (%v), want a release with files\nscript:\n%s", rel, err, script.String())
	}
}
