package server

import (
	"context"
	"sync"
	"time"
)

// freshCall coalesces concurrent calls of one function without ever giving
// a caller a result older than its call: every caller gets the result of a
// run that started after it asked. While a run is in flight, new callers
// wait for the next run, which starts as soon as this one ends and serves
// all of them. Under load one registry read so answers many update checks,
// and a change committed before a check is always seen by it.
type freshCall[T any] struct {
	fn      func(context.Context) (T, error)
	timeout time.Duration // bound of one run; runs ignore their callers' contexts

	mu      sync.Mutex
	running bool
	next    *freshRun[T] // callers waiting for a run that has not started
}

type freshRun[T any] struct {
	done chan struct{}
	val  T
	err  error
}

func newFreshCall[T any](timeout time.Duration, fn func(context.Context) (T, error)) *freshCall[T] {
	return &freshCall[T]{fn: fn, timeout: timeout}
}

// do returns the result of a run of fn that started after do was called.
// The first caller of an idle freshCall runs fn itself; a caller whose ctx
// ends first returns ctx's error, and the run goes on for the others.
func (f *freshCall[T]) do(ctx context.Context) (T, error) {
	f.mu.Lock()
	if !f.running {
		f.running = true
		f.mu.Unlock()
		r := &freshRun[T]{done: make(chan struct{})}
		f.run(r)
		return r.val, r.err
	}
	if f.next == nil {
		f.next = &freshRun[T]{done: make(chan struct{})}
	}
	r := f.next
	f.mu.Unlock()
	select {
	case <-r.done:
		return r.val, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// run runs fn for r's callers, then starts the run its waiters need.
func (f *freshCall[T]) run(r *freshRun[T]) {
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	r.val, r.err = f.fn(ctx)
	cancel()
	close(r.done)
	f.mu.Lock()
	next := f.next
	f.next = nil
	f.running = next != nil
	f.mu.Unlock()
	if next != nil {
		go f.run(next)
	}
}
