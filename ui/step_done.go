package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
)

// doneStep leads with what devices will get, how to watch the release and
// how to undo it; the values to copy (URLs, session key, checksum) are one
// key away. It scrolls when the terminal is small.
type doneStep struct {
	env     *env
	res     Result
	vp      viewport.Model
	details bool
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
	h := []key.Binding{k.Finish, with(k.Details, "details")}
	if s.details {
		h[1] = with(k.Details, "summary")
	}
	if !s.vp.AtTop() || !s.vp.AtBottom() {
		h = append(h, k.Scroll)
	}
	return h
}

func (s *doneStep) Update(msg tea.Msg) tea.Cmd {
	if km, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(km, s.env.keys.Finish):
			return func() tea.Msg { return quitMsg{} }
		case key.Matches(km, s.env.keys.Details):
			s.details = !s.details
			s.vp.SetContent(s.content(s.vp.Width))
			s.vp.GotoTop()
			return nil
		}
	}
	var cmd tea.Cmd
	s.vp, cmd = s.vp.Update(msg)
	return cmd
}

func (s *doneStep) View() string {
	more := ""
	if !s.vp.AtBottom() {
		more = s.env.st.Muted.Render("↓ more below (↓/pgdown to scroll)")
	}
	return s.vp.View() + "\n" + more
}

func (s *doneStep) content(width int) string {
	st := s.env.st
	r := s.res
	if s.details {
		return st.Heading.Render("Details") + "\n" + DetailsText(r, width, st)
	}
	channel := ""
	if r.Registered != nil {
		channel = r.Registered.Channel
	}
	return st.Good.Render(fmt.Sprintf("✓ %s %s is live on channel %s.", r.Bundle.AppID, r.Bundle.Version, channel)) + "\n\n" +
		summaryBody(r, width, st) + st.Muted.Render("d shows the URLs, key id, session key and checksum.") + "\n"
}

// SummaryText is what the cli prints after the wizard exits, so that it
// stays in the scrollback: the done page's summary, and where the values
// behind its d key are. No secret is in it.
func SummaryText(r Result, width int, st Styles) string {
	return summaryBody(r, width, st) + "\nURLs, key id, session key and checksum: " + st.Code.Render(r.Bundle.Manifest) + "\n"
}

// summaryBody is the done page's body: what devices get, how to watch and
// undo the release, what is left to do.
func summaryBody(r Result, width int, st Styles) string {
	b := r.Bundle
	var out strings.Builder
	reg := Registered{Channel: "production"}
	if r.Registered != nil {
		reg = *r.Registered
	}
	served := reg.Served
	where := reg.Channel
	if len(served.Platforms) > 0 {
		where += " (" + strings.Join(served.Platforms, ", ") + ")"
	}
	who := "every device on it"
	if !served.Exists {
		who = "the devices on it"
	}
	if served.Exists && served.Rollout < 100 {
		who = fmt.Sprintf("%d%% of its devices (rollout; the others keep theirs)", served.Rollout)
	}
	download := "the whole zip, " + sizeOf(b.Size)
	if r.FilesURL != "" && reg.Files > 0 {
		download = fmt.Sprintf("the files they lack, of %d (older plugins: the %s zip)", reg.Files, sizeOf(b.Size))
	}
	w := max(width-15, 20)
	out.WriteString(st.Value.Render("What devices get") + "\n")
	out.WriteString(fields(st,
		[2]string{"App", st.Value.Render(b.AppID)},
		[2]string{"Channel", shorten(where, w)},
		[2]string{"Version", st.Value.Render(b.Version) + ", for " + shorten(who, w-len(b.Version)-6)},
		[2]string{"Download", shorten(download, w)},
	) + "\n\n")
	server := "" // where the commands shown act: the same registry
	switch p := r.Project; {
	case p.Server != "":
		server = " --server " + ShellQuote(p.Server)
	case p.DBFlag != "":
		server = " --db " + ShellQuote(p.DBFlag)
	}
	out.WriteString(commandBlock(st, "Watch it", "capship stats --app "+b.AppID+server, width))
	out.WriteString(commandBlock(st, "Undo it", "capship release rollback --app "+b.AppID+" --channel "+ShellQuote(reg.Channel)+server, width) + "\n")
	out.WriteString(st.Value.Render("Next") + "\n")
	p := r.Project
	switch {
	case p.Server != "" && p.UpdateURL != "" && strings.HasPrefix(p.UpdateURL, strings.TrimRight(p.Server, "/")+"/"):
		out.WriteString("The app asks " + st.Code.Render(shorten(p.UpdateURL, max(width-30, 20))) + " for updates: the\n")
		out.WriteString("server this release went to. Devices get it at their next check.\n")
	case p.UpdateURL != "" && p.StatsURL != "" && p.ChannelURL != "":
		out.WriteString("The app asks " + st.Code.Render(shorten(p.UpdateURL, max(width-30, 20))) + " for updates: run\n")
		out.WriteString(st.Code.Render("capship serve --addr 127.0.0.1:8080") + " there, behind HTTPS.\n")
	default:
		out.WriteString("Run " + st.Code.Render("capship serve --addr 127.0.0.1:8080") + " behind HTTPS, then point the app at it\n")
		out.WriteString("(" + st.Code.Render("capship config set-server https://updates.example.com") + ") and rebuild the\n")
		out.WriteString("native app: without statsUrl the plugin sends device stats to Capgo's cloud.\n")
	}
	return out.String()
}

// commandBlock shows a command to copy after a label, broken before its
// flags into shell continuation lines when it does not fit width.
func commandBlock(st Styles, label, cmd string, width int) string {
	const indent = 10
	room := max(width-indent-2, 20) // 2 for " \"
	var lines []string
	line := ""
	for i, part := range strings.Split(cmd, " --") {
		if i > 0 {
			part = "--" + part
		}
		switch {
		case line == "":
			line = part
		case len(line)+1+len(part) <= room:
			line += " " + part
		default:
			lines = append(lines, line)
			line = "  " + part
		}
	}
	lines = append(lines, line)
	var b strings.Builder
	for i, l := range lines {
		head := strings.Repeat(" ", indent)
		if i == 0 {
			head = st.Label.Render(fmt.Sprintf("%-*s", indent, label))
		}
		cont := ""
		if i < len(lines)-1 {
			cont = " \\"
		}
		b.WriteString(head + st.Code.Render(l+cont) + "\n")
	}
	return b.String()
}

// DetailsText is the values of the release a person may need to copy:
// URLs, key id, session key, checksum, manifest and registry.
func DetailsText(r Result, width int, st Styles) string {
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
	return out.String()
}

// ShellQuote quotes s for a POSIX shell when it needs it.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == ':' || r == '@' || r == '+' || r == '=' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
