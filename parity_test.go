package corral_test

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// The dummy store keeps nothing: every call computes, and nothing is found.
func TestDummyStore(t *testing.T) {
	ctx := context.Background()
	c := corral.New(corral.NewDummyStore())
	must(t, c.Set(ctx, "k", 1, time.Minute))
	if found, err := c.Get(ctx, "k", new(int)); found || err != nil {
		t.Fatalf("Get after Set = %v, %v; want a miss", found, err)
	}
	if added, err := c.Add(ctx, "k", 1, time.Minute); !added || err != nil {
		t.Fatalf("Add = %v, %v; want true, as Django's dummy cache", added, err)
	}
	var runs atomic.Int32
	get := corral.Memoize(c, "n", time.Minute, func(context.Context, int) (int32, error) { return runs.Add(1), nil })
	for range 3 {
		_, _ = get(ctx, 1)
	}
	if runs.Load() != 3 {
		t.Fatalf("%d computations for 3 calls, want 3: nothing is stored", runs.Load())
	}
	if s := c.Stats(); s.Errors != 0 || s.BreakerState != "none" {
		t.Fatalf("stats %+v: the dummy store is no remote store", s)
	}
}

// DecrVersion moves a value back, as IncrVersion with a negative delta.
func TestDecrVersion(t *testing.T) {
	ctx := context.Background()
	c := corral.New(newMemory(t), corral.WithVersion(3))
	must(t, c.Set(ctx, "k", "v", time.Minute))
	v, err := c.DecrVersion(ctx, "k", 2)
	if err != nil || v != 1 {
		t.Fatalf("DecrVersion = %d, %v; want 1", v, err)
	}
	var got string
	if found, _ := c.WithVersion(1).Get(ctx, "k", &got); !found || got != "v" {
		t.Fatalf("at version 1: %v %q", found, got)
	}
	if found, _ := c.Has(ctx, "k"); found {
		t.Fatal("the value is still at version 3")
	}
	if v, err := c.WithVersion(1).IncrVersion(ctx, "k", -1); err != nil || v != 0 {
		t.Fatalf("IncrVersion(-1) = %d, %v; want 0", v, err)
	}
	if _, err := c.DecrVersion(ctx, "k", math.MinInt); err == nil {
		t.Fatal("DecrVersion(math.MinInt) moved something")
	}
}
