package corral_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/corralhq/corral"
	gocache "github.com/patrickmn/go-cache"
)

// BenchmarkGetHit compares a Cache.Get hit on the memory store with a raw
// go-cache Get of the same value (no key building, no encoding: what a
// hand-written in-process cache costs), in one run.
func BenchmarkGetHit(b *testing.B) {
	ctx := context.Background()
	kB := bytes.Repeat([]byte("x"), 1024)
	small := point{X: 1, Y: 2, Tag: "dashboard"}

	// The same TTL on both sides: go-cache reads the clock for entries that expire.
	raw := gocache.New(corral.DefaultTTL, 0)
	raw.Set("k1k", kB, 0)
	raw.Set("kstruct", &small, 0)
	store := corral.NewMemoryStore()
	defer store.Close()
	c := corral.New(store)
	must(b, c.Set(ctx, "k1k", kB, 0))
	must(b, c.Set(ctx, "kstruct", small, 0))

	b.Run("1kB/go-cache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, ok := raw.Get("k1k")
			if !ok || len(v.([]byte)) != 1024 {
				b.Fatal("miss")
			}
		}
	})
	b.Run("1kB/corral", func(b *testing.B) {
		b.ReportAllocs()
		var dst []byte
		for b.Loop() {
			if found, _ := c.Get(ctx, "k1k", &dst); !found || len(dst) != 1024 {
				b.Fatal("miss")
			}
		}
	})
	b.Run("struct/go-cache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, ok := raw.Get("kstruct")
			if !ok || v.(*point).X != 1 {
				b.Fatal("miss")
			}
		}
	})
	b.Run("struct/corral", func(b *testing.B) {
		b.ReportAllocs()
		var dst point
		for b.Loop() {
			if found, _ := c.Get(ctx, "kstruct", &dst); !found || dst.X != 1 {
				b.Fatal("miss")
			}
		}
	})
}

// BenchmarkMemoizeHit compares a Memoize hit (int key, small struct) on the
// memory store with a raw go-cache Get of the same struct, in one run.
func BenchmarkMemoizeHit(b *testing.B) {
	ctx := context.Background()
	small := point{X: 1, Y: 2, Tag: "dashboard"}
	raw := gocache.New(corral.DefaultTTL, 0)
	raw.Set("point:42", &small, 0)
	store := corral.NewMemoryStore()
	defer store.Close()
	c := corral.New(store)
	m := corral.Memoize(c, "point", 0, func(ctx context.Context, id int) (point, error) { return small, nil })
	if _, err := m(ctx, 42); err != nil {
		b.Fatal(err)
	}

	b.Run("go-cache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, ok := raw.Get("point:42")
			if !ok || v.(*point).X != 1 {
				b.Fatal("miss")
			}
		}
	})
	b.Run("memoize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if p, err := m(ctx, 42); err != nil || p.X != 1 {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMemoryStoreGet measures the memory store's own hit: one warm key
// read in a loop, and 1,000 keys read from every CPU at once (readers must
// not contend on a lock of the store's own).
func BenchmarkMemoryStoreGet(b *testing.B) {
	ctx := context.Background()
	store := corral.NewMemoryStore()
	defer store.Close()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
		must(b, store.Set(ctx, keys[i], []byte("value"), 0))
	}
	b.Run("one-key", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := store.Get(ctx, "key-42"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := store.Get(ctx, keys[i%len(keys)]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
