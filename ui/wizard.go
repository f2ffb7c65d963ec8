// Package ui is capship's release wizard: one small Bubble Tea model per
// step and a root model that sequences them. All real work happens in
// commands that call a Runner; Update and View only move state and draw.
package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// step is one screen of the wizard. It reports that it is finished by
// returning a command that yields its done message (projectDone, ...), and
// asks to go back with backMsg.
type step interface {
	Init() tea.Cmd
	Update(msg tea.Msg) tea.Cmd
	View() string
	// Help lists the keys that work right now, for the footer.
	Help() []key.Binding
	// Busy reports that a job runs: ctrl+c then cancels it instead of
	// quitting, so that nothing is left half-written.
	Busy() bool
	// Resize tells the step the size of the body area.
	Resize(width, height int)
}

// The steps, in order.
const (
	stepProject = iota
	stepKeys
	stepSource
	stepPack
	stepUpload
	stepRegister
	stepDone
)

var stepNames = []string{"Project", "Keys", "Build", "Pack", "Upload", "Register", "Done"}

// backMsg asks the root to go to the previous step.
type backMsg struct{}

func goBack() tea.Msg { return backMsg{} }

// Done messages: each carries what its step produced.
type (
	projectDone struct {
		project Project
		key     KeyInfo
	}
	keysDone struct {
		key     KeyInfo
		project Project // read again when the step wrote the config
	}
	sourceDone struct {
		dir       string
		version   string
		preflight Preflight
		latest    string
	}
	packDone   struct{ bundle Bundle }
	uploadDone struct {
		check    URLCheck
		filesURL string // base URL of the checked objects; "" for a zip-only release
	}
	registerDone struct {
		registered Registered
		release    Release
	}
)

// Options configures a wizard.
type Options struct {
	Dir        string // the app's folder
	ConfigPath string // optional: the Capacitor config file
	// Renderer decides the color profile; nil means lipgloss's default
	// (which follows the terminal and NO_COLOR).
	Renderer *lipgloss.Renderer
}

// Result is what the wizard achieved, for printing after it exits.
type Result struct {
	Project    Project
	Key        KeyInfo
	Bundle     Bundle
	URL        string
	FilesURL   string // base URL of the delta objects; "" when registered as a zip only
	Registered *Registered
}

// Model is the root of the wizard.
type Model struct {
	env     *env
	opts    Options
	help    help.Model
	current int
	step    step
	width   int
	height  int
	quit    bool
	res     Result
	source  sourceDone // remembered when going back
	channel string
	minNat  string
}

// New returns the wizard for the app in opts.Dir.
func New(ctx context.Context, r Runner, opts Options) *Model {
	rend := opts.Renderer
	if rend == nil {
		rend = lipgloss.DefaultRenderer()
	}
	st := NewStyles(rend)
	h := help.New()
	h.Styles.ShortKey = st.Value
	h.Styles.ShortDesc = st.Muted
	h.Styles.ShortSeparator = st.Muted
	h.Styles.Ellipsis = st.Muted
	m := &Model{
		env:    &env{ctx: ctx, run: r, st: st, keys: DefaultKeyMap(), width: 78, height: 24 - chromeLines},
		opts:   opts,
		help:   h,
		width:  80,
		height: 24,
	}
	m.step = m.newStep(stepProject)
	return m
}

// Wait blocks until the jobs the wizard started (a pack, a download check)
// have returned, at most timeout, so that a cancelled pack has removed its
// temp file before the process exits. It reports whether they all ended.
func (m *Model) Wait(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() {
		m.env.jobs.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Result returns what the wizard achieved so far.
func (m *Model) Result() Result { return m.res }

// Init starts the first step.
func (m *Model) Init() tea.Cmd { return m.step.Init() }

// header and footer heights, used to size the body.
const chromeLines = 4

func (m *Model) newStep(i int) step {
	var s step
	switch i {
	case stepProject:
		s = newProjectStep(m.env, m.opts.Dir, m.opts.ConfigPath)
	case stepKeys:
		s = newKeysStep(m.env, m.res.Project, m.res.Key)
	case stepSource:
		dir, version := m.source.dir, m.source.version
		if dir == "" {
			dir = m.res.Project.WebDir
		}
		if version == "" {
			version = m.res.Project.Version
		}
		s = newSourceStep(m.env, m.res.Project, dir, version)
	case stepPack:
		s = newPackStep(m.env, BuildRequest{Project: m.res.Project, Dir: m.source.dir, Version: m.source.version}, m.source.preflight)
	case stepUpload:
		s = newUploadStep(m.env, m.res.Project, m.res.Bundle, m.res.URL, m.res.FilesURL)
	case stepRegister:
		s = newRegisterStep(m.env, m.res.Project, Release{Bundle: m.res.Bundle, URL: m.res.URL, FilesURL: m.res.FilesURL,
			Channel: m.channel, MinNative: m.minNat})
	default:
		s = newDoneStep(m.env, m.res)
	}
	s.Resize(m.env.width, m.env.height)
	return s
}

func (m *Model) goTo(i int) tea.Cmd {
	m.current = i
	m.step = m.newStep(i)
	return m.step.Init()
}

// Update routes messages: window size to everyone who needs it, keys and
// job results to the current step only, done messages to the sequencer.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	defer func() {
		if r := recover(); r != nil {
			m.env.crash.repanic(r)
		}
	}()
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.env.width = max(msg.Width-2, 20) // App style pads one column each side
		m.env.height = max(msg.Height-chromeLines, 5)
		m.help.Width = m.env.width
		m.step.Resize(m.env.width, m.env.height)
		return m, nil
	case tea.KeyMsg:
		if key.Matches(msg, m.env.keys.Quit) && !m.step.Busy() {
			m.quit = true
			return m, tea.Quit
		}
		return m, m.step.Update(msg)
	case backMsg:
		switch {
		case m.current == stepUpload:
			// Back past the pack: going "back" must not start a new pack.
			return m, m.goTo(stepSource)
		case m.current > stepProject && m.current < stepDone:
			return m, m.goTo(m.current - 1)
		}
		return m, nil
	case projectDone:
		m.res.Project, m.res.Key = msg.project, msg.key
		return m, m.goTo(stepKeys)
	case keysDone:
		m.res.Key = msg.key
		if msg.project.ConfigPath != "" {
			m.res.Project = msg.project
		}
		return m, m.goTo(stepSource)
	case sourceDone:
		if msg.preflight.Blocking() || msg.version == "" {
			return m, nil // the step should not have let this through
		}
		m.source = msg
		return m, m.goTo(stepPack)
	case packDone:
		if msg.bundle.File == "" {
			return m, nil
		}
		if msg.bundle.File != m.res.Bundle.File || msg.bundle.SHA256 != m.res.Bundle.SHA256 {
			m.res.URL, m.res.FilesURL = "", "" // a new file must be uploaded anew
		}
		m.res.Bundle = msg.bundle
		return m, m.goTo(stepUpload)
	case uploadDone:
		if !msg.check.OK() {
			return m, nil
		}
		m.res.URL, m.res.FilesURL = msg.check.URL, msg.filesURL
		return m, m.goTo(stepRegister)
	case registerDone:
		r := msg.registered
		m.res.Registered = &r
		m.channel, m.minNat = msg.release.Channel, msg.release.MinNative
		return m, m.goTo(stepDone)
	case quitMsg:
		m.quit = true
		return m, tea.Quit
	}
	return m, m.step.Update(msg)
}

// quitMsg ends the wizard from a step (the done step's enter).
type quitMsg struct{}

// View draws header, the current step and the footer.
func (m *Model) View() string {
	defer func() {
		if r := recover(); r != nil {
			m.env.crash.repanic(r)
		}
	}()
	if m.quit {
		return ""
	}
	st := m.env.st
	var b strings.Builder
	b.WriteString(st.Title.Render("capship · release wizard"))
	if app := m.res.Project.AppID; app != "" {
		b.WriteString(st.Muted.Render("  " + app))
	}
	b.WriteString("\n")
	b.WriteString(m.breadcrumb())
	b.WriteString("\n\n")
	body := m.step.View()
	body = lipgloss.NewStyle().MaxHeight(m.env.height).Render(body)
	b.WriteString(body)
	if pad := m.env.height - lipgloss.Height(body); pad > 0 {
		b.WriteString(strings.Repeat("\n", pad))
	}
	b.WriteString("\n")
	keys := m.step.Help()
	if !m.step.Busy() {
		keys = append(keys, m.env.keys.Quit)
	}
	b.WriteString(m.help.View(bindings(keys)))
	return st.App.Render(b.String())
}

// breadcrumb shows where the user is: every step name when it fits,
// "step 3 of 7 · Build" when it does not.
func (m *Model) breadcrumb() string {
	st := m.env.st
	parts := make([]string, len(stepNames))
	plain := 0
	for i, n := range stepNames {
		switch {
		case i == m.current:
			n = "[" + n + "]" // visible without color too
			parts[i] = st.StepOn.Render(n)
		case i < m.current:
			n = "✓" + n
			parts[i] = st.StepDone.Render(n)
		default:
			parts[i] = st.StepTodo.Render(n)
		}
		plain += ansi.StringWidth(n) + 3
	}
	if plain <= m.env.width {
		return strings.Join(parts, st.Muted.Render(" › "))
	}
	return st.Muted.Render(fmt.Sprintf("step %d of %d · ", m.current+1, len(stepNames))) + parts[m.current]
}
