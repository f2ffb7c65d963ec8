package ui

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"capship/workflow"
)

func TestMain(m *testing.M) {
	// bubbles components without a renderer option (text inputs) follow the
	// global profile: fix it so that output does not depend on the terminal.
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

// waitFor waits until the program has drawn text (ANSI stripped).
func waitFor(t *testing.T, tm *teatest.TestModel, text string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return bytes.Contains(b, []byte(text)) || strings.Contains(ansi.Strip(string(b)), text)
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

// waitForAll waits until the program has drawn every one of texts, in
// one frame or in several.
func waitForAll(t *testing.T, tm *teatest.TestModel, texts ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		plain := ansi.Strip(string(b))
		for _, text := range texts {
			if !strings.Contains(plain, text) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

func keyMsg(k tea.KeyType) tea.KeyMsg { return tea.KeyMsg{Type: k} }

// TestWizardFlow walks the whole wizard with a fake runner at 80x24 and
// 120x30: a new key, writing it into the config, a cancelled pack, a
// retried pack, a rejected URL, a wrong URL, the right URL, registration
// and the summary.
func TestWizardFlow(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 30}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) { walkWizard(t, size[0], size[1]) })
	}
}

func walkWizard(t *testing.T, width, height int) {
	f := newFakeRunner()
	f.buildDelay = time.Hour // the first pack runs until cancelled
	good := "https://cdn.example.com/com.example.shop-1.4.0.zip"
	f.checks[good] = URLCheck{ContentType: "application/zip"}
	goodFiles := "https://cdn.example.com/com.example.shop-1.4.0.files"
	f.fileChecks[goodFiles] = FilesCheck{}
	f.downloads = Downloads{Channels: []ChannelDownload{
		{Channel: "production", Current: "1.3.2", Download: workflow.DeltaDownload{Files: 3, TotalFiles: 42, Objects: 3, Bytes: 84_000}}}}

	m := New(context.Background(), f, Options{Dir: f.project.Dir, Renderer: plainRenderer()})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(width, height))
	t.Cleanup(func() { _ = tm.Quit() })

	waitFor(t, tm, "Press enter to check the signing key")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "Create a new keypair")
	tm.Send(keyMsg(tea.KeyEnter)) // creates the key and writes its public half, in one step
	waitForAll(t, tm, "Public key written", "has no updateUrl/statsUrl/channelUrl", "enter continue without server URLs")
	tm.Type("https://updates.example.com")
	waitFor(t, tm, "enter write server URLs to config")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "updateUrl, statsUrl and channelUrl written")
	tm.Send(keyMsg(tea.KeyEnter))

	waitFor(t, tm, "newest registered: 1.3.2")
	tm.Send(keyMsg(tea.KeyEnter))

	waitFor(t, tm, "Zipping, hashing and encrypting")
	tm.Send(keyMsg(tea.KeyEsc))
	waitFor(t, tm, "Cancelled. Nothing was written")
	f.mu.Lock()
	cancelled := f.cancelled
	f.buildDelay = time.Millisecond
	f.mu.Unlock()
	if cancelled != 1 {
		t.Fatalf("esc did not cancel the build's context (cancelled %d builds)", cancelled)
	}
	tm.Type("r")
	waitForAll(t, tm, "Packed 42 files", "production (1.3.2)  3 of 42 files, 0.08 MiB (7%)")
	tm.Send(keyMsg(tea.KeyEnter))

	// the config names a capship server now: three ways, by hand last
	waitForAll(t, tm, "Upload to the capship server", "to its storage at https://updates.example.com", "I uploaded it myself")
	tm.Send(keyMsg(tea.KeyDown))
	tm.Send(keyMsg(tea.KeyDown))
	tm.Send(keyMsg(tea.KeyEnter))
	// enter on the zip URL goes to the files URL; enter there checks both
	waitFor(t, tm, "Its public URL")
	tm.Type("http://cdn.example.com/x.zip")
	tm.Send(keyMsg(tea.KeyEnter))
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "devices require HTTPS")
	tm.Send(keyMsg(tea.KeyCtrlU))
	tm.Type("https://cdn.example.com/wrong.zip")
	tm.Send(keyMsg(tea.KeyEnter))
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "does not serve the built file")
	tm.Type("e")
	tm.Send(keyMsg(tea.KeyCtrlU))
	tm.Type(good)
	tm.Send(keyMsg(tea.KeyEnter))
	tm.Type("https://cdn.example.com/wrong.files")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "40 of 40 objects at the files URL are not the built ones")
	tm.Type("e") // the files URL has the focus: the zip was fine
	tm.Send(keyMsg(tea.KeyCtrlU))
	tm.Type(goodFiles + "/")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "are the built ones ✓")
	tm.Send(keyMsg(tea.KeyEnter))

	waitFor(t, tm, "Minimum native version")
	tm.Send(keyMsg(tea.KeyEnter))
	tm.Type("2.0.0")
	tm.Send(keyMsg(tea.KeyEnter))
	waitForAll(t, tm, "About to register", "42 files; phones fetch only those they lack")
	tm.Send(keyMsg(tea.KeyEnter))
	waitForAll(t, tm, "is live on channel production", "capship release rollback --app com.example.shop", "--channel production",
		"capship stats --app com.example.shop", "The app asks https://updates.example.com/updates")
	tm.Type("d")
	waitForAll(t, tm, "Files URL (42 files)", "Session key")
	tm.Send(keyMsg(tea.KeyEnter))

	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	res := final.Result()
	if res.Registered == nil || res.URL != good || res.FilesURL != goodFiles {
		t.Fatalf("result: registered %v, url %q, files url %q", res.Registered, res.URL, res.FilesURL)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.registered) != 1 {
		t.Fatalf("registered %d releases, want 1", len(f.registered))
	}
	got := f.registered[0]
	if got.URL != good || got.FilesURL != goodFiles || got.Channel != "production" || got.MinNative != "2.0.0" || got.Bundle.Version != "1.4.0" || got.Bundle.Delta == nil {
		t.Fatalf("registered %+v", got)
	}
	if f.builds != 2 || f.key.State != KeyConfigMatches {
		t.Fatalf("builds %d (want 2), key state %v", f.builds, f.key.State)
	}
	if f.project.UpdateURL != "https://updates.example.com/updates" || res.Project.ChannelURL != "https://updates.example.com/channel_self" {
		t.Fatalf("server URLs: config %q, result %q", f.project.UpdateURL, res.Project.ChannelURL)
	}
}

// TestWizardScreen checks the whole screen (header, breadcrumb, body,
// footer) at 80x24 and 120x30.
func TestWizardScreen(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 30}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			f := newFakeRunner()
			m := New(context.Background(), f, Options{Dir: f.project.Dir, Renderer: plainRenderer()})
			m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			m.step.Update(resultMsg{run: m.step.(*projectStep).pending, val: projectLoaded{project: f.project, key: f.key}})
			m.Update(projectDone{project: f.project, key: f.key})
			out := ansi.Strip(m.View())
			lines := strings.Split(out, "\n")
			if len(lines) > size[1] {
				t.Errorf("screen has %d lines, the terminal %d", len(lines), size[1])
			}
			for i, l := range lines {
				if ansi.StringWidth(l) > size[0] {
					t.Errorf("line %d is %d wide: %q", i+1, ansi.StringWidth(l), l)
				}
			}
			golden.RequireEqual(t, []byte(out))
		})
	}
}

// TestQuitWhileBusy: ctrl+c during a pack cancels the pack instead of
// leaving the wizard with a half-written file.
func TestQuitWhileBusy(t *testing.T) {
	f := newFakeRunner()
	f.buildDelay = time.Hour
	m := New(context.Background(), f, Options{Dir: f.project.Dir, Renderer: plainRenderer()})
	m.res.Project = f.project
	m.source = sourceDone{dir: f.project.WebDir, version: "1.4.0", preflight: f.preflight}
	m.goTo(stepPack)
	_, cmd := m.Update(keyMsg(tea.KeyCtrlC))
	if m.quit {
		t.Fatal("ctrl+c quit while a pack was running")
	}
	if cmd != nil {
		t.Fatal("ctrl+c during a pack returned a command")
	}
	p := m.step.(*packStep)
	if p.state != packCancelling {
		t.Fatalf("pack state %v after ctrl+c, want cancelling", p.state)
	}
	// the job's own messages arrive through its channel
	deadline := time.After(5 * time.Second)
	for p.state == packCancelling {
		msgc := make(chan tea.Msg, 1)
		go func() { msgc <- p.job.wait()() }()
		select {
		case msg := <-msgc:
			m.Update(msg)
		case <-deadline:
			t.Fatal("the cancelled build never returned")
		}
	}
	if p.state != packCancelled {
		t.Fatalf("state %v, want cancelled", p.state)
	}
	if _, cmd := m.Update(keyMsg(tea.KeyCtrlC)); cmd == nil || !m.quit {
		t.Fatal("ctrl+c after the cancel did not quit")
	}
}

// When the process is told to stop (SIGTERM cancels the wizard's context),
// a running pack is cancelled and Wait lets it finish cleaning up.
func TestStopCancelsJobs(t *testing.T) {
	f := newFakeRunner()
	f.buildDelay = time.Hour
	ctx, stop := context.WithCancel(context.Background())
	m := New(ctx, f, Options{Dir: f.project.Dir, Renderer: plainRenderer()})
	m.res.Project = f.project
	m.source = sourceDone{dir: f.project.WebDir, version: "1.4.0", preflight: f.preflight}
	m.goTo(stepPack)
	if m.Wait(50 * time.Millisecond) {
		t.Fatal("Wait returned while the pack was running")
	}
	stop()
	if !m.Wait(5 * time.Second) {
		t.Fatal("the pack did not stop after the context was cancelled")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cancelled != 1 {
		t.Fatalf("cancelled builds: %d, want 1", f.cancelled)
	}
}

// Esc goes back one step, except from the upload step, where the step
// before (pack) would start packing again: it goes to the folder step.
func TestBack(t *testing.T) {
	f := newFakeRunner()
	m := New(context.Background(), f, Options{Dir: f.project.Dir, Renderer: plainRenderer()})
	m.res.Project = f.project
	m.source = sourceDone{dir: f.project.WebDir, version: "1.4.0", preflight: f.preflight}
	m.res.Bundle = packed(f, "1.4.0")
	for _, tc := range []struct{ from, to int }{
		{stepKeys, stepProject}, {stepSource, stepKeys}, {stepUpload, stepSource}, {stepRegister, stepUpload},
	} {
		m.goTo(tc.from)
		cmd := m.step.Update(keyMsg(tea.KeyEsc))
		if cmd == nil {
			t.Fatalf("esc on step %s does nothing", stepNames[tc.from])
		}
		m.Update(cmd())
		if m.current != tc.to {
			t.Errorf("esc on %s went to %s, want %s", stepNames[tc.from], stepNames[m.current], stepNames[tc.to])
		}
	}
	builds := f.builds
	m.goTo(stepDone)
	if cmd := m.step.Update(keyMsg(tea.KeyEsc)); cmd != nil {
		if _, ok := cmd().(backMsg); ok {
			t.Error("esc on the done page goes back to a registered release")
		}
	}
	if f.builds != builds {
		t.Error("going back started a pack")
	}
}

// TestWizardRefusesSameSizeOtherBytes: a URL serving a file of the built
// size whose SHA-256 differs is shown as a mismatch and never taken; the
// right URL then registers.
func TestWizardRefusesSameSizeOtherBytes(t *testing.T) {
	f := newFakeRunner()
	good := "https://cdn.example.com/com.example.shop-1.4.0.zip"
	flipped := "https://cdn.example.com/flipped.zip"
	f.checks[good] = URLCheck{ContentType: "application/zip"}
	f.checks[flipped] = URLCheck{Status: 200, ContentType: "application/zip", Size: 1_234_567, SHA256: strings.Repeat("5f", 32),
		Problems: []string{"the hosted file has the same size but different bytes (its SHA-256 differs): upload the file capship built again"}}

	m := New(context.Background(), f, Options{Dir: f.project.Dir, Renderer: plainRenderer()})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 30))
	t.Cleanup(func() { _ = tm.Quit() })

	waitFor(t, tm, "Press enter to check the signing key")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "Create a new keypair")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "Public key written")
	tm.Send(keyMsg(tea.KeyEnter)) // the server field is empty: go on without
	waitFor(t, tm, "newest registered: 1.3.2")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "Packed 42 files")
	tm.Send(keyMsg(tea.KeyEnter))

	waitFor(t, tm, "I uploaded it myself")
	tm.Send(keyMsg(tea.KeyDown)) // past "Upload to an S3 bucket"
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "Its public URL")
	tm.Type(flipped)
	tm.Send(keyMsg(tea.KeyEnter)) // to the files URL, left empty
	tm.Send(keyMsg(tea.KeyEnter)) // check
	waitForAll(t, tm, "does not serve the built file", "same size but different bytes", "✓ 1.2 MiB, want 1.2 MiB")
	tm.Send(keyMsg(tea.KeyEnter)) // enter does not go on from a mismatch
	tm.Type("e")
	tm.Send(keyMsg(tea.KeyCtrlU))
	tm.Type(good)
	tm.Send(keyMsg(tea.KeyEnter))
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "serves exactly the built file")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "Minimum native version")
	tm.Send(keyMsg(tea.KeyEnter))
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "About to register")
	tm.Send(keyMsg(tea.KeyEnter))
	waitFor(t, tm, "is live on channel production")
	tm.Send(keyMsg(tea.KeyEnter))

	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	if res := final.Result(); res.Registered == nil || res.URL != good {
		t.Fatalf("result: registered %v, url %q, want %q", res.Registered, res.URL, good)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.registered) != 1 || f.registered[0].URL != good {
		t.Fatalf("registered %+v, want one release at %s", f.registered, good)
	}
}
