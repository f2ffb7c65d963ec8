package server

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFreshCallNeverAnswersWithAnOlderRun: a value bumped just before a
// call is always in the result, however the calls overlap, and concurrent
// callers share runs.
func TestFreshCallNeverAnswersWithAnOlderRun(t *testing.T) {
	var value, runs atomic.Int64
	f := newFreshCall(time.Second, func(context.Context) (int64, error) {
		runs.Add(1)
		v := value.Load()
		time.Sleep(200 * time.Microsecond) // a registry read takes a while
		return v, nil
	})
	const callers, calls = 16, 200
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range calls {
				want := value.Add(1)
				got, err := f.do(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if got < want {
					t.Errorf("got %d, a value read before the call (%d was set before it)", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := runs.Load(); n >= callers*calls {
		t.Errorf("%d runs for %d calls: concurrent callers did not share runs", n, callers*calls)
	}
	t.Logf("%d runs served %d calls", runs.Load(), callers*calls)
}

// TestFreshCallCallerGivesUp: a caller whose context ends stops waiting;
// the run goes on and serves the callers that stayed.
func TestFreshCallCallerGivesUp(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 4)
	f := newFreshCall(5*time.Second, func(context.Context) (int, error) {
		started <- struct{}{}
		<-release
		return 7, nil
	})
	first := make(chan int)
	go func() { v, _ := f.do(context.Background()); first <- v }()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error)
	go func() { _, err := f.do(ctx); gaveUp <- err }()
	stayed := make(chan int)
	go func() { v, _ := f.do(context.Background()); stayed <- v }()
	cancel()
	if err := <-gaveUp; err != context.Canceled {
		t.Fatalf("cancelled caller: %v", err)
	}
	close(release)
	if v := <-first; v != 7 {
		t.Fatalf("first caller got %d", v)
	}
	if v := <-stayed; v != 7 {
		t.Fatalf("waiting caller got %d", v)
	}
}
