//go:build go1.25

package corral_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// A cycle across two computations is recursion too: a(1) asks for b(1)
// while b(1), started by another caller, asks for a(1). Each would wait
// for the other until the compute timeout; instead at least one gets
// ErrRecursion at once, and the other gets an answer through its flight.
func TestRecursionAcrossTwoComputations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newBubbleCache(t)
		aStarted, bStarted := make(chan struct{}), make(chan struct{})
		var a, b func(context.Context, int) (int, error)
		a = corral.Memoize(c, "a", time.Minute, func(ctx context.Context, n int) (int, error) {
			close(aStarted)
			<-bStarted
			return b(ctx, n)
		})
		b = corral.Memoize(c, "b", time.Minute, func(ctx context.Context, n int) (int, error) {
			close(bStarted)
			<-aStarted
			return a(ctx, n)
		})
		errs := make(chan error, 2)
		start := time.Now()
		go func() { _, err := a(ctx, 1); errs <- err }()
		go func() { _, err := b(ctx, 1); errs <- err }()
		recursions := 0
		for range 2 {
			select {
			case err := <-errs:
				if errors.Is(err, corral.ErrRecursion) {
					recursions++
				} else if err == nil {
					t.Errorf("a caller got no error from a cycle")
				}
			case <-time.After(time.Second):
				t.Fatalf("the cycle hangs")
			}
		}
		if took := time.Since(start); took > time.Millisecond {
			t.Errorf("the cycle took %v, want it found at once", took)
		}
		if recursions == 0 {
			t.Errorf("no caller got ErrRecursion")
		}
	})
}

// Computations that wait for the same one, without a cycle, are no
// recursion: a(1) asks for b(1) and c(1) at once, and both ask for d(1),
// while another caller asks for b(1) too.
func TestSharedWaitsAreNoRecursion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newBubbleCache(t)
		gate := make(chan struct{})
		d := corral.Memoize(c, "d", time.Minute, func(context.Context, int) (int, error) {
			<-gate
			return 1, nil
		})
		mid := func(ctx context.Context, n int) (int, error) {
			v, err := d(ctx, n)
			return v + 1, err
		}
		b := corral.Memoize(c, "b", time.Minute, mid)
		cc := corral.Memoize(c, "c", time.Minute, mid)
		a := corral.Memoize(c, "a", time.Minute, func(ctx context.Context, n int) (int, error) {
			errs := make(chan error, 2)
			go func() { _, err := b(ctx, n); errs <- err }()
			go func() { _, err := cc(ctx, n); errs <- err }()
			return 0, errors.Join(<-errs, <-errs)
		})
		errs := make(chan error, 2)
		go func() { _, err := a(ctx, 1); errs <- err }()
		go func() { _, err := b(ctx, 1); errs <- err }()
		synctest.Wait() // everyone waits for d(1)
		close(gate)
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("a caller = %v, want no error", err)
			}
		}
	})
}
