package workflow

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrStalled means a transfer moved nothing (a download neither the answer
// nor the next bytes of its body; an upload neither its body nor the
// answer) for longer than its stall timeout.
var ErrStalled = errors.New("stalled")

// defaultStallTimeout is how long a download may receive nothing.
const defaultStallTimeout = 30 * time.Second

// stallWatch ends a download whose server goes quiet: its context is
// cancelled with the cause ErrStalled when no bytes arrive for after,
// counting from the start and from every read that returned bytes.
type stallWatch struct {
	after time.Duration
	timer *time.Timer
}

// watchStall returns a context derived from ctx for the request, the
// watch, and a stop function to call when the download ends.
func watchStall(ctx context.Context, after time.Duration) (context.Context, *stallWatch, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &stallWatch{after: after}
	w.timer = time.AfterFunc(after, func() { cancel(ErrStalled) })
	return ctx, w, func() {
		w.timer.Stop()
		cancel(nil)
	}
}

// Reader returns r, holding off the stall while its reads bring bytes.
func (w *stallWatch) Reader(r io.Reader) io.Reader { return &stallReader{r: r, w: w} }

// stalled reports whether ctx, from watchStall, ended for a stall.
func stalled(ctx context.Context) bool { return errors.Is(context.Cause(ctx), ErrStalled) }

type stallReader struct {
	r io.Reader
	w *stallWatch
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.w.timer.Reset(s.w.after)
	}
	return n, err
}
