package corral_test

import (
	"context"
	"errors"
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
		c := corral.New(s.store, corral.WithTimeout(budget))
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
	if got := g.Deletes.Load(); got != 3 {
		t.Fatalf("the cache deleted %d garbage entries, want 3", got)
	}
	if _, err := c.Incr(ctx, "k", 1); !errors.Is(err, corral.ErrNotInteger) {
		t.Fatalf("Incr on garbage = %v, want ErrNotInteger", err)
	}
}
