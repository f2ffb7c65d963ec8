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
//
// Runs happen on one worker goroutine that lives while calls keep coming
// (and freshIdle after): a registry read needs a deep stack, which a new
// goroutine would grow, by copying, on every run.
type freshCall[T any] struct {
	fn      func(context.Context) (T, error)
	timeout time.Duration // bound of one run; runs ignore their callers' contexts

	mu     sync.Mutex
	next   *freshRun[T]  // callers waiting for a run that has not started
	worker bool          // the worker goroutine is alive
	wake   chan struct{} // tells the worker that next is set
}

type freshRun[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// freshIdle is how long a worker waits for more calls before it exits.
const freshIdle = 2 * time.Second

func newFreshCall[T any](timeout time.Duration, fn func(context.Context) (T, error)) *freshCall[T] {
	return &freshCall[T]{fn: fn, timeout: timeout, wake: make(chan struct{}, 1)}
}

// do returns the result of a run of fn that started after do was called.
// A caller whose ctx ends first returns ctx's error; the run goes on for
// the others.
func (f *freshCall[T]) do(ctx context.Context) (T, error) {
	f.mu.Lock()
	r := f.next
	if r == nil {
		r = &freshRun[T]{done: make(chan struct{})}
		f.next = r
		select {
		case f.wake <- struct{}{}:
		default: // already signalled
		}
	}
	if !f.worker {
		f.worker = true
		go f.work()
	}
	f.mu.Unlock()
	select {
	case <-r.done:
		return r.val, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// work runs fn for each waiting set of callers, one run at a time, and
// exits after freshIdle without calls.
func (f *freshCall[T]) work() {
	idle := time.NewTimer(freshIdle)
	defer idle.Stop()
	for {
		f.mu.Lock()
		r := f.next
		f.next = nil
		if r == nil {
			f.mu.Unlock()
			idle.Reset(freshIdle)
			select {
			case <-f.wake:
				continue
			case <-idle.C:
				f.mu.Lock()
				if f.next == nil {
					f.worker = false
					f.mu.Unlock()
					return
				}
				f.mu.Unlock()
				continue
			}
		}
		f.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
		r.val, r.err = f.fn(ctx)
		cancel()
		close(r.done)
	}
}
