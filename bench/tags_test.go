package bench

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// tagCaches are the caches the tag benchmarks run on: the memory store, and
// Redis over loopback (no near cache: every hit reads the store).
func tagCaches(b *testing.B) map[string]*corral.Cache {
	nc := nearCaches(b)
	return map[string]*corral.Cache{"memory": nc["baseline"], "redis": nc["redis"]}
}

var tagStores = []string{"memory", "redis"}

// BenchmarkTagHit: the cost of tags on a hit. Memoize (int key, small
// struct): untagged (baseline), two static tags (Tags), two tags added by
// Tag inside the function. The middleware (2 kB): a response with only the
// URL tag every stored response carries (baseline), and one with two more
// in its Surrogate-Key.
func BenchmarkTagHit(b *testing.B) {
	ctx := context.Background()
	caches := tagCaches(b)
	for _, store := range tagStores {
		c := caches[store]
		fns := []struct {
			name string
			opts []corral.MemoOption
			fn   func(ctx context.Context, id int) (stats, error)
		}{
			{"baseline", nil, func(context.Context, int) (stats, error) { return value, nil }},
			{"static-2", []corral.MemoOption{corral.Tags("org:7", "catalog")}, func(context.Context, int) (stats, error) { return value, nil }},
			{"dynamic-2", nil, func(ctx context.Context, _ int) (stats, error) {
				corral.Tag(ctx, "org:7", "catalog")
				return value, nil
			}},
		}
		for _, f := range fns {
			m := corral.Memoize(c, "stats-"+f.name, time.Minute, f.fn, f.opts...)
			m(ctx, 42)
			b.Run("memoize-"+store+"/"+f.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if v, err := m(ctx, 42); err != nil || v.Orders != 42 {
						b.Fatal(err)
					}
				}
			})
		}
	}
	for _, store := range tagStores {
		for _, row := range []struct{ name, keys string }{{"baseline", ""}, {"surrogate-2", "org-7 catalog"}} {
			hit := served(taggedPage(caches[store], row.keys), "/dashboard?range=7d&row="+row.name)
			hit()
			b.Run("http-2kB-"+store+"/"+row.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					hit()
				}
			})
		}
	}
}

// taggedPage is a cached 2 kB page whose responses carry keys in their
// Surrogate-Key ("": none).
func taggedPage(c *corral.Cache, keys string) http.Handler {
	inner := origin(bytes.Repeat([]byte("x"), 2<<10))
	return c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if keys != "" {
			w.Header().Set("Surrogate-Key", keys)
		}
		inner.ServeHTTP(w, r)
	}), corral.TTL(time.Minute))
}

// served returns a function that serves a GET of path through h, into a
// writer it reuses.
func served(h http.Handler, path string) func() {
	r := httptest.NewRequest("GET", path, nil)
	w := &discard{h: http.Header{}}
	return func() { clear(w.h); h.ServeHTTP(w, r) }
}

// BenchmarkInvalidateTags: one InvalidateTags of one tag (one store write),
// on the memory store and on Redis; and, with two instances on one Redis
// each with a near cache, the time from its return until the other
// instance's next read of a value with that tag computes it again (p50,
// p99).
func BenchmarkInvalidateTags(b *testing.B) {
	ctx := context.Background()
	caches := tagCaches(b)
	for _, store := range tagStores {
		c := caches[store]
		b.Run("call/"+store, func(b *testing.B) {
			for b.Loop() {
				if err := c.InvalidateTags(ctx, "product:42"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	srv := redistest.Start(b)
	instance := func() *corral.Cache {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
		b.Cleanup(func() { client.Close() })
		return corral.New(redisstore.New(client), corral.WithNearCache(64<<20, time.Minute))
	}
	writer, reader := instance(), instance()
	var runs int
	read := corral.Memoize(reader, "product", time.Minute, func(ctx context.Context, id int) (int, error) {
		corral.Tag(ctx, "product:42")
		runs++ // the benchmark's goroutine only: one reader
		return runs, nil
	})
	b.Run("seen-by-other-near/redis", func(b *testing.B) {
		var took []time.Duration
		for b.Loop() {
			before, _ := read(ctx, 42)
			warmNear(b, reader, true, func() { read(ctx, 42) })
			if err := writer.InvalidateTags(ctx, "product:42"); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			for v, _ := read(ctx, 42); v == before; v, _ = read(ctx, 42) {
				time.Sleep(10 * time.Microsecond) // polling; Redis and the reader's channel need the CPU
			}
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-us")
		b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-us")
	})
}

// BenchmarkTagHitPaired alternates blocks of untagged hits and of hits
// tagged twice more, on the memory store, Memoize and the middleware, and
// reports each one's time per hit and their ratio: pairing cancels this
// machine's drift, which is larger than the difference.
func BenchmarkTagHitPaired(b *testing.B) {
	ctx := context.Background()
	mem := corral.NewMemoryStore()
	b.Cleanup(func() { mem.Close() })
	c := corral.New(mem)
	memo := func(name string, opts ...corral.MemoOption) func() {
		m := corral.Memoize(c, name, time.Minute, func(context.Context, int) (stats, error) { return value, nil }, opts...)
		return func() {
			if v, err := m(ctx, 42); err != nil || v.Orders != 42 {
				b.Fatal(err)
			}
		}
	}
	for _, kind := range []struct {
		name          string
		plain, tagged func()
	}{
		{"memoize", memo("plain"), memo("tagged", corral.Tags("org:7", "catalog"))},
		{"http-2kB", served(taggedPage(c, ""), "/a?range=7d"), served(taggedPage(c, "org-7 catalog"), "/b?range=7d")},
	} {
		kind.plain()
		kind.tagged()
		b.Run(kind.name+"/tagged-over-untagged", func(b *testing.B) { paired(b, "untagged", kind.plain, "tagged", kind.tagged) })
	}
}
