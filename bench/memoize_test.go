package bench

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/corralhq/corral"
	rediscache "github.com/go-redis/cache/v9"
	"github.com/maypok86/otter/v2"
	"github.com/viccon/sturdyc"
)

type stats struct {
	Orders  int
	Revenue float64
	Label   string
}

var value = stats{Orders: 42, Revenue: 1234.5, Label: "dashboard"}

// BenchmarkMemoizeHit: a hit of a memoized lookup (int key, small struct),
// in process, for corral's Memoize on its memory store, otter v2's loading
// Get (the key as it is, one-minute expiry after a write), sturdyc's
// GetOrFetch (the key as a string, built per call as a caller would) and
// go-redis/cache's Once with its local TinyLFU cache (no Redis).
func BenchmarkMemoizeHit(b *testing.B) {
	ctx := context.Background()
	b.Run("corral-memoize", func(b *testing.B) {
		m := corral.Memoize(corral.New(corral.NewMemoryStore()), "stats", time.Minute,
			func(ctx context.Context, id int) (stats, error) { return value, nil })
		m(ctx, 42)
		b.ReportAllocs()
		for b.Loop() {
			if v, err := m(ctx, 42); err != nil || v.Orders != 42 {
				b.Fatal(err)
			}
		}
	})
	b.Run("otter-v2", func(b *testing.B) {
		c := otter.Must(&otter.Options[int, stats]{
			MaximumSize:      10_000,
			ExpiryCalculator: otter.ExpiryWriting[int, stats](time.Minute),
		})
		load := otter.LoaderFunc[int, stats](func(ctx context.Context, id int) (stats, error) { return value, nil })
		c.Get(ctx, 42, load)
		b.ReportAllocs()
		for b.Loop() {
			if v, err := c.Get(ctx, 42, load); err != nil || v.Orders != 42 {
				b.Fatal(err)
			}
		}
	})
	b.Run("sturdyc", func(b *testing.B) {
		c := sturdyc.New[stats](10_000, 10, time.Minute, 10)
		fetch := func(ctx context.Context) (stats, error) { return value, nil }
		sturdyc.GetOrFetch(ctx, c, "stats:42", fetch)
		b.ReportAllocs()
		for b.Loop() {
			if v, err := sturdyc.GetOrFetch(ctx, c, "stats:"+strconv.Itoa(42), fetch); err != nil || v.Orders != 42 {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-redis-cache-once", func(b *testing.B) {
		c := rediscache.New(&rediscache.Options{LocalCache: rediscache.NewTinyLFU(10_000, time.Minute)})
		once := func(v *stats) error {
			return c.Once(&rediscache.Item{Ctx: ctx, Key: "stats:" + strconv.Itoa(42), Value: v, TTL: time.Minute,
				Do: func(*rediscache.Item) (any, error) { return value, nil }})
		}
		var v stats
		once(&v)
		b.ReportAllocs()
		for b.Loop() {
			if err := once(&v); err != nil || v.Orders != 42 {
				b.Fatal(err)
			}
		}
	})
}
