package corral

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestFlightGoexitPanicRelease(t *testing.T) {
	var f flights
	// Goexit: leader goroutine exits, waiters get an error, nobody hangs.
	started := make(chan struct{})
	gate := make(chan struct{})
	fn := func(release func()) (any, error) {
		close(started)
		<-gate
		release()
		release() // twice
		runtime.Goexit()
		return nil, nil
	}
	ldone := make(chan struct{})
	go func() {
		defer close(ldone)
		out := f.join(context.Background(), "k", 0, fn)
		reraise(out.err)
		t.Error("leader survived Goexit")
	}()
	<-started
	var werr error
	wdone := make(chan joined)
	go func() { wdone <- f.join(context.Background(), "k", 0, nil) }()
	time.Sleep(10 * time.Millisecond)
	close(gate)
	select {
	case o := <-wdone:
		werr = o.err
		t.Logf("waiter: %+v", o)
	case <-time.After(2 * time.Second):
		t.Fatal("waiter hung")
	}
	<-ldone
	_ = werr

	// panic after release: waiters released, leader re-panics
	started2 := make(chan struct{})
	gate2 := make(chan struct{})
	fn2 := func(release func()) (any, error) {
		close(started2)
		release()
		<-gate2
		panic("boom")
	}
	var lp any
	l2 := make(chan struct{})
	go func() {
		defer close(l2)
		defer func() { lp = recover() }()
		out := f.join(context.Background(), "p", 0, fn2)
		reraise(out.err)
	}()
	<-started2
	o := f.join(context.Background(), "p", 0, nil)
	if !o.released {
		t.Errorf("waiter after release: %+v", o)
	}
	close(gate2)
	<-l2
	if lp != "boom" {
		t.Errorf("leader got %v", lp)
	}

	// leader cancelled while waiters wait: waiters still get the value
	ctx, cancel := context.WithCancel(context.Background())
	gate3 := make(chan struct{})
	s3 := make(chan struct{})
	lo := make(chan joined)
	go func() {
		lo <- f.join(ctx, "c", 0, func(func()) (any, error) { close(s3); <-gate3; return "v", nil })
	}()
	<-s3
	var wg sync.WaitGroup
	res := make([]joined, 5)
	for i := range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); res[i] = f.join(context.Background(), "c", 0, nil) }()
	}
	time.Sleep(10 * time.Millisecond)
	cancel()
	if x := <-lo; !errors.Is(x.err, context.Canceled) {
		t.Errorf("leader: %+v", x)
	}
	close(gate3)
	wg.Wait()
	for i, r := range res {
		if r.val != "v" || r.err != nil {
			t.Errorf("waiter %d: %+v", i, r)
		}
	}
}
