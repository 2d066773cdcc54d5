package bench

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
	"github.com/viccon/sturdyc"
)

// The batch workload: 100 ids per request, of which 10 are missing (a
// different ten each time, dropped before the request); the loader returns
// each id asked for, at no cost, so that the figures are the caches' own.
const (
	batchIDs     = 100
	batchMissing = 10
)

func loadStats(ids []int) map[int]stats {
	out := make(map[int]stats, len(ids))
	for _, id := range ids {
		out[id] = value
	}
	return out
}

// missingAt returns the ids dropped before request i.
func missingAt(i int) []int {
	ids := make([]int, batchMissing)
	for j := range ids {
		ids[j] = (i*batchMissing + j) % batchIDs
	}
	return ids
}

// BenchmarkBatch100Missing10: corral's MemoizeMany against 100 Memoize
// calls and sturdyc's GetOrFetchBatch, on the memory store (and corral's
// two on Redis on loopback, where a batch is one MGET).
func BenchmarkBatch100Missing10(b *testing.B) {
	ids := make([]int, batchIDs)
	for i := range ids {
		ids[i] = i
	}
	mem := corral.NewMemoryStore()
	b.Cleanup(func() { mem.Close() })
	b.Run("corral-memoize-many", func(b *testing.B) { benchMemoizeMany(b, corral.New(mem, corral.WithPrefix("many")), ids) })
	b.Run("corral-memoize-x100", func(b *testing.B) { benchMemoizeEach(b, corral.New(mem, corral.WithPrefix("each")), ids) })
	b.Run("sturdyc-batch", func(b *testing.B) { benchSturdyc(b, ids) })
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(b).Addr, ContextTimeoutEnabled: true})
	b.Cleanup(func() { client.Close() })
	b.Run("corral-redis-memoize-many", func(b *testing.B) {
		benchMemoizeMany(b, corral.New(redisstore.New(client), corral.WithPrefix("many")), ids)
	})
	b.Run("corral-redis-memoize-x100", func(b *testing.B) {
		benchMemoizeEach(b, corral.New(redisstore.New(client), corral.WithPrefix("each")), ids)
	})
}

func benchMemoizeMany(b *testing.B, c *corral.Cache, ids []int) {
	ctx := context.Background()
	many := corral.MemoizeMany(c, "stats", time.Minute, func(ctx context.Context, ids []int) (map[int]stats, error) {
		return loadStats(ids), nil
	})
	_, _ = many(ctx, ids)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dropMemoized(b, c, missingAt(i))
		if got, err := many(ctx, ids); err != nil || len(got) != batchIDs {
			b.Fatal(len(got), err)
		}
		i++
	}
}

func benchMemoizeEach(b *testing.B, c *corral.Cache, ids []int) {
	ctx := context.Background()
	one := corral.Memoize(c, "stats", time.Minute, func(ctx context.Context, id int) (stats, error) { return value, nil })
	for _, id := range ids {
		_, _ = one(ctx, id)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dropMemoized(b, c, missingAt(i))
		got := make(map[int]stats, batchIDs)
		for _, id := range ids {
			v, err := one(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			got[id] = v
		}
		i++
	}
}

// dropMemoized deletes the ids' values, in one call.
func dropMemoized(b *testing.B, c *corral.Cache, ids []int) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i], _ = corral.MemoizeKey("stats", id)
	}
	if err := c.Delete(context.Background(), keys...); err != nil {
		b.Fatal(err)
	}
}

func benchSturdyc(b *testing.B, intIDs []int) {
	ctx := context.Background()
	c := sturdyc.New[stats](10_000, 10, time.Minute, 10)
	keyFn := c.BatchKeyFn("stats")
	ids := make([]string, len(intIDs))
	for i, id := range intIDs {
		ids[i] = strconv.Itoa(id)
	}
	fetch := func(ctx context.Context, ids []string) (map[string]stats, error) {
		out := make(map[string]stats, len(ids))
		for _, id := range ids {
			out[id] = value
		}
		return out, nil
	}
	_, _ = sturdyc.GetOrFetchBatch(ctx, c, ids, keyFn, fetch)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for _, id := range missingAt(i) {
			c.Delete(keyFn(strconv.Itoa(id)))
		}
		if got, err := sturdyc.GetOrFetchBatch(ctx, c, ids, keyFn, fetch); err != nil || len(got) != batchIDs {
			b.Fatal(len(got), err)
		}
		i++
	}
}
