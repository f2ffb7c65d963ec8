package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"capship/workflow"
)

// uploadMode is how the bundle gets where devices download it.
type uploadMode int

const (
	modeServer uploadMode = iota // capship uploads to the capship server's storage
	modeS3                       // capship uploads to an S3-compatible bucket
	modeManual                   // the person uploaded it and gives the URL
)

func (m uploadMode) String() string {
	switch m {
	case modeServer:
		return "Upload to the capship server"
	case modeS3:
		return "Upload to an S3 bucket"
	}
	return "I uploaded it myself: here is the URL"
}

// The S3 form's fields, in order.
const (
	s3Bucket = iota
	s3Endpoint
	s3Region
	s3PathStyle
	s3PublicBase
	s3Fields
)

// uploadTo is the part of the Upload step where capship uploads: the
// choice of a way, the capship server's and the bucket's settings, and
// the upload job.
type uploadTo struct {
	modes      []uploadMode
	choice     int // index in modes
	mode       uploadMode
	serverBase string // the capship server: --server, else the config's updateUrl
	server     textinput.Model
	token      textinput.Model // masked; never shown, never saved
	hasToken   bool            // the wizard was started with one
	s3         [s3Fields]textinput.Model
	pathStyle  bool
	s3Focus    int
	serverFoc  int // 0 server URL, 1 token
	formErr    error
	note       string // after a cancel: what is left where
	saveErr    error  // the bucket settings could not be remembered
	settingRun int    // run id of the settings read
	up         *Uploaded
}

// capshipServer is the base URL of the capship server releases go to:
// --server, else the one the config's updateUrl names (a capship server
// answers updates at BASE/updates); "" for none, or Capgo's cloud.
func capshipServer(p Project) string {
	if p.Server != "" {
		return strings.TrimRight(p.Server, "/")
	}
	return workflow.CapshipServer(p.UpdateURL)
}

func newUploadTo(p Project) uploadTo {
	t := uploadTo{serverBase: capshipServer(p), hasToken: p.HasToken, mode: modeManual}
	if t.serverBase != "" {
		t.modes = append(t.modes, modeServer)
	}
	t.modes = append(t.modes, modeS3, modeManual)
	t.server = newInput("https://updates.example.com", t.serverBase, 2048)
	t.token = newInput("capship_…", "", 512)
	t.token.EchoMode = textinput.EchoPassword
	t.token.EchoCharacter = '•'
	for i, ph := range [s3Fields]string{
		s3Bucket:     "s3://my-bucket/releases",
		s3Endpoint:   "empty for AWS S3; e.g. https://ACCOUNT.r2.cloudflarestorage.com",
		s3Region:     "empty: AWS_REGION or the profile's; us-east-1 with an endpoint",
		s3PublicBase: "empty: the endpoint's; e.g. https://cdn.example.com",
	} {
		if i != s3PathStyle {
			t.s3[i] = newInput(ph, "", 2048)
			t.s3[i].Prompt = "  "
		}
	}
	return t
}

func (t *uploadTo) settings() S3Settings {
	v := func(i int) string { return strings.TrimSpace(t.s3[i].Value()) }
	return S3Settings{Bucket: v(s3Bucket), Endpoint: v(s3Endpoint), Region: v(s3Region), PathStyle: t.pathStyle, PublicBase: v(s3PublicBase)}
}

func (t *uploadTo) setSettings(s S3Settings) {
	t.s3[s3Bucket].SetValue(s.Bucket)
	t.s3[s3Endpoint].SetValue(s.Endpoint)
	t.s3[s3Region].SetValue(s.Region)
	t.s3[s3PublicBase].SetValue(s.PublicBase)
	t.pathStyle = s.PathStyle
}

// Init of the step reads the remembered bucket settings.
func (s *uploadStep) loadSettings() tea.Cmd {
	r, app := s.env.run, s.bundle.AppID
	var cmd tea.Cmd
	s.to.settingRun, cmd = s.env.do(func() (any, error) { return r.S3Settings(app) })
	return cmd
}

// settingsRead takes the remembered bucket settings unless the person
// typed already; a file that cannot be read only loses them.
func (s *uploadStep) settingsRead(msg resultMsg) {
	s.to.settingRun = 0
	if set, ok := msg.val.(S3Settings); ok && msg.err == nil && s.to.settings() == (S3Settings{}) {
		s.to.setSettings(set)
	}
}

func (s *uploadStep) chooseHelp() []key.Binding {
	k := s.env.keys
	return []key.Binding{k.Up, k.Down, with(k.Next, "choose"), k.Back}
}

func (s *uploadStep) onChooseKey(msg tea.KeyMsg) tea.Cmd {
	k, t := s.env.keys, &s.to
	switch {
	case key.Matches(msg, k.Back):
		return goBack
	case key.Matches(msg, k.Up):
		t.choice = (t.choice + len(t.modes) - 1) % len(t.modes)
	case key.Matches(msg, k.Down):
		t.choice = (t.choice + 1) % len(t.modes)
	case key.Matches(msg, k.Next):
		return s.choose(t.modes[t.choice])
	}
	return nil
}

// choose opens the way's form; the capship server with a known token
// starts uploading at once.
func (s *uploadStep) choose(m uploadMode) tea.Cmd {
	t := &s.to
	t.mode, t.formErr, t.note = m, nil, ""
	switch m {
	case modeServer:
		if t.hasToken {
			return s.startUpload()
		}
		s.state = uploadServerForm
		return s.focusServer(1)
	case modeS3:
		s.state = uploadS3Form
		return s.focusS3(s3Bucket)
	}
	return s.edit()
}

// editTarget goes back to the current way's form.
func (s *uploadStep) editTarget() tea.Cmd {
	switch s.to.mode {
	case modeServer:
		s.state = uploadServerForm
		return s.focusServer(min(s.to.serverFoc, 1))
	case modeS3:
		s.state = uploadS3Form
		return s.focusS3(s.to.s3Focus)
	}
	return s.edit()
}

func (s *uploadStep) serverInputs() []*textinput.Model {
	if s.to.hasToken {
		return []*textinput.Model{&s.to.server}
	}
	return []*textinput.Model{&s.to.server, &s.to.token}
}

func (s *uploadStep) focusServer(i int) tea.Cmd {
	ins := s.serverInputs()
	i = min(i, len(ins)-1)
	for j, in := range ins {
		in.Blur()
		in.Prompt = "  "
		if j == i {
			in.Prompt = "› "
		}
	}
	s.to.serverFoc = i
	return ins[i].Focus()
}

func (s *uploadStep) focusS3(i int) tea.Cmd {
	for j := range s.to.s3 {
		if j != s3PathStyle {
			s.to.s3[j].Blur()
			s.to.s3[j].Prompt = "  "
		}
	}
	s.to.s3Focus = i
	if i == s3PathStyle {
		return nil
	}
	s.to.s3[i].Prompt = "› "
	return s.to.s3[i].Focus()
}

func (s *uploadStep) serverHelp() []key.Binding {
	k := s.env.keys
	if s.to.serverFoc == len(s.serverInputs())-1 {
		return []key.Binding{with(k.Next, "upload"), k.Tab, with(k.Back, "other way")}
	}
	return []key.Binding{with(k.Next, "next field"), k.Tab, with(k.Back, "other way")}
}

func (s *uploadStep) onServerKey(msg tea.KeyMsg) tea.Cmd {
	k, t := s.env.keys, &s.to
	n := len(s.serverInputs())
	switch {
	case key.Matches(msg, k.Back):
		return s.chooser()
	case key.Matches(msg, k.Tab):
		return s.focusServer((t.serverFoc + 1) % n)
	case key.Matches(msg, k.Next) && t.serverFoc < n-1:
		return s.focusServer(t.serverFoc + 1)
	case key.Matches(msg, k.Next):
		base := strings.TrimSpace(t.server.Value())
		switch {
		case base == "":
			t.formErr = errors.New("enter the capship server's address, e.g. https://updates.example.com")
			return s.focusServer(0)
		case !t.hasToken && strings.TrimSpace(t.token.Value()) == "":
			t.formErr = errors.New("enter an admin token of this app (made with 'capship token create' on the server)")
			return s.focusServer(1)
		}
		return s.startUpload()
	}
	t.formErr = nil
	in := s.serverInputs()[t.serverFoc]
	var cmd tea.Cmd
	*in, cmd = in.Update(msg)
	return cmd
}

func (s *uploadStep) s3Help() []key.Binding {
	k := s.env.keys
	back := with(k.Back, "other way")
	switch s.to.s3Focus {
	case s3PathStyle:
		return []key.Binding{k.Toggle, with(k.Next, "next field"), k.Tab, back}
	case s3PublicBase:
		return []key.Binding{with(k.Next, "upload"), k.Tab, back}
	}
	return []key.Binding{with(k.Next, "next field"), k.Tab, back}
}

func (s *uploadStep) onS3Key(msg tea.KeyMsg) tea.Cmd {
	k, t := s.env.keys, &s.to
	switch {
	case key.Matches(msg, k.Back):
		return s.chooser()
	case key.Matches(msg, k.Tab):
		if msg.String() == "shift+tab" {
			return s.focusS3((t.s3Focus + s3Fields - 1) % s3Fields)
		}
		return s.focusS3((t.s3Focus + 1) % s3Fields)
	case key.Matches(msg, k.Next) && t.s3Focus == s3Bucket:
		if _, _, err := workflow.ParseS3URL(t.s3[s3Bucket].Value()); err != nil {
			t.formErr = fmt.Errorf("bucket: write it as s3://BUCKET or s3://BUCKET/PREFIX")
			return nil
		}
		return s.focusS3(s3Endpoint)
	case key.Matches(msg, k.Next) && t.s3Focus < s3PublicBase:
		return s.focusS3(t.s3Focus + 1)
	case key.Matches(msg, k.Next):
		if _, _, err := workflow.ParseS3URL(t.s3[s3Bucket].Value()); err != nil {
			t.formErr = fmt.Errorf("bucket: write it as s3://BUCKET or s3://BUCKET/PREFIX")
			return s.focusS3(s3Bucket)
		}
		return s.startUpload()
	case t.s3Focus == s3PathStyle:
		if key.Matches(msg, k.Toggle) {
			t.pathStyle = !t.pathStyle
		}
		return nil
	}
	t.formErr = nil
	var cmd tea.Cmd
	t.s3[t.s3Focus], cmd = t.s3[t.s3Focus].Update(msg)
	return cmd
}

// chooser goes back to the list of ways.
func (s *uploadStep) chooser() tea.Cmd {
	s.state, s.to.formErr = uploadChoosing, nil
	s.url.Blur()
	s.files.Blur()
	return nil
}

// target is where the current way uploads.
func (s *uploadStep) target() workflow.UploadTarget {
	if s.to.mode == modeS3 {
		return s.to.settings().Target()
	}
	return workflow.UploadTarget{Server: strings.TrimSpace(s.to.server.Value()), Token: strings.TrimSpace(s.to.token.Value())}
}

// uploadJob is what the upload job returns.
type uploadJob struct {
	up      Uploaded
	saveErr error
}

// startUpload uploads the bundle and its objects, then downloads them
// back; the bucket settings are remembered first.
func (s *uploadStep) startUpload() tea.Cmd {
	t := &s.to
	t.formErr, t.note, t.saveErr, t.up = nil, "", nil, nil
	s.err, s.base, s.objects, s.check, s.zipOK, s.warnings = nil, "", nil, URLCheck{}, false, nil
	all := s.uploadObjects()
	s.state, s.ev = uploadUploading, workflow.Event{Phase: workflow.PhaseUpload, TotalFiles: all.objects, TotalBytes: all.bytes}
	for _, in := range append(s.serverInputs(), &t.s3[s3Bucket], &t.s3[s3Endpoint], &t.s3[s3Region], &t.s3[s3PublicBase]) {
		in.Blur()
	}
	r, b, to, mode, set := s.env.run, s.bundle, s.target(), t.mode, t.settings()
	var cmd tea.Cmd
	s.job, cmd = s.env.start(func(ctx context.Context, report func(workflow.Event)) (any, error) {
		var out uploadJob
		if mode == modeS3 {
			out.saveErr = r.SaveS3Settings(b.AppID, set)
		}
		up, err := r.Upload(ctx, b, to, report)
		out.up = up
		return out, err
	})
	return cmd
}

// uploadObjects counts what an upload sends: the bundle and each distinct
// object of its delta.
func (s *uploadStep) uploadObjects() (all struct {
	objects int
	bytes   int64
}) {
	all.objects, all.bytes = 1, s.bundle.Size
	if s.delta() {
		d := s.bundle.Delta.Download(nil)
		all.objects += d.Objects
		all.bytes += d.Bytes
	}
	return all
}

// uploaded takes the upload job's result: the URLs go into the fields,
// and the check's findings decide the state as for a URL given by hand.
func (s *uploadStep) uploaded(msg resultMsg) tea.Cmd {
	out, _ := msg.val.(uploadJob)
	s.to.saveErr = out.saveErr
	if out.up.URL != "" {
		up := out.up
		s.to.up = &up
		s.url.SetValue(up.URL)
		s.files.SetValue(up.FilesURL)
	}
	switch {
	case msg.err != nil:
		s.state, s.err = uploadFailed, msg.err
		if errors.Is(msg.err, workflow.ErrAccessDenied) && s.to.mode == modeServer {
			s.to.hasToken = false // the form asks for another token, as the hint says
		}
	case !out.up.Check.OK():
		s.state, s.check = uploadMismatch, out.up.Check
	case out.up.Files != nil && !out.up.Files.OK():
		s.state, s.check, s.zipOK, s.base, s.objects = uploadFilesMismatch, out.up.Check, true, out.up.FilesURL, out.up.Files
	default:
		s.state, s.check, s.zipOK, s.base, s.objects = uploadOK, out.up.Check, true, out.up.FilesURL, out.up.Files
	}
	return nil
}

// cancelUpload stops the upload; nothing is registered before the next
// step, and objects already sent are skipped next time.
func (s *uploadStep) cancelUpload() tea.Cmd {
	s.job.cancel()
	s.job = nil // drop whatever it still sends
	cmd := s.editTarget()
	s.to.note = "Upload cancelled: nothing was registered. Objects already sent stay there and are skipped next time."
	return cmd
}

// uploadHint says what to do about a failed upload, in keys.
func (s *uploadStep) uploadHint() string {
	err, t := s.err, &s.to
	uploadedNotChecked := t.up != nil
	switch {
	case errors.Is(err, workflow.ErrNoCredentials):
		return "capship found no S3 credentials. Quit (ctrl+c), set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in this shell, and start the wizard again; or press e to edit the bucket settings."
	case errors.Is(err, workflow.ErrAccessDenied) && t.mode == modeServer:
		return "The server refused the admin token: press e to enter a token of this app ('capship token create' on the server), then enter to upload again."
	case errors.Is(err, workflow.ErrAccessDenied):
		return "The bucket refused the request: check that the credentials may write (s3:PutObject) and read there, then press r to retry, or e to edit the bucket settings."
	case errors.Is(err, workflow.ErrNoRegion), errors.Is(err, workflow.ErrWrongRegion):
		return "Press e and give the bucket's region."
	case errors.Is(err, workflow.ErrObjectConflict):
		return "Another file is stored under the bundle's name: delete it there, then press r to upload again."
	case errors.Is(err, workflow.ErrBadURL) && uploadedNotChecked && t.mode == modeS3:
		return "Uploaded, but devices cannot use that address: press e and give the public base URL (https://) devices reach the bucket at."
	case errors.Is(err, workflow.ErrBadURL) && t.mode == modeS3:
		return "Press e to fix the bucket settings."
	case errors.Is(err, workflow.ErrBadURL):
		return "Press e to fix the server's address."
	case uploadedNotChecked:
		return "Uploaded, but the download back failed: check that the public URL is reachable from this machine, then press r to upload and check again."
	case t.mode == modeServer:
		return "Check that the server is reachable from here and hosts bundles (capship serve --storage), then press r to retry or e to edit."
	}
	return "Check the endpoint and that it is reachable from here, then press r to retry or e to edit the bucket settings."
}

// mismatchHint says how to fix hosted bytes that are not the built ones
// after an upload.
func (s *uploadStep) mismatchHint() string {
	if s.to.mode == modeS3 {
		return "Devices download without credentials: make the objects publicly readable (a bucket policy allowing s3:GetObject), or press e to set the public base URL; then press r to upload and check again."
	}
	return "The storage serves other bytes than those sent: press r to upload and check again, or e to edit the server."
}

func (s *uploadStep) chooseView() string {
	st, t := s.env.st, &s.to
	var b strings.Builder
	for i, m := range t.modes {
		line := m.String()
		if i == t.choice {
			b.WriteString(st.Cursor.Render("› " + line))
		} else {
			b.WriteString("  " + line)
		}
		b.WriteString("\n")
		var what string
		switch m {
		case modeServer:
			what = "to its storage at " + shorten(t.serverBase, s.env.width-24)
		case modeS3:
			what = "AWS S3, Cloudflare R2, MinIO…, with the AWS SDK's credentials"
			if set := t.settings(); set.Bucket != "" {
				what = "last used: " + shorten(set.Bucket, s.env.width-16)
			}
		default:
			what = "any web server or CDN; capship downloads it back to check"
		}
		b.WriteString(st.Muted.Render("    "+what) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func (s *uploadStep) serverView() string {
	st, t := s.env.st, &s.to
	label := func(i int, text string) string { return focusLabel(st, i == t.serverFoc, text) }
	var b strings.Builder
	b.WriteString(label(0, "capship server") + st.Muted.Render("  (its base URL; it hosts bundles with --storage)") + "\n")
	b.WriteString(t.server.View() + "\n")
	if !t.hasToken {
		b.WriteString("\n" + label(1, "Admin token") + st.Muted.Render("  (used for this upload only: never shown, never saved)") + "\n")
		b.WriteString(t.token.View() + "\n")
	}
	return strings.TrimRight(b.String(), "\n") + s.formNotes()
}

func (s *uploadStep) s3View() string {
	st, t := s.env.st, &s.to
	label := func(i int, text string) string { return focusLabel(st, i == t.s3Focus, text) }
	var b strings.Builder
	for i, name := range [s3Fields]string{"Bucket and prefix", "Endpoint", "Region", "Path style", "Public base URL"} {
		if i == s3PathStyle {
			box, prompt := "[ ]", "  "
			if t.pathStyle {
				box = "[x]"
			}
			if t.s3Focus == i {
				prompt = "› "
			}
			b.WriteString(prompt + box + " " + label(i, name) + st.Muted.Render("  ENDPOINT/BUCKET/KEY (MinIO, most self-hosted)") + "\n")
			continue
		}
		b.WriteString(label(i, name) + "\n" + t.s3[i].View() + "\n")
	}
	b.WriteString(s.env.say(st.Muted, "Credentials come from the AWS SDK's standard chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/credentials); capship stores none. These settings are remembered for this app."))
	return strings.TrimRight(b.String(), "\n") + s.formNotes()
}

// formNotes are the form's error and the note of a cancelled upload.
func (s *uploadStep) formNotes() string {
	st, t := s.env.st, &s.to
	var b strings.Builder
	if t.formErr != nil {
		b.WriteString("\n" + s.env.say(st.Bad, "✗ "+t.formErr.Error()))
	}
	if t.note != "" {
		b.WriteString("\n" + s.env.say(st.Warn, "! "+t.note))
	}
	return b.String()
}

func (s *uploadStep) uploadingView() string {
	st := s.env.st
	var b strings.Builder
	target := s.to.server.Value()
	if s.to.mode == modeS3 {
		target = s.to.s3[s3Bucket].Value()
	}
	if s.ev.Phase == workflow.PhaseUpload || s.ev.Phase == "" {
		b.WriteString("Uploading to " + st.Code.Render(shorten(strings.TrimSpace(target), s.env.width-14)) + "\n")
		counts := fmt.Sprintf("%d of %d objects · %s of %s", s.ev.Files, s.ev.TotalFiles, sizeOf(s.ev.Bytes), sizeOf(s.ev.TotalBytes))
		if s.ev.Skipped > 0 {
			counts += fmt.Sprintf(" · %d already there", s.ev.Skipped)
		}
		b.WriteString(s.barView(counts))
		return b.String()
	}
	b.WriteString(s.env.say(st.Good, "✓ Uploaded.") + "\n")
	b.WriteString("Downloading it back to compare with the built bytes\n")
	counts := fmt.Sprintf("%s of %s", sizeOf(s.ev.Bytes), sizeOf(s.ev.TotalBytes))
	if s.ev.TotalFiles > 0 {
		counts = fmt.Sprintf("%d of %d objects · ", s.ev.Files, s.ev.TotalFiles) + counts
	}
	b.WriteString(s.barView(counts))
	return b.String()
}

// uploadedLine sums up an upload for the OK view.
func (s *uploadStep) uploadedLine() string {
	up := s.to.up
	if up == nil {
		return ""
	}
	line := fmt.Sprintf("%d objects sent (%s)", up.Uploaded, sizeOf(up.Bytes))
	if up.Skipped > 0 {
		line += fmt.Sprintf(", %d already there", up.Skipped)
	}
	return line
}

// focusLabel is a form field's label, bold in the accent color when the
// field has the focus.
func focusLabel(st Styles, focused bool, text string) string {
	if focused {
		return st.Focus.Render(text)
	}
	return st.Label.Render(text)
}
