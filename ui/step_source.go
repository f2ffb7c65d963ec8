package ui

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/bubbles/filepicker"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"capship/workflow"
)

// sourceStep picks the build folder (default: the config's webDir, or any
// folder through a picker), shows its preflight and asks for the version.
type sourceStep struct {
	env       *env
	project   Project
	dir       string
	version   textinput.Model
	picker    filepicker.Model
	picking   bool
	checkRun  int
	checked   bool
	preflight Preflight
	checkErr  error
	latestRun int
	latest    string
	latestErr error
	verErr    error
	verWarn   string
	tried     bool   // enter was pressed: show version errors
	bumpRun   int    // run id of the package.json write in flight
	bumped    string // the version written to package.json by this step
	bumpErr   error
}

type latestResult struct{ version string }

func newSourceStep(e *env, p Project, dir, version string) *sourceStep {
	ti := newInput("1.0.0", version, 64)
	ti.Focus()
	s := &sourceStep{env: e, project: p, dir: dir, version: ti}
	s.Resize(e.width, e.height)
	return s
}

func (s *sourceStep) Init() tea.Cmd {
	r, app := s.env.run, s.project.AppID
	ctx := s.env.ctx
	var latest tea.Cmd
	s.latestRun, latest = s.env.do(func() (any, error) {
		v, err := r.LatestVersion(ctx, app)
		return latestResult{v}, err
	})
	return tea.Batch(s.check(), latest, textinput.Blink)
}

func (s *sourceStep) check() tea.Cmd {
	r, dir := s.env.run, s.dir
	s.checked, s.checkErr = false, nil
	var cmd tea.Cmd
	s.checkRun, cmd = s.env.do(func() (any, error) { return r.Preflight(dir) })
	return cmd
}

func (s *sourceStep) Busy() bool { return false }

func (s *sourceStep) Resize(width, height int) {
	s.version.Width = max(min(width-4, 30), 10)
	s.picker.Height = max(height-5, 3)
}

func (s *sourceStep) Help() []key.Binding {
	k := s.env.keys
	if s.picking {
		return []key.Binding{k.Move, k.Select, k.Enter, k.Parent, k.CloseFP}
	}
	h := []key.Binding{with(k.Next, "pack"), k.Pick}
	if s.checked && (s.checkErr != nil || len(s.preflight.Problems) > 0) {
		h = append(h, k.Recheck)
	}
	if next := s.nextVersion(); next != "" {
		h = append(h, with(k.Bump, "use "+next))
	}
	return append(h, k.Back)
}

// nextVersion is the version to offer when the typed one is not newer than
// the newest registered one: the next patch after that; "" otherwise.
func (s *sourceStep) nextVersion() string {
	if s.latest == "" || s.verErr != nil || s.verWarn == "" || s.bumpRun != 0 {
		return ""
	}
	next, err := workflow.NextPatch(s.latest)
	if err != nil {
		return ""
	}
	return next
}

func (s *sourceStep) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case resultMsg:
		switch msg.run {
		case s.checkRun:
			s.checked = true
			if msg.err != nil {
				s.checkErr = msg.err
				return nil
			}
			s.preflight = msg.val.(Preflight)
		case s.bumpRun:
			s.bumpRun = 0
			if msg.err != nil {
				s.bumpErr = msg.err
				return nil
			}
			s.bumped = msg.val.(string)
			s.version.SetValue(s.bumped)
			s.version.CursorEnd()
			s.validate()
		case s.latestRun:
			if msg.err != nil {
				s.latestErr = msg.err
				return nil
			}
			s.latest = msg.val.(latestResult).version
			s.validate()
		}
		return nil
	case tea.KeyMsg:
		if s.picking {
			return s.pickKey(msg)
		}
		k := s.env.keys
		switch {
		case key.Matches(msg, k.Back):
			return goBack
		case key.Matches(msg, k.Pick):
			return s.openPicker()
		case key.Matches(msg, k.Recheck):
			return s.check()
		case key.Matches(msg, k.Bump):
			next := s.nextVersion()
			if next == "" {
				return nil
			}
			r, p := s.env.run, s.project
			s.bumpErr = nil
			var cmd tea.Cmd
			s.bumpRun, cmd = s.env.do(func() (any, error) { return next, r.SetVersion(p, next) })
			return cmd
		case key.Matches(msg, k.Next):
			s.tried = true
			s.validate()
			if s.verErr != nil || !s.checked || s.checkErr != nil || s.preflight.Blocking() || s.bumpRun != 0 {
				return nil
			}
			d := sourceDone{dir: s.dir, version: strings.TrimSpace(s.version.Value()), preflight: s.preflight, latest: s.latest}
			return func() tea.Msg { return d }
		}
		var cmd tea.Cmd
		s.version, cmd = s.version.Update(msg)
		s.validate()
		return cmd
	}
	if s.picking {
		var cmd tea.Cmd
		s.picker, cmd = s.picker.Update(msg)
		return cmd
	}
	var cmd tea.Cmd
	s.version, cmd = s.version.Update(msg)
	return cmd
}

func (s *sourceStep) validate() {
	s.verWarn, s.verErr = checkVersion(s.version.Value(), s.latest)
}

func (s *sourceStep) openPicker() tea.Cmd {
	fp := filepicker.New()
	fp.DirAllowed, fp.FileAllowed = true, false
	fp.ShowPermissions, fp.ShowSize = false, false
	fp.AutoHeight = false
	fp.Height = max(s.env.height-5, 3)
	fp.CurrentDirectory = filepath.Dir(s.dir)
	if s.dir == "" {
		fp.CurrentDirectory = s.project.Dir
	}
	fp.KeyMap.Back = key.NewBinding(key.WithKeys("h", "left", "backspace"))
	fp.KeyMap.Open = key.NewBinding(key.WithKeys("l", "right", "enter"))
	fp.Styles = filepicker.DefaultStylesWithRenderer(s.env.st.Renderer)
	fp.Styles.Cursor = s.env.st.Cursor
	fp.Styles.Selected = s.env.st.Cursor
	fp.Styles.Directory = s.env.st.Code
	s.picker, s.picking = fp, true
	return fp.Init()
}

func (s *sourceStep) pickKey(msg tea.KeyMsg) tea.Cmd {
	if key.Matches(msg, s.env.keys.CloseFP) {
		s.picking = false
		return nil
	}
	var cmd tea.Cmd
	s.picker, cmd = s.picker.Update(msg)
	if ok, path := s.picker.DidSelectFile(msg); ok {
		s.picking = false
		s.dir = path
		return s.check()
	}
	return cmd
}

func (s *sourceStep) View() string {
	st := s.env.st
	var b strings.Builder
	b.WriteString(st.Heading.Render("Build folder and version"))
	b.WriteString("\n")
	if s.picking {
		b.WriteString(st.Label.Render("Choose the web build folder (enter uses the highlighted folder):"))
		b.WriteString("\n" + st.Code.Render(shorten(s.picker.CurrentDirectory, s.env.width)) + "\n")
		b.WriteString(strings.TrimRight(s.picker.View(), "\n"))
		return b.String()
	}
	b.WriteString(fields(st,
		[2]string{"Folder", st.Code.Render(shorten(s.dir, s.env.width-10))},
		[2]string{"Contents", s.contents()},
	))
	b.WriteString("\n")
	b.WriteString(s.problems())
	b.WriteString("\n")
	b.WriteString(st.Focus.Render("Version") + st.Muted.Render(s.latestNote()) + "\n")
	if s.latestErr != nil {
		b.WriteString(s.env.say(st.Warn, "! could not read the registry, so the version is not compared: "+s.latestErr.Error()) + "\n")
	}
	b.WriteString(s.version.View())
	switch {
	case s.verErr != nil && (s.tried || s.version.Value() != ""):
		b.WriteString("\n" + s.env.say(st.Bad, "✗ "+s.verErr.Error()))
	case s.bumpErr != nil:
		b.WriteString("\n" + s.env.say(st.Bad, "✗ "+s.bumpErr.Error()+" (type the version, and set it in package.json by hand)"))
	case s.verWarn != "" && s.nextVersion() != "":
		b.WriteString("\n" + s.env.say(st.Warn, "! "+s.verWarn+". Press ctrl+n to use "+s.nextVersion()+" and write it to package.json."))
	case s.verWarn != "":
		b.WriteString("\n" + s.env.say(st.Warn, "! "+s.verWarn))
	case s.bumped != "" && strings.TrimSpace(s.version.Value()) == s.bumped:
		b.WriteString("\n" + s.env.say(st.Good, "✓ package.json now says "+s.bumped+"."))
	}
	return b.String()
}

func (s *sourceStep) latestNote() string {
	switch {
	case s.latestErr != nil:
		return ""
	case s.latest != "":
		return "  (newest registered: " + s.latest + ")"
	}
	return "  (nothing registered yet)"
}

func (s *sourceStep) contents() string {
	st := s.env.st
	switch {
	case !s.checked:
		return st.Muted.Render("checking…")
	case s.checkErr != nil:
		return st.Bad.Render("✗ cannot be packed")
	}
	return fmt.Sprintf("%d files, %s", s.preflight.Files, sizeOf(s.preflight.Bytes))
}

// problems lists blocking errors first, then warnings, within the space
// the terminal has; the rest is counted.
func (s *sourceStep) problems() string {
	st := s.env.st
	if !s.checked || s.checkErr != nil {
		if s.checkErr != nil {
			return errorView(st, s.env.width, s.checkErr, "Press ctrl+r to check again, or ctrl+o to choose another folder.") + "\n"
		}
		return ""
	}
	var block, warn []Problem
	for _, p := range s.preflight.Problems {
		if p.Blocking {
			block = append(block, p)
		} else {
			warn = append(warn, p)
		}
	}
	if len(block)+len(warn) == 0 {
		return s.env.say(st.Good, "✓ index.html at the root, notifyAppReady found, nothing to fix") + "\n"
	}
	room := max(s.env.height-9, 2) // lines left for problems
	var b strings.Builder
	shown := 0
	for _, p := range append(block, warn...) {
		mark, style := "! ", st.Warn
		if p.Blocking {
			mark, style = "✗ ", st.Bad
		}
		text := p.Message
		if p.Path != "" && p.Path != "." && !strings.Contains(text, p.Path) {
			text = p.Path + ": " + text
		}
		line := s.env.say(style, mark+text)
		if n := strings.Count(line, "\n") + 1; n > room {
			break
		} else {
			room -= n
		}
		b.WriteString(line + "\n")
		shown++
	}
	if rest := len(block) + len(warn) - shown; rest > 0 {
		b.WriteString(st.Muted.Render(fmt.Sprintf("… and %d more", rest)) + "\n")
	}
	if len(block) > 0 {
		b.WriteString(s.env.say(st.Muted, "Fix the ✗ problems and press ctrl+r to check again, or choose another folder with ctrl+o.") + "\n")
	}
	return b.String()
}
