package corral_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

func TestMemoizeManyOnMemoryStore(t *testing.T) { runMemoizeManySuite(t, newMemory) }

// runMemoizeManySuite runs MemoizeMany's behaviour against stores from
// newStore; the Redis store's tests run it too.
func runMemoizeManySuite(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name string
		run  func(t *testing.T, c *corral.Cache)
	}{
		{"OnlyMissing", testManyOnlyMissing},
		{"OncePerIDUnderConcurrency", testManyOncePerID},
		{"SharesWithMemoize", testManySharesWithMemoize},
		{"JoinsMemoizeInFlight", testManyJoinsMemoizeInFlight},
		{"PartialFailure", testManyPartialFailure},
		{"Absent", testManyAbsent},
		{"Panic", testManyPanic},
		{"TTLFunc", testManyTTLFunc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, corral.New(newStore(t))) })
	}
}

// loader is a batch function that records the ids it is asked for, and
// returns "u<id>" for each id not in leaveOut.
type loader struct {
	mu       sync.Mutex
	asked    [][]int     // one slice per call, sorted
	perID    map[int]int // how many times each id was asked
	leaveOut map[int]bool
	fail     error         // returned for every call while not nil
	gate     chan struct{} // when not nil, calls wait for it
}

func newLoader() *loader { return &loader{perID: map[int]int{}, leaveOut: map[int]bool{}} }

func (l *loader) load(ctx context.Context, ids []int) (map[int]string, error) {
	l.mu.Lock()
	sorted := slices.Sorted(slices.Values(ids))
	l.asked = append(l.asked, sorted)
	for _, id := range ids {
		l.perID[id]++
	}
	fail, gate := l.fail, l.gate
	l.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if fail != nil {
		return nil, fail
	}
	out := make(map[int]string, len(ids))
	for _, id := range ids {
		if !l.leaveOut[id] {
			out[id] = fmt.Sprintf("u%d", id)
		}
	}
	return out, nil
}

func (l *loader) calls() [][]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.asked)
}

func ids(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// wantUsers checks that got holds "u<id>" for exactly the ids.
func wantUsers(t *testing.T, got map[int]string, ids []int) {
	t.Helper()
	if len(got) != len(ids) {
		t.Fatalf("got %d values %v, want %d", len(got), got, len(ids))
	}
	for _, id := range ids {
		if got[id] != fmt.Sprintf("u%d", id) {
			t.Fatalf("id %d = %q, want u%d", id, got[id], id)
		}
	}
}

func testManyOnlyMissing(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	l := newLoader()
	many := corral.MemoizeMany(c, "user", time.Minute, l.load)
	got, err := many(ctx, ids(1, 90))
	must(t, err)
	wantUsers(t, got, ids(1, 90))
	got, err = many(ctx, append(ids(1, 100), 95, 3)) // duplicates are asked once
	must(t, err)
	wantUsers(t, got, ids(1, 100))
	if calls := l.calls(); len(calls) != 2 || !slices.Equal(calls[1], ids(91, 100)) {
		t.Fatalf("fn was asked %v, want 1..90 then only the missing 91..100", calls)
	}
	if _, err := many(ctx, ids(1, 100)); err != nil || len(l.calls()) != 2 {
		t.Fatalf("a call of cached ids asked fn again (%d calls), %v", len(l.calls()), err)
	}
	if got, err := many(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("no ids = %v, %v", got, err)
	}
}

// 50 concurrent calls whose ids overlap compute each id once: an id that
// another call is computing is waited for.
func testManyOncePerID(t *testing.T, c *corral.Cache) {
	const callers, width = 50, 20
	ctx := context.Background()
	l := newLoader()
	l.gate = make(chan struct{})
	many := corral.MemoizeMany(c, "user", time.Minute, l.load)
	errs := make(chan error, callers)
	for g := range callers {
		go func() {
			got, err := many(ctx, ids(g, g+width-1))
			if err == nil && len(got) != width {
				err = fmt.Errorf("caller %d got %d values", g, len(got))
			}
			errs <- err
		}()
	}
	waitFor(t, "ids missed", func() uint64 { return c.Stats().Misses }, callers*width)
	close(l.gate)
	for range callers {
		must(t, <-errs)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.perID) != callers+width-1 {
		t.Fatalf("fn was asked %d distinct ids, want %d", len(l.perID), callers+width-1)
	}
	for id, n := range l.perID {
		if n != 1 {
			t.Fatalf("id %d was asked %d times, want once (calls: %v)", id, n, l.asked)
		}
	}
}

// A batch fills what Memoize of the same name reads, and back.
func testManySharesWithMemoize(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	l := newLoader()
	many := corral.MemoizeMany(c, "user", time.Minute, l.load)
	var singles atomic.Int32
	one := corral.Memoize(c, "user", time.Minute, func(ctx context.Context, id int) (string, error) {
		singles.Add(1)
		return fmt.Sprintf("u%d", id), nil
	})
	_, err := many(ctx, ids(1, 5))
	must(t, err)
	if v, err := one(ctx, 3); v != "u3" || err != nil || singles.Load() != 0 {
		t.Fatalf("Memoize after the batch = %q, %v, %d computations; want the batch's value", v, err, singles.Load())
	}
	_, _ = one(ctx, 8)
	got, err := many(ctx, ids(1, 8))
	must(t, err)
	wantUsers(t, got, ids(1, 8))
	if calls := l.calls(); len(calls) != 2 || !slices.Equal(calls[1], []int{6, 7}) {
		t.Fatalf("fn was asked %v, want [6 7] second (8 came from Memoize)", calls)
	}
	if found, _ := c.Get(ctx, "user:7", new(string)); !found {
		t.Fatal(`the batch's value is not under "user:7"`)
	}
}

// A batch waits for an id that a Memoize call of the same name is computing.
func testManyJoinsMemoizeInFlight(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	l := newLoader()
	many := corral.MemoizeMany(c, "user", time.Minute, l.load)
	b := newBlocked("u5")
	one := corral.Memoize(c, "user", time.Minute, func(ctx context.Context, id int) (string, error) { return b.fn(ctx) })
	done := make(chan error, 1)
	go func() { _, err := one(ctx, 5); done <- err }()
	<-b.started
	batch := make(chan map[int]string, 1)
	go func() { got, _ := many(ctx, ids(1, 6)); batch <- got }()
	waitFor(t, "the batch's call of fn", func() uint64 { return uint64(len(l.calls())) }, 1)
	close(b.release)
	must(t, <-done)
	wantUsers(t, <-batch, ids(1, 6))
	if calls := l.calls(); !slices.Equal(calls[0], []int{1, 2, 3, 4, 6}) || b.runs.Load() != 1 {
		t.Fatalf("fn was asked %v and Memoize ran %d times; want 5 left to Memoize, once", calls, b.runs.Load())
	}
}

// A failure of fn fails its ids, and only them, and never marks them
// missing: once fn works again they are computed and returned.
func testManyPartialFailure(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	errDB := errors.New("db down")
	errGone := errors.New("no such user")
	l := newLoader()
	many := corral.MemoizeMany(c, "user", time.Minute, l.load, corral.CacheNotFound(errGone, time.Minute))
	_, err := many(ctx, ids(1, 3))
	must(t, err)
	l.fail = errDB
	got, err := many(ctx, ids(1, 6))
	if !errors.Is(err, errDB) || errors.Is(err, errGone) {
		t.Fatalf("a failed batch: error %v, want one wrapping %v only", err, errDB)
	}
	wantUsers(t, got, ids(1, 3)) // the ids that did not fail are returned
	l.fail = nil
	got, err = many(ctx, ids(1, 6))
	must(t, err)
	wantUsers(t, got, ids(1, 6))
	if calls := l.calls(); len(calls) != 3 || !slices.Equal(calls[2], ids(4, 6)) {
		t.Fatalf("fn was asked %v, want 4..6 again after the failure", calls)
	}
}

// Ids that fn leaves out are left out of the result; with CacheNotFound
// they are cached as missing, and Memoize of the name gets the error.
func testManyAbsent(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	errGone := errors.New("no such user")
	l := newLoader()
	l.leaveOut[2] = true
	opt := corral.CacheNotFound(errGone, time.Minute)
	many := corral.MemoizeMany(c, "user", time.Minute, l.load, opt)
	for range 2 {
		got, err := many(ctx, ids(1, 3))
		must(t, err)
		wantUsers(t, got, []int{1, 3})
	}
	if calls := l.calls(); len(calls) != 1 {
		t.Fatalf("fn was asked %v, want once: 2 is cached as missing", calls)
	}
	one := corral.Memoize(c, "user", time.Minute, func(context.Context, int) (string, error) { return "", errors.New("ran") }, opt)
	if _, err := one(ctx, 2); !errors.Is(err, errGone) {
		t.Fatalf("Memoize of a missing id = %v, want %v", err, errGone)
	}
	plain := corral.MemoizeMany(c, "plain", time.Minute, l.load) // without CacheNotFound: asked again
	for range 2 {
		got, err := plain(ctx, []int{2})
		must(t, err)
		wantUsers(t, got, nil)
	}
	if calls := l.calls(); len(calls) != 3 {
		t.Fatalf("fn was asked %v, want 2 asked again without CacheNotFound", calls)
	}
}

// A panic in fn re-panics in the caller whose call ran it; a caller that
// waited for one of its ids gets ErrPanicked.
func testManyPanic(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	gate := make(chan struct{})
	var calls atomic.Int32
	many := corral.MemoizeMany(c, "user", time.Minute, func(ctx context.Context, ids []int) (map[int]string, error) {
		calls.Add(1)
		<-gate
		panic("boom")
	})
	waiter := make(chan error, 1)
	leader := make(chan any, 1)
	go func() {
		defer func() { leader <- recover() }()
		_, _ = many(ctx, []int{1})
	}()
	waitFor(t, "the leader's call", func() uint64 { return uint64(calls.Load()) }, 1)
	go func() { _, err := many(ctx, []int{1}); waiter <- err }()
	waitFor(t, "the waiter's miss", func() uint64 { return c.Stats().Misses }, 2)
	close(gate)
	if r := <-leader; r != "boom" {
		t.Fatalf("the leader recovered %v, want the panic", r)
	}
	if err := <-waiter; !errors.Is(err, corral.ErrPanicked) {
		t.Fatalf("the waiter got %v, want ErrPanicked", err)
	}
}

// TTLFunc sets each id's TTL from its value; a negative TTL stores nothing.
func testManyTTLFunc(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	l := newLoader()
	ttlOf := func(v string) time.Duration {
		if v == "u2" {
			return -time.Second // not stored
		}
		return time.Hour
	}
	many := corral.MemoizeMany(c, "user", time.Millisecond, l.load, corral.TTLFunc(ttlOf))
	got, err := many(ctx, ids(1, 3))
	must(t, err)
	wantUsers(t, got, ids(1, 3))
	time.Sleep(5 * time.Millisecond) // past the call's 1 ms ttl, well within the values' hour
	_, err = many(ctx, ids(1, 3))
	must(t, err)
	if calls := l.calls(); len(calls) != 2 || !slices.Equal(calls[1], []int{2}) {
		t.Fatalf("fn was asked %v, want only 2 again (1 and 3 live for TTLFunc's hour)", calls)
	}
}
