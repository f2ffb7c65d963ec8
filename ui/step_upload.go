package ui

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"capship/workflow"
)

// uploadStep tells the user which file to upload, takes its URL, then
// downloads it back and compares it with the built file.
type uploadStep struct {
	env     *env
	bundle  Bundle
	url     textinput.Model
	state   uploadState
	urlErr  error
	warning string
	job     *job
	ev      workflow.Event
	bar     progress.Model
	check   URLCheck
	err     error // the download could not be made at all
}

type uploadState int

const (
	uploadEditing uploadState = iota
	uploadChecking
	uploadMismatch
	uploadFailed
	uploadOK
)

func newUploadStep(e *env, b Bundle, url string) *uploadStep {
	ti := newInput("https://cdn.example.com/releases/app-1.0.1.zip", url, 2048)
	ti.Focus()
	s := &uploadStep{env: e, bundle: b, url: ti, bar: e.newBar()}
	s.Resize(e.width, e.height)
	return s
}

func (s *uploadStep) Init() tea.Cmd { return textinput.Blink }

func (s *uploadStep) Busy() bool { return s.state == uploadChecking }

func (s *uploadStep) Resize(width, height int) {
	s.url.Width = max(width-4, 10)
	s.bar.Width = max(min(width-2, 72), 10)
}

func (s *uploadStep) Help() []key.Binding {
	k := s.env.keys
	switch s.state {
	case uploadEditing:
		return []key.Binding{with(k.Next, "check url"), k.Back}
	case uploadChecking:
		return []key.Binding{k.Cancel}
	case uploadOK:
		return []key.Binding{with(k.Next, "register"), k.Edit, k.Back}
	}
	return []key.Binding{k.Retry, k.Edit, k.Back}
}

func (s *uploadStep) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case progressMsg:
		if s.job == nil || msg.run != s.job.run {
			return nil
		}
		s.ev = msg.ev
		return s.job.wait()
	case resultMsg:
		if s.job == nil || msg.run != s.job.run {
			return nil
		}
		s.job = nil
		switch {
		case msg.err != nil:
			s.state, s.err = uploadFailed, msg.err
		case msg.val.(URLCheck).OK():
			s.state, s.check = uploadOK, msg.val.(URLCheck)
		default:
			s.state, s.check = uploadMismatch, msg.val.(URLCheck)
		}
		return nil
	case tea.KeyMsg:
		return s.onKey(msg)
	}
	if s.state == uploadEditing {
		var cmd tea.Cmd
		s.url, cmd = s.url.Update(msg)
		return cmd
	}
	return nil
}

func (s *uploadStep) onKey(msg tea.KeyMsg) tea.Cmd {
	k := s.env.keys
	switch s.state {
	case uploadEditing:
		switch {
		case key.Matches(msg, k.Back):
			return goBack
		case key.Matches(msg, k.Next):
			return s.startCheck()
		}
		var cmd tea.Cmd
		s.url, cmd = s.url.Update(msg)
		s.urlErr = nil
		return cmd
	case uploadChecking:
		if key.Matches(msg, k.Cancel) {
			s.job.cancel()
			s.job = nil // drop whatever it still sends
			s.state = uploadEditing
			return s.url.Focus()
		}
	case uploadOK:
		switch {
		case key.Matches(msg, k.Next):
			c := s.check
			return func() tea.Msg { return uploadDone{check: c} }
		case key.Matches(msg, k.Edit):
			s.state = uploadEditing
			return s.url.Focus()
		case key.Matches(msg, k.Back):
			return goBack
		}
	default:
		switch {
		case key.Matches(msg, k.Retry):
			return s.startCheck()
		case key.Matches(msg, k.Edit):
			s.state = uploadEditing
			return s.url.Focus()
		case key.Matches(msg, k.Back):
			return goBack
		}
	}
	return nil
}

func (s *uploadStep) startCheck() tea.Cmd {
	raw := strings.TrimSpace(s.url.Value())
	warning, err := s.env.run.ValidateURL(raw) // parsing only, no I/O
	if err != nil {
		s.state, s.urlErr = uploadEditing, err
		return nil
	}
	s.warning, s.urlErr, s.err = warning, nil, nil
	s.state, s.ev = uploadChecking, workflow.Event{Phase: workflow.PhaseDownload, TotalBytes: s.bundle.Size}
	s.url.Blur()
	r, b := s.env.run, s.bundle
	var cmd tea.Cmd
	s.job, cmd = s.env.start(func(ctx context.Context, report func(workflow.Event)) (any, error) {
		return r.CheckURL(ctx, raw, b, report)
	})
	return cmd
}

func (s *uploadStep) View() string {
	st := s.env.st
	var b strings.Builder
	b.WriteString(st.Heading.Render("Upload and check"))
	b.WriteString("\n")
	b.WriteString("Upload this file to your storage (S3, R2, a CDN, any web server):\n")
	b.WriteString(st.Code.Render(shorten(s.bundle.File, s.env.width)) + "\n")
	b.WriteString(st.Muted.Render(fmt.Sprintf("%s · sha256 %s", sizeOf(s.bundle.Size), shorten(s.bundle.SHA256, max(s.env.width-20, 12)))) + "\n\n")
	switch s.state {
	case uploadEditing:
		b.WriteString(st.Focus.Render("Its public URL") + st.Muted.Render("  (https://; http only for 127.0.0.1, ::1, localhost)") + "\n")
		b.WriteString(s.url.View())
		if s.urlErr != nil {
			b.WriteString("\n" + s.env.say(st.Bad, "✗ "+s.urlErr.Error()))
		}
	case uploadChecking:
		b.WriteString("Downloading " + st.Code.Render(shorten(s.url.Value(), s.env.width-14)) + "\n")
		frac := 0.0
		if s.ev.TotalBytes > 0 {
			frac = min(float64(s.ev.Bytes)/float64(s.ev.TotalBytes), 1)
		}
		b.WriteString(s.bar.ViewAs(frac) + "\n")
		b.WriteString(st.Muted.Render(fmt.Sprintf("%s of %s", sizeOf(s.ev.Bytes), sizeOf(s.ev.TotalBytes))))
		s.warnLine(&b)
	case uploadFailed:
		b.WriteString(errorView(st, s.env.width, s.err, "Check that the URL is reachable from this machine, then press r to retry or e to edit it."))
	case uploadMismatch:
		b.WriteString(s.mismatchView())
	case uploadOK:
		b.WriteString(s.env.say(st.Good, "✓ The URL serves exactly the built file.") + "\n")
		b.WriteString(fields(st,
			[2]string{"URL", st.Code.Render(shorten(s.check.URL, s.env.width-12))},
			[2]string{"HTTP", fmt.Sprintf("%d, %s", s.check.Status, orDash(s.check.ContentType))},
			[2]string{"Size", sizeOf(s.check.Size) + " ✓"},
			[2]string{"SHA-256", "matches ✓"},
		))
		s.warnLine(&b)
	}
	return b.String()
}

func (s *uploadStep) warnLine(b *strings.Builder) {
	if s.warning != "" {
		b.WriteString("\n" + s.env.say(s.env.st.Warn, "! "+s.warning))
	}
}

// mismatchView says precisely what differs between the hosted file and the
// built one.
func (s *uploadStep) mismatchView() string {
	st := s.env.st
	c := s.check
	mark := func(ok bool) string {
		if ok {
			return st.Good.Render("✓")
		}
		return st.Bad.Render("✗")
	}
	w := max(s.env.width-30, 12)
	got, shaOK := shorten(c.SHA256, w), c.SHA256 == c.WantSHA256
	if c.SHA256 == "" {
		got, shaOK = st.Muted.Render("not compared: the download is not the built size"), false
	}
	var b strings.Builder
	b.WriteString(s.env.say(st.Bad, "✗ The URL does not serve the built file.") + "\n")
	b.WriteString(fields(st,
		[2]string{"URL", st.Code.Render(shorten(c.URL, s.env.width-16))},
		[2]string{"HTTP status", fmt.Sprintf("%s %d", mark(c.Status == 200), c.Status)},
		[2]string{"Size", fmt.Sprintf("%s %s, want %s", mark(c.Size == c.WantSize), sizeOf(c.Size), sizeOf(c.WantSize))},
		[2]string{"SHA-256", fmt.Sprintf("%s %s", mark(shaOK), got)},
		[2]string{"", st.Muted.Render("want " + shorten(c.WantSHA256, w))},
		[2]string{"Content type", orDash(c.ContentType)},
	))
	for _, p := range c.Problems {
		b.WriteString("\n" + s.env.say(st.Warn, "• "+p))
	}
	b.WriteString("\n" + s.env.say(st.Muted, "Fix the upload and press r to check again, or e to edit the URL."))
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
