package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
)

// doneStep shows what was released, the values a user may need to copy and
// what to do next. It scrolls when the terminal is small.
type doneStep struct {
	env *env
	res Result
	vp  viewport.Model
}

func newDoneStep(e *env, res Result) *doneStep {
	s := &doneStep{env: e, res: res, vp: viewport.New(e.width, e.height)}
	s.Resize(e.width, e.height)
	return s
}

func (s *doneStep) Init() tea.Cmd { return nil }

func (s *doneStep) Busy() bool { return false }

func (s *doneStep) Resize(width, height int) {
	s.vp.Width, s.vp.Height = width, max(height-1, 3) // one line for "more below"
	s.vp.SetContent(s.content(width))
}

func (s *doneStep) Help() []key.Binding {
	k := s.env.keys
	h := []key.Binding{k.Finish}
	if !s.vp.AtTop() || !s.vp.AtBottom() {
		h = append(h, k.Scroll)
	}
	return h
}

func (s *doneStep) Update(msg tea.Msg) tea.Cmd {
	if km, ok := msg.(tea.KeyMsg); ok && key.Matches(km, s.env.keys.Finish) {
		return func() tea.Msg { return quitMsg{} }
	}
	var cmd tea.Cmd
	s.vp, cmd = s.vp.Update(msg)
	return cmd
}

func (s *doneStep) View() string {
	more := ""
	if !s.vp.AtBottom() {
		more = s.env.st.Muted.Render("↓ more below: next steps (↓/pgdown to scroll)")
	}
	return s.vp.View() + "\n" + more
}

func (s *doneStep) content(width int) string {
	st := s.env.st
	r := s.res
	b := r.Bundle
	var out strings.Builder
	channel := ""
	if r.Registered != nil {
		channel = r.Registered.Channel
	}
	out.WriteString(st.Good.Render(fmt.Sprintf("✓ %s %s is live on channel %s.", b.AppID, b.Version, channel)) + "\n\n")
	out.WriteString(SummaryText(r, width, st))
	return out.String()
}

// SummaryText is the done page's body: the values to keep and the next
// steps. The cli prints it again after the wizard exits, so that it stays
// in the scrollback.
func SummaryText(r Result, width int, st Styles) string {
	b := r.Bundle
	var out strings.Builder
	valW := max(width-2, 20)
	item := func(label, value string) {
		out.WriteString(st.Label.Render(label) + "\n" + wrap(value, valW) + "\n")
	}
	item("URL", r.URL)
	if r.FilesURL != "" {
		files := ""
		if r.Registered != nil && r.Registered.Files > 0 {
			files = fmt.Sprintf(" (%d files)", r.Registered.Files)
		}
		item("Files URL"+files, r.FilesURL+"/")
	}
	item("Key id", b.KeyID)
	item("Session key", b.SessionKey)
	item("Checksum (encrypted)", b.Checksum)
	item("Manifest", b.Manifest)
	if r.Registered != nil && r.Registered.Registry != "" {
		item("Registry", r.Registered.Registry)
	}
	out.WriteString("\n" + st.Heading.Render("Next steps") + "\n")
	out.WriteString("1. Serve releases to devices: " + st.Code.Render("capship serve --addr 127.0.0.1:8080") + "\n")
	out.WriteString("   (with this registry) behind your HTTPS proxy.\n")
	if u := r.Project.UpdateURL; u != "" {
		out.WriteString("2. The app already asks " + st.Code.Render(u) + " for updates:\n")
		out.WriteString("   that address must reach the server above.\n")
		return out.String()
	}
	out.WriteString("2. Point the app at it (" + st.Code.Render("capship config set-server https://updates.example.com") + ")\n")
	out.WriteString("   or put this in the Capacitor config and rebuild the native app\n")
	out.WriteString("   (without statsUrl the plugin sends device stats to Capgo's cloud):\n\n")
	out.WriteString(st.Code.Render(configSnippet("https://updates.example.com")) + "\n")
	return out.String()
}

// configSnippet is the plugin block that points an app at a capship server.
func configSnippet(base string) string {
	return `"plugins": {
  "CapacitorUpdater": {
    "autoUpdate": true,
    "updateUrl": "` + base + `/updates",
    "statsUrl": "` + base + `/stats",
    "channelUrl": "` + base + `/channel_self"
  }
}`
}
