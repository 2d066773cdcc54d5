package redisstore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// BenchmarkGetHit compares a Cache.Get hit through the Redis store with a raw
// go-redis GET of the same bytes on the same client, in one run: the
// difference is what corral adds (key, timeout, decode).
func BenchmarkGetHit(b *testing.B) {
	client, c := benchSetup(b)
	ctx := context.Background()
	b.Run("go-redis", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := client.Get(ctx, "raw").Bytes()
			if err != nil || len(v) != 1024 {
				b.Fatal(err)
			}
		}
	})
	b.Run("corral", func(b *testing.B) {
		b.ReportAllocs()
		var dst []byte
		for b.Loop() {
			if found, err := c.Get(ctx, "k", &dst); !found || err != nil || len(dst) != 1024 {
				b.Fatal(found, err)
			}
		}
	})
}

// BenchmarkGetHitPaired alternates a raw GET and a Cache.Get on every
// iteration and reports the time of each and their ratio: on a noisy machine
// the drift between two sub-benchmarks is larger than corral's overhead, and
// pairing cancels it.
func BenchmarkGetHitPaired(b *testing.B) {
	client, c := benchSetup(b)
	ctx := context.Background()
	var raw, ours time.Duration
	var dst []byte
	for b.Loop() {
		t0 := time.Now()
		if v, err := client.Get(ctx, "raw").Bytes(); err != nil || len(v) != 1024 {
			b.Fatal(err)
		}
		t1 := time.Now()
		if found, err := c.Get(ctx, "k", &dst); !found || err != nil {
			b.Fatal(found, err)
		}
		ours += time.Since(t1)
		raw += t1.Sub(t0)
	}
	b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "corral-ns/op")
	b.ReportMetric(float64(ours)/float64(raw), "ratio")
}

// benchSetup starts a redis-server and stores the same 1 kB under "raw"
// (through go-redis) and "k" (through a Cache).
func benchSetup(b *testing.B) (*redis.Client, *corral.Cache) {
	srv := redistest.Start(b)
	client := srv.Client(b)
	ctx := context.Background()
	value := bytes.Repeat([]byte("x"), 1024)
	c := corral.New(redisstore.New(client), corral.WithPrefix("bench"))
	if err := c.Set(ctx, "k", value, 0); err != nil {
		b.Fatal(err)
	}
	if err := client.Set(ctx, "raw", value, 0).Err(); err != nil {
		b.Fatal(err)
	}
	return client, c
}
