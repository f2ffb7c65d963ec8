package ui

import (
	"errors"
	"fmt"
	"strings"

	"capship/store"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/spinner"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// registerStep asks for the channel and an optional minimum native version,
// shows what will be registered, and registers it once confirmed.
type registerStep struct {
	env       *env
	project   Project
	rel       Release
	channel   textinput.Model
	minNative textinput.Model
	focus     int // 0 channel, 1 min native
	confirm   bool
	pending   int
	spin      spinner.Model
	fieldErr  error
	err       error
	servedRun int         // run id of the channel read in flight
	served    ChannelInfo // what the channel serves now, once read
	// native is the registry's refusal of changed native packages; the
	// step offers to register anyway or to set a minimum native version.
	native *store.NativeChangeError
	note   string // what to type, after m on that refusal
}

func newRegisterStep(e *env, p Project, rel Release) *registerStep {
	channel := rel.Channel
	if channel == "" {
		channel = "production"
	}
	ch := newInput("production", channel, 64)
	ch.Focus()
	mn := newInput("optional, e.g. 2.0.0", rel.MinNative, 64)
	mn.Prompt = "  " // only the focused field shows the prompt (visible without color)
	s := &registerStep{env: e, project: p, rel: rel, channel: ch, minNative: mn, spin: e.newSpinner()}
	s.Resize(e.width, e.height)
	return s
}

func (s *registerStep) Init() tea.Cmd { return textinput.Blink }

func (s *registerStep) Busy() bool { return s.pending != 0 }

func (s *registerStep) Resize(width, height int) {
	s.channel.Width = max(min(width-4, 40), 10)
	s.minNative.Width = max(min(width-4, 40), 10)
}

func (s *registerStep) Help() []key.Binding {
	k := s.env.keys
	switch {
	case s.pending != 0:
		return nil
	case s.confirm && s.native != nil:
		return []key.Binding{k.Anyway, k.MinNat, with(k.Back, "edit")}
	case s.confirm && s.sameBytes():
		return []key.Binding{with(k.Next, "register anyway"), with(k.Back, "edit")}
	case s.confirm:
		return []key.Binding{with(k.Next, "register"), with(k.Back, "edit")}
	case s.focus == 0:
		return []key.Binding{with(k.Next, "next field"), k.Tab, k.Back}
	}
	return []key.Binding{with(k.Next, "review"), k.Tab, k.Back}
}

// sameBytes reports that the channel already serves a zip with the same
// SHA-256 as the bundle: registering would ship nothing new.
func (s *registerStep) sameBytes() bool {
	z := s.rel.Bundle.ZipSHA256
	return z != "" && s.served.Name == s.rel.Channel && s.served.ZipSHA256 == z
}

func (s *registerStep) inputs() []*textinput.Model {
	return []*textinput.Model{&s.channel, &s.minNative}
}

func (s *registerStep) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case resultMsg:
		if msg.run == s.servedRun && msg.run != 0 {
			s.servedRun = 0
			if info, ok := msg.val.(ChannelInfo); ok && msg.err == nil {
				s.served = info // a failed read only loses the warning
			}
			return nil
		}
		if msg.run != s.pending {
			return nil
		}
		s.pending = 0
		if msg.err != nil {
			s.err = msg.err
			if !errors.As(msg.err, &s.native) {
				s.native = nil
			}
			return nil
		}
		reg, rel := msg.val.(Registered), s.rel
		return func() tea.Msg { return registerDone{registered: reg, release: rel} }
	case spinner.TickMsg:
		return spin(&s.spin, s.pending != 0, msg)
	case tea.KeyMsg:
		if s.pending != 0 {
			return nil
		}
		return s.onKey(msg)
	}
	if s.confirm {
		return nil
	}
	var cmd tea.Cmd
	*s.inputs()[s.focus], cmd = s.inputs()[s.focus].Update(msg)
	return cmd
}

func (s *registerStep) onKey(msg tea.KeyMsg) tea.Cmd {
	k := s.env.keys
	if s.confirm {
		switch {
		case key.Matches(msg, k.Back):
			s.confirm, s.err, s.native = false, nil, nil
			return s.inputs()[s.focus].Focus()
		case s.native != nil && key.Matches(msg, k.Anyway):
			s.rel.AllowNativeChange = true
			return s.register()
		case s.native != nil && key.Matches(msg, k.MinNat):
			s.confirm, s.err, s.native = false, nil, nil
			s.note = "Enter the lowest native version that ships these native packages; only devices on it or later get this bundle."
			return s.setFocus(1)
		case s.native == nil && key.Matches(msg, k.Next):
			return s.register()
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Back):
		return goBack
	case key.Matches(msg, k.Tab):
		return s.setFocus(1 - s.focus)
	case key.Matches(msg, k.Next):
		if s.focus == 0 {
			return s.setFocus(1)
		}
		if err := s.validate(); err != nil {
			s.fieldErr = err
			return nil
		}
		s.confirm = true
		s.channel.Blur()
		s.minNative.Blur()
		r, ctx, app, ch := s.env.run, s.env.ctx, s.rel.Bundle.AppID, s.rel.Channel
		var cmd tea.Cmd
		s.servedRun, cmd = s.env.do(func() (any, error) { return r.Channel(ctx, app, ch) })
		return cmd
	}
	s.fieldErr = nil
	var cmd tea.Cmd
	*s.inputs()[s.focus], cmd = s.inputs()[s.focus].Update(msg)
	return cmd
}

// register registers the release as reviewed.
func (s *registerStep) register() tea.Cmd {
	s.err, s.native = nil, nil
	r, rel, ctx := s.env.run, s.rel, s.env.ctx
	var cmd tea.Cmd
	s.pending, cmd = s.env.do(func() (any, error) { return r.Register(ctx, rel) })
	return tea.Batch(cmd, s.spin.Tick)
}

func (s *registerStep) setFocus(i int) tea.Cmd {
	s.inputs()[s.focus].Blur()
	s.inputs()[s.focus].Prompt = "  "
	s.focus = i
	s.inputs()[i].Prompt = "› "
	return s.inputs()[i].Focus()
}

func (s *registerStep) validate() error {
	ch := strings.TrimSpace(s.channel.Value())
	if ch == "" {
		return fmt.Errorf("enter a channel name, such as production")
	}
	if strings.ContainsAny(ch, " \t/") {
		return fmt.Errorf("channel %q: use letters, digits, '-' or '_' only", ch)
	}
	mn := strings.TrimSpace(s.minNative.Value())
	if mn != "" {
		if _, err := checkVersion(mn, ""); err != nil {
			return fmt.Errorf("minimum native version: %w", err)
		}
	}
	s.rel.Channel, s.rel.MinNative = ch, mn
	return nil
}

func (s *registerStep) View() string {
	st := s.env.st
	var b strings.Builder
	b.WriteString(st.Heading.Render("Register the release"))
	b.WriteString("\n")
	if !s.confirm {
		label := func(i int, text string) string { return focusLabel(st, i == s.focus, text) }
		b.WriteString(label(0, "Channel") + st.Muted.Render("  (devices follow one channel; most apps use production)") + "\n")
		b.WriteString(s.channel.View() + "\n\n")
		b.WriteString(label(1, "Minimum native version") + st.Muted.Render("  (devices on an older native build skip this bundle)") + "\n")
		b.WriteString(s.minNative.View())
		if s.fieldErr != nil {
			b.WriteString("\n\n" + s.env.say(st.Bad, "✗ "+s.fieldErr.Error()))
		} else if s.note != "" {
			b.WriteString("\n\n" + s.env.say(st.Warn, "! "+s.note))
		}
		return b.String()
	}
	rel := s.rel
	minNative := rel.MinNative
	switch {
	case minNative == "" && rel.AllowNativeChange:
		minNative = st.Muted.Render("any (native change allowed)")
	case minNative == "":
		minNative = st.Muted.Render("any")
	}
	w := s.env.width - 16
	files := st.Muted.Render("none: phones download the whole zip")
	if rel.FilesURL != "" {
		files = st.Code.Render(shorten(rel.FilesURL+"/", w)) + "\n" +
			st.Muted.Render(fmt.Sprintf("%d files; phones fetch only those they lack", len(rel.Bundle.Delta.Files)))
	}
	rows := [][2]string{
		{"App", st.Value.Render(rel.Bundle.AppID)},
		{"Version", st.Value.Render(rel.Bundle.Version)},
		{"Channel", st.Value.Render(rel.Channel)},
		{"Min native", minNative},
		{"URL", st.Code.Render(shorten(rel.URL, w))},
		{"Files URL", files},
		{"Key id", rel.Bundle.KeyID},
		{"Registry", shorten(s.project.Registry, w)},
	}
	if s.native != nil {
		rows = rows[:4] // room for the packages: what the refusal is about
	}
	b.WriteString("About to register:\n\n")
	b.WriteString(fields(st, rows...))
	b.WriteString("\n\n")
	switch {
	case s.pending != 0:
		b.WriteString(s.spin.View() + " registering…")
	case s.native != nil:
		b.WriteString(s.nativeView(s.env.height - lipgloss.Height(b.String())))
	case s.err != nil:
		b.WriteString(errorView(st, s.env.width, s.err, registerHint(s.err)))
	case s.sameBytes():
		b.WriteString(st.WarnBox.Width(max(s.env.width-2, 20)).Render(st.Warn.Render("! ") + rel.Channel + " already serves these exact bytes: " +
			s.served.Version + " has the same zip (zip_sha256 " + rel.Bundle.ZipSHA256[:min(12, len(rel.Bundle.ZipSHA256))] + "…" + "). Devices would download the same app again. Rebuild after your change, or register anyway."))
	default:
		b.WriteString(s.env.say(st.Muted, "Devices on "+rel.Channel+" get this bundle at their next check once it is registered."))
	}
	return b.String()
}

// registerHint is the wizard's advice on a refused registration, in keys
// (the command line says the same in flags).
func registerHint(err error) string {
	const nothing = "Nothing was registered. "
	switch {
	case errors.Is(err, store.ErrVersionNotNewer):
		return nothing + "The channel serves a newer version: press esc to pick another channel, or go back and build a higher version."
	case errors.Is(err, store.ErrDuplicateVersion), errors.Is(err, store.ErrDuplicateBundle):
		return nothing + "Go back (esc) to the pack step and build a new version."
	case errors.Is(err, store.ErrNativeChange):
		return nothing + "Press a to register anyway, or m to set a minimum native version."
	case errors.Is(err, store.ErrUnauthorized), errors.Is(err, store.ErrForbidden):
		return nothing + "The server refused the admin token: quit (ctrl+c) and start the wizard again with a token made for this app."
	}
	return nothing + "Press esc to change the channel, or fix the cause and press enter again."
}

// nativeView names each native package that differs from the release the
// channel serves, as many as fit in lines, and the two ways on.
func (s *registerStep) nativeView(lines int) string {
	st, e := s.env.st, s.native
	w := max(s.env.width-2, 20)
	head := st.Bad.Render("✗ ") + fmt.Sprintf("Nothing was registered: %s changes native packages from %s, which %s serves:", e.Version, e.Current, e.Channel)
	tail := st.Muted.Render("Devices running the installed native app lack them. Press a to register anyway (this web bundle does not call them), or m to set a minimum native version (only native builds that ship them get it).")
	room := max(lines-lipgloss.Height(st.ErrorBox.Width(w).Render(head+"\n"+tail)), 1)
	var items []string
	for i, c := range e.Changes {
		if len(e.Changes) > room && i == room-1 {
			items = append(items, st.Muted.Render(fmt.Sprintf("  and %d more", len(e.Changes)-i)))
			break
		}
		items = append(items, "• "+c.String())
	}
	return st.ErrorBox.Width(w).Render(head + "\n" + strings.Join(items, "\n") + "\n" + tail)
}
