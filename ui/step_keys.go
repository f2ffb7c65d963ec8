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
	choice  int  // what to do when there is no key: see keyChoices
	typing  bool // entering the path of a key file
	path    textinput.Model
	server  textinput.Model // the capship server's base URL, for updateUrl & co.
	urlsSet bool            // the step wrote the server URLs into the config
	urlWarn string          // e.g. that plain http to localhost suits a simulator only
	pending int             // run id of the keychain/config call in flight, 0 if none
	doing   string
	spin    spinner.Model
	err     error
	wrote   bool
}

func newKeysStep(e *env, p Project, k KeyInfo) *keysStep {
	ti := newInput(".capgo_key_v2", filepath.Join(p.Dir, ".capgo_key_v2"), 4096)
	srv := newInput("https://updates.example.com", p.Server, 2048)
	srv.Focus() // shown, and typed into, only once the key is in place
	s := &keysStep{env: e, project: p, key: k, path: ti, server: srv, spin: e.newSpinner()}
	if k.State == KeyMissing && strings.TrimSpace(p.PublicKey) != "" {
		s.choice = choiceImport // the config names a key already: bring that one in
	}
	s.Resize(e.width, e.height)
	return s
}

func (s *keysStep) Init() tea.Cmd { return nil }

func (s *keysStep) Busy() bool { return false }

func (s *keysStep) Resize(width, height int) {
	s.path.Width = max(width-8, 10)
	s.server.Width = max(min(width-4, 60), 10)
}

// What the menu offers when the app has no key yet.
const (
	choiceCreate     = iota // create, and write the public key into the config
	choiceImport            // import a key file
	choiceCreateOnly        // create, keychain only: the user writes the config
)

// needsServer reports that the key is settled and the config does not yet
// tell devices where the capship server is.
func (s *keysStep) needsServer() bool {
	p := s.project
	return s.key.State == KeyConfigMatches && !s.urlsSet && (p.UpdateURL == "" || p.StatsURL == "" || p.ChannelURL == "")
}

func (s *keysStep) Help() []key.Binding {
	k := s.env.keys
	switch {
	case s.pending != 0:
		return nil
	case s.typing:
		return []key.Binding{with(k.Next, "import"), with(k.Back, "cancel")}
	case s.key.State == KeyMissing:
		return []key.Binding{k.Up, k.Down, with(k.Next, []string{"create key, write config", "import file", "create key only"}[s.choice]), k.Back}
	case s.needsServer() && strings.TrimSpace(s.server.Value()) != "":
		return []key.Binding{with(k.Next, "write server URLs to config"), k.Back}
	case s.needsServer():
		return []key.Binding{with(k.Next, "continue without server URLs"), k.Back}
	case s.key.State == KeyConfigMatches:
		return []key.Binding{with(k.Next, "continue to build"), k.Back}
	}
	return []key.Binding{k.Write, with(k.Next, "continue anyway"), k.Back}
}

// keyResult is what a keychain or config call produced. A call that made
// a key and then failed to write the config carries the key with its
// error, and failed names the part that failed.
type keyResult struct {
	key     KeyInfo
	project *Project // read again after the server URLs were written
	wrote   bool     // the public key went into the config
	failed  string   // "writing" when the key was made but the config write failed
}

func (s *keysStep) call(doing string, fn func() (keyResult, error)) tea.Cmd {
	s.doing, s.err = doing, nil
	var cmd tea.Cmd
	s.pending, cmd = s.env.do(func() (any, error) { return fn() })
	return tea.Batch(cmd, s.spin.Tick)
}

// withKey wraps a call that returns only a key.
func withKey(fn func() (KeyInfo, error)) func() (keyResult, error) {
	return func() (keyResult, error) {
		k, err := fn()
		return keyResult{key: k}, err
	}
}

// makeKey creates or imports the key, then writes its public half into the
// config when write is set and the config lacks it, as `key create` does.
func makeKey(r Runner, p Project, write bool, fn func() (KeyInfo, error)) func() (keyResult, error) {
	return func() (keyResult, error) {
		k, err := fn()
		if err != nil || !write || k.State == KeyConfigMatches {
			return keyResult{key: k}, err
		}
		w, err := r.WritePublicKey(p)
		if err != nil {
			return keyResult{key: k, failed: "writing"}, err
		}
		return keyResult{key: w, wrote: true}, nil
	}
}

func (s *keysStep) Update(msg tea.Msg) tea.Cmd {
	r, p := s.env.run, s.project
	switch msg := msg.(type) {
	case resultMsg:
		if msg.run != s.pending {
			return nil
		}
		s.pending = 0
		res, _ := msg.val.(keyResult)
		if msg.err != nil {
			s.err = msg.err
			if res.failed != "" { // the key exists now; only the config write failed
				s.key, s.doing, s.typing = res.key, res.failed, false
			}
			return nil
		}
		s.wrote = s.wrote || res.wrote || s.doing == "writing"
		if res.project != nil {
			s.project, s.urlsSet = *res.project, true
			return nil
		}
		s.typing = false
		s.key = res.key
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
			// Like `key import`: the public key goes into a config that has none.
			return s.call("importing", makeKey(r, p, strings.TrimSpace(p.PublicKey) == "", func() (KeyInfo, error) { return r.ImportKey(p, path) }))
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
			s.choice = max(s.choice-1, 0)
		case key.Matches(msg, k.Down):
			s.choice = min(s.choice+1, choiceCreateOnly)
		case key.Matches(msg, k.Next) && s.choice != choiceImport:
			return s.call("creating", makeKey(r, p, s.choice == choiceCreate, func() (KeyInfo, error) { return r.CreateKey(p) }))
		case key.Matches(msg, k.Next):
			s.typing, s.err = true, nil
			return s.path.Focus()
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Write) && s.key.State != KeyConfigMatches:
		return s.call("writing", withKey(func() (KeyInfo, error) { return r.WritePublicKey(p) }))
	case key.Matches(msg, k.Next) && s.needsServer() && strings.TrimSpace(s.server.Value()) != "":
		base := strings.TrimSpace(s.server.Value())
		_, warning, err := workflow.ServerURLsFor(base)
		if err != nil {
			s.err, s.doing = err, "server"
			return nil
		}
		s.urlWarn = warning
		return s.call("server", func() (keyResult, error) {
			np, err := r.SetServer(p, base)
			return keyResult{project: &np}, err
		})
	case key.Matches(msg, k.Next):
		kk, pp := s.key, s.project
		return func() tea.Msg { return keysDone{key: kk, project: pp} }
	}
	if s.needsServer() {
		s.err = nil
		var cmd tea.Cmd
		s.server, cmd = s.server.Update(msg)
		return cmd
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
		return "The key is in the keychain. Add the public key by hand (capship key export --app ID prints it), or fix the config and press w."
	case "server":
		return "Give the server's base URL, e.g. https://updates.example.com, or clear the field and press enter to go on without."
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
	cfg := filepath.Base(s.project.ConfigPath)
	opts := []string{
		"Create a new keypair, public key into " + cfg,
		"Import an existing key file (e.g. Capgo's .capgo_key_v2)",
		"Create a new keypair, keychain only (I add the public key myself)",
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
		b.WriteString(s.serverView())
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

// serverView offers to point the config at the capship server, or says
// that it was done.
func (s *keysStep) serverView() string {
	st := s.env.st
	cfg := filepath.Base(s.project.ConfigPath)
	if s.urlsSet {
		out := "\n" + s.env.say(st.Good, "✓ updateUrl, statsUrl and channelUrl written to "+cfg+" ("+s.project.UpdateURL+").")
		if s.urlWarn != "" {
			out += "\n" + s.env.say(st.Warn, "! "+s.urlWarn)
		}
		return out
	}
	if !s.needsServer() {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n\n" + st.Focus.Render("Update server") + st.Muted.Render("  (base URL of your capship serve, behind HTTPS)") + "\n")
	b.WriteString(s.server.View() + "\n")
	b.WriteString(s.env.say(st.Muted, cfg+" has no updateUrl/statsUrl/channelUrl: the app would ask Capgo's cloud for updates and send it stats. Enter writes BASE/updates, /stats and /channel_self; an empty field goes on without."))
	return b.String()
}
