package ui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/progress"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"capship/workflow"
)

// packStep zips, hashes and encrypts the build folder with live progress.
// Esc or ctrl+c cancels; the engine then removes its temp file, and the
// step says so only once the engine has returned.
type packStep struct {
	env       *env
	req       BuildRequest
	preflight Preflight
	job       *job
	state     packState
	bar       progress.Model
	ev        workflow.Event
	started   time.Time
	lastAt    time.Time
	lastBytes int64
	rate      float64 // bytes per second, smoothed
	bundle    Bundle
	err       error
	now       func() time.Time
	// What phones on each channel download of the bundle: asked once the
	// pack is done (dlRun is the pending command), nil until it answers.
	dlRun     int
	downloads *Downloads
	dlErr     error
}

type packState int

const (
	packRunning packState = iota
	packCancelling
	packCancelled
	packFailed
	packFinished
)

func newPackStep(e *env, req BuildRequest, pf Preflight) *packStep {
	s := &packStep{env: e, req: req, preflight: pf, bar: e.newBar(), now: time.Now}
	s.Resize(e.width, e.height)
	return s
}

func (s *packStep) Init() tea.Cmd { return s.startJob() }

func (s *packStep) startJob() tea.Cmd {
	r, req := s.env.run, s.req
	s.state, s.err, s.ev = packRunning, nil, workflow.Event{Phase: workflow.PhaseScan}
	s.dlRun, s.downloads, s.dlErr = 0, nil, nil
	s.started, s.lastAt, s.lastBytes, s.rate = s.now(), s.now(), 0, 0
	var cmd tea.Cmd
	s.job, cmd = s.env.start(func(ctx context.Context, report func(workflow.Event)) (any, error) {
		return r.Build(ctx, req, report)
	})
	return cmd
}

func (s *packStep) Busy() bool { return s.state == packRunning || s.state == packCancelling }

func (s *packStep) Resize(width, height int) { s.bar.Width = max(min(width-2, 72), 10) }

func (s *packStep) Help() []key.Binding {
	k := s.env.keys
	switch s.state {
	case packRunning:
		return []key.Binding{k.Cancel}
	case packCancelling:
		return nil
	case packFinished:
		return []key.Binding{with(k.Next, "upload"), with(k.Back, "back to folder")}
	}
	if s.exists() {
		return []key.Binding{k.Replace, with(k.Back, "change version")}
	}
	return []key.Binding{k.Retry, with(k.Back, "back to folder")}
}

// exists reports that the run failed only because the bundle is there already.
func (s *packStep) exists() bool {
	return s.state == packFailed && errors.Is(s.err, workflow.ErrBundleExists)
}

func (s *packStep) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case progressMsg:
		if s.job == nil || msg.run != s.job.run {
			return nil // a late event of a cancelled run
		}
		if s.state == packRunning {
			s.observe(msg.ev)
		}
		return s.job.wait()
	case resultMsg:
		if s.dlRun != 0 && msg.run == s.dlRun {
			s.dlRun = 0
			if msg.err != nil {
				s.dlErr = msg.err
			} else {
				d := msg.val.(Downloads)
				s.downloads = &d
			}
			return nil
		}
		if s.job == nil || msg.run != s.job.run {
			return nil
		}
		s.job = nil
		switch {
		case msg.err == nil:
			s.state, s.bundle = packFinished, msg.val.(Bundle)
			return s.compare()
		case errors.Is(msg.err, context.Canceled) && s.state == packCancelling:
			s.state = packCancelled
		default:
			s.state, s.err = packFailed, msg.err
		}
		return nil
	case tea.KeyMsg:
		k := s.env.keys
		switch s.state {
		case packRunning:
			if key.Matches(msg, k.Cancel) {
				s.state = packCancelling
				s.job.cancel()
			}
		case packCancelling:
		case packFinished:
			switch {
			case key.Matches(msg, k.Next):
				b := s.bundle
				return func() tea.Msg { return packDone{bundle: b} }
			case key.Matches(msg, k.Back):
				return goBack
			}
		default:
			switch {
			case key.Matches(msg, k.Replace) && s.exists():
				s.req.Force = true
				return s.startJob()
			case key.Matches(msg, k.Retry) && !s.exists():
				return s.startJob()
			case key.Matches(msg, k.Back):
				return goBack
			}
		}
	}
	return nil
}

// compare asks what phones on each channel download of the new bundle;
// a bundle without a delta goes to every phone as the zip.
func (s *packStep) compare() tea.Cmd {
	if s.bundle.Delta == nil {
		return nil
	}
	r, b, ctx := s.env.run, s.bundle, s.env.ctx
	var cmd tea.Cmd
	s.dlRun, cmd = s.env.do(func() (any, error) { return r.Downloads(ctx, b) })
	return cmd
}

// observe takes a progress event and updates throughput (smoothed) and the bar.
func (s *packStep) observe(ev workflow.Event) {
	now := s.now()
	if ev.Phase != s.ev.Phase { // bytes count from zero again
		s.lastAt, s.lastBytes, s.rate = now, 0, 0
	}
	if dt := now.Sub(s.lastAt).Seconds(); dt > 0.05 && ev.Bytes >= s.lastBytes {
		inst := float64(ev.Bytes-s.lastBytes) / dt
		if s.rate == 0 {
			s.rate = inst
		} else {
			s.rate = 0.7*s.rate + 0.3*inst
		}
		s.lastAt, s.lastBytes = now, ev.Bytes
	}
	s.ev = ev
}

func (s *packStep) fraction() float64 {
	if s.ev.TotalBytes <= 0 {
		return 0
	}
	return min(float64(s.ev.Bytes)/float64(s.ev.TotalBytes), 1)
}

func (s *packStep) View() string {
	st := s.env.st
	var b strings.Builder
	b.WriteString(st.Heading.Render("Pack and encrypt " + s.req.Version))
	b.WriteString("\n")
	b.WriteString(st.Muted.Render(shorten(s.req.Dir, s.env.width)) + "\n\n")
	switch s.state {
	case packRunning, packCancelling:
		b.WriteString(s.progressView())
		if s.state == packCancelling {
			b.WriteString("\n\n" + s.env.say(st.Warn, "Cancelling: removing the partial file…"))
		}
	case packCancelled:
		b.WriteString(s.env.say(st.Warn, "Cancelled. Nothing was written; the output folder is as it was."))
		b.WriteString("\n" + s.env.say(st.Muted, "Press r to pack again, or esc to change the folder or version."))
	case packFailed:
		hint := "Nothing was written. Fix the cause, then press r to retry or esc to go back."
		if s.exists() {
			hint = "This version was built before. Press f to replace that bundle (only if it was never uploaded and registered), or esc to pick a new version."
		}
		b.WriteString(errorView(st, s.env.width, s.err, hint))
	case packFinished:
		bd := s.bundle
		b.WriteString(st.Good.Render(fmt.Sprintf("✓ Packed %d files and encrypted them for %s.", bd.Files, bd.AppID)) + "\n\n")
		w := s.env.width - 12
		rows := [][2]string{
			{"File", st.Code.Render(shorten(bd.File, w))},
			{"Size", sizeOf(bd.Size)},
			{"SHA-256", shorten(bd.SHA256, w)},
		}
		next := "Next: upload this file to your storage and paste its URL."
		if bd.Delta != nil {
			all := bd.Delta.Download(nil)
			rows = append(rows, [2]string{"Files", shorten(fmt.Sprintf("%s/ · %d files in %d objects, %s",
				filepath.Base(bd.Delta.Dir), all.TotalFiles, all.Objects, sizeOf(all.Bytes)), w)})
			next = "Next: upload the file and the objects to your storage, then give their URLs."
		}
		rows = append(rows, [2]string{"Manifest", st.Muted.Render(shorten(filepath.Base(bd.Manifest), w))})
		b.WriteString(fields(st, rows...))
		b.WriteString("\n\n" + s.downloadsView())
		b.WriteString("\n\n" + s.env.say(st.Muted, next))
	}
	return b.String()
}

// downloadsView says what a phone downloads of the new bundle: on each
// channel's current release, the files it lacks, in MiB against the
// whole zip.
func (s *packStep) downloadsView() string {
	st, bd := s.env.st, s.bundle
	zip := mib(bd.Size)
	if bd.Delta == nil {
		why := bd.DeltaSkipped
		if why == "" {
			why = "the bundle has no per-file objects"
		}
		return s.env.say(st.Body, fmt.Sprintf("Phones download the whole zip, %s: %s.", zip, strings.TrimSuffix(why, ".")))
	}
	all := bd.Delta.Download(nil)
	head := fmt.Sprintf("What a phone downloads (the whole zip is %s):", zip)
	upTo := fmt.Sprintf("  up to %d files, %s (%s), less those it already holds", all.Files, mib(all.Bytes), percent(all.Bytes, bd.Size))
	switch {
	case s.dlRun != 0:
		return st.Muted.Render("Comparing with what your channels serve…")
	case s.dlErr != nil:
		return head + "\n" + upTo + "\n" + s.env.say(st.Warn, "! Could not compare with your channels' releases: "+s.dlErr.Error())
	case s.downloads == nil:
		return ""
	case s.downloads.NoCompare != "":
		return head + "\n" + upTo + "\n" +
			s.env.say(st.Muted, "Not compared with your channels' releases: "+s.downloads.NoCompare+" (the local registry does, with --db).")
	case len(s.downloads.Channels) == 0:
		return fmt.Sprintf("No channel serves a release yet. A phone downloads (zip: %s):\n", zip) +
			fmt.Sprintf("  up to %d files, %s (%s), less those the app shipped with", all.Files, mib(all.Bytes), percent(all.Bytes, bd.Size))
	}
	return s.channelsView()
}

// channelsView lists per channel what a phone on its release downloads:
// at most three lines, production first.
func (s *packStep) channelsView() string {
	st, bd := s.env.st, s.bundle
	chans := slices.Clone(s.downloads.Channels)
	first := func(c ChannelDownload) int {
		if c.Channel == "production" {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(chans, func(a, b ChannelDownload) int { return cmp.Compare(first(a), first(b)) })
	shown, more := chans, 0
	if len(chans) > 3 {
		shown, more = chans[:2], len(chans)-2
	}
	names := make([]string, len(shown))
	w := 0
	for i, c := range shown {
		names[i] = fmt.Sprintf("%s (%s)", c.Channel, c.Current)
		w = max(w, lipgloss.Width(names[i]))
	}
	var b strings.Builder
	b.WriteString(fmt.Sprintf("A phone on each channel's release downloads (the whole zip is %s):", mib(bd.Size)))
	for i, c := range shown {
		d := c.Download
		var what string
		switch {
		case c.Zip:
			what = fmt.Sprintf("the zip, %s: delta is off on %s", mib(bd.Size), c.Channel)
		case c.NoFileList:
			what = fmt.Sprintf("up to %d files, %s (%s): %s went as a zip only", d.Files, mib(d.Bytes), percent(d.Bytes, bd.Size), c.Current)
		default:
			what = fmt.Sprintf("%d of %d files, %s (%s)", d.Files, d.TotalFiles, mib(d.Bytes), percent(d.Bytes, bd.Size))
		}
		line := fmt.Sprintf("  %-*s  %s", w, names[i], what)
		b.WriteString("\n" + ansi.Truncate(line, s.env.width, "…"))
	}
	if more > 0 {
		b.WriteString("\n" + st.Muted.Render(fmt.Sprintf("  and %d more channels", more)))
	}
	return b.String()
}

func (s *packStep) progressView() string {
	st := s.env.st
	ev := s.ev
	var b strings.Builder
	phase := "Scanning the folder"
	switch ev.Phase {
	case workflow.PhasePack:
		phase = "Zipping, hashing and encrypting"
	case workflow.PhaseDelta:
		phase = "Compressing and encrypting each file, for delta updates"
	}
	b.WriteString(phase + "…\n")
	b.WriteString(s.bar.ViewAs(s.fraction()) + "\n")
	total := ev.TotalBytes
	if total == 0 {
		total = s.preflight.Bytes
	}
	totalFiles := ev.TotalFiles
	if totalFiles == 0 {
		totalFiles = s.preflight.Files
	}
	eta := "–"
	if s.rate > 0 && total > ev.Bytes {
		eta = duration(time.Duration(float64(total-ev.Bytes) / s.rate * float64(time.Second)))
	}
	b.WriteString(fields(st,
		[2]string{"Bytes", fmt.Sprintf("%s of %s (%.0f%%)", sizeOf(ev.Bytes), sizeOf(total), 100*s.fraction())},
		[2]string{"Files", fmt.Sprintf("%d of %d", ev.Files, totalFiles)},
		[2]string{"Speed", sizeOf(int64(s.rate)) + "/s"},
		[2]string{"Left", eta},
	))
	if ev.Current != "" {
		b.WriteString("\n" + st.Muted.Render(shorten(ev.Current, s.env.width)))
	}
	return b.String()
}
