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
