// Package bench measures corral against a baseline handler and against the
// peer libraries that the Go module proxy serves, in one go test -bench run.
// It is its own module, so that the peers never enter corral's dependencies.
// run.sh runs everything and writes results.md.
package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// discard is a ResponseWriter that keeps nothing.
type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(code int)        { d.status = code }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }

// origin writes pre-rendered bytes: the baseline, and what every cache wraps.
func origin(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
}

// candidates are the handlers compared on the hit path.
func candidates(b *testing.B, body []byte) map[string]http.Handler {
	mem := corral.NewMemoryStore()
	b.Cleanup(func() { mem.Close() })
	srv := redistest.Start(b)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	b.Cleanup(func() { client.Close() })
	return map[string]http.Handler{
		"baseline":      origin(body),
		"corral-memory": corral.New(mem).Handler(origin(body)),
		"corral-redis":  corral.New(redisstore.New(client)).Handler(origin(body)),
	}
}

// BenchmarkHit: a cache hit for 2 kB and 64 kB bodies, served in process.
func BenchmarkHit(b *testing.B) {
	for _, size := range []int{2 << 10, 64 << 10} {
		body := bytes.Repeat([]byte("x"), size)
		hs := candidates(b, body)
		for _, name := range []string{"baseline", "corral-memory", "corral-redis"} {
			h := hs[name]
			b.Run(fmt.Sprintf("%dkB/%s", size>>10, name), func(b *testing.B) {
				r := httptest.NewRequest("GET", "/dashboard?range=7d", nil)
				w := &discard{h: http.Header{}}
				h.ServeHTTP(w, r) // warm: the next requests are hits
				b.ReportAllocs()
				for b.Loop() {
					clear(w.h)
					h.ServeHTTP(w, r)
				}
			})
		}
	}
}

// BenchmarkStampede: 500 concurrent requests for one cold URL through a real
// server, the origin taking 50 ms. Reports origin calls and client latency.
func BenchmarkStampede(b *testing.B) {
	for _, name := range []string{"baseline", "corral-memory"} {
		b.Run(name, func(b *testing.B) {
			var calls atomic.Int64
			slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				time.Sleep(50 * time.Millisecond) // the origin's cost
				io.WriteString(w, "stats")
			})
			var h http.Handler = slow
			if name != "baseline" {
				h = corral.New(corral.NewMemoryStore()).Handler(slow)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 500}}
			var lat []time.Duration
			for i := 0; b.Loop(); i++ {
				url := fmt.Sprintf("%s/stats?round=%d", srv.URL, i)
				var mu sync.Mutex
				var wg sync.WaitGroup
				for range 500 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						start := time.Now()
						resp, err := client.Get(url)
						if err == nil {
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
						mu.Lock()
						lat = append(lat, time.Since(start))
						mu.Unlock()
					}()
				}
				wg.Wait()
			}
			slices.Sort(lat)
			b.ReportMetric(float64(calls.Load())/float64(b.N), "origin-calls/op")
			b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
		})
	}
}

// BenchmarkCardinality: 100,000 distinct query strings, then the live heap
// after GC, against the same flood without a cache.
func BenchmarkCardinality(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 512)
	for _, name := range []string{"baseline", "corral-memory-default", "corral-memory-16MiB"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				var store *corral.MemoryStore
				h := origin(body)
				switch name {
				case "corral-memory-default":
					store = corral.NewMemoryStore()
				case "corral-memory-16MiB":
					store = corral.NewMemoryStore(corral.MaxBytes(16 << 20))
				}
				if store != nil {
					h = corral.New(store).Handler(h)
				}
				before := heap()
				w := &discard{h: http.Header{}}
				for i := range 100_000 {
					clear(w.h)
					h.ServeHTTP(w, httptest.NewRequest("GET", fmt.Sprintf("/search?q=%d", i), nil))
				}
				b.ReportMetric(float64(heap()-before)/(1<<20), "heap-MiB")
				runtime.KeepAlive(store)
				if store != nil {
					store.Close()
				}
			}
		})
	}
}

func heap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkStoreDown: Redis's port closed. Reports non-2xx answers and the
// latency each request pays, against the origin alone.
func BenchmarkStoreDown(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for _, name := range []string{"baseline", "corral-redis-down"} {
		b.Run(name, func(b *testing.B) {
			h := origin([]byte("ok"))
			if name != "baseline" {
				client := redis.NewClient(&redis.Options{Addr: closed, ContextTimeoutEnabled: true, MaxRetries: -1})
				defer client.Close()
				h = corral.New(redisstore.New(client), corral.WithTimeout(50*time.Millisecond)).Handler(h)
			}
			var lat []time.Duration
			bad := 0
			for i := 0; b.Loop(); i++ {
				w := &discard{h: http.Header{}}
				start := time.Now()
				h.ServeHTTP(w, httptest.NewRequest("GET", fmt.Sprintf("/p/%d", i%100), nil).WithContext(context.Background()))
				lat = append(lat, time.Since(start))
				if w.status != 0 && w.status != 200 {
					bad++
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(bad), "non-2xx")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
		})
	}
}
