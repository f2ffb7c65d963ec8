package ui

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"capship/store"
	"capship/workflow"
)

const testServer = "https://updates.example.com"

// finish runs the upload job started by cmd to its end, delivering every
// progress event and the result to the step.
func finish(t *testing.T, s *uploadStep, cmd tea.Cmd) {
	t.Helper()
	if s.job == nil || cmd == nil {
		t.Fatalf("no upload started: state %v, form error %v", s.state, s.to.formErr)
	}
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("the upload never ends")
		}
		msg := cmd()
		cmd = s.Update(msg)
		if _, ok := msg.(resultMsg); ok {
			return
		}
	}
}

// settle delivers the remembered S3 settings Init reads.
func settle(t *testing.T, s *uploadStep) {
	t.Helper()
	deliver(t, s, s.loadSettings())
}

// A config whose updateUrl is a capship server's offers that server; one
// pointing at Capgo's cloud, or none, does not.
func TestCapshipServer(t *testing.T) {
	for _, c := range []struct {
		p    Project
		want string
	}{
		{Project{Server: testServer + "/"}, testServer},
		{Project{UpdateURL: "https://updates.example.com/capship/updates"}, "https://updates.example.com/capship"},
		{Project{UpdateURL: "http://127.0.0.1:8080/updates"}, "http://127.0.0.1:8080"},
		{Project{Server: "https://a.example.com", UpdateURL: "https://b.example.com/updates"}, "https://a.example.com"},
		{Project{UpdateURL: "https://plugin.capgo.app/updates"}, ""},
		{Project{UpdateURL: "https://example.com/api/check"}, ""},
		{Project{UpdateURL: "https://example.com/updates?x=1"}, ""},
		{Project{}, ""},
	} {
		if got := capshipServer(c.p); got != c.want {
			t.Errorf("%+v: %q, want %q", c.p, got, c.want)
		}
		modes := newUploadTo(c.p).modes
		if has := modes[0] == modeServer; has != (c.want != "") || modes[len(modes)-1] != modeManual {
			t.Errorf("%+v: ways %v", c.p, modes)
		}
	}
}

func TestUploadToViews(t *testing.T) {
	server := Project{Server: testServer, HasToken: true}
	eachWidth(t, "choose", func(t *testing.T, e *env, f *fakeRunner) {
		s := newUploadStep(e, Project{Server: testServer}, packed(f, "1.4.0"), "", "")
		if s.state != uploadChoosing || len(s.to.modes) != 3 {
			t.Fatalf("state %v, ways %v", s.state, s.to.modes)
		}
		s.Update(press("down"))
		view(t, e, s)
	})
	eachWidth(t, "choose_remembered", func(t *testing.T, e *env, f *fakeRunner) {
		f.s3["com.example.shop"] = S3Settings{Bucket: "s3://shop-bundles/live", Region: "eu-west-1"}
		s := newUploadStep(e, Project{}, packed(f, "1.4.0"), "", "")
		settle(t, s)
		view(t, e, s)
	})
	// The token is typed in a masked field and never drawn.
	eachWidth(t, "server_form", func(t *testing.T, e *env, f *fakeRunner) {
		s := newUploadStep(e, Project{Server: testServer}, packed(f, "1.4.0"), "", "")
		s.Update(press("enter"))
		if s.state != uploadServerForm || s.to.serverFoc != 1 {
			t.Fatalf("without a token the server's way asks for one: state %v, focus %d", s.state, s.to.serverFoc)
		}
		if s.Update(press("enter")); s.job != nil || s.to.formErr == nil {
			t.Fatal("an empty token started an upload")
		}
		s.Update(press("capship_s3cr3t"))
		if out := ansi.Strip(s.View()); strings.Contains(out, "s3cr3t") {
			t.Fatalf("the token is on screen:\n%s", out)
		}
		view(t, e, s)
		cmd := s.Update(press("enter"))
		finish(t, s, cmd)
		if to := f.uploadedTo[0]; to.Server != testServer || to.Token != "capship_s3cr3t" || to.S3 != "" {
			t.Fatalf("uploaded to %+v", to)
		}
	})
	eachWidth(t, "s3_form", func(t *testing.T, e *env, f *fakeRunner) {
		f.s3["com.example.shop"] = S3Settings{Bucket: "s3://shop-bundles/live", Endpoint: "https://minio.internal:9000", PathStyle: true,
			PublicBase: "https://cdn.example.com"}
		s := newUploadStep(e, Project{}, packed(f, "1.4.0"), "", "")
		settle(t, s)
		s.Update(press("enter"))
		if s.state != uploadS3Form {
			t.Fatalf("state %v", s.state)
		}
		view(t, e, s)
	})
	eachWidth(t, "s3_bad_bucket", func(t *testing.T, e *env, f *fakeRunner) {
		s := newUploadStep(e, Project{}, packed(f, "1.4.0"), "", "")
		s.Update(press("enter"))
		s.Update(press("https://shop-bundles"))
		if s.Update(press("enter")); s.to.formErr == nil || s.to.s3Focus != s3Bucket {
			t.Fatal("an https:// bucket was taken")
		}
		view(t, e, s)
	})
	eachWidth(t, "uploading", func(t *testing.T, e *env, f *fakeRunner) {
		s := newUploadStep(e, server, packed(f, "1.4.0"), "", "")
		s.Update(press("enter"))
		if s.state != uploadUploading || !s.Busy() {
			t.Fatalf("with a token the server's way uploads at once: state %v", s.state)
		}
		s.Update(progressMsg{run: s.job.run, ev: workflow.Event{Phase: workflow.PhaseUpload, Files: 17, TotalFiles: 41, Bytes: 1_000_000, TotalBytes: 2_354_567, Skipped: 5}})
		view(t, e, s)
		s.job.cancel()
	})
	eachWidth(t, "downloading_back", func(t *testing.T, e *env, f *fakeRunner) {
		s := newUploadStep(e, server, packed(f, "1.4.0"), "", "")
		s.Update(press("enter"))
		s.Update(progressMsg{run: s.job.run, ev: workflow.Event{Phase: workflow.PhaseDownload, Files: 12, TotalFiles: 40, Bytes: 336_000, TotalBytes: 1_120_000}})
		view(t, e, s)
		s.job.cancel()
	})
	eachWidth(t, "ok", func(t *testing.T, e *env, f *fakeRunner) {
		s := newUploadStep(e, server, packed(f, "1.4.0"), "", "")
		finish(t, s, s.Update(press("enter")))
		if s.state != uploadOK {
			t.Fatalf("state %v after a good upload", s.state)
		}
		want := testServer + "/bundles/com.example.shop/" + strings.Repeat("7a", 32)
		if s.url.Value() != want+".zip" || s.files.Value() != want+".files" {
			t.Fatalf("the URL fields hold %q and %q", s.url.Value(), s.files.Value())
		}
		view(t, e, s)
		done := s.Update(press("enter"))().(uploadDone)
		if done.check.URL != want+".zip" || done.filesURL != want+".files" || !done.check.OK() {
			t.Fatalf("done %+v", done)
		}
	})
	// issue 13: a hosted file of the built size with another SHA-256 is
	// refused after an upload too, and enter does not go on.
	eachWidth(t, "mismatch_same_size", func(t *testing.T, e *env, f *fakeRunner) {
		b := packed(f, "1.4.0")
		url := testServer + "/bundles/x.zip"
		f.uploads[testServer] = Uploaded{Target: testServer, URL: url, FilesURL: testServer + "/bundles/x.files", Objects: 41, Uploaded: 41,
			Check: URLCheck{URL: url, Status: 200, ContentType: "application/octet-stream", Size: b.Size, WantSize: b.Size,
				SHA256: strings.Repeat("5f", 32), WantSHA256: b.SHA256,
				Problems: []string{"the hosted file has the same size but different bytes (its SHA-256 differs): upload the file capship built again"}}}
		s := newUploadStep(e, server, b, "", "")
		finish(t, s, s.Update(press("enter")))
		if s.state != uploadMismatch || s.zipOK {
			t.Fatalf("state %v (zip ok %v) for other bytes of the built size", s.state, s.zipOK)
		}
		if cmd := s.Update(press("enter")); cmd != nil || s.state != uploadMismatch {
			t.Fatal("enter went on from a mismatch")
		}
		view(t, e, s)
		if s.Update(press("r")); s.state != uploadUploading {
			t.Fatalf("r after a mismatch: state %v, want a new upload", s.state)
		}
		s.job.cancel()
	})
	eachWidth(t, "refused_token", func(t *testing.T, e *env, f *fakeRunner) {
		f.uploadErr = fmt.Errorf("upload: %w: the server refused the admin token (HTTP 401)", workflow.ErrAccessDenied)
		s := newUploadStep(e, server, packed(f, "1.4.0"), "", "")
		finish(t, s, s.Update(press("enter")))
		view(t, e, s)
		if s.Update(press("e")); s.state != uploadServerForm {
			t.Fatalf("e after a refused token: state %v", s.state)
		}
	})
	eachWidth(t, "no_credentials", func(t *testing.T, e *env, f *fakeRunner) {
		f.uploadErr = fmt.Errorf("upload: s3: %w: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials", workflow.ErrNoCredentials)
		s := newUploadStep(e, Project{}, packed(f, "1.4.0"), "", "")
		s.Update(press("enter"))
		s.Update(press("s3://shop-bundles"))
		for range s3PublicBase {
			s.Update(press("enter"))
		}
		finish(t, s, s.Update(press("enter")))
		if s.state != uploadFailed {
			t.Fatalf("state %v", s.state)
		}
		view(t, e, s)
		if got := f.s3["com.example.shop"]; got.Bucket != "s3://shop-bundles" {
			t.Fatalf("the bucket settings were not remembered: %+v", got)
		}
	})
	// esc stops the upload: its context ends, nothing goes on to Register,
	// and the form says what is left.
	eachWidth(t, "cancelled", func(t *testing.T, e *env, f *fakeRunner) {
		f.uploadBlock = true
		s := newUploadStep(e, server, packed(f, "1.4.0"), "", "")
		s.Update(press("enter"))
		j := s.job
		if s.Update(press("esc")); s.job != nil || s.state != uploadServerForm || s.Busy() {
			t.Fatalf("esc while uploading: state %v, job %v", s.state, s.job)
		}
		e.jobs.Wait() // the fake returns only once its context is cancelled
		if msg := j.wait()(); s.Update(msg) != nil || s.state != uploadServerForm {
			t.Fatalf("the cancelled upload's result was taken: %v", s.state)
		}
		view(t, e, s)
	})
}

// The Register step shows the registry's refusal of changed native
// packages, names each, and offers a to register anyway and m to set a
// minimum native version.
func TestRegisterNativeRefusal(t *testing.T) {
	setup := func(f *fakeRunner) *registerStep {
		f.natives = map[string]string{"@capacitor/camera": "6.1.0", "@capgo/capacitor-updater": "8.45.11", "@capacitor/geolocation": "6.0.0"}
		f.nativeServed = map[string]string{"@capacitor/camera": "6.0.0", "@capgo/capacitor-updater": "8.45.11", "@capacitor/haptics": "6.0.0"}
		return nil
	}
	start := func(t *testing.T, e *env, f *fakeRunner) *registerStep {
		setup(f)
		s := newRegisterStep(e, f.project, Release{Bundle: packed(f, "1.4.0"), URL: "https://cdn.example.com/shop-1.4.0.zip"})
		s.Update(press("enter"))
		deliver(t, s, s.Update(press("enter")))
		deliver(t, s, s.Update(press("enter")))
		if s.native == nil || !errors.Is(s.err, store.ErrNativeChange) || len(f.registered) != 0 {
			t.Fatalf("changed native packages: native %v, err %v, registered %d", s.native, s.err, len(f.registered))
		}
		return s
	}
	eachWidth(t, "refused", func(t *testing.T, e *env, f *fakeRunner) {
		s := start(t, e, f)
		out := ansi.Strip(s.View())
		for _, want := range []string{"@capacitor/camera 6.0.0 → 6.1.0 changed", "@capacitor/geolocation 6.0.0 added", "@capacitor/haptics 6.0.0 removed"} {
			if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
				t.Errorf("the refusal does not name %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "capacitor-updater") {
			t.Error("an unchanged package is named")
		}
		if s.Update(press("enter")) != nil {
			t.Error("enter registers over the refusal")
		}
		view(t, e, s)
	})
	t.Run("anyway", func(t *testing.T) {
		e, f := testEnv(80)
		s := start(t, e, f)
		cmd := s.Update(press("a"))
		msg := cmd().(tea.BatchMsg)[0]()
		done := s.Update(msg)().(registerDone)
		if len(f.registered) != 1 || !f.registered[0].AllowNativeChange || !done.release.AllowNativeChange {
			t.Fatalf("a did not register with the change allowed: %+v", f.registered)
		}
	})
	t.Run("min_native", func(t *testing.T) {
		e, f := testEnv(80)
		s := start(t, e, f)
		s.Update(press("m"))
		if s.confirm || s.focus != 1 || s.native != nil || !strings.Contains(ansi.Strip(s.View()), "lowest native version") {
			t.Fatalf("m: confirm %v, focus %d:\n%s", s.confirm, s.focus, ansi.Strip(s.View()))
		}
		s.Update(press("2.0.0"))
		deliver(t, s, s.Update(press("enter")))
		cmd := s.Update(press("enter"))
		msg := cmd().(tea.BatchMsg)[0]()
		s.Update(msg)
		if len(f.registered) != 1 || f.registered[0].MinNative != "2.0.0" || f.registered[0].AllowNativeChange {
			t.Fatalf("m then 2.0.0 registered %+v", f.registered)
		}
	})
}

// A token the wizard was started with that the server refuses: e opens
// the form with a token field, as the hint says, and the token typed
// there is the one sent.
func TestUploadRefusedTokenAsksForAnother(t *testing.T) {
	e, f := testEnv(100)
	f.uploadErr = fmt.Errorf("upload: %w: the server refused the admin token (HTTP 401)", workflow.ErrAccessDenied)
	s := newUploadStep(e, Project{Server: testServer, HasToken: true}, packed(f, "1.4.0"), "", "")
	finish(t, s, s.Update(press("enter")))
	if s.Update(press("e")); s.state != uploadServerForm {
		t.Fatalf("e after a refused token: state %v", s.state)
	}
	if out := ansi.Strip(s.View()); !strings.Contains(out, "Admin token") {
		t.Fatalf("the form after a refused token has no token field:\n%s", out)
	}
	f.uploadErr = nil
	s.Update(press("tab"))
	s.Update(press("capship_other"))
	finish(t, s, s.Update(press("enter")))
	if got := f.uploadedTo[len(f.uploadedTo)-1].Token; got != "capship_other" {
		t.Errorf("uploaded with token %q, want the one typed", got)
	}
}
