package corral_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// discard is a ResponseWriter that keeps nothing, reused across iterations
// so that the benchmark measures the handlers, not the recorder.
type discard struct {
	h      http.Header
	status int
	n      int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(code int)        { d.status = code }
func (d *discard) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
func (d *discard) reset()                      { clear(d.h); d.status, d.n = 0, 0 }

// BenchmarkHTTPHit compares a cache hit through the middleware on the memory
// store with a handler that writes the same pre-rendered bytes, alternating
// the two in blocks (this machine drifts more than the difference), for 2 kB
// and 64 kB bodies. ratio is hit time over baseline time; ns/op, B/op and
// allocs/op count the loop's bookkeeping, not the requests.
func BenchmarkHTTPHit(b *testing.B) {
	for _, size := range []int{2 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dkB", size>>10), func(b *testing.B) {
			body := bytes.Repeat([]byte("x"), size)
			baseline := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write(body)
			})
			store := corral.NewMemoryStore()
			defer store.Close()
			cached := corral.New(store).Handler(baseline)
			r := httptest.NewRequest("GET", "/dashboard?range=7d", nil)
			w := &discard{h: http.Header{}}
			cached.ServeHTTP(w, r)
			w.reset()
			cached.ServeHTTP(w, r)
			if w.h.Get("Cache-Status") != "corral; hit" || w.n != size {
				b.Fatalf("not a hit: %v", w.h)
			}
			// Alternate blocks of 100 requests of each kind, timing each
			// block once, so that neither side pays for reading the clock.
			var base, hit time.Duration
			b.ReportAllocs()
			const block = 100
			n := 0
			for b.Loop() {
				n++
				if n%block != 0 {
					continue
				}
				t0 := time.Now()
				for range block {
					w.reset()
					baseline.ServeHTTP(w, r)
				}
				t1 := time.Now()
				for range block {
					w.reset()
					cached.ServeHTTP(w, r)
				}
				hit += time.Since(t1)
				base += t1.Sub(t0)
			}
			if hit == 0 {
				b.Skip("too few iterations to time a block")
			}
			b.ReportMetric(float64(base.Nanoseconds())/float64(n), "baseline-ns/op")
			b.ReportMetric(float64(hit.Nanoseconds())/float64(n), "hit-ns/op")
			b.ReportMetric(float64(hit)/float64(base), "ratio")
		})
	}
}
