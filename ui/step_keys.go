package ui

import (
	"errors"
	"path/filepath"
	"strings"

	"capship/store"
	"capship/workflow"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/spinner"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
)

// keysStep makes sure the app has a signing key in the keychain and that
// the app's config carries its public half.
type keysStep struct {
	env     *env
	project Project
	key     KeyInfo
	choice  int  // 0 create, 1 import (when there is no key)
	typing  bool // entering the path of a key file
	path    textinput.Model
	pending int // run id of the keychain/config call in flight, 0 if none
	doing   string
	spin    spinner.Model
	err     error
	wrote   bool
}

func newKeysStep(e *env, p Project, k KeyInfo) *keysStep {
	ti := newInput(".capgo_key_v2", filepath.Join(p.Dir, ".capgo_key_v2"), 4096)
	s := &keysStep{env: e, project: p, key: k, path: ti, spin: e.newSpinner()}
	if k.State == KeyMissing && strings.TrimSpace(p.PublicKey) != "" {
		s.choice = 1 // the config names a key already: bring that one in
	}
	s.Resize(e.width, e.height)
	return s
}

func (s *keysStep) Init() tea.Cmd { return nil }

func (s *keysStep) Busy() bool { return false }

func (s *keysStep) Resize(width, height int) { s.path.Width = max(width-8, 10) }

func (s *keysStep) Help() []key.Binding {
	k := s.env.keys
	switch {
	case s.pending != 0:
		return nil
	case s.typing:
		return []key.Binding{with(k.Next, "import"), with(k.Back, "cancel")}
	case s.key.State == KeyMissing:
		return []key.Binding{k.Up, k.Down, with(k.Next, "choose"), k.Back}
	case s.key.State == KeyConfigMatches:
		return []key.Binding{k.Next, k.Back}
	}
	return []key.Binding{k.Write, with(k.Next, "continue anyway"), k.Back}
}

type keyResult struct{ key KeyInfo }

func (s *keysStep) call(doing string, fn func() (KeyInfo, error)) tea.Cmd {
	s.doing, s.err = doing, nil
	var cmd tea.Cmd
	s.pending, cmd = s.env.do(func() (any, error) {
		k, err := fn()
		return keyResult{k}, err
	})
	return tea.Batch(cmd, s.spin.Tick)
}

func (s *keysStep) Update(msg tea.Msg) tea.Cmd {
	r, p := s.env.run, s.project
	switch msg := msg.(type) {
	case resultMsg:
		if msg.run != s.pending {
			return nil
		}
		s.pending = 0
		if msg.err != nil {
			s.err = msg.err
			return nil
		}
		if s.doing == "writing" {
			s.wrote = true
		}
		s.typing = false
		s.key = msg.val.(keyResult).key
		return nil
	case spinner.TickMsg:
		return spin(&s.spin, s.pending != 0, msg)
	case tea.KeyMsg:
		if s.pending != 0 {
			return nil
		}
		return s.onKey(msg, r, p)
	}
	if s.typing {
		var cmd tea.Cmd
		s.path, cmd = s.path.Update(msg)
		return cmd
	}
	return nil
}

func (s *keysStep) onKey(msg tea.KeyMsg, r Runner, p Project) tea.Cmd {
	k := s.env.keys
	if s.typing {
		switch {
		case key.Matches(msg, k.Back):
			s.typing, s.err = false, nil
			s.path.Blur()
			return nil
		case key.Matches(msg, k.Next):
			path := strings.TrimSpace(s.path.Value())
			return s.call("importing", func() (KeyInfo, error) { return r.ImportKey(p, path) })
		}
		var cmd tea.Cmd
		s.path, cmd = s.path.Update(msg)
		return cmd
	}
	if key.Matches(msg, k.Back) {
		return goBack
	}
	if s.key.State == KeyMissing {
		switch {
		case key.Matches(msg, k.Up):
			s.choice = 0
		case key.Matches(msg, k.Down):
			s.choice = 1
		case key.Matches(msg, k.Next) && s.choice == 0:
			return s.call("creating", func() (KeyInfo, error) { return r.CreateKey(p) })
		case key.Matches(msg, k.Next):
			s.typing, s.err = true, nil
			return s.path.Focus()
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Write) && s.key.State != KeyConfigMatches:
		return s.call("writing", func() (KeyInfo, error) { return r.WritePublicKey(p) })
	case key.Matches(msg, k.Next):
		kk := s.key
		return func() tea.Msg { return keysDone{key: kk} }
	}
	return nil
}

func (s *keysStep) View() string {
	st := s.env.st
	var b strings.Builder
	b.WriteString(st.Heading.Render("Signing key"))
	b.WriteString("\n")
	if s.key.State == KeyMissing {
		b.WriteString(s.missingView())
	} else {
		b.WriteString(s.presentView())
	}
	if s.pending != 0 {
		b.WriteString("\n\n" + s.spin.View() + " " + s.doing + "…")
	}
	if s.err != nil {
		b.WriteString("\n\n" + errorView(st, s.env.width, s.err, keyHint(s.doing, s.err)))
	}
	return b.String()
}

// keyHint is the wizard's advice on a failed key step: keys to press, not
// command-line flags.
func keyHint(doing string, err error) string {
	if errors.Is(err, store.ErrKeyExists) {
		return "The wizard never replaces a key, so no app installed with its public key is cut off; esc goes back to use the stored one."
	}
	switch doing {
	case "importing":
		return "Check the path: it must be a 2048-bit RSA private key (PEM), such as Capgo's .capgo_key_v2."
	case "writing":
		return "Add the public key by hand (capship key export --app ID prints it), or fix the config and press w again."
	}
	return "Fix the cause above and try again; esc goes back."
}

func (s *keysStep) missingView() string {
	st := s.env.st
	var b strings.Builder
	if pub := strings.TrimSpace(s.project.PublicKey); pub != "" {
		b.WriteString(st.WarnBox.Width(max(s.env.width-2, 20)).Render(st.Warn.Render("! ") + filepath.Base(s.project.ConfigPath) +
			" already holds a public key (key id " + workflow.KeyIDFromPEM(pub) + "). Apps built with it only accept bundles signed by its private key: import that key (e.g. the .capgo_key_v2 it came with) rather than creating a new one."))
		b.WriteString("\n\n")
	} else {
		b.WriteString(s.env.say(st.Body, "This app has no signing key yet. Devices only install bundles signed with it, so it is made once and then kept in the OS keychain.") + "\n\n")
	}
	opts := []string{
		"Create a new keypair in the OS keychain",
		"Import an existing key file (e.g. Capgo's .capgo_key_v2)",
	}
	for i, o := range opts {
		if i == s.choice {
			b.WriteString(st.Cursor.Render("› " + o))
		} else {
			b.WriteString("  " + o)
		}
		b.WriteString("\n")
	}
	if s.typing {
		b.WriteString("\n" + st.Focus.Render("Path of the private key file") + "\n" + s.path.View())
	}
	return strings.TrimRight(b.String(), "\n")
}

func (s *keysStep) presentView() string {
	st := s.env.st
	k := s.key
	var b strings.Builder
	b.WriteString(fields(st,
		[2]string{"Key id", st.Value.Render(k.KeyID)},
		[2]string{"Fingerprint", st.Value.Render(wrap(k.Fingerprint, s.env.width-13))},
		[2]string{"Stored in", k.Where},
	))
	b.WriteString("\n\n")
	switch k.State {
	case KeyConfigMatches:
		line := "✓ " + filepath.Base(s.project.ConfigPath) + " carries this public key."
		if s.wrote {
			line = "✓ Public key written to " + filepath.Base(s.project.ConfigPath) + ". Rebuild the native app so it ships with it."
		}
		b.WriteString(s.env.say(st.Good, line))
	case KeyConfigMissing:
		b.WriteString(st.WarnBox.Width(max(s.env.width-2, 20)).Render(st.Warn.Render("! ") +
			filepath.Base(s.project.ConfigPath) + " has no public key, so the app cannot check bundles.\nPress w to write it into the config."))
	case KeyConfigDiffers:
		b.WriteString(st.WarnBox.Width(max(s.env.width-2, 20)).Render(st.Bad.Render("✗ MISMATCH: ") +
			filepath.Base(s.project.ConfigPath) + " holds a DIFFERENT public key.\nApps built from it reject every bundle signed with this key.\nPress w to put this key's public key in the config; apps already\ninstalled keep the old key until their next native release."))
	}
	if k.Note != "" {
		b.WriteString("\n" + st.Muted.Render(k.Note))
	}
	return b.String()
}
