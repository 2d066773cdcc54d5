package corral_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/faultstore"
)

// blocked is a computation that counts its runs, says when one has started,
// and waits for release.
type blocked struct {
	runs    atomic.Int32
	started chan struct{} // one token per run
	release chan struct{} // closed to let runs finish
	value   string
}

func newBlocked(value string) *blocked {
	return &blocked{started: make(chan struct{}, 100), release: make(chan struct{}), value: value}
}

func (b *blocked) fn(ctx context.Context) (string, error) {
	b.runs.Add(1)
	b.started <- struct{}{}
	<-b.release
	return b.value, nil
}

// waitFor polls a counter until it reaches want (callers have entered a
// state), failing after a generous deadline.
func waitFor(t *testing.T, what string, get func() uint64, want uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for get() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d, want %d", what, get(), want)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func TestGetOrSetCollapsesConcurrentMisses(t *testing.T) {
	const n = 1000
	c := corral.New(newMemory(t))
	b := newBlocked("computed")
	ctx := context.Background()
	results := make(chan error, n)
	for range n {
		go func() {
			v, err := corral.GetOrSet(ctx, c, "cold", time.Minute, b.fn)
			if err == nil && v != "computed" {
				err = fmt.Errorf("got %q", v)
			}
			results <- err
		}()
	}
	<-b.started
	waitFor(t, "callers that missed", func() uint64 { return c.Stats().Misses }, n)
	close(b.release)
	for range n {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	if b.runs.Load() != 1 {
		t.Fatalf("the function ran %d times for %d concurrent callers, want 1", b.runs.Load(), n)
	}
	if s := c.Stats(); s.Computations != 1 || s.Collapsed != n-1 {
		t.Fatalf("stats = %+v, want 1 computation and %d coalesced", s, n-1)
	}
}

func TestGetOrSetLeaderCancelled(t *testing.T) {
	const n = 1000
	c := corral.New(newMemory(t))
	b := newBlocked("computed")
	leaderCtx, cancel := context.WithCancel(context.Background())
	leader := make(chan error, 1)
	go func() {
		_, err := corral.GetOrSet(leaderCtx, c, "cold", time.Minute, b.fn)
		leader <- err
	}()
	<-b.started // the leader's function is running
	results := make(chan string, n-1)
	for range n - 1 {
		go func() {
			v, err := corral.GetOrSet(context.Background(), c, "cold", time.Minute, b.fn)
			if err != nil {
				v = err.Error()
			}
			results <- v
		}()
	}
	waitFor(t, "callers that missed", func() uint64 { return c.Stats().Misses }, n)
	cancel()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader got %v, want context.Canceled", err)
	}
	close(b.release) // the computation goes on without the leader
	for range n - 1 {
		if v := <-results; v != "computed" {
			t.Fatalf("a waiter got %q", v)
		}
	}
	if b.runs.Load() != 1 {
		t.Fatalf("ran %d times", b.runs.Load())
	}
	if found, _ := c.Get(context.Background(), "cold", new(string)); !found {
		t.Fatal("the result was not stored after the leader left")
	}
}

func TestGetOrSetWaiterLeavesEarly(t *testing.T) {
	c := corral.New(newMemory(t))
	b := newBlocked("computed")
	leader := make(chan string, 1)
	go func() {
		v, _ := corral.GetOrSet(context.Background(), c, "k", time.Minute, b.fn)
		leader <- v
	}()
	<-b.started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := corral.GetOrSet(ctx, c, "k", time.Minute, b.fn)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter got %v, want its context's error", err)
	}
	select {
	case <-leader:
		t.Fatal("the computation ended with the waiter")
	default:
	}
	close(b.release)
	if v := <-leader; v != "computed" {
		t.Fatalf("leader got %q", v)
	}
}

func TestGetOrSetPanic(t *testing.T) {
	const n = 50
	c := corral.New(newMemory(t))
	before := runtime.NumGoroutine()
	release := make(chan struct{})
	var runs atomic.Int32
	fn := func(context.Context) (int, error) {
		runs.Add(1)
		<-release
		panic("boom")
	}
	var wg sync.WaitGroup
	var recovered, panickedErrs atomic.Int32
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					if r != "boom" {
						t.Errorf("recovered %v, want the original value", r)
					}
					recovered.Add(1)
				}
			}()
			_, err := corral.GetOrSet(context.Background(), c, "p", time.Minute, fn)
			if errors.Is(err, corral.ErrPanicked) {
				panickedErrs.Add(1)
			} else {
				t.Errorf("a waiter got %v, want ErrPanicked", err)
			}
		}()
	}
	waitFor(t, "callers that missed", func() uint64 { return c.Stats().Misses }, n)
	close(release)
	wg.Wait()
	if recovered.Load() != 1 || panickedErrs.Load() != n-1 || runs.Load() != 1 {
		t.Fatalf("recovered %d, ErrPanicked %d, runs %d; want 1, %d, 1", recovered.Load(), panickedErrs.Load(), runs.Load(), n-1)
	}
	if found, _ := c.Has(context.Background(), "p"); found {
		t.Fatal("a panic was cached")
	}
	eventually(t, "back to the goroutines before", func() bool { return runtime.NumGoroutine() <= before })
}

func TestGetOrSetGoexit(t *testing.T) {
	c := corral.New(newMemory(t))
	release := make(chan struct{})
	fn := func(context.Context) (int, error) {
		<-release
		runtime.Goexit()
		return 0, nil
	}
	leaderReturned := make(chan bool, 1)
	go func() {
		normal := false
		defer func() { leaderReturned <- normal }()
		corral.GetOrSet(context.Background(), c, "g", time.Minute, fn)
		normal = true
	}()
	waitFor(t, "leader missed", func() uint64 { return c.Stats().Misses }, 1)
	waiter := make(chan error, 1)
	go func() { _, err := corral.GetOrSet(context.Background(), c, "g", time.Minute, fn); waiter <- err }()
	waitFor(t, "waiter missed", func() uint64 { return c.Stats().Misses }, 2)
	close(release)
	if err := <-waiter; !errors.Is(err, corral.ErrPanicked) {
		t.Fatalf("waiter got %v, want an error (ErrPanicked)", err)
	}
	if <-leaderReturned {
		t.Fatal("the leader returned normally; runtime.Goexit should reach it")
	}
}

func TestGetOrSetErrorsAreNotCached(t *testing.T) {
	ctx := context.Background()
	c := corral.New(newMemory(t))
	errDB := errors.New("db down")
	var runs atomic.Int32
	failing := func(context.Context) (int, error) { runs.Add(1); return 0, errDB }
	for range 3 {
		if _, err := corral.GetOrSet(ctx, c, "k", time.Minute, failing); !errors.Is(err, errDB) {
			t.Fatalf("err = %v", err)
		}
	}
	if runs.Load() != 3 {
		t.Fatalf("an error was cached: %d runs for 3 calls", runs.Load())
	}
}

var errNoRows = errors.New("no rows")

func TestGetOrSetNegativeCaching(t *testing.T) {
	ctx := context.Background()
	c := corral.New(newMemory(t))
	var runs atomic.Int32
	notFound := func(context.Context) (int, error) { runs.Add(1); return 0, fmt.Errorf("user 7: %w", errNoRows) }
	opt := corral.CacheNotFound(errNoRows, time.Minute)
	for range 3 {
		if _, err := corral.GetOrSet(ctx, c, "user:7", time.Minute, notFound, opt); !errors.Is(err, errNoRows) {
			t.Fatalf("err = %v, want errNoRows", err)
		}
	}
	if runs.Load() != 1 {
		t.Fatalf("a cached not-found ran the function %d times, want 1", runs.Load())
	}
	if found, _ := c.Get(ctx, "user:7", new(int)); found {
		t.Fatal("Cache.Get reports a negative entry as found")
	}

	// A context error is never cached, even when it also matches.
	cancelled := func(context.Context) (int, error) {
		runs.Add(1)
		return 0, fmt.Errorf("%w: %w", errNoRows, context.Canceled)
	}
	runs.Store(0)
	for range 2 {
		corral.GetOrSet(ctx, c, "user:8", time.Minute, cancelled, opt)
	}
	if runs.Load() != 2 {
		t.Fatalf("a context error was cached (%d runs)", runs.Load())
	}
}

func TestGetOrSetOnBrokenStores(t *testing.T) {
	stores := map[string]corral.Store{"failing": new(faultstore.Failing), "hanging": new(faultstore.Hanging)}
	for name, s := range stores {
		t.Run(name, func(t *testing.T) {
			c := corral.New(s, corral.WithTimeout(10*time.Millisecond))
			var runs atomic.Int32
			for i := range 5 {
				v, err := corral.GetOrSet(context.Background(), c, "k", time.Minute,
					func(context.Context) (int, error) { runs.Add(1); return i, nil })
				if err != nil || v != i {
					t.Fatalf("call %d = %v, %v; want %d, nil", i, v, err, i)
				}
			}
			if runs.Load() != 5 {
				t.Fatalf("%d computations for 5 calls on a broken store", runs.Load())
			}
			if c.Stats().Errors == 0 {
				t.Fatal("store errors were not counted")
			}
		})
	}
}

func TestGetOrSetRecursion(t *testing.T) {
	ctx := context.Background()
	c := corral.New(newMemory(t))
	var self func(context.Context) (int, error)
	self = func(ctx context.Context) (int, error) {
		return corral.GetOrSet(ctx, c, "self", time.Minute, self)
	}
	done := make(chan error, 1)
	go func() { _, err := corral.GetOrSet(ctx, c, "self", time.Minute, self); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, corral.ErrRecursion) {
			t.Fatalf("err = %v, want ErrRecursion", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a computation that asks for its own key deadlocked")
	}

	// Through two memoized functions: a(1) -> b(1) -> a(1).
	var a, b func(context.Context, int) (int, error)
	a = corral.Memoize(c, "a", time.Minute, func(ctx context.Context, k int) (int, error) { return b(ctx, k) })
	b = corral.Memoize(c, "b", time.Minute, func(ctx context.Context, k int) (int, error) { return a(ctx, k) })
	if _, err := a(ctx, 1); !errors.Is(err, corral.ErrRecursion) {
		t.Fatalf("a -> b -> a: err = %v, want ErrRecursion", err)
	}
	// Nested calls for other keys are fine.
	inner := corral.Memoize(c, "inner", time.Minute, func(ctx context.Context, k int) (int, error) { return k * 2, nil })
	outer := corral.Memoize(c, "outer", time.Minute, func(ctx context.Context, k int) (int, error) { return inner(ctx, k+1) })
	if v, err := outer(ctx, 1); v != 4 || err != nil {
		t.Fatalf("outer(1) = %d, %v; want 4", v, err)
	}
}

func TestMemoizeKeys(t *testing.T) {
	ctx := context.Background()
	c := corral.New(newMemory(t))
	type pair struct {
		A, B string
	}
	type withAny struct{ V any }
	var runs atomic.Int32
	echo := func(ctx context.Context, k pair) (pair, error) { runs.Add(1); return k, nil }
	m := corral.Memoize(c, "pairs", time.Minute, echo)
	keys := []pair{{"a", "b"}, {"a:", "b"}, {"a", ":b"}, {"ab", ""}, {"", "ab"}, {"s1:a", ""}, {"a;", "b"}}
	for round := range 2 {
		for _, k := range keys {
			if got, err := m(ctx, k); err != nil || got != k {
				t.Fatalf("round %d: m(%+v) = %+v, %v", round, k, got, err)
			}
		}
	}
	if runs.Load() != int32(len(keys)) {
		t.Fatalf("%d runs for %d distinct keys twice, want one each", runs.Load(), len(keys))
	}

	anyKeys := corral.Memoize(c, "any", time.Minute, func(ctx context.Context, k withAny) (string, error) {
		return fmt.Sprintf("%T %v", k.V, k.V), nil
	})
	for _, k := range []withAny{{1}, {int64(1)}, {1.0}, {"1"}, {nil}, {true}} {
		want := fmt.Sprintf("%T %v", k.V, k.V)
		if got, _ := anyKeys(ctx, k); got != want {
			t.Fatalf("key %#v got %q, want %q: two keys shared an entry", k, got, want)
		}
	}

	// String keys are readable, and Delete of "name:k" invalidates one result.
	users := corral.Memoize(c, "user", time.Minute, func(ctx context.Context, id string) (string, error) {
		runs.Add(1)
		return "user " + id, nil
	})
	users(ctx, "42")
	if found, _ := c.Has(ctx, "user:42"); !found {
		t.Fatal(`Memoize("user") with "42" did not store under "user:42"`)
	}
	must(t, c.Delete(ctx, "user:42"))
	runs.Store(0)
	users(ctx, "42")
	if runs.Load() != 1 {
		t.Fatal("Delete of the memoized key did not invalidate it")
	}

	custom := corral.MemoizeWithKey(c, "custom", func(k *pair) string { return k.A + "/" + k.B }, time.Minute,
		func(ctx context.Context, k *pair) (string, error) { return k.A, nil })
	if v, _ := custom(ctx, &pair{"x", "y"}); v != "x" {
		t.Fatalf("custom key encoder: %q", v)
	}
	if found, _ := c.Has(ctx, "custom:x/y"); !found {
		t.Fatal("the key function was not used")
	}
}

func TestMemoizeRefusesPointerKeys(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Memoize accepted a pointer key")
		}
	}()
	corral.Memoize(corral.New(newMemory(t)), "p", time.Minute,
		func(ctx context.Context, k *int) (int, error) { return *k, nil })
}

func TestGetOrSetStats(t *testing.T) {
	ctx := context.Background()
	c := corral.New(newMemory(t))
	fn := func(context.Context) (int, error) { return 1, nil }
	for range 4 {
		corral.GetOrSet(ctx, c, "k", time.Minute, fn)
	}
	s := c.Stats()
	if s.Misses != 1 || s.Hits != 3 || s.Computations != 1 || s.Collapsed != 0 || s.StaleServed != 0 {
		t.Fatalf("stats = %+v, want 1 miss, 3 hits, 1 computation", s)
	}
}
