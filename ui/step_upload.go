package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"capship/workflow"
)

// uploadStep gets the bundle where devices download it, in one of three
// ways: capship uploads it to the capship server's storage or to an S3
// bucket (step_upload_to.go), or the person uploads it and gives the
// bundle's URL and, for a bundle with a delta, the base URL of its objects
// (optional: empty registers the zip only). Either way everything is then
// downloaded back and compared with what was built: the zip first, then
// every object.
type uploadStep struct {
	env      *env
	to       uploadTo
	bundle   Bundle
	url      textinput.Model
	files    textinput.Model // base URL of the delta objects; unused without a delta
	focus    int             // 0 url, 1 files
	state    uploadState
	urlErr   error // the bundle URL cannot be used
	filesErr error // the files URL cannot be used
	warnings []string
	job      *job
	ev       workflow.Event
	bar      progress.Model
	check    URLCheck
	zipOK    bool        // check found the zip to be the built one
	base     string      // the files URL being checked, as devices will use it
	objects  *FilesCheck // what the objects check found; nil before it ran
	err      error       // a download could not be made at all
}

type uploadState int

const (
	uploadEditing       uploadState = iota // the URLs, given by hand
	uploadChoosing                         // which way
	uploadServerForm                       // the capship server and its token
	uploadS3Form                           // the bucket's settings
	uploadUploading                        // capship uploads, then downloads back
	uploadChecking                         // downloading the zip
	uploadCheckingFiles                    // downloading every object
	uploadMismatch                         // the zip is not the built one
	uploadFilesMismatch                    // some objects are not the built ones
	uploadFailed
	uploadOK
)

// newUploadStep starts with the choice of a way, or in the URL fields when
// URLs are known already (back from the Register step).
func newUploadStep(e *env, p Project, b Bundle, url, filesURL string) *uploadStep {
	ti := newInput("https://cdn.example.com/releases/app-1.0.1.zip", url, 2048)
	ti.Focus()
	placeholder := "https://cdn.example.com/releases/app-1.0.1.files"
	if b.Delta != nil {
		placeholder = "https://cdn.example.com/releases/" + filepath.Base(b.Delta.Dir)
	}
	fi := newInput(placeholder, filesURL, 2048)
	fi.Prompt = "  " // only the focused field shows the prompt (visible without color)
	s := &uploadStep{env: e, to: newUploadTo(p), bundle: b, url: ti, files: fi, bar: e.newBar()}
	if url == "" && filesURL == "" {
		s.state = uploadChoosing
		ti.Blur()
	}
	s.Resize(e.width, e.height)
	return s
}

func (s *uploadStep) Init() tea.Cmd { return tea.Batch(textinput.Blink, s.loadSettings()) }

func (s *uploadStep) Busy() bool {
	return s.state == uploadChecking || s.state == uploadCheckingFiles || s.state == uploadUploading
}

func (s *uploadStep) Resize(width, height int) {
	s.url.Width = max(width-4, 10)
	s.files.Width = max(width-4, 10)
	for _, in := range []*textinput.Model{&s.to.server, &s.to.token, &s.to.s3[s3Bucket], &s.to.s3[s3Endpoint], &s.to.s3[s3Region], &s.to.s3[s3PublicBase]} {
		in.Width = max(width-4, 10)
	}
	s.bar.Width = max(min(width-2, 72), 10)
}

// delta reports whether the bundle has objects to upload too.
func (s *uploadStep) delta() bool { return s.bundle.Delta != nil }

func (s *uploadStep) Help() []key.Binding {
	k := s.env.keys
	back := with(k.Back, "other way")
	switch s.state {
	case uploadChoosing:
		return s.chooseHelp()
	case uploadServerForm:
		return s.serverHelp()
	case uploadS3Form:
		return s.s3Help()
	case uploadEditing:
		if s.delta() && s.focus == 0 {
			return []key.Binding{with(k.Next, "files url"), k.Tab, back}
		}
		if s.delta() {
			return []key.Binding{with(k.Next, "check urls"), k.Tab, back}
		}
		return []key.Binding{with(k.Next, "check url"), back}
	case uploadChecking, uploadCheckingFiles, uploadUploading:
		return []key.Binding{k.Cancel}
	case uploadOK:
		return []key.Binding{with(k.Next, "register"), s.editKey(), k.Back}
	}
	return []key.Binding{k.Retry, s.editKey(), k.Back}
}

func (s *uploadStep) editKey() key.Binding {
	switch s.to.mode {
	case modeServer:
		return with(s.env.keys.Edit, "edit server")
	case modeS3:
		return with(s.env.keys.Edit, "edit bucket")
	}
	if s.delta() {
		return with(s.env.keys.Edit, "edit urls")
	}
	return s.env.keys.Edit
}

func (s *uploadStep) inputs() []*textinput.Model {
	return []*textinput.Model{&s.url, &s.files}
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
		if msg.run == s.to.settingRun && msg.run != 0 {
			s.settingsRead(msg)
			return nil
		}
		if s.job == nil || msg.run != s.job.run {
			return nil
		}
		s.job = nil
		if s.state == uploadUploading {
			return s.uploaded(msg)
		}
		if s.state == uploadCheckingFiles {
			return s.filesChecked(msg)
		}
		switch {
		case msg.err != nil:
			s.state, s.err = uploadFailed, msg.err
		case !msg.val.(URLCheck).OK():
			s.state, s.check = uploadMismatch, msg.val.(URLCheck)
		case s.base != "":
			s.check, s.zipOK = msg.val.(URLCheck), true
			return s.startFilesCheck()
		default:
			s.state, s.check, s.zipOK = uploadOK, msg.val.(URLCheck), true
		}
		return nil
	case tea.KeyMsg:
		return s.onKey(msg)
	}
	switch s.state {
	case uploadEditing:
		var cmd tea.Cmd
		*s.inputs()[s.focus], cmd = s.inputs()[s.focus].Update(msg)
		return cmd
	case uploadServerForm:
		in := s.serverInputs()[s.to.serverFoc]
		var cmd tea.Cmd
		*in, cmd = in.Update(msg)
		return cmd
	case uploadS3Form:
		if f := s.to.s3Focus; f != s3PathStyle {
			var cmd tea.Cmd
			s.to.s3[f], cmd = s.to.s3[f].Update(msg)
			return cmd
		}
	}
	return nil
}

func (s *uploadStep) filesChecked(msg resultMsg) tea.Cmd {
	switch {
	case msg.err != nil:
		s.state, s.err = uploadFailed, msg.err
	case msg.val.(FilesCheck).OK():
		c := msg.val.(FilesCheck)
		s.state, s.objects = uploadOK, &c
	default:
		c := msg.val.(FilesCheck)
		s.state, s.objects = uploadFilesMismatch, &c
	}
	return nil
}

func (s *uploadStep) onKey(msg tea.KeyMsg) tea.Cmd {
	k := s.env.keys
	switch s.state {
	case uploadChoosing:
		return s.onChooseKey(msg)
	case uploadServerForm:
		return s.onServerKey(msg)
	case uploadS3Form:
		return s.onS3Key(msg)
	case uploadUploading:
		if key.Matches(msg, k.Cancel) {
			return s.cancelUpload()
		}
	case uploadEditing:
		switch {
		case key.Matches(msg, k.Back):
			return s.chooser()
		case key.Matches(msg, k.Tab) && s.delta():
			return s.setFocus(1 - s.focus)
		case key.Matches(msg, k.Next) && s.delta() && s.focus == 0:
			s.suggest()
			return s.setFocus(1)
		case key.Matches(msg, k.Next):
			return s.startCheck()
		}
		var cmd tea.Cmd
		*s.inputs()[s.focus], cmd = s.inputs()[s.focus].Update(msg)
		if s.focus == 0 {
			s.urlErr = nil
		} else {
			s.filesErr = nil
		}
		return cmd
	case uploadChecking, uploadCheckingFiles:
		if key.Matches(msg, k.Cancel) {
			s.job.cancel()
			s.job = nil // drop whatever it still sends
			return s.edit()
		}
	case uploadOK:
		switch {
		case key.Matches(msg, k.Next):
			c, base := s.check, ""
			if s.objects != nil {
				base = s.objects.BaseURL
			}
			return func() tea.Msg { return uploadDone{check: c, filesURL: base} }
		case key.Matches(msg, k.Edit):
			return s.editTarget()
		case key.Matches(msg, k.Back):
			return goBack
		}
	default:
		switch {
		case key.Matches(msg, k.Retry) && s.to.mode != modeManual:
			return s.startUpload()
		case key.Matches(msg, k.Edit) && s.to.mode != modeManual:
			return s.editTarget()
		case key.Matches(msg, k.Retry):
			if s.state == uploadFilesMismatch || s.state == uploadFailed && s.zipOK && s.base != "" {
				return s.startFilesCheck() // the zip was fine: fetch the objects again only
			}
			return s.startCheck()
		case key.Matches(msg, k.Edit):
			return s.edit()
		case key.Matches(msg, k.Back):
			return goBack
		}
	}
	return nil
}

// edit goes back to the URL fields, focusing the one at fault.
func (s *uploadStep) edit() tea.Cmd {
	s.state = uploadEditing
	focus := 0
	if s.zipOK && s.base != "" {
		focus = 1
	}
	return s.setFocus(focus)
}

// suggest makes the files URL's placeholder the folder next to the zip
// URL, where the objects usually go; empty still means the zip only.
func (s *uploadStep) suggest() {
	raw := strings.TrimSpace(s.url.Value())
	if i := strings.LastIndex(raw, "/"); i > len("https://") && !strings.ContainsAny(raw, "?#") {
		s.files.Placeholder = raw[:i+1] + filepath.Base(s.bundle.Delta.Dir)
	}
}

func (s *uploadStep) setFocus(i int) tea.Cmd {
	for j, in := range s.inputs() {
		in.Blur()
		in.Prompt = "  "
		if j == i {
			in.Prompt = "› "
		}
	}
	s.focus = i
	return s.inputs()[i].Focus()
}

// startCheck validates both URLs (parsing only, no I/O), then downloads
// the zip; a good zip goes on to the objects.
func (s *uploadStep) startCheck() tea.Cmd {
	raw := strings.TrimSpace(s.url.Value())
	warning, err := s.env.run.ValidateURL(raw)
	if err != nil {
		s.state, s.urlErr = uploadEditing, err
		return s.setFocus(0)
	}
	s.warnings, s.urlErr, s.filesErr, s.err, s.base, s.objects = nil, nil, nil, nil, "", nil
	s.check, s.zipOK = URLCheck{}, false
	s.warn(warning)
	if filesURL := strings.TrimSpace(s.files.Value()); s.delta() && filesURL != "" {
		fw, err := s.env.run.ValidateFilesURL(filesURL)
		if err != nil {
			s.state, s.filesErr = uploadEditing, err
			return s.setFocus(1)
		}
		s.warn(fw)
		s.base = strings.TrimRight(filesURL, "/")
	}
	s.state, s.ev = uploadChecking, workflow.Event{Phase: workflow.PhaseDownload, TotalBytes: s.bundle.Size}
	s.url.Blur()
	s.files.Blur()
	r, b := s.env.run, s.bundle
	var cmd tea.Cmd
	s.job, cmd = s.env.start(func(ctx context.Context, report func(workflow.Event)) (any, error) {
		return r.CheckURL(ctx, raw, b, report)
	})
	return cmd
}

// startFilesCheck downloads every object of the delta from below the
// files URL.
func (s *uploadStep) startFilesCheck() tea.Cmd {
	all := s.bundle.Delta.Download(nil)
	s.err, s.objects = nil, nil
	s.state, s.ev = uploadCheckingFiles, workflow.Event{Phase: workflow.PhaseDownload, TotalFiles: all.Objects, TotalBytes: all.Bytes}
	r, b, base := s.env.run, s.bundle, s.base
	var cmd tea.Cmd
	s.job, cmd = s.env.start(func(ctx context.Context, report func(workflow.Event)) (any, error) {
		return r.CheckFiles(ctx, base, b, report)
	})
	return cmd
}

func (s *uploadStep) warn(w string) {
	if w != "" && (len(s.warnings) == 0 || s.warnings[0] != w) {
		s.warnings = append(s.warnings, w)
	}
}

func (s *uploadStep) View() string {
	st := s.env.st
	var b strings.Builder
	b.WriteString(st.Heading.Render("Upload and check"))
	b.WriteString("\n")
	b.WriteString(s.headView() + "\n\n")
	switch s.state {
	case uploadChoosing:
		b.WriteString(s.chooseView())
	case uploadServerForm:
		b.WriteString(s.serverView())
	case uploadS3Form:
		b.WriteString(s.s3View())
	case uploadUploading:
		b.WriteString(s.uploadingView())
	case uploadEditing:
		b.WriteString(s.formView())
	case uploadChecking:
		b.WriteString("Downloading " + st.Code.Render(shorten(s.url.Value(), s.env.width-14)) + "\n")
		b.WriteString(s.barView(fmt.Sprintf("%s of %s", sizeOf(s.ev.Bytes), sizeOf(s.ev.TotalBytes))))
		s.warnLines(&b)
	case uploadCheckingFiles:
		b.WriteString(s.env.say(st.Good, "✓ The URL serves exactly the built file.") + "\n")
		b.WriteString(fmt.Sprintf("Downloading %d objects from\n%s\n", s.ev.TotalFiles, st.Code.Render(shorten(s.base+"/", s.env.width))))
		b.WriteString(s.barView(fmt.Sprintf("%d of %d objects · %s of %s", s.ev.Files, s.ev.TotalFiles, sizeOf(s.ev.Bytes), sizeOf(s.ev.TotalBytes))))
		s.warnLines(&b)
	case uploadFailed:
		hint := "Check that the URL is reachable from this machine, then press r to retry or e to edit it."
		switch {
		case s.to.mode != modeManual:
			hint = s.uploadHint()
		case s.zipOK && s.base != "":
			hint = "The zip is fine. Check that the files URL is reachable from this machine, then press r to fetch the objects again or e to edit the URLs."
		}
		b.WriteString(errorView(st, s.env.width, s.err, hint))
	case uploadMismatch:
		b.WriteString(s.mismatchView())
	case uploadFilesMismatch:
		b.WriteString(s.filesMismatchView(s.env.height - lipgloss.Height(b.String())))
	case uploadOK:
		b.WriteString(s.env.say(st.Good, "✓ The URL serves exactly the built file.") + "\n")
		rows := [][2]string{
			{"URL", st.Code.Render(shorten(s.check.URL, s.env.width-12))},
			{"HTTP", fmt.Sprintf("%d, %s", s.check.Status, orDash(s.check.ContentType))},
			{"Size", sizeOf(s.check.Size) + " ✓"},
			{"SHA-256", "matches ✓"},
		}
		switch {
		case s.objects != nil:
			c := s.objects
			rows = append(rows,
				[2]string{"Files", st.Code.Render(shorten(c.BaseURL+"/", s.env.width-12))},
				[2]string{"Objects", fmt.Sprintf("%d of %d (%d files, %s) are the built ones ✓", c.Checked, c.Objects, c.Files, sizeOf(c.Bytes))})
		case s.delta():
			rows = append(rows, [2]string{"Files", st.Muted.Render("no files URL: registered as a zip only, phones download it whole")})
		}
		if line := s.uploadedLine(); line != "" {
			rows = append(rows, [2]string{"Uploaded", shorten(line, s.env.width-12)})
		}
		b.WriteString(fields(st, rows...))
		s.warnLines(&b)
		if s.to.saveErr != nil {
			b.WriteString("\n" + s.env.say(st.Warn, "! The bucket settings were not remembered: "+s.to.saveErr.Error()))
		}
	}
	return b.String()
}

// headView says what goes where devices download it: in full for a URL
// given by hand, in one line when capship uploads.
func (s *uploadStep) headView() string {
	if s.to.mode == modeManual && s.state != uploadChoosing {
		return s.whatView()
	}
	st, bd := s.env.st, s.bundle
	line := fmt.Sprintf("%s · %s", shorten(filepath.Base(bd.File), max(s.env.width-40, 16)), sizeOf(bd.Size))
	if s.delta() {
		all := bd.Delta.Download(nil)
		line += fmt.Sprintf(" · and %d objects for %d files (%s)", all.Objects, all.TotalFiles, sizeOf(all.Bytes))
	}
	if s.state == uploadChoosing {
		return "Devices download the bundle from where it is hosted:\n" + st.Code.Render(line)
	}
	return st.Code.Render(line)
}

// whatView names what to upload: the zip and, with a delta, the folder of
// objects.
func (s *uploadStep) whatView() string {
	st, bd := s.env.st, s.bundle
	var b strings.Builder
	b.WriteString("Upload this file to your storage (S3, R2, a CDN, any web server):\n")
	b.WriteString(st.Code.Render(shorten(bd.File, s.env.width)) + "\n")
	b.WriteString(st.Muted.Render(fmt.Sprintf("%s · sha256 %s", sizeOf(bd.Size), shorten(bd.SHA256, max(s.env.width-20, 12)))))
	if s.delta() {
		all := bd.Delta.Download(nil)
		b.WriteString("\nand every object in this folder, names unchanged, to one folder there:\n")
		b.WriteString(st.Code.Render(shorten(bd.Delta.Dir+string(filepath.Separator), s.env.width)) + "\n")
		b.WriteString(st.Muted.Render(fmt.Sprintf("%d objects for %d files · %s", all.Objects, all.TotalFiles, sizeOf(all.Bytes))))
	}
	return b.String()
}

func (s *uploadStep) formView() string {
	st := s.env.st
	label := func(i int, text string) string { return focusLabel(st, i == s.focus, text) }
	var b strings.Builder
	b.WriteString(label(0, "Its public URL") + st.Muted.Render("  (https://; http only for 127.0.0.1, ::1, localhost)") + "\n")
	b.WriteString(s.url.View())
	if s.urlErr != nil {
		b.WriteString("\n" + s.env.say(st.Bad, "✗ "+s.urlErr.Error()))
	}
	if !s.delta() {
		return b.String()
	}
	b.WriteString("\n\n" + label(1, "Base URL of the objects") + st.Muted.Render("  (optional: empty registers the zip only)") + "\n")
	b.WriteString(s.files.View())
	if s.filesErr != nil {
		b.WriteString("\n" + s.env.say(st.Bad, "✗ "+s.filesErr.Error()))
	} else {
		b.WriteString("\n" + st.Muted.Render(shorten("Phones fetch BASE/OBJECT, only for the files they lack.", s.env.width)))
	}
	return b.String()
}

func (s *uploadStep) barView(counts string) string {
	frac := 0.0
	if s.ev.TotalBytes > 0 {
		frac = min(float64(s.ev.Bytes)/float64(s.ev.TotalBytes), 1)
	}
	return s.bar.ViewAs(frac) + "\n" + s.env.st.Muted.Render(counts)
}

func (s *uploadStep) warnLines(b *strings.Builder) {
	for _, w := range s.warnings {
		b.WriteString("\n" + s.env.say(s.env.st.Warn, "! "+w))
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
	hint := "Fix the upload and press r to check again, or e to edit the URL."
	if s.to.mode != modeManual {
		hint = s.mismatchHint()
	}
	b.WriteString("\n" + s.env.say(st.Muted, hint))
	return b.String()
}

// filesMismatchView names the objects that are not the built ones, as
// many as fit in lines.
func (s *uploadStep) filesMismatchView(lines int) string {
	st, c := s.env.st, s.objects
	head := s.env.say(st.Good, "✓ The URL serves exactly the built file.") + "\n" +
		s.env.say(st.Bad, fmt.Sprintf("✗ %d of %d objects at the files URL are not the built ones:", len(c.Problems), c.Objects))
	tail := s.env.say(st.Muted, "Upload the folder's objects again and press r to fetch them again, or e to edit the URLs.")
	if s.to.mode != modeManual {
		tail = s.env.say(st.Muted, s.mismatchHint())
	}
	if c.Stopped {
		tail = s.env.say(st.Muted, fmt.Sprintf("Stopped after %d problems: %d objects were not fetched. ", len(c.Problems), c.Objects-c.Checked)) + "\n" + tail
	}
	room := lines - lipgloss.Height(head) - lipgloss.Height(tail) - 1 // one line for "and N more"
	var items []string
	for i, p := range c.Problems {
		item := s.env.say(st.Warn, fmt.Sprintf("• %s (object %s): %s", p.Files(), objectName(p.Object), p.Problem))
		if h := lipgloss.Height(item); h > room && i > 0 {
			items = append(items, st.Muted.Render(fmt.Sprintf("  and %d more", len(c.Problems)-i)))
			break
		} else {
			room -= h
		}
		items = append(items, item)
	}
	return head + "\n" + strings.Join(items, "\n") + "\n" + tail
}

// objectName shortens an object's name (a SHA-256, maybe with .br) for
// people: its first 12 characters are enough to find it.
func objectName(name string) string {
	if len(name) <= 16 {
		return name
	}
	return name[:12] + "…"
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
