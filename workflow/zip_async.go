package workflow

import (
	"errors"
	"io"
	"sync"
)

// asyncWriter hands what is written to it, in buffers of asyncBufSize, to a
// goroutine that writes them to w in order. WriteZip's writer uses it so that
// whatever w does with the bytes (Build hashes, encrypts, hashes again and
// writes the file) runs on another core than the assembling of the archive.
// At most asyncBuffers buffers exist. Close must be called, on every path:
// it flushes, stops the goroutine and returns the first error of w.
type asyncWriter struct {
	w    io.Writer
	buf  []byte
	full chan []byte
	free chan []byte
	done chan struct{}

	mu  sync.Mutex
	err error // first error of w; later buffers are dropped
}

const (
	asyncBufSize = 256 << 10
	asyncBuffers = 4
)

var errAsyncClosed = errors.New("archive writer closed")

func newAsyncWriter(w io.Writer) *asyncWriter {
	a := &asyncWriter{
		w:    w,
		full: make(chan []byte, asyncBuffers),
		free: make(chan []byte, asyncBuffers),
		done: make(chan struct{}),
	}
	for range asyncBuffers - 1 {
		a.free <- make([]byte, 0, asyncBufSize)
	}
	a.buf = make([]byte, 0, asyncBufSize)
	go a.loop()
	return a
}

func (a *asyncWriter) loop() {
	defer close(a.done)
	for b := range a.full {
		if a.failed() == nil {
			if _, err := a.w.Write(b); err != nil {
				a.mu.Lock()
				a.err = err
				a.mu.Unlock()
			}
		}
		a.free <- b[:0]
	}
}

func (a *asyncWriter) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *asyncWriter) Write(p []byte) (int, error) {
	if a.buf == nil {
		return 0, errAsyncClosed
	}
	if err := a.failed(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		k := copy(a.buf[len(a.buf):cap(a.buf)], p)
		a.buf = a.buf[:len(a.buf)+k]
		p = p[k:]
		if len(a.buf) == cap(a.buf) {
			a.full <- a.buf
			a.buf = <-a.free
		}
	}
	return n, nil
}

// Abort drops what is buffered or queued, and stops the goroutine; after
// Close it does nothing.
func (a *asyncWriter) Abort() {
	if a.buf == nil {
		return
	}
	a.mu.Lock()
	if a.err == nil {
		a.err = errAsyncClosed
	}
	a.mu.Unlock()
	a.Close()
}

// Close sends what is buffered, waits until w has it all and returns w's
// first error. Calling it again does nothing.
func (a *asyncWriter) Close() error {
	if a.buf != nil {
		if len(a.buf) > 0 {
			a.full <- a.buf
		}
		a.buf = nil
		close(a.full)
	}
	<-a.done
	return a.failed()
}
