//go:build go1.25

package corral

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// However a flight's computation ends, every caller returns: a Goexit ends
// the leader's goroutine and gives the waiters an error; a panic after
// release reaches the leader, with its value, once the released waiters
// have gone; a leader that leaves does not take the value from its waiters.
func TestFlightGoexitPanicRelease(t *testing.T) {
	t.Run("Goexit", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var f flights
			gate := make(chan struct{})
			leaderSurvived := false
			ldone := make(chan struct{})
			go func() {
				defer close(ldone) // runs on Goexit too
				out := f.join(context.Background(), "k", 0, nil, func(func()) (any, error) {
					<-gate
					runtime.Goexit()
					return nil, nil
				})
				reraise(out.err)
				leaderSurvived = true
			}()
			synctest.Wait() // the computation waits for gate
			wdone := make(chan joined, 1)
			go func() { wdone <- f.join(context.Background(), "k", 0, nil, nil) }()
			synctest.Wait() // the waiter waits for the computation
			close(gate)
			select {
			case o := <-wdone:
				if !errors.Is(o.err, ErrPanicked) || o.released || o.leader {
					t.Errorf("waiter of a computation that called Goexit: %+v, want an error wrapping ErrPanicked", o)
				}
			case <-time.After(time.Hour):
				t.Fatal("the waiter of a computation that called Goexit hung")
			}
			<-ldone
			if leaderSurvived {
				t.Error("the leader's goroutine went on after its computation called Goexit")
			}
		})
	})

	t.Run("panic after release", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var f flights
			started := make(chan struct{})
			gate := make(chan struct{})
			var leaderPanic any
			ldone := make(chan struct{})
			go func() {
				defer close(ldone)
				defer func() { leaderPanic = recover() }()
				out := f.join(context.Background(), "p", 0, nil, func(release func()) (any, error) {
					close(started)
					release()
					release() // a second release is harmless
					<-gate
					panic("boom")
				})
				reraise(out.err)
			}()
			<-started
			if o := f.join(context.Background(), "p", 0, nil, nil); !o.released || o.err != nil {
				t.Errorf("a waiter after release: %+v, want released", o)
			}
			close(gate)
			<-ldone
			if leaderPanic != "boom" {
				t.Errorf("the leader recovered %v, want its computation's panic %q", leaderPanic, "boom")
			}
		})
	})

	t.Run("leader cancelled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var f flights
			ctx, cancel := context.WithCancel(context.Background())
			gate := make(chan struct{})
			lo := make(chan joined)
			go func() {
				lo <- f.join(ctx, "c", 0, nil, func(func()) (any, error) { <-gate; return "v", nil })
			}()
			synctest.Wait() // the computation waits for gate
			var wg sync.WaitGroup
			res := make([]joined, 5)
			for i := range res {
				wg.Go(func() { res[i] = f.join(context.Background(), "c", 0, nil, nil) })
			}
			synctest.Wait() // the waiters wait for the computation
			cancel()
			if x := <-lo; !errors.Is(x.err, context.Canceled) {
				t.Errorf("cancelled leader: %+v, want context.Canceled", x)
			}
			close(gate)
			wg.Wait()
			for i, r := range res {
				if r.val != "v" || r.err != nil {
					t.Errorf("waiter %d: %+v, want the computation's %q", i, r, "v")
				}
			}
		})
	})
}

// A write forgets the flights of its key in every caching layer, so that a
// request through a nested layer after the write does not join a
// computation from before it.
func TestForgetKeyReachesLayers(t *testing.T) {
	var f flights
	block := make(chan struct{})
	defer close(block)
	wait := func(func()) (any, error) { <-block; return nil, nil }
	for _, key := range []string{"k", layerFlight("k", 1), layerFlight("k", 2), "other"} {
		f.start(key, nil, wait)
	}
	f.forgetKey("k")
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.m) != 1 || f.m["other"] == nil {
		t.Fatalf("flights left after forgetKey(k): %d, want only other's", len(f.m))
	}
}
