package ui

import (
	"errors"

	"capship/store"
	"capship/workflow"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"
)

// projectStep reads the app's config and the keychain state, and shows
// what the wizard is about to work on.
type projectStep struct {
	env       *env
	dir, conf string
	pending   int
	spin      spinner.Model
	project   Project
	key       KeyInfo
	keyErr    error
	err       error
	loaded    bool
}

type projectLoaded struct {
	project Project
	key     KeyInfo
	keyErr  error
}

func newProjectStep(e *env, dir, conf string) *projectStep {
	return &projectStep{env: e, dir: dir, conf: conf, spin: e.newSpinner()}
}

func (s *projectStep) Init() tea.Cmd { return tea.Batch(s.load(), s.spin.Tick) }

func (s *projectStep) load() tea.Cmd {
	r, dir, conf := s.env.run, s.dir, s.conf
	s.loaded, s.err = false, nil
	var cmd tea.Cmd
	s.pending, cmd = s.env.do(func() (any, error) {
		p, err := r.LoadProject(dir, conf)
		if err != nil {
			return nil, err
		}
		k, kerr := r.KeyState(p)
		return projectLoaded{project: p, key: k, keyErr: kerr}, nil
	})
	return cmd
}

func (s *projectStep) Busy() bool               { return false }
func (s *projectStep) Resize(width, height int) {}

func (s *projectStep) Help() []key.Binding {
	k := s.env.keys
	switch {
	case !s.loaded && s.err == nil:
		return nil
	case s.err != nil || s.keyErr != nil:
		return []key.Binding{k.Retry}
	}
	return []key.Binding{k.Next, with(k.Retry, "reload")}
}

func (s *projectStep) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case resultMsg:
		if msg.run != s.pending {
			return nil
		}
		s.loaded = true
		if msg.err != nil {
			s.err = msg.err
			return nil
		}
		l := msg.val.(projectLoaded)
		s.project, s.key, s.keyErr = l.project, l.key, l.keyErr
	case spinner.TickMsg:
		return spin(&s.spin, !s.loaded, msg)
	case tea.KeyMsg:
		k := s.env.keys
		switch {
		case key.Matches(msg, k.Retry) && s.loaded:
			return tea.Batch(s.load(), s.spin.Tick)
		case key.Matches(msg, k.Next) && s.loaded && s.err == nil && s.keyErr == nil:
			p, kk := s.project, s.key
			return func() tea.Msg { return projectDone{project: p, key: kk} }
		}
	}
	return nil
}

func (s *projectStep) View() string {
	st := s.env.st
	head := st.Heading.Render("Your app")
	if !s.loaded {
		return head + "\n" + s.spin.View() + " reading the Capacitor config in " + st.Code.Render(s.dir)
	}
	if s.err != nil {
		return head + "\n" + errorView(st, s.env.width, s.err, projectHint(s.err))
	}
	p := s.project
	version := p.Version
	if version == "" {
		version = st.Muted.Render("none in package.json")
	}
	w := s.env.width - 16
	out := head + "\n" + fields(st,
		[2]string{"App id", st.Value.Render(p.AppID)},
		[2]string{"Config", st.Code.Render(shorten(p.ConfigPath, w))},
		[2]string{"Build folder", st.Code.Render(shorten(p.WebDir, w))},
		[2]string{"Version", version},
		[2]string{"Signing key", s.keyLine()},
		[2]string{"Releases go to", shorten(p.Registry, w)},
	)
	if s.keyErr != nil {
		out += "\n\n" + errorView(st, s.env.width, s.keyErr, keychainHint(s.keyErr))
		return out
	}
	return out + "\n\n" + s.env.say(st.Muted, "Press enter to check the signing key.")
}

func (s *projectStep) keyLine() string {
	st := s.env.st
	if s.keyErr != nil {
		return st.Bad.Render("keychain not usable")
	}
	switch s.key.State {
	case KeyMissing:
		return st.Warn.Render("none yet: the next step creates or imports one")
	case KeyConfigMatches:
		return st.Good.Render("✓ in the keychain, id " + s.key.KeyID)
	case KeyConfigMissing:
		return st.Warn.Render("in the keychain, but the config has no public key")
	default:
		return st.Bad.Render("in the keychain, but the config holds ANOTHER public key")
	}
}

// projectHint says what to do about a project that cannot be read.
func projectHint(err error) string {
	if errors.Is(err, workflow.ErrNoConfig) {
		return "Run capship in your Capacitor app's folder, or pass -C DIR or --config PATH. Then press r."
	}
	return "Fix the file named above, then press r to read it again."
}

// keychainHint says what to do when the keychain cannot be used: the
// wizard keeps keys there only, the commands also take a key file.
func keychainHint(err error) string {
	if errors.Is(err, store.ErrNoKeychain) {
		return "The wizard keeps keys in the OS keychain only. Start one and press r, or quit: capship --no-input prints the steps as commands, whose bundle build signs with --key-file FILE (capship key generate makes that file)."
	}
	return "The wizard needs the keychain to sign bundles. Fix the cause above, then press r."
}
