package corral_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// TestMemoizeHitSeesWrites: a Memoize hit is served from the function's
// index, and every write of its key (or a Clear, a write through another
// Cache on the same store) is seen by the next call.
func TestMemoizeHitSeesWrites(t *testing.T) {
	ctx := context.Background()
	type price struct{ Cents int }
	writes := map[string]func(t *testing.T, c, other *corral.Cache, key string){
		"Set": func(t *testing.T, c, _ *corral.Cache, key string) {
			if err := c.Set(ctx, key, price{7}, time.Minute); err != nil {
				t.Fatal(err)
			}
		},
		"Delete": func(t *testing.T, c, _ *corral.Cache, key string) { _ = c.Delete(ctx, key) },
		"Clear":  func(t *testing.T, c, _ *corral.Cache, _ string) { _ = c.Clear(ctx) },
		"Set through another Cache on the store": func(t *testing.T, _, other *corral.Cache, key string) {
			if err := other.Set(ctx, key, price{7}, time.Minute); err != nil {
				t.Fatal(err)
			}
		},
		"IncrVersion": func(t *testing.T, c, _ *corral.Cache, key string) {
			if _, err := c.IncrVersion(ctx, key, 1); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			store := corral.NewMemoryStore()
			t.Cleanup(func() { _ = store.Close() })
			c, other := corral.New(store), corral.New(store)
			calls := 0
			get := corral.Memoize(c, "price", time.Minute, func(_ context.Context, id int) (price, error) {
				calls++
				return price{100 * calls}, nil
			})
			for range 3 { // computed, then hits (the second one indexes it)
				if v, _ := get(ctx, 1); v.Cents != 100 {
					t.Fatalf("before the write: %+v", v)
				}
			}
			key, _ := corral.MemoizeKey("price", 1)
			write(t, c, other, key)
			v, err := get(ctx, 1)
			if err != nil || v.Cents == 100 {
				t.Fatalf("after %s: %+v, %v; still the value from before the write", name, v, err)
			}
		})
	}
}

// TestMemoizeHitSeesEviction: a value the store evicted is not served from
// the index.
func TestMemoizeHitSeesEviction(t *testing.T) {
	ctx := context.Background()
	store := corral.NewMemoryStore(corral.MaxEntries(10))
	t.Cleanup(func() { _ = store.Close() })
	c := corral.New(store)
	calls := map[int]int{}
	get := corral.Memoize(c, "n", time.Minute, func(_ context.Context, id int) (string, error) {
		calls[id]++
		return fmt.Sprintf("%d/%d", id, calls[id]), nil
	})
	for range 3 {
		get(ctx, 0)
	}
	for i := 1; i <= 200; i++ { // keys as hot as 0 was: 0 is read no more and goes
		for range 3 {
			get(ctx, i)
		}
	}
	if store.Len() > 10 {
		t.Fatalf("the store holds %d entries, bound 10", store.Len())
	}
	if v, _ := get(ctx, 0); v != "0/2" {
		t.Fatalf("after its eviction, key 0 gave %q; want it computed again (0/2)", v)
	}
}

// TestMemoizeHitExpires: an indexed value is not served past its TTL.
func TestMemoizeHitExpires(t *testing.T) {
	ctx := context.Background()
	c := newHTTPCache(t)
	calls := 0
	get := corral.Memoize(c, "t", 20*time.Millisecond, func(_ context.Context, id int) (int, error) {
		calls++
		return calls, nil
	})
	for range 3 {
		get(ctx, 1)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if v, _ := get(ctx, 1); v == 2 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the indexed value was served past its TTL")
}

// TestMemoizeHitAllocatesNothing: a Memoize hit of a shareable value on the
// memory store builds no key and allocates nothing.
func TestMemoizeHitAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	c := newHTTPCache(t)
	type point struct{ X, Y int }
	get := corral.Memoize(c, "p", time.Minute, func(_ context.Context, id int) (point, error) { return point{id, id}, nil })
	get(ctx, 4096)
	get(ctx, 4096)
	if n := testing.AllocsPerRun(100, func() { get(ctx, 4096) }); n != 0 {
		t.Fatalf("a Memoize hit allocates %.1f times", n)
	}
}

// TestMemoizeHitsAndWritesConcurrently: hits, Sets and Deletes of the same
// keys from several goroutines (run with -race) never give a value that was
// not the key's.
func TestMemoizeHitsAndWritesConcurrently(t *testing.T) {
	ctx := context.Background()
	c := newHTTPCache(t)
	get := corral.Memoize(c, "sq", time.Minute, func(_ context.Context, id int) (int, error) { return id * id, nil })
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2000 {
			key, _ := corral.MemoizeKey("sq", i%8)
			if i%2 == 0 {
				_ = c.Delete(ctx, key)
			} else {
				_ = c.Set(ctx, key, (i%8)*(i%8), time.Minute)
			}
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		default:
		}
		if v, err := get(ctx, i%8); err != nil || v != (i%8)*(i%8) {
			t.Fatalf("get(%d) = %d, %v", i%8, v, err)
		}
	}
}
