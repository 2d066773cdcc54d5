package corral_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/corralhq/corral"
)

type DashboardStats struct {
	Orders  int
	Revenue float64
}

// The cache-aside pattern: read, and on a miss compute and store.
func ExampleCache() {
	ctx := context.Background()
	c := corral.New(corral.NewMemoryStore(), corral.WithPrefix("shop"))

	load := func() DashboardStats {
		var stats DashboardStats
		if found, _ := c.Get(ctx, "dashboard", &stats); found {
			fmt.Println("hit")
			return stats
		}
		fmt.Println("miss: computing")
		stats = DashboardStats{Orders: 42, Revenue: 1234.5}
		_ = c.Set(ctx, "dashboard", stats, time.Minute)
		return stats
	}
	load()
	fmt.Printf("%+v\n", load())
	// Output:
	// miss: computing
	// hit
	// {Orders:42 Revenue:1234.5}
}

// Add stores only when the key is absent: the seed of a lock.
func ExampleCache_Add() {
	ctx := context.Background()
	c := corral.New(corral.NewMemoryStore())
	first, _ := c.Add(ctx, "report:lock", "worker-1", 30*time.Second)
	second, _ := c.Add(ctx, "report:lock", "worker-2", 30*time.Second)
	fmt.Println(first, second)
	// Output: true false
}

// Incr is atomic on the memory store and on Redis; a missing key is an error.
func ExampleCache_Incr() {
	ctx := context.Background()
	c := corral.New(corral.NewMemoryStore())
	_, err := c.Incr(ctx, "visits", 1)
	fmt.Println(errors.Is(err, corral.ErrNotFound))
	_ = c.Set(ctx, "visits", 0, corral.NoExpiration)
	n, _ := c.Incr(ctx, "visits", 1)
	n, _ = c.Incr(ctx, "visits", 1)
	fmt.Println(n)
	// Output:
	// true
	// 2
}

// Bumping the version makes every earlier value invisible at once;
// IncrVersion carries one key over.
func ExampleCache_IncrVersion() {
	ctx := context.Background()
	c := corral.New(corral.NewMemoryStore())
	_ = c.Set(ctx, "greeting", "hello", 0)
	v, _ := c.IncrVersion(ctx, "greeting", 1)
	var s string
	found, _ := c.Get(ctx, "greeting", &s)
	fmt.Println(v, found)
	found, _ = c.WithVersion(v).Get(ctx, "greeting", &s)
	fmt.Println(found, s)
	// Output:
	// 2 false
	// true hello
}

// The memory store is bounded: when full it evicts its oldest entries.
func ExampleNewMemoryStore() {
	ctx := context.Background()
	store := corral.NewMemoryStore(corral.MaxEntries(2), corral.MaxBytes(64<<20))
	defer store.Close()
	c := corral.New(store)
	for _, k := range []string{"a", "b", "c"} {
		_ = c.Set(ctx, k, k, 0)
	}
	found, _ := c.Has(ctx, "a")
	fmt.Println(store.Len(), store.Evictions(), found)
	// Output: 2 1 false
}

// GetOrSet computes a value once and serves it from the cache afterwards;
// concurrent callers of one key share one computation.
func ExampleGetOrSet() {
	ctx := context.Background()
	c := corral.New(corral.NewMemoryStore())
	compute := func(ctx context.Context) (DashboardStats, error) {
		fmt.Println("computing")
		return DashboardStats{Orders: 7, Revenue: 99.5}, nil
	}
	for range 2 {
		stats, err := corral.GetOrSet(ctx, c, "dashboard", time.Minute, compute)
		fmt.Println(stats.Orders, err)
	}
	// Output:
	// computing
	// 7 <nil>
	// 7 <nil>
}

// Memoize wraps a function: each argument is computed once per TTL, and the
// key is readable, so one result can be invalidated with Delete.
func ExampleMemoize() {
	ctx := context.Background()
	c := corral.New(corral.NewMemoryStore())
	userName := corral.Memoize(c, "user", time.Minute, func(ctx context.Context, id int) (string, error) {
		fmt.Println("loading user", id)
		return fmt.Sprintf("user-%d", id), nil
	})
	name, _ := userName(ctx, 42)
	name, _ = userName(ctx, 42)
	fmt.Println(name)
	_ = c.Delete(ctx, "user:42") // invalidate one result
	name, _ = userName(ctx, 42)
	// Output:
	// loading user 42
	// user-42
	// loading user 42
}

// Stale-while-revalidate answers at once with a recently expired value and
// refreshes it in the background; stale-if-error keeps serving it while the
// source fails.
func ExampleStaleWhileRevalidate() {
	ctx := context.Background()
	c := corral.New(corral.NewMemoryStore())
	price := func(ctx context.Context) (float64, error) { return 9.99, nil }
	p, _ := corral.GetOrSet(ctx, c, "price:sku-1", 30*time.Second, price,
		corral.StaleWhileRevalidate(time.Minute), corral.StaleIfError(time.Hour))
	fmt.Println(p)
	// Output: 9.99
}
