package ui

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"capship/store"
)

// run delivers the result of a command returned by a step (unwrapping a
// batch whose first command is the work, as call does with its spinner).
func deliver(t *testing.T, s step, cmd tea.Cmd) {
	t.Helper()
	if cmd == nil {
		t.Fatal("no command")
	}
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok {
		msg = b[0]()
	}
	s.Update(msg)
}

func helpText(s step) string {
	var b strings.Builder
	for _, k := range s.Help() {
		b.WriteString(k.Help().Key + " " + k.Help().Desc + "\n")
	}
	return b.String()
}

// "Create a new keypair" writes the public key into the config in the
// same step; the keychain-only entry leaves the config alone.
func TestKeysCreateWritesConfig(t *testing.T) {
	e, f := testEnv(80)
	s := newKeysStep(e, f.project, f.key)
	deliver(t, s, s.Update(press("enter")))
	if f.key.State != KeyConfigMatches || s.key.State != KeyConfigMatches || !s.wrote {
		t.Fatalf("after create: runner key %v, step key %v, wrote %v", f.key.State, s.key.State, s.wrote)
	}
	view(t, e, s) // the offer to write the server URLs

	e, f = testEnv(80)
	s = newKeysStep(e, f.project, f.key)
	s.Update(press("down"))
	s.Update(press("down"))
	if !strings.Contains(helpText(s), "create key only") {
		t.Fatalf("footer of the keychain-only entry: %q", helpText(s))
	}
	deliver(t, s, s.Update(press("enter")))
	if f.key.State != KeyConfigMissing || s.wrote {
		t.Fatalf("keychain only: runner key %v, wrote %v", f.key.State, s.wrote)
	}
}

// The server URLs: a bad URL is refused without writing; a good one goes
// into the config, and the wizard carries the new project on.
func TestKeysServerURLs(t *testing.T) {
	e, f := testEnv(80)
	f.key.State = KeyConfigMatches
	f.project.Server = "https://updates.example.com"
	s := newKeysStep(e, f.project, f.key)
	if !strings.Contains(ansi.Strip(s.View()), "https://updates.example.com") {
		t.Fatal("the server field does not start with --server")
	}
	s.server.SetValue("http://updates.example.com")
	if cmd := s.Update(press("enter")); cmd != nil || s.err == nil {
		t.Fatalf("plain http to a public host was taken (err %v)", s.err)
	}
	if f.project.UpdateURL != "" {
		t.Fatal("a refused URL was written")
	}
	s.server.SetValue("https://updates.example.com/")
	deliver(t, s, s.Update(press("enter")))
	if f.project.StatsURL != "https://updates.example.com/stats" || !s.urlsSet || s.needsServer() {
		t.Fatalf("after enter: stats url %q, set %v", f.project.StatsURL, s.urlsSet)
	}
	done, ok := s.Update(press("enter"))().(keysDone)
	if !ok || done.project.ChannelURL != "https://updates.example.com/channel_self" {
		t.Fatalf("keysDone does not carry the written URLs: %+v", done)
	}

	// Plain http to a loopback address is written, with its warning.
	e, f = testEnv(80)
	f.key.State = KeyConfigMatches
	s = newKeysStep(e, f.project, f.key)
	s.server.SetValue("http://127.0.0.1:8080")
	deliver(t, s, s.Update(press("enter")))
	if f.project.UpdateURL != "http://127.0.0.1:8080/updates" || !strings.Contains(ansi.Strip(s.View()), "real devices need https") {
		t.Fatalf("loopback http: url %q, view:\n%s", f.project.UpdateURL, ansi.Strip(s.View()))
	}

	// A config that has them is not asked about.
	e, f = testEnv(80)
	f.key.State = KeyConfigMatches
	f.project.UpdateURL, f.project.StatsURL, f.project.ChannelURL = "https://u/updates", "https://u/stats", "https://u/channel_self"
	if newKeysStep(e, f.project, f.key).needsServer() {
		t.Fatal("asked for server URLs the config has")
	}
}

// A version that is not newer than the newest registered one gets the
// next patch offered; ctrl+n writes it to package.json.
func TestSourceOffersNextVersion(t *testing.T) {
	eachWidth(t, "not_newer", func(t *testing.T, e *env, f *fakeRunner) {
		s := newSourceStep(e, f.project, f.project.WebDir, "1.4.0")
		s.Init()
		s.Update(resultMsg{run: s.checkRun, val: f.preflight})
		s.Update(resultMsg{run: s.latestRun, val: latestResult{"1.4.0"}})
		view(t, e, s)
		if !strings.Contains(helpText(s), "ctrl+n use 1.4.1") {
			t.Fatalf("footer: %q", helpText(s))
		}
		cmd := s.Update(tea.KeyMsg{Type: tea.KeyCtrlN})
		deliver(t, s, cmd)
		if got := s.version.Value(); got != "1.4.1" || len(f.versionsWritten) != 1 || f.versionsWritten[0] != "1.4.1" {
			t.Fatalf("version %q, written %v", got, f.versionsWritten)
		}
		if !strings.Contains(ansi.Strip(s.View()), "package.json now says 1.4.1") || s.nextVersion() != "" {
			t.Fatal("no confirmation, or still offering a version")
		}
	})
	e, f := testEnv(80)
	s := newSourceStep(e, f.project, f.project.WebDir, "1.4.0")
	s.Init()
	s.Update(resultMsg{run: s.latestRun, val: latestResult{"1.3.2"}})
	if s.Update(tea.KeyMsg{Type: tea.KeyCtrlN}) != nil || s.nextVersion() != "" {
		t.Fatal("a newer version was offered a bump")
	}
}

// Register: the footer says what enter does on each field, and the review
// warns when the channel already serves the same zip.
func TestRegisterFooterAndSameBytes(t *testing.T) {
	e, f := testEnv(80)
	b := packed(f, "1.4.0")
	s := newRegisterStep(e, f.project, Release{Bundle: b, URL: "https://cdn.example.com/shop-1.4.0.zip"})
	if h := helpText(s); !strings.Contains(h, "enter next field") {
		t.Fatalf("channel field footer: %q", h)
	}
	s.Update(press("enter"))
	if h := helpText(s); !strings.Contains(h, "enter review") {
		t.Fatalf("last field footer: %q", h)
	}
	deliver(t, s, s.Update(press("enter")))
	if !s.confirm || s.sameBytes() {
		t.Fatalf("review: confirm %v, same bytes %v with another zip", s.confirm, s.sameBytes())
	}

	eachWidth(t, "same_bytes", func(t *testing.T, e *env, f *fakeRunner) {
		b := packed(f, "1.4.0")
		c := f.channels["production"]
		c.ZipSHA256 = b.ZipSHA256
		f.channels["production"] = c
		s := newRegisterStep(e, f.project, Release{Bundle: b, URL: "https://cdn.example.com/shop-1.4.0.zip"})
		s.Update(press("enter"))
		deliver(t, s, s.Update(press("enter")))
		if !s.sameBytes() || !strings.Contains(helpText(s), "register anyway") {
			t.Fatal("no warning for the bytes the channel serves")
		}
		view(t, e, s)
	})
}

// The done page leads with what devices get, stats and the rollback
// command (with --server when one is used); secrets only behind d.
func TestDonePage(t *testing.T) {
	eachWidth(t, "done_server", func(t *testing.T, e *env, f *fakeRunner) {
		f.project.Server = "https://updates.example.com"
		f.project.UpdateURL, f.project.StatsURL, f.project.ChannelURL = "https://updates.example.com/updates", "https://updates.example.com/stats", "https://updates.example.com/channel_self"
		c := f.channels["production"]
		c.Rollout = 25
		f.channels["production"] = c
		b := packed(f, "1.4.0")
		reg, _ := f.Register(context.Background(), Release{Bundle: b, URL: "https://cdn.example.com/shop-1.4.0.zip", Channel: "production"})
		s := newDoneStep(e, Result{Project: f.project, Bundle: b, URL: "https://cdn.example.com/shop-1.4.0.zip", Registered: &reg})
		out := ansi.Strip(s.View())
		joined := regexp.MustCompile(` *\\ *\n *`).ReplaceAllString(out, " ") // shell continuation lines
		for _, want := range []string{
			"capship release rollback --app com.example.shop --channel production --server https://updates.example.com",
			"capship stats --app com.example.shop --server https://updates.example.com",
			"25% of its devices", "production (android, ios)",
		} {
			if !strings.Contains(joined, want) {
				t.Errorf("done page lacks %q", want)
			}
		}
		if strings.Contains(out, b.SessionKey[:20]) || strings.Contains(out, b.Checksum[:20]) {
			t.Error("a secret is on the first screen")
		}
		if !s.vp.AtBottom() {
			t.Error("the summary does not fit the screen")
		}
		view(t, e, s)
		s.Update(press("d"))
		if out := ansi.Strip(s.View()); !strings.Contains(out, "Session key") {
			t.Errorf("d does not show the details:\n%s", out)
		}
	})
}

// With a registry named by --db, the commands shown act on it too, its
// password left out.
func TestDonePageOwnRegistry(t *testing.T) {
	e, f := testEnv(120)
	for _, c := range []struct{ flag, want string }{
		{"/srv/capship/registry.db", " --db /srv/capship/registry.db"},
		{"postgres://capship:s3cret@db.internal/capship", " --db postgres://capship:xxxxx@db.internal/capship"},
		// libpq takes the password in the query too.
		{"postgres://capship@db.internal/capship?password=s3cret&sslmode=require", " --db 'postgres://capship@db.internal/capship?password=xxxxx&sslmode=require'"},
	} {
		f.project.DBFlag = store.RedactDSN(c.flag)
		b := packed(f, "1.4.0")
		reg, _ := f.Register(context.Background(), Release{Bundle: b, URL: "https://cdn.example.com/shop-1.4.0.zip", Channel: "production"})
		s := newDoneStep(e, Result{Project: f.project, Bundle: b, URL: "https://cdn.example.com/shop-1.4.0.zip", Registered: &reg})
		joined := regexp.MustCompile(` *\\ *\n *`).ReplaceAllString(ansi.Strip(s.View()), " ")
		for _, want := range []string{"capship stats --app com.example.shop" + c.want, "--channel production" + c.want} {
			if !strings.Contains(joined, want) {
				t.Errorf("done page lacks %q:\n%s", want, joined)
			}
		}
		if strings.Contains(joined, "s3cret") {
			t.Error("the registry's password is on the screen")
		}
	}
}

// panicRunner panics where the wizard calls it first.
type panicRunner struct{ *fakeRunner }

func (panicRunner) LoadProject(dir, configPath string) (Project, error) {
	panic("boom: config reader")
}

// A panic inside the wizard ends the program as a panic (not a cancel),
// and the wizard keeps its message for the crash report.
func TestWizardCrash(t *testing.T) {
	m := New(context.Background(), panicRunner{newFakeRunner()}, Options{Dir: "/x", Renderer: plainRenderer()})
	p := tea.NewProgram(m, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithoutSignalHandler())
	done := make(chan error, 1)
	go func() { _, err := p.Run(); done <- err }()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		p.Kill()
		t.Fatal("the program did not end after the panic")
	}
	if !errors.Is(err, tea.ErrProgramPanic) {
		t.Fatalf("Run: %v, want a panic", err)
	}
	if m.Crash() != "boom: config reader" {
		t.Fatalf("Crash() = %q", m.Crash())
	}
	report := CrashReport(m.Crash())
	for _, want := range []string{"crashed: boom: config reader", "issue tracker"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q: %s", want, report)
		}
	}
}

// Without a usable keychain the project step says how to release anyway:
// the commands, with a key file.
func TestProjectNoKeychainHint(t *testing.T) {
	eachWidth(t, "no_secret_service", func(t *testing.T, e *env, f *fakeRunner) {
		s := newProjectStep(e, f.project.Dir, "")
		s.Init()
		kerr := &store.KeychainError{Op: "read key " + f.project.AppID, Kind: store.ErrNoKeychain,
			Reason: "no Secret Service (gnome-keyring, KeePassXC) is running on the session bus",
			Hint:   "install and start one, e.g. `apt install gnome-keyring`", Cause: errors.New("dbus: ServiceUnknown")}
		s.Update(resultMsg{run: s.pending, val: projectLoaded{project: f.project, keyErr: kerr}})
		out := ansi.Strip(s.View())
		for _, want := range []string{"--no-input", "key generate", "--key-file"} {
			if !strings.Contains(out, want) {
				t.Errorf("no-keychain view lacks %q", want)
			}
		}
		view(t, e, s)
	})
}
