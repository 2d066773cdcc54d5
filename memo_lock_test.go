package corral_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/faultstore"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
)

// Two instances (two Caches with their own in-process coalescing) on one real
// Redis, 200 concurrent cold calls on each, with the lock: one computation.
func TestDistributedLockOnRedis(t *testing.T) {
	const perInstance = 200
	srv := redistest.Start(t)
	a := corral.New(redisstore.New(srv.Client(t)), corral.WithTimeout(time.Second))
	b := corral.New(redisstore.New(srv.Client(t)), corral.WithTimeout(time.Second))
	fn := newBlocked("computed once")
	opt := corral.DistributedLock(10 * time.Second)

	results := make(chan string, 2*perInstance)
	for _, c := range []*corral.Cache{a, b} {
		for range perInstance {
			go func() {
				v, err := corral.GetOrSet(context.Background(), c, "report", time.Minute, fn.fn, opt)
				if err != nil {
					v = err.Error()
				}
				results <- v
			}()
		}
	}
	<-fn.started // one instance holds the lock and computes
	lockWaits := func() uint64 { return a.Stats().LockWaits + b.Stats().LockWaits }
	waitFor(t, "the other instance waiting on the lock", lockWaits, 1)
	waitFor(t, "callers that missed", func() uint64 { return a.Stats().Misses + b.Stats().Misses }, 2*perInstance)
	close(fn.release)
	for range 2 * perInstance {
		if v := <-results; v != "computed once" {
			t.Fatalf("a caller got %q", v)
		}
	}
	if n := fn.runs.Load(); n != 1 {
		t.Fatalf("the function ran %d times across two instances, want 1", n)
	}
	if got := a.Stats().Computations + b.Stats().Computations; got != 1 {
		t.Fatalf("computations = %d", got)
	}
}

// The lock fails open: when its owner does not store a value within the
// wait, the waiting instance computes itself.
func TestDistributedLockFailsOpen(t *testing.T) {
	a, b := twoInstances(t)
	stuck := newBlocked("from the stuck owner")
	defer close(stuck.release)
	go corral.GetOrSet(context.Background(), a, "k", time.Minute, stuck.fn, corral.DistributedLock(time.Minute))
	<-stuck.started // a holds the lock and never finishes

	start := time.Now()
	v, err := corral.GetOrSet(context.Background(), b, "k", time.Minute,
		func(context.Context) (string, error) { return "computed by b", nil },
		corral.DistributedLock(50*time.Millisecond))
	if err != nil || v != "computed by b" {
		t.Fatalf("waiter = %q, %v", v, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the waiter took %v with a 50ms wait", took)
	}
	if b.Stats().LockWaits != 1 {
		t.Fatalf("LockWaits = %d, want 1", b.Stats().LockWaits)
	}
}

// An owner whose computation fails releases the lock: a waiter takes it and
// computes, without waiting for the whole wait.
func TestDistributedLockOwnerFails(t *testing.T) {
	a, b := twoInstances(t)
	opt := corral.DistributedLock(time.Minute)
	release := make(chan struct{})
	started := make(chan struct{})
	go corral.GetOrSet(context.Background(), a, "k", time.Minute, func(context.Context) (string, error) {
		close(started)
		<-release
		return "", fmt.Errorf("owner failed")
	}, opt)
	<-started
	got := make(chan string, 1)
	go func() {
		v, _ := corral.GetOrSet(context.Background(), b, "k", time.Minute,
			func(context.Context) (string, error) { return "b computed", nil }, opt)
		got <- v
	}()
	waitFor(t, "b waiting on the lock", func() uint64 { return b.Stats().LockWaits }, 1)
	close(release)
	select {
	case v := <-got:
		if v != "b computed" {
			t.Fatalf("b got %q", v)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("b waited for the whole wait after the owner released")
	}
}

// twoInstances returns two Caches that stand for two processes on one
// shared store: each has a store value of its own over one memory store, so
// they share the data but not their computations in flight (Caches made
// with one store value share those, as in one process).
func twoInstances(t *testing.T) (*corral.Cache, *corral.Cache) {
	t.Helper()
	s := corral.NewMemoryStore()
	t.Cleanup(func() { s.Close() })
	return corral.New(&instanceStore{s}), corral.New(&instanceStore{s})
}

// instanceStore is one process's handle on a shared store.
type instanceStore struct{ *corral.MemoryStore }

// A store that hangs costs a call with DistributedLock one store timeout:
// the failed read skips the lock, the re-read and the write.
func TestDistributedLockOneStoreTimeoutWhenStoreHangs(t *testing.T) {
	store := new(faultstore.Hanging)
	c := corral.New(store, corral.WithTimeout(50*time.Millisecond), corral.WithCircuitBreaker(1000, time.Second))
	for i := range 3 {
		v, err := corral.GetOrSet(context.Background(), c, fmt.Sprintf("k%d", i), time.Minute,
			func(context.Context) (string, error) { return "computed", nil }, corral.DistributedLock(time.Second))
		if err != nil || v != "computed" {
			t.Fatalf("GetOrSet = %q, %v", v, err)
		}
	}
	if n := store.Calls.Load(); n != 3 {
		t.Fatalf("3 calls made %d store calls on a hanging store; want one each", n)
	}
}
