package ui

import (
	"context"
	"sync"

	"github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/bubbles/spinner"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"capship/workflow"
)

// env is what every step shares: the runner, the look, the keys, the size
// of the body area and the source of run ids. It belongs to one wizard.
type env struct {
	ctx     context.Context
	run     Runner
	st      Styles
	keys    KeyMap
	width   int // of the body area
	height  int
	lastRun int
	jobs    sync.WaitGroup // long jobs still running
	crash   crashNote      // the first panic, for the crash report
}

// nextRun returns a run id that no earlier job of this wizard had, so that
// a message from a cancelled or abandoned job is recognised and dropped.
func (e *env) nextRun() int {
	e.lastRun++
	return e.lastRun
}

// resultMsg is the outcome of a one-shot command started with do.
type resultMsg struct {
	run int
	val any
	err error
	// panicked is what a job's goroutine panicked with; the command that
	// reads the job panics again with it, where Bubble Tea recovers it.
	panicked any
}

// do runs fn in a command and reports its result as a resultMsg.
func (e *env) do(fn func() (any, error)) (int, tea.Cmd) {
	run := e.nextRun()
	return run, func() tea.Msg {
		defer func() {
			if r := recover(); r != nil {
				e.crash.repanic(r)
			}
		}()
		v, err := fn()
		return resultMsg{run: run, val: v, err: err}
	}
}

// progressMsg is one progress event of a long job.
type progressMsg struct {
	run int
	ev  workflow.Event
}

// job is a long-running piece of work (pack, download check) running in a
// goroutine. Its events arrive through a buffered channel, read by a
// command that the step re-arms after each event; the goroutine never
// blocks on a send, so it ends even if nobody listens any more.
type job struct {
	run    int
	events chan workflow.Event
	done   chan resultMsg
	cancel context.CancelFunc
}

// start runs fn in a goroutine under a cancellable context and returns the
// job with the command that waits for its first message.
func (e *env) start(fn func(ctx context.Context, report func(workflow.Event)) (any, error)) (*job, tea.Cmd) {
	ctx, cancel := context.WithCancel(e.ctx)
	j := &job{
		run:    e.nextRun(),
		events: make(chan workflow.Event, 16),
		done:   make(chan resultMsg, 1),
		cancel: cancel,
	}
	report := func(ev workflow.Event) {
		select {
		case j.events <- ev:
		default: // the UI is behind; a newer event will follow
		}
	}
	e.jobs.Add(1)
	go func() {
		defer e.jobs.Done()
		defer func() {
			if r := recover(); r != nil { // not in Bubble Tea's goroutines: hand it over
				e.crash.record(r)
				cancel()
				j.done <- resultMsg{run: j.run, panicked: r}
			}
		}()
		v, err := fn(ctx, report)
		cancel()
		j.done <- resultMsg{run: j.run, val: v, err: err}
	}()
	return j, j.wait()
}

// wait returns the command that delivers the job's next message: a
// progress event, or its result once it has finished.
func (j *job) wait() tea.Cmd {
	return func() tea.Msg {
		select {
		case r := <-j.done:
			if r.panicked != nil {
				panic(r.panicked)
			}
			return r
		case ev := <-j.events:
			return progressMsg{run: j.run, ev: ev}
		}
	}
}

// newSpinner is the spinner shown while a one-shot command runs.
func (e *env) newSpinner() spinner.Model {
	return spinner.New(spinner.WithSpinner(spinner.Dot), spinner.WithStyle(e.st.Muted))
}

// spin advances sp while busy; a tick arriving after the work ended stops
// the tick loop.
func spin(sp *spinner.Model, busy bool, msg spinner.TickMsg) tea.Cmd {
	if !busy {
		return nil
	}
	var cmd tea.Cmd
	*sp, cmd = sp.Update(msg)
	return cmd
}

// newBar is the progress bar of long jobs, in the wizard's color profile.
func (e *env) newBar() progress.Model {
	return progress.New(progress.WithDefaultGradient(), progress.WithoutPercentage(),
		progress.WithColorProfile(e.st.Renderer.ColorProfile()))
}

// newInput is a one-line text input holding value.
func newInput(placeholder, value string, limit int) textinput.Model {
	ti := textinput.New()
	ti.Prompt = "› "
	ti.Placeholder = placeholder
	ti.CharLimit = limit
	ti.SetValue(value)
	return ti
}
