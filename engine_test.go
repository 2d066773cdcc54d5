//go:build go1.25

package corral_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// whileLeading runs lead on a goroutine of its own and waits until it blocks
// (in its computation, which may end once finish is closed), then runs join
// and waits until it blocks too (waiting for lead's computation); then it
// closes finish and waits for both to return. Call it inside a synctest
// bubble.
func whileLeading(t *testing.T, lead func(finish <-chan struct{}), join func()) {
	t.Helper()
	finish := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { lead(finish) })
	synctest.Wait()
	wg.Go(join)
	synctest.Wait()
	close(finish)
	wg.Wait()
}

// A waiter whose type differs from the leader's computes for itself, and
// never panics.
func TestJoinOfAnotherType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newBubbleCache(t)
		ctx := context.Background()
		var waiterCalls atomic.Int32
		var got int
		var err error
		var panicked any
		whileLeading(t, func(finish <-chan struct{}) {
			_, _ = corral.GetOrSet(ctx, c, "k", time.Minute, func(context.Context) (string, error) {
				<-finish
				return "hello", nil
			})
		}, func() {
			defer func() { panicked = recover() }()
			got, err = corral.GetOrSet(ctx, c, "k", time.Minute, func(context.Context) (int, error) {
				waiterCalls.Add(1)
				return 42, nil
			})
		})
		if panicked != nil {
			t.Fatalf("a waiter of another type panicked: %v", panicked)
		}
		if got != 42 || err != nil || waiterCalls.Load() != 1 {
			t.Fatalf("a waiter of another type got %v, %v after %d calls of its own function, want 42 from its one call", got, err, waiterCalls.Load())
		}
	})
}

// failGetStore is a store whose Get fails: every lookup is a store outage.
type failGetStore struct{ corral.Store }

func (failGetStore) Get(context.Context, string) ([]byte, error) { return nil, errors.New("boom") }

// A waiter given a mutable value that was not stored (the store is down, or
// the TTL is negative) gets a copy of its own: a change to it does not reach
// the leader's.
func TestSharedMapStoreDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := corral.New(failGetStore{corral.NewMemoryStore(corral.CleanupInterval(0))})
		ctx := context.Background()
		var leaderVal, waiterVal map[string]int
		var waiterCalls atomic.Int32
		whileLeading(t, func(finish <-chan struct{}) {
			leaderVal, _ = corral.GetOrSet(ctx, c, "m", time.Minute, func(context.Context) (map[string]int, error) {
				<-finish
				return map[string]int{"a": 1}, nil
			})
		}, func() {
			waiterVal, _ = corral.GetOrSet(ctx, c, "m", time.Minute, func(context.Context) (map[string]int, error) {
				waiterCalls.Add(1)
				return map[string]int{"a": 1}, nil
			})
		})
		if waiterCalls.Load() != 0 || waiterVal["a"] != 1 {
			t.Fatalf("the waiter got %v after %d calls of its own function, want the leader's value", waiterVal, waiterCalls.Load())
		}
		waiterVal["a"] = 999
		if leaderVal["a"] != 1 {
			t.Fatalf("leader and waiter share one map: leader sees %v after waiter's write", leaderVal)
		}
	})
}

// As TestSharedMapStoreDown, with a negative TTL (already expired: nothing
// stored): the waiter's slice is its own.
func TestSharedSliceNegativeTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newBubbleCache(t)
		ctx := context.Background()
		var leaderVal, waiterVal []int
		var waiterCalls atomic.Int32
		whileLeading(t, func(finish <-chan struct{}) {
			leaderVal, _ = corral.GetOrSet(ctx, c, "s", -5*time.Second, func(context.Context) ([]int, error) {
				<-finish
				return []int{1}, nil
			})
		}, func() {
			waiterVal, _ = corral.GetOrSet(ctx, c, "s", -5*time.Second, func(context.Context) ([]int, error) {
				waiterCalls.Add(1)
				return []int{1}, nil
			})
		})
		if waiterCalls.Load() != 0 || len(waiterVal) != 1 || waiterVal[0] != 1 {
			t.Fatalf("the waiter got %v after %d calls of its own function, want the leader's value", waiterVal, waiterCalls.Load())
		}
		waiterVal[0] = 999
		if leaderVal[0] != 1 {
			t.Fatalf("leader and waiter share one slice: leader sees %v after waiter's write", leaderVal)
		}
	})
}
