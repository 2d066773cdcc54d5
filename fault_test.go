package corral_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/faultstore"
)

// cacheCalls calls every Cache method that touches the store, by name.
func cacheCalls(c *corral.Cache) map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"Get":         func(ctx context.Context) error { var v int; _, err := c.Get(ctx, "k", &v); return err },
		"Has":         func(ctx context.Context) error { _, err := c.Has(ctx, "k"); return err },
		"Set":         func(ctx context.Context) error { return c.Set(ctx, "k", 1, 0) },
		"Add":         func(ctx context.Context) error { _, err := c.Add(ctx, "k", 1, 0); return err },
		"Delete":      func(ctx context.Context) error { return c.Delete(ctx, "k", "j") },
		"GetMany":     func(ctx context.Context) error { return c.GetMany(ctx, []string{"k", "j"}, map[string]int{}) },
		"SetMany":     func(ctx context.Context) error { return c.SetMany(ctx, map[string]int{"k": 1}, 0) },
		"Touch":       func(ctx context.Context) error { _, err := c.Touch(ctx, "k", time.Hour); return err },
		"Incr":        func(ctx context.Context) error { _, err := c.Incr(ctx, "k", 1); return err },
		"Decr":        func(ctx context.Context) error { _, err := c.Decr(ctx, "k", 1); return err },
		"Clear":       func(ctx context.Context) error { return c.Clear(ctx) },
		"IncrVersion": func(ctx context.Context) error { _, err := c.IncrVersion(ctx, "k", 1); return err },
	}
}

func TestBrokenStoresGiveErrUnavailable(t *testing.T) {
	const budget = 30 * time.Millisecond
	stores := []struct {
		name  string
		store corral.Store
	}{
		{"failing", new(faultstore.Failing)},
		{"hanging", new(faultstore.Hanging)},
	}
	for _, s := range stores {
		// No breaker: every call must reach the store and end with the budget.
		c := corral.New(s.store, corral.WithTimeout(budget), corral.WithCircuitBreaker(0, 0))
		ran := uint64(0)
		for name, call := range cacheCalls(c) {
			t.Run(s.name+"/"+name, func(t *testing.T) {
				ran++
				start := time.Now()
				err := call(context.Background())
				took := time.Since(start)
				if !errors.Is(err, corral.ErrUnavailable) {
					t.Fatalf("err = %v, want ErrUnavailable", err)
				}
				// Generous: the call must end with its budget, not hang.
				if took > budget+time.Second {
					t.Fatalf("took %v with a %v budget", took, budget)
				}
			})
		}
		if got := c.Stats().Errors; got != ran {
			t.Errorf("%s: Stats().Errors = %d, want one per call (%d)", s.name, got, ran)
		}
	}
	if w := stores[1].store.(*faultstore.Hanging).Waiting.Load(); w != 0 {
		t.Fatalf("%d calls still blocked in the hanging store", w)
	}
}

// A caller's own context bounds a store call even with no cache timeout.
func TestCallerContextBoundsStoreCall(t *testing.T) {
	c := corral.New(new(faultstore.Hanging), corral.WithTimeout(-1))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := c.Get(ctx, "k", nil); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, corral.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping context.Canceled", err)
	}
}

func TestGarbageFromStoreIsAMiss(t *testing.T) {
	ctx := context.Background()
	g := &faultstore.Garbage{Value: []byte("\xff\x00{not json")}
	c := corral.New(g)
	var p point
	if found, err := c.Get(ctx, "k", &p); found || err != nil {
		t.Fatalf("Get = %v, %v; want a plain miss", found, err)
	}
	m := map[string]point{}
	if err := c.GetMany(ctx, []string{"a", "b"}, m); err != nil || len(m) != 0 {
		t.Fatalf("GetMany = %v, %v; want an empty map", m, err)
	}
	if got := g.Deletes.Load(); got != 0 {
		t.Fatalf("a read deleted %d entries; reads lose nothing (a write overwrites)", got)
	}
	if _, err := c.Incr(ctx, "k", 1); !errors.Is(err, corral.ErrNotInteger) {
		t.Fatalf("Incr on garbage = %v, want ErrNotInteger", err)
	}
}

// flaky fails while broken is set, and counts the calls that reach it:
// the callers' and the background probe's apart.
type flaky struct {
	corral.Store
	broken        atomic.Bool
	calls, probes atomic.Int64
}

func (f *flaky) Get(ctx context.Context, key string) ([]byte, error) {
	if strings.Contains(key, "#sha256=probe") {
		f.probes.Add(1)
	} else {
		f.calls.Add(1)
	}
	if f.broken.Load() {
		return nil, errors.New("connection refused")
	}
	return f.Store.Get(ctx, key)
}

func TestCircuitBreaker(t *testing.T) {
	ctx := context.Background()
	f := &flaky{Store: corral.NewMemoryStore()}
	f.Store.(*corral.MemoryStore).Close()
	// A wrapper around the memory store is not in-process to the cache: it
	// gets a breaker.
	c := corral.New(f, corral.WithCircuitBreaker(3, 100*time.Millisecond))
	must(t, c.Set(ctx, "k", 1, 0))
	f.broken.Store(true)
	for range 10 {
		if _, err := c.Get(ctx, "k", nil); !errors.Is(err, corral.ErrUnavailable) {
			t.Fatalf("Get on a broken store = %v", err)
		}
	}
	if got := f.calls.Load(); got != 3 {
		t.Fatalf("the store was called %d times, want 3 before the breaker opened", got)
	}
	if s := c.Stats(); s.Errors != 3 || s.Rejected != 7 || c.BreakerState() != "open" {
		t.Fatalf("stats %+v, breaker %s", s, c.BreakerState())
	}
	// While it is open, a probe reads the store in the background; once the
	// store answers, the probe closes the breaker: no caller pays for it.
	waitFor(t, "probes of the broken store", func() uint64 { return uint64(f.probes.Load()) }, 2)
	f.broken.Store(false)
	eventually(t, "closed by the probe", func() bool { return c.BreakerState() == "closed" })
	if got := f.calls.Load(); got != 3 {
		t.Fatalf("callers called the store %d times while it was open, want 0", got-3)
	}
	var v int
	if found, err := c.Get(ctx, "k", &v); !found || err != nil || v != 1 {
		t.Fatalf("Get after recovery = %v, %v", found, err)
	}
	// Misses and a caller's own cancellation are not failures.
	for range 10 {
		c.Get(ctx, "absent", nil)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for range 10 {
		c.Get(cancelled, "k", nil)
	}
	if c.BreakerState() != "closed" {
		t.Fatal("misses or cancelled callers opened the breaker")
	}
}

// A store that panics is a failing store, not a crash.
type panicky struct{ corral.Store }

func (panicky) Get(context.Context, string) ([]byte, error) { panic("store bug") }

func TestStorePanicIsAFailure(t *testing.T) {
	c := corral.New(panicky{new(faultstore.Failing)})
	if _, err := c.Get(context.Background(), "k", nil); !errors.Is(err, corral.ErrUnavailable) {
		t.Fatalf("Get on a panicking store = %v", err)
	}
	v, err := corral.GetOrSet(context.Background(), c, "k", time.Minute, func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("GetOrSet on a panicking store = %v, %v", v, err)
	}
}
