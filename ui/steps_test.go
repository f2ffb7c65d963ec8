package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"capship/workflow"
)

// The widths every step view is checked at: the smallest supported
// terminal and a comfortable one.
var widths = []int{80, 120}

func testEnv(width int) (*env, *fakeRunner) {
	f := newFakeRunner()
	return &env{ctx: context.Background(), run: f, st: NewStyles(plainRenderer()), keys: DefaultKeyMap(),
		width: width - 2, height: 24 - chromeLines}, f
}

func press(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// view checks a step's plain view against its golden file and that no line
// is wider than the body area.
func view(t *testing.T, e *env, s step) {
	t.Helper()
	out := ansi.Strip(s.View())
	for i, line := range strings.Split(out, "\n") {
		if w := ansi.StringWidth(line); w > e.width {
			t.Errorf("line %d is %d cells wide, the body has %d: %q", i+1, w, e.width, line)
		}
	}
	if h := strings.Count(out, "\n") + 1; h > e.height {
		t.Errorf("view is %d lines high, the body has %d", h, e.height)
	}
	h := help.New()
	h.Width = e.width
	if footer := h.View(bindings(append(s.Help(), e.keys.Quit))); strings.Contains(footer, "…") {
		t.Errorf("the footer does not fit in %d columns: %q", e.width, footer)
	}
	golden.RequireEqual(t, []byte(out))
}

func eachWidth(t *testing.T, name string, fn func(t *testing.T, e *env, f *fakeRunner)) {
	for _, w := range widths {
		t.Run(fmt.Sprintf("%s_%d", name, w), func(t *testing.T) {
			e, f := testEnv(w)
			fn(t, e, f)
		})
	}
}

func TestProjectStepViews(t *testing.T) {
	eachWidth(t, "loading", func(t *testing.T, e *env, f *fakeRunner) {
		s := newProjectStep(e, "/home/dev/shop-app", "")
		s.Init()
		view(t, e, s)
	})
	eachWidth(t, "loaded", func(t *testing.T, e *env, f *fakeRunner) {
		s := newProjectStep(e, f.project.Dir, "")
		s.Init()
		s.Update(resultMsg{run: s.pending, val: projectLoaded{project: f.project, key: f.key}})
		view(t, e, s)
		if s.Update(press("enter")) == nil {
			t.Fatal("enter on a loaded project does nothing")
		}
	})
	eachWidth(t, "no_config", func(t *testing.T, e *env, f *fakeRunner) {
		s := newProjectStep(e, "/home/dev", "")
		s.Init()
		s.Update(resultMsg{run: s.pending, err: fmt.Errorf("read project in /home/dev: %w", workflow.ErrNoConfig)})
		view(t, e, s)
		if s.Update(press("enter")) != nil {
			t.Fatal("enter continued past a project that could not be read")
		}
	})
	eachWidth(t, "no_keychain", func(t *testing.T, e *env, f *fakeRunner) {
		s := newProjectStep(e, f.project.Dir, "")
		s.Init()
		s.Update(resultMsg{run: s.pending, val: projectLoaded{project: f.project,
			keyErr: errors.New("no Secret Service running: start a desktop session, or use --key-file / CAPSHIP_PRIVATE_KEY with the commands")}})
		view(t, e, s)
	})
}

func TestKeysStepViews(t *testing.T) {
	eachWidth(t, "missing", func(t *testing.T, e *env, f *fakeRunner) {
		view(t, e, newKeysStep(e, f.project, f.key))
	})
	eachWidth(t, "missing_config_has_key", func(t *testing.T, e *env, f *fakeRunner) {
		f.project.PublicKey = "-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEAuXGa/Oyt2o45ZeozT3R8uQneidhEGLG2EWhR+Fb2YtI3cBKEJ5+K\n-----END RSA PUBLIC KEY-----\n"
		s := newKeysStep(e, f.project, f.key)
		if s.choice != 1 {
			t.Fatal("with a public key in the config, import is not the default")
		}
		view(t, e, s)
	})
	eachWidth(t, "import_path", func(t *testing.T, e *env, f *fakeRunner) {
		s := newKeysStep(e, f.project, f.key)
		s.Update(press("down"))
		s.Update(press("enter"))
		s.path.SetValue("/tmp/nope")
		cmd := s.Update(press("enter"))
		s.Update(cmd().(tea.BatchMsg)[0]())
		view(t, e, s)
	})
	eachWidth(t, "created", func(t *testing.T, e *env, f *fakeRunner) {
		s := newKeysStep(e, f.project, f.key)
		cmd := s.Update(press("enter"))
		s.Update(cmd().(tea.BatchMsg)[0]())
		view(t, e, s)
	})
	eachWidth(t, "mismatch", func(t *testing.T, e *env, f *fakeRunner) {
		k := KeyInfo{State: KeyConfigDiffers, KeyID: "MIIBCgKCAQEAx1fakeID", Fingerprint: "sha256:" + strings.Repeat("ab", 32), Where: "OS keychain (service capship)"}
		view(t, e, newKeysStep(e, f.project, k))
	})
	eachWidth(t, "written", func(t *testing.T, e *env, f *fakeRunner) {
		f.key = KeyInfo{State: KeyConfigMissing, KeyID: "MIIBCgKCAQEAx1fakeID", Fingerprint: "sha256:" + strings.Repeat("ab", 32), Where: "OS keychain (service capship)"}
		s := newKeysStep(e, f.project, f.key)
		cmd := s.Update(press("w"))
		s.Update(cmd().(tea.BatchMsg)[0]())
		view(t, e, s)
	})
}

func TestSourceStepViews(t *testing.T) {
	load := func(s *sourceStep, pf Preflight, latest string) {
		s.Update(resultMsg{run: s.checkRun, val: pf})
		s.Update(resultMsg{run: s.latestRun, val: latestResult{latest}})
	}
	eachWidth(t, "ok", func(t *testing.T, e *env, f *fakeRunner) {
		s := newSourceStep(e, f.project, f.project.WebDir, "1.4.0")
		s.Init()
		load(s, f.preflight, "1.3.2")
		view(t, e, s)
	})
	eachWidth(t, "problems", func(t *testing.T, e *env, f *fakeRunner) {
		s := newSourceStep(e, f.project, f.project.WebDir, "1.3.2")
		s.Init()
		pf := f.preflight
		pf.Problems = []Problem{
			{Path: "index.html", Message: "no index.html at the root of the folder: the plugin requires it", Blocking: true},
			{Path: ".", Message: "notifyAppReady appears in no .js or .html file: the app would roll every update back", Blocking: true},
			{Path: "assets/video.mp4", Message: "is 48 MiB: devices download the whole bundle on every update", Blocking: false},
		}
		load(s, pf, "1.3.2")
		view(t, e, s)
		if s.Update(press("enter")) != nil {
			t.Fatal("enter continued despite blocking problems")
		}
		// the folder gets fixed; ctrl+r checks it again and lets the user go on
		f.preflight.Problems = nil
		cmd := s.Update(tea.KeyMsg{Type: tea.KeyCtrlR})
		if cmd == nil || s.checked {
			t.Fatal("ctrl+r did not start a new check")
		}
		s.Update(cmd())
		if s.Update(press("enter")) == nil {
			t.Fatal("enter did not continue after the folder was fixed")
		}
	})
	eachWidth(t, "registry_error", func(t *testing.T, e *env, f *fakeRunner) {
		s := newSourceStep(e, f.project, f.project.WebDir, "1.4.0")
		s.Init()
		s.Update(resultMsg{run: s.checkRun, val: f.preflight})
		s.Update(resultMsg{run: s.latestRun, err: errors.New("open registry /home/dev/.local/share/capship/registry.db: permission denied")})
		view(t, e, s)
		if s.Update(press("enter")) == nil {
			t.Fatal("an unreadable registry blocked the build; it should only skip the version comparison")
		}
	})
	eachWidth(t, "bad_version", func(t *testing.T, e *env, f *fakeRunner) {
		s := newSourceStep(e, f.project, f.project.WebDir, "1.4")
		s.Init()
		load(s, f.preflight, "")
		if s.Update(press("enter")) != nil {
			t.Fatal("enter continued with an invalid version")
		}
		view(t, e, s)
	})
}

func packed(f *fakeRunner, version string) Bundle {
	b, err := f.Build(context.Background(), BuildRequest{Project: f.project, Dir: f.project.WebDir, Version: version}, func(workflow.Event) {})
	if err != nil {
		panic(err)
	}
	return b
}

func TestPackStepViews(t *testing.T) {
	req := func(f *fakeRunner) BuildRequest {
		return BuildRequest{Project: f.project, Dir: f.project.WebDir, Version: "1.4.0"}
	}
	eachWidth(t, "running", func(t *testing.T, e *env, f *fakeRunner) {
		s := newPackStep(e, req(f), f.preflight)
		s.job = &job{run: 7, cancel: func() {}}
		s.ev = workflow.Event{Phase: workflow.PhasePack, Files: 17, TotalFiles: 42, Bytes: 1_400_000, TotalBytes: 3_500_000, Current: "assets/index-4f2a.js"}
		s.rate = 700_000
		view(t, e, s)
	})
	eachWidth(t, "running_delta", func(t *testing.T, e *env, f *fakeRunner) {
		s := newPackStep(e, req(f), f.preflight)
		s.job = &job{run: 7, cancel: func() {}}
		s.ev = workflow.Event{Phase: workflow.PhasePack, Files: 42, TotalFiles: 42, Bytes: 3_500_000, TotalBytes: 3_500_000}
		s.Update(progressMsg{run: 7, ev: workflow.Event{Phase: workflow.PhaseDelta, Files: 8, TotalFiles: 42, Bytes: 700_000, TotalBytes: 3_500_000, Current: "assets/chunk-08.js"}})
		view(t, e, s)
	})
	eachWidth(t, "cancelled", func(t *testing.T, e *env, f *fakeRunner) {
		s := newPackStep(e, req(f), f.preflight)
		s.job = &job{run: 7, cancel: func() {}}
		s.Update(press("esc"))
		if s.state != packCancelling || !s.Busy() {
			t.Fatalf("after esc: state %v, busy %v", s.state, s.Busy())
		}
		s.Update(progressMsg{run: 7, ev: workflow.Event{Phase: workflow.PhasePack, Bytes: 99}})
		s.Update(resultMsg{run: 7, err: fmt.Errorf("build bundle: %w", context.Canceled)})
		view(t, e, s)
	})
	// finish packs, then answers the comparison with the channels.
	finish := func(t *testing.T, s *packStep, f *fakeRunner) {
		t.Helper()
		s.job = &job{run: 7, cancel: func() {}}
		cmd := s.Update(resultMsg{run: 7, val: packed(f, "1.4.0")})
		if s.bundle.Delta == nil {
			if cmd != nil {
				t.Fatal("a bundle without a delta is compared with the channels")
			}
			return
		}
		if cmd == nil {
			t.Fatal("the finished pack does not ask what phones download")
		}
		s.Update(cmd())
	}
	eachWidth(t, "finished", func(t *testing.T, e *env, f *fakeRunner) {
		all := fakeDelta("").Download(nil)
		f.downloads = Downloads{Channels: []ChannelDownload{
			{Channel: "beta", Current: "1.4.0-rc.2", Download: workflow.DeltaDownload{Files: 1, TotalFiles: 42, Objects: 1, Bytes: 28_000}},
			{Channel: "production", Current: "1.3.2", Download: workflow.DeltaDownload{Files: 3, TotalFiles: 42, Objects: 3, Bytes: 84_000}},
			{Channel: "staging", Current: "1.2.0", NoFileList: true, Download: all},
		}}
		s := newPackStep(e, req(f), f.preflight)
		finish(t, s, f)
		view(t, e, s)
	})
	eachWidth(t, "finished_comparing", func(t *testing.T, e *env, f *fakeRunner) {
		s := newPackStep(e, req(f), f.preflight)
		s.job = &job{run: 7, cancel: func() {}}
		s.Update(resultMsg{run: 7, val: packed(f, "1.4.0")})
		view(t, e, s)
		if s.Update(press("enter")) == nil {
			t.Fatal("the comparison blocks going on to the upload")
		}
	})
	eachWidth(t, "finished_first_release", func(t *testing.T, e *env, f *fakeRunner) {
		s := newPackStep(e, req(f), f.preflight)
		finish(t, s, f)
		view(t, e, s)
	})
	eachWidth(t, "finished_many_channels", func(t *testing.T, e *env, f *fakeRunner) {
		for _, name := range []string{"alpha", "beta", "canary", "nightly", "production"} {
			f.downloads.Channels = append(f.downloads.Channels, ChannelDownload{Channel: name, Current: "1.3.2",
				Zip: name == "nightly", Download: workflow.DeltaDownload{Files: 3, TotalFiles: 42, Objects: 3, Bytes: 84_000}})
		}
		f.downloads.Channels[0].Zip = true
		f.downloads.Channels[0].Download = workflow.DeltaDownload{}
		s := newPackStep(e, req(f), f.preflight)
		finish(t, s, f)
		view(t, e, s)
	})
	eachWidth(t, "finished_server", func(t *testing.T, e *env, f *fakeRunner) {
		f.downloads = Downloads{NoCompare: "a capship server does not list a release's files"}
		s := newPackStep(e, req(f), f.preflight)
		finish(t, s, f)
		view(t, e, s)
	})
	eachWidth(t, "finished_compare_error", func(t *testing.T, e *env, f *fakeRunner) {
		f.downloadsErr = errors.New("open registry /home/dev/.local/share/capship/registry.db: permission denied")
		s := newPackStep(e, req(f), f.preflight)
		finish(t, s, f)
		view(t, e, s)
	})
	eachWidth(t, "finished_zip_only", func(t *testing.T, e *env, f *fakeRunner) {
		f.deltaSkipped = "assets/empty.txt is empty: the plugin cannot install an empty file from a manifest"
		s := newPackStep(e, req(f), f.preflight)
		finish(t, s, f)
		view(t, e, s)
	})
	eachWidth(t, "exists", func(t *testing.T, e *env, f *fakeRunner) {
		s := newPackStep(e, req(f), f.preflight)
		s.job = &job{run: 7, cancel: func() {}}
		s.Update(resultMsg{run: 7, err: fmt.Errorf("build bundle: %w: /home/dev/shop-app/capship-out/com.example.shop-1.4.0.zip; bump the version, or pass --force to replace it", workflow.ErrBundleExists)})
		view(t, e, s)
	})
}

// A late answer of the comparison, from a pack that was run again, is
// dropped.
func TestPackStepDropsOldComparison(t *testing.T) {
	e, f := testEnv(80)
	f.downloads = Downloads{Channels: []ChannelDownload{{Channel: "production", Current: "1.3.2"}}}
	s := newPackStep(e, BuildRequest{Project: f.project, Dir: f.project.WebDir, Version: "1.4.0"}, f.preflight)
	s.job = &job{run: 7, cancel: func() {}}
	old := s.Update(resultMsg{run: 7, val: packed(f, "1.4.0")})
	s.state = packFailed
	s.Update(press("r"))
	s.Update(old())
	if s.downloads != nil {
		t.Fatal("the comparison of an earlier pack was taken")
	}
}

// checked runs an upload check the way the step's job would: the zip,
// then the objects when the step asks for them.
func checked(t *testing.T, s *uploadStep, f *fakeRunner) {
	t.Helper()
	cmd := s.Update(press("enter"))
	if cmd == nil {
		t.Fatalf("enter did not start a check (zip error %v, files error %v)", s.urlErr, s.filesErr)
	}
	for i := 0; s.job != nil; i++ {
		if i > 10 {
			t.Fatal("the check never ends")
		}
		run := s.job.run
		var val any
		var err error
		if s.state == uploadCheckingFiles {
			val, err = f.CheckFiles(context.Background(), s.base, s.bundle, func(workflow.Event) {})
		} else {
			val, err = f.CheckURL(context.Background(), strings.TrimSpace(s.url.Value()), s.bundle, func(workflow.Event) {})
		}
		s.job.cancel()
		s.Update(resultMsg{run: run, val: val, err: err})
	}
}

func TestUploadStepViews(t *testing.T) {
	zipURL := "https://cdn.example.com/shop-1.4.0.zip"
	filesURL := "https://cdn.example.com/com.example.shop-1.4.0.files"
	eachWidth(t, "form", func(t *testing.T, e *env, f *fakeRunner) {
		s := newUploadStep(e, Project{}, packed(f, "1.4.0"), zipURL, "")
		s.Update(press("enter"))
		if s.focus != 1 {
			t.Fatal("enter on the zip URL did not move to the files URL")
		}
		view(t, e, s)
	})
	eachWidth(t, "bad_url", func(t *testing.T, e *env, f *fakeRunner) {
		s := newUploadStep(e, Project{}, packed(f, "1.4.0"), "", "")
		if s.state != uploadChoosing {
			t.Fatalf("without URLs the step starts in state %v, not the choice of a way", s.state)
		}
		s.choose(modeManual)
		s.url.SetValue("http://cdn.example.com/shop-1.4.0.zip")
		s.setFocus(1)
		if s.Update(press("enter")) == nil || s.job != nil || s.focus != 0 {
			t.Fatal("an http URL on a public host started a download, or the zip URL did not get the focus back")
		}
		view(t, e, s)
	})
	eachWidth(t, "bad_files_url", func(t *testing.T, e *env, f *fakeRunner) {
		s := newUploadStep(e, Project{}, packed(f, "1.4.0"), zipURL, filesURL+"?sig=abc")
		s.setFocus(1)
		s.Update(press("enter"))
		if s.job != nil || s.filesErr == nil {
			t.Fatal("a files URL with a query started a download")
		}
		view(t, e, s)
	})
	eachWidth(t, "checking", func(t *testing.T, e *env, f *fakeRunner) {
		s := newUploadStep(e, Project{}, packed(f, "1.4.0"), "http://127.0.0.1:8080/shop-1.4.0.zip", "")
		s.state, s.warnings = uploadChecking, []string{"plain HTTP on a loopback host: fine for local testing, but devices need an HTTPS URL"}
		s.ev = workflow.Event{Phase: workflow.PhaseDownload, Bytes: 600_000, TotalBytes: 1_234_567}
		view(t, e, s)
	})
	eachWidth(t, "checking_files", func(t *testing.T, e *env, f *fakeRunner) {
		f.checks[zipURL] = URLCheck{ContentType: "application/zip"}
		s := newUploadStep(e, Project{}, packed(f, "1.4.0"), zipURL, filesURL+"/")
		s.setFocus(1)
		s.Update(press("enter"))
		c, _ := f.CheckURL(context.Background(), zipURL, s.bundle, func(workflow.Event) {})
		if cmd := s.Update(resultMsg{run: s.job.run, val: c}); cmd == nil || s.state != uploadCheckingFiles || s.base != filesURL {
			t.Fatalf("a good zip did not go on to the objects below %q: state %v", s.base, s.state)
		}
		s.Update(progressMsg{run: s.job.run, ev: workflow.Event{Phase: workflow.PhaseDownload, Files: 12, TotalFiles: 40, Bytes: 336_000, TotalBytes: 1_120_000}})
		view(t, e, s)
	})
	eachWidth(t, "mismatch", func(t *testing.T, e *env, f *fakeRunner) {
		b := packed(f, "1.4.0")
		s := newUploadStep(e, Project{}, b, zipURL, "")
		c, _ := f.CheckURL(context.Background(), zipURL, b, func(workflow.Event) {})
		s.state, s.job = uploadChecking, &job{run: 3, cancel: func() {}}
		s.Update(resultMsg{run: 3, val: c})
		view(t, e, s)
	})
	// The built size but other bytes: only the SHA-256 tells, and the step
	// must stop there (with a files URL too: the objects are not fetched).
	eachWidth(t, "mismatch_same_size", func(t *testing.T, e *env, f *fakeRunner) {
		b := packed(f, "1.4.0")
		f.checks[zipURL] = URLCheck{Status: 200, ContentType: "application/zip", Size: b.Size, SHA256: strings.Repeat("5f", 32),
			Problems: []string{"the hosted file has the same size but different bytes (its SHA-256 differs): upload the file capship built again"}}
		for _, files := range []string{filesURL, ""} {
			s := newUploadStep(e, Project{}, b, zipURL, files)
			s.setFocus(1)
			s.Update(press("enter"))
			if s.job == nil {
				t.Fatalf("files URL %q: enter started no check", files)
			}
			c, _ := f.CheckURL(context.Background(), zipURL, s.bundle, func(workflow.Event) {})
			s.Update(resultMsg{run: s.job.run, val: c})
			if s.state != uploadMismatch || s.zipOK || s.job != nil {
				t.Fatalf("files URL %q: a same-size file with another SHA-256 gave state %v (zip ok %v, job %v), want the mismatch", files, s.state, s.zipOK, s.job)
			}
			if s.Update(press("enter")); s.state != uploadMismatch {
				t.Fatalf("files URL %q: enter on the mismatch went on to state %v", files, s.state)
			}
			if files == "" {
				view(t, e, s)
			}
		}
	})
	eachWidth(t, "files_mismatch", func(t *testing.T, e *env, f *fakeRunner) {
		f.checks[zipURL] = URLCheck{ContentType: "application/zip"}
		s := newUploadStep(e, Project{}, packed(f, "1.4.0"), zipURL, filesURL)
		s.setFocus(1)
		checked(t, s, f)
		if s.state != uploadFilesMismatch {
			t.Fatalf("state %v after objects that are missing", s.state)
		}
		view(t, e, s)
		// r fetches the objects again, not the zip
		if s.Update(press("r")); s.state != uploadCheckingFiles {
			t.Fatalf("r after bad objects: state %v", s.state)
		}
	})
	eachWidth(t, "files_failed", func(t *testing.T, e *env, f *fakeRunner) {
		f.checks[zipURL] = URLCheck{ContentType: "application/zip"}
		s := newUploadStep(e, Project{}, packed(f, "1.4.0"), zipURL, filesURL)
		s.setFocus(1)
		s.Update(press("enter"))
		c, _ := f.CheckURL(context.Background(), zipURL, s.bundle, func(workflow.Event) {})
		s.Update(resultMsg{run: s.job.run, val: c})
		s.Update(resultMsg{run: s.job.run, err: errors.New("check objects: files url: bad bundle url: no such host cdn.example.com")})
		view(t, e, s)
	})
	eachWidth(t, "ok", func(t *testing.T, e *env, f *fakeRunner) {
		f.checks[zipURL] = URLCheck{ContentType: "application/zip"}
		f.fileChecks[filesURL] = FilesCheck{}
		s := newUploadStep(e, Project{}, packed(f, "1.4.0"), zipURL, filesURL)
		s.setFocus(1)
		checked(t, s, f)
		view(t, e, s)
		done := s.Update(press("enter"))().(uploadDone)
		if done.filesURL != filesURL || done.check.URL != zipURL {
			t.Fatalf("done %+v", done)
		}
	})
	eachWidth(t, "ok_without_files", func(t *testing.T, e *env, f *fakeRunner) {
		f.checks[zipURL] = URLCheck{ContentType: "application/zip"}
		s := newUploadStep(e, Project{}, packed(f, "1.4.0"), zipURL, "")
		s.setFocus(1)
		checked(t, s, f)
		view(t, e, s)
		if done := s.Update(press("enter"))().(uploadDone); done.filesURL != "" {
			t.Fatalf("an empty files URL registers %q", done.filesURL)
		}
	})
	eachWidth(t, "ok_zip_only", func(t *testing.T, e *env, f *fakeRunner) {
		f.deltaSkipped = "assets/empty.txt is empty"
		f.checks[zipURL] = URLCheck{ContentType: "application/zip"}
		s := newUploadStep(e, Project{}, packed(f, "1.4.0"), zipURL, "")
		checked(t, s, f)
		view(t, e, s)
	})
}

func TestRegisterStepViews(t *testing.T) {
	rel := func(f *fakeRunner) Release {
		return Release{Bundle: packed(f, "1.4.0"), URL: "https://cdn.example.com/shop-1.4.0.zip"}
	}
	eachWidth(t, "form", func(t *testing.T, e *env, f *fakeRunner) {
		view(t, e, newRegisterStep(e, f.project, rel(f)))
	})
	eachWidth(t, "bad_min_native", func(t *testing.T, e *env, f *fakeRunner) {
		s := newRegisterStep(e, f.project, rel(f))
		s.Update(press("tab"))
		for _, r := range "2.x" {
			s.Update(press(string(r)))
		}
		s.Update(press("enter"))
		view(t, e, s)
	})
	eachWidth(t, "confirm", func(t *testing.T, e *env, f *fakeRunner) {
		s := newRegisterStep(e, f.project, rel(f))
		s.Update(press("enter"))
		s.Update(press("enter"))
		view(t, e, s)
	})
	eachWidth(t, "confirm_files", func(t *testing.T, e *env, f *fakeRunner) {
		r := rel(f)
		r.FilesURL = "https://cdn.example.com/com.example.shop-1.4.0.files"
		s := newRegisterStep(e, f.project, r)
		s.Update(press("enter"))
		s.Update(press("enter"))
		view(t, e, s)
		cmd := s.Update(press("enter"))
		done := s.Update(cmd().(tea.BatchMsg)[0]())().(registerDone)
		if done.release.FilesURL != r.FilesURL || f.registered[0].FilesURL != r.FilesURL {
			t.Fatalf("registered %+v", f.registered[0])
		}
	})
	eachWidth(t, "refused", func(t *testing.T, e *env, f *fakeRunner) {
		f.registerErr = errors.New("register com.example.shop 1.4.0: this version is already registered: bump the version (package.json) and build a new bundle")
		s := newRegisterStep(e, f.project, rel(f))
		s.Update(press("enter"))
		s.Update(press("enter"))
		cmd := s.Update(press("enter"))
		s.Update(cmd().(tea.BatchMsg)[0]())
		view(t, e, s)
	})
}

func TestDoneStepViews(t *testing.T) {
	eachWidth(t, "done", func(t *testing.T, e *env, f *fakeRunner) {
		b := packed(f, "1.4.0")
		reg, _ := f.Register(context.Background(), Release{Bundle: b, URL: "https://cdn.example.com/shop-1.4.0.zip", Channel: "production"})
		s := newDoneStep(e, Result{Project: f.project, Bundle: b, URL: "https://cdn.example.com/shop-1.4.0.zip", Registered: &reg})
		view(t, e, s)
	})
}

func TestDoneStepFilesViews(t *testing.T) {
	eachWidth(t, "done_files", func(t *testing.T, e *env, f *fakeRunner) {
		b := packed(f, "1.4.0")
		files := "https://cdn.example.com/com.example.shop-1.4.0.files"
		reg, _ := f.Register(context.Background(), Release{Bundle: b, URL: "https://cdn.example.com/shop-1.4.0.zip", FilesURL: files, Channel: "production"})
		s := newDoneStep(e, Result{Project: f.project, Bundle: b, URL: "https://cdn.example.com/shop-1.4.0.zip", FilesURL: files, Registered: &reg})
		view(t, e, s)
	})
}

func TestDoneStepFinishKeys(t *testing.T) {
	eachWidth(t, "finish", func(t *testing.T, e *env, f *fakeRunner) {
		b := packed(f, "1.4.0")
		s := newDoneStep(e, Result{Project: f.project, Bundle: b, URL: "https://cdn.example.com/shop-1.4.0.zip"})
		if help := s.Help(); len(help) == 0 || help[0].Help().Key != "enter/q" {
			t.Fatalf("footer does not offer enter/q: %+v", help)
		}
		for _, k := range []string{"enter", "q"} {
			cmd := s.Update(press(k))
			if cmd == nil {
				t.Fatalf("%s does nothing on the done page", k)
			}
			if _, ok := cmd().(quitMsg); !ok {
				t.Fatalf("%s does not finish the wizard", k)
			}
		}
		if cmd := s.Update(press("x")); cmd != nil {
			if _, ok := cmd().(quitMsg); ok {
				t.Fatal("x finishes the wizard")
			}
		}
	})
}
