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
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
)

// discard is a ResponseWriter that keeps nothing.
type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(code int)        { d.status = code }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }

// origin writes pre-rendered bytes: the handler every cache wraps.
func origin(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
}

// counted wraps h, counting its calls in calls.
func counted(h http.Handler, calls *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h.ServeHTTP(w, r)
	})
}

// hitURL is the request of the hit benchmarks: a path and a query.
const hitURL = "/dashboard?range=7d"

// hitHandlers are the handlers compared on a hit, in the order of the
// tables; wrap builds one around the origin it is given.
var hitHandlers = []struct {
	name     string
	cache    bool // its second request must not reach the origin
	loopback bool // also in BenchmarkLoopback
	wrap     func(testing.TB, http.Handler) http.Handler
}{
	{"replay", false, true, func(_ testing.TB, h http.Handler) http.Handler { return newReplay(h) }},
	{"replay+age", false, false, func(_ testing.TB, h http.Handler) http.Handler { return newReplay(h).withHitFields() }},
	{"corral-memory", true, true, func(tb testing.TB, h http.Handler) http.Handler { return newCorralMemory(tb, h) }},
	{"stampede", true, true, newStampede},
	{"http-cache", true, true, newHTTPCache},
	{"origin", false, false, func(_ testing.TB, h http.Handler) http.Handler { return h }},
	{"corral-redis", true, false, newCorralRedis},
}

// newCorralRedis wraps next in corral's middleware on a Redis store, on a
// redis-server of its own (skipped where redis-server is not installed).
func newCorralRedis(tb testing.TB, next http.Handler) http.Handler {
	srv := redistest.Start(tb)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	tb.Cleanup(func() { client.Close() })
	return corral.New(redisstore.New(client)).Handler(next)
}

// replayHandler is the reference for a faithful hit, the floor of any
// cache that serves the origin's exact response: it writes a response
// recorded once from the origin, each header value assigned from a slice
// built then (Content-Length included), with no key and no lookup.
type replayHandler struct {
	header []field
	status int
	body   []byte
}

// field is one header field of a replayed response.
type field struct {
	name   string
	values []string
}

// newReplay records origin's response to GET hitURL.
func newReplay(origin http.Handler) *replayHandler {
	rec := httptest.NewRecorder()
	origin.ServeHTTP(rec, httptest.NewRequest("GET", hitURL, nil))
	res := rec.Result()
	body := rec.Body.Bytes()
	res.Header.Set("Content-Length", strconv.Itoa(len(body)))
	p := &replayHandler{status: res.StatusCode, body: body}
	for _, name := range slices.Sorted(maps.Keys(res.Header)) {
		p.header = append(p.header, field{name, res.Header[name]})
	}
	return p
}

// withHitFields adds to p's response the two fields a cache's hit adds to
// the origin's (Age and Cache-Status, with corral's values for a fresh hit):
// the floor of a hit that says it is one, as RFC 9111 4 and DESIGN.md ask.
func (p *replayHandler) withHitFields() *replayHandler {
	p.header = append(p.header, field{"Age", []string{"0"}}, field{"Cache-Status", []string{"corral; hit"}})
	return p
}

// ServeHTTP writes the recorded response.
func (p *replayHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	for _, f := range p.header {
		h[f.name] = f.values
	}
	w.WriteHeader(p.status)
	w.Write(p.body)
}

// BenchmarkHit: a hit of GET hitURL for 2 kB and 64 kB bodies, served in
// process into a fresh httptest.ResponseRecorder (a header map and a body
// buffer per request, as a server has), for the replay reference, corral
// on its memory store, the HTTP peers, the origin alone (pre-rendered
// bytes, no Content-Length) and corral on Redis.
func BenchmarkHit(b *testing.B) {
	for _, size := range []int{2 << 10, 64 << 10} {
		body := bytes.Repeat([]byte("x"), size)
		for _, c := range hitHandlers {
			b.Run(fmt.Sprintf("%dkB/%s", size>>10, c.name), func(b *testing.B) {
				var calls atomic.Int64
				h := c.wrap(b, counted(origin(body), &calls))
				warm(b, h, len(body), c.cache, &calls)
				r := httptest.NewRequest("GET", hitURL, nil)
				b.ReportAllocs()
				for b.Loop() {
					h.ServeHTTP(httptest.NewRecorder(), r)
				}
			})
		}
	}
}

// BenchmarkHitPaired: the 2 kB hit of corral on its memory store and of
// stampede, each alternated with the replay reference in blocks of 100
// requests (into fresh recorders, as BenchmarkHit), reporting each one's
// time per request and the ratio over the replay's: this machine drifts
// between sub-benchmarks by more than the differences measured. Two more
// pairs split corral's ratio in two: the replay with the fields a hit adds
// (Age, Cache-Status) over the replay, and corral over that.
func BenchmarkHitPaired(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 2<<10)
	serve := func(name string) func() {
		for _, c := range hitHandlers {
			if c.name == name {
				var calls atomic.Int64
				h := c.wrap(b, counted(origin(body), &calls))
				warm(b, h, len(body), c.cache, &calls)
				r := httptest.NewRequest("GET", hitURL, nil)
				return func() { h.ServeHTTP(httptest.NewRecorder(), r) }
			}
		}
		b.Fatalf("no handler %q", name)
		return nil
	}
	pairs := []struct{ name, base string }{
		{"corral-memory", "replay"}, {"stampede", "replay"},
		{"replay+age", "replay"}, {"corral-memory", "replay+age"},
	}
	for _, p := range pairs {
		b.Run("2kB/"+p.name+"-over-"+p.base, func(b *testing.B) { paired(b, p.base, serve(p.base), p.name, serve(p.name)) })
	}
}

// warm sends GET hitURL to h twice, and fails b unless the second answer is
// the whole body and, for a cache, a hit (the origin not called for it).
func warm(b *testing.B, h http.Handler, size int, cache bool, calls *atomic.Int64) {
	b.Helper()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", hitURL, nil))
	calls.Store(0)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", hitURL, nil))
	if w.Code != http.StatusOK || w.Body.Len() != size {
		b.Fatalf("got %d with %d bytes, want 200 with %d", w.Code, w.Body.Len(), size)
	}
	if cache && calls.Load() != 0 {
		b.Fatal("not a hit: the origin answered the second request")
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
	// go-redis logs each failed dial; its lines would cut the benchmark's
	// result lines in two.
	logging.Disable()
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
