//go:build go1.25

package corral_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// A caller that holds a value StaleIfError may serve waits for a refresh
// for the compute timeout at most, even when the function ignores its
// context: the leader and a waiter both get the old value then, and the
// computation goes on without them.
func TestStaleIfErrorAtComputeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newBubbleCache(t)
		opts := []corral.MemoOption{corral.ComputeTimeout(100 * time.Millisecond), corral.StaleIfError(time.Hour)}
		slow := false
		fn := func(context.Context) (string, error) {
			if slow {
				time.Sleep(1500 * time.Millisecond) // ignores its context
				return "new", nil
			}
			return "old", nil
		}
		must(t, errOf(corral.GetOrSet(ctx, c, "k", 10*time.Second, fn, opts...)))
		slow = true
		time.Sleep(30 * time.Second) // expired, inside the stale-if-error window

		type got struct {
			v    string
			err  error
			took time.Duration
		}
		results := make(chan got, 2)
		for range 2 { // a leader and a waiter
			go func() {
				start := time.Now()
				v, err := corral.GetOrSet(ctx, c, "k", 10*time.Second, fn, opts...)
				results <- got{v, err, time.Since(start)}
			}()
		}
		for range 2 {
			if r := <-results; r.v != "old" || r.err != nil || r.took != 100*time.Millisecond {
				t.Fatalf("caller = %q, %v after %v; want the old value at the 100ms compute timeout", r.v, r.err, r.took)
			}
		}
		time.Sleep(2 * time.Second) // the computation ends, past its timeout
		if s := c.Stats(); s.Computations != 2 || s.StaleServed != 2 || s.Errors != 0 {
			t.Fatalf("stats = %+v, want 2 computations, 2 stale served, no store error", s)
		}
		if v, err := corral.GetOrSet(ctx, c, "k", 10*time.Second, fn, opts...); v != "new" || err != nil {
			t.Fatalf("after the late computation ended: %q, %v; want its value, stored", v, err)
		}
	})
}
