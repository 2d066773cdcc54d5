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

// nearCaches are the caches compared on the near cache's hit path: the
// memory store (the baseline), Redis on loopback, and Redis with a near
// cache (64 MiB, 1 minute), each its own client.
func nearCaches(b *testing.B) map[string]*corral.Cache {
	mem := corral.NewMemoryStore()
	b.Cleanup(func() { mem.Close() })
	srv := redistest.Start(b)
	client := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
		b.Cleanup(func() { c.Close() })
		return c
	}
	return map[string]*corral.Cache{
		"baseline":   corral.New(mem),
		"redis":      corral.New(redisstore.New(client())),
		"redis-near": corral.New(redisstore.New(client()), corral.WithNearCache(64<<20, time.Minute)),
	}
}

var nearNames = []string{"baseline", "redis", "redis-near"}

// BenchmarkNearHit: a hit of Memoize (int key, small struct) and of the
// middleware (2 kB), on the memory store (baseline), on Redis, and on Redis
// with a near cache, in one run.
func BenchmarkNearHit(b *testing.B) {
	ctx := context.Background()
	caches := nearCaches(b)
	for _, name := range nearNames {
		c := caches[name]
		m := corral.Memoize(c, "stats", time.Minute, func(ctx context.Context, id int) (stats, error) { return value, nil })
		warmNear(b, c, name == "redis-near", func() { m(ctx, 42) })
		b.Run("memoize/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v, err := m(ctx, 42); err != nil || v.Orders != 42 {
					b.Fatal(err)
				}
			}
		})
	}
	for _, name := range nearNames {
		c := caches[name]
		h := c.Handler(origin(bytes.Repeat([]byte("x"), 2<<10)), corral.TTL(time.Minute))
		r := httptest.NewRequest("GET", "/dashboard?range=7d", nil)
		w := &discard{h: http.Header{}}
		warmNear(b, c, name == "redis-near", func() { h.ServeHTTP(w, r) })
		b.Run("http-2kB/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkNearHitPaired alternates blocks of memory-store hits and of
// near-cache hits, Memoize and the middleware, and reports each one's time
// per hit and their ratio: on a noisy machine the drift between two
// sub-benchmarks is larger than the difference, and pairing cancels it.
func BenchmarkNearHitPaired(b *testing.B) {
	ctx := context.Background()
	caches := nearCaches(b)
	mem, near := caches["baseline"], caches["redis-near"]
	hit := func(c *corral.Cache, isNear bool) (memo, page func()) {
		m := corral.Memoize(c, "stats", time.Minute, func(ctx context.Context, id int) (stats, error) { return value, nil })
		h := c.Handler(origin(bytes.Repeat([]byte("x"), 2<<10)), corral.TTL(time.Minute))
		r := httptest.NewRequest("GET", "/dashboard?range=7d", nil)
		w := &discard{h: http.Header{}}
		memo = func() {
			if v, err := m(ctx, 42); err != nil || v.Orders != 42 {
				b.Fatal(err)
			}
		}
		page = func() { clear(w.h); h.ServeHTTP(w, r) }
		warmNear(b, c, isNear, memo)
		warmNear(b, c, isNear, page)
		return memo, page
	}
	memMemo, memPage := hit(mem, false)
	nearMemo, nearPage := hit(near, true)
	for _, kind := range []struct {
		name      string
		mem, near func()
	}{{"memoize", memMemo, nearMemo}, {"http-2kB", memPage, nearPage}} {
		b.Run(kind.name+"/near-over-memory", func(b *testing.B) { paired(b, "memory", kind.mem, "near", kind.near) })
	}
}

// paired alternates blocks of 100 calls of base and of other, timing each
// block once (neither side pays for reading the clock), and reports each
// one's time per call and the ratio of other's over base's.
func paired(b *testing.B, baseName string, base func(), otherName string, other func()) {
	const block = 100
	var tb, to time.Duration
	for b.Loop() {
		t0 := time.Now()
		for range block {
			base()
		}
		t1 := time.Now()
		for range block {
			other()
		}
		tb, to = tb+t1.Sub(t0), to+time.Since(t1)
	}
	b.ReportMetric(float64(tb.Nanoseconds())/float64(b.N*block), baseName+"-ns/hit")
	b.ReportMetric(float64(to.Nanoseconds())/float64(b.N*block), otherName+"-ns/hit")
	b.ReportMetric(float64(to)/float64(tb), "ratio")
}

// warmNear calls read until the next calls are hits: of the store, or with a
// near cache, of the near cache (it keeps copies once it watches Redis).
func warmNear(b *testing.B, c *corral.Cache, near bool, read func()) {
	read() // computes and stores
	read() // a hit of the store
	deadline := time.Now().Add(5 * time.Second)
	for before := c.Stats().NearHits; near && c.Stats().NearHits == before; read() {
		if time.Now().After(deadline) {
			b.Fatal("no near hit after 5s")
		}
	}
}

// BenchmarkNearInvalidation: how long a Set on one instance takes to reach
// another that serves the key from its near cache, over loopback: from the
// Set's return until the other's Get returns the new value (one read of
// Redis included). Each iteration is one such write.
func BenchmarkNearInvalidation(b *testing.B) {
	srv := redistest.Start(b)
	instance := func() *corral.Cache {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
		b.Cleanup(func() { client.Close() })
		return corral.New(redisstore.New(client), corral.WithNearCache(64<<20, time.Minute))
	}
	writer, reader := instance(), instance()
	ctx := context.Background()
	read := func() int {
		var v int
		if _, err := reader.Get(ctx, "k", &v); err != nil {
			b.Fatal(err)
		}
		return v
	}
	b.Run("loopback", func(b *testing.B) {
		var took []time.Duration
		i := 0
		for b.Loop() {
			i++
			if err := writer.Set(ctx, "k", i, 0); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			for read() != i {
				time.Sleep(10 * time.Microsecond) // polling; the other goroutines and Redis need the CPU
			}
			took = append(took, time.Since(start))
			warmNear(b, reader, true, func() { read() }) // the reader holds i in its near cache
		}
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-us")
		b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-us")
	})
}
