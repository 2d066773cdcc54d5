package corral_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/faultproxy"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// echoPath answers with its path and a call number, so a test can tell which
// URL a body belongs to and whether it was replayed.
func echoPath(calls *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		fmt.Fprintf(w, "%s #%d", r.URL.Path, n)
	})
}

func redisClient(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisDownAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	c := corral.New(redisstore.New(redisClient(t, addr)), corral.WithTimeout(50*time.Millisecond))
	var calls atomic.Int64
	srv := c.Handler(echoPath(&calls))
	for i := range 20 {
		w := do(srv, "GET", "/items/1")
		if w.Code != 200 || w.Body.String() != fmt.Sprintf("/items/1 #%d", i+1) {
			t.Fatalf("request %d: %d %q", i, w.Code, w.Body)
		}
	}
	if s := c.Stats(); s.Errors == 0 || s.Errors+s.Rejected < 20 {
		t.Fatalf("stats %+v: the failing store was not counted", s)
	}
}

// Redis killed under load and restarted 2 s later on the same port, with
// the default timeout and breaker: no request fails, and hits resume within
// 1.5 s of the restart, found by the background probe. CORRAL_OUTAGE sets
// another outage length (CORRAL_OUTAGE=30s measures a long one).
func TestRedisKilledAndRestartedUnderLoad(t *testing.T) {
	outage := 2 * time.Second
	if d, err := time.ParseDuration(os.Getenv("CORRAL_OUTAGE")); err == nil {
		outage = d
	}
	srv := redistest.Start(t)
	c := corral.New(redisstore.New(srv.Client(t))) // go-redis's defaults, ContextTimeoutEnabled
	var calls atomic.Int64
	h := c.Handler(echoPath(&calls), corral.TTL(time.Minute))

	var bad atomic.Int64
	var badExample atomic.Value
	check := func(path string) string {
		w := do(h, "GET", path)
		if w.Code != 200 || !strings.HasPrefix(w.Body.String(), path+" #") {
			bad.Add(1)
			badExample.Store(fmt.Sprintf("%s: %d %q", path, w.Code, w.Body))
		}
		return w.Header().Get("Cache-Status")
	}
	// A steady load, bounded: 4 workers, 20 URLs, until told to stop.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var served atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				check(fmt.Sprintf("/items/%d", (g*7+i)%20))
				served.Add(1)
				time.Sleep(time.Millisecond) // pace the load, not a synchronisation
			}
		}()
	}
	waitFor(t, "requests served before the kill", func() uint64 { return uint64(served.Load()) }, 200)
	srv.Kill()
	killedAt := served.Load()
	<-time.After(outage) // the outage's length, not a synchronisation
	servedDown := served.Load() - killedAt
	srv.Restart(t)
	restarted := time.Now()
	// Redis came back empty: a URL misses once, then hits.
	var firstHit time.Duration
	for deadline := time.Now().Add(10 * time.Second); ; {
		if check("/items/7") == "corral; hit" {
			firstHit = time.Since(restarted)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no hit within 10s of the restart")
		}
		time.Sleep(5 * time.Millisecond) // polling for the hit, bounded
	}
	close(stop)
	wg.Wait()
	t.Logf("served %d requests (%d in the %v Redis was down), first hit %v after the restart; stats %+v",
		served.Load(), servedDown, outage, firstHit, c.Stats())
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d failed or wrong responses, e.g. %v", n, badExample.Load())
	}
	if firstHit > 1500*time.Millisecond {
		t.Fatalf("hits came back %v after the restart, want within 1.5 s", firstHit)
	}
}

// A Redis that stalls (CLIENT PAUSE 3000) under Memoize callers with 50 ms
// deadlines: a store call takes at most half of a caller's time, so every
// caller gets its function's answer; the stall opens the breaker, and hits
// resume when it ends.
func TestRedisPausedCallersWithDeadlines(t *testing.T) {
	srv := redistest.Start(t)
	c := corral.New(redisstore.New(srv.Client(t))) // defaults, ContextTimeoutEnabled
	square := corral.Memoize(c, "square", time.Hour, func(_ context.Context, n int) (int, error) { return n * n, nil })
	call := func(n int) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		v, err := square(ctx, n)
		if err == nil && v != n*n {
			err = fmt.Errorf("square(%d) = %d", n, v)
		}
		return time.Since(start), err
	}
	for n := range 50 { // stored before the stall
		if _, err := call(n); err != nil {
			t.Fatal(err)
		}
	}
	const pause = 3 * time.Second
	must(t, srv.Client(t).ClientPause(context.Background(), pause).Err())
	paused := time.Now()

	var calls, failed, slowest atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Since(paused) < pause; i++ {
				took, err := call((g*13 + i) % 100)
				calls.Add(1)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
				if int64(took) > slowest.Load() {
					slowest.Store(int64(took)) // a close enough maximum: only logged
				}
				time.Sleep(time.Millisecond) // pace the load, not a synchronisation
			}
		}()
	}
	wg.Wait()
	stalled := c.Stats()
	var resumed time.Duration
	for deadline := time.Now().Add(5 * time.Second); ; {
		before := c.Stats().Hits
		if _, err := call(7); err == nil && c.Stats().Hits > before {
			resumed = time.Since(paused) - pause
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no hit within 5 s of the end of the pause")
		}
		time.Sleep(5 * time.Millisecond) // polling for the hit, bounded
	}
	t.Logf("CLIENT PAUSE %v: %d Memoize calls with 50 ms deadlines, %d errors, slowest %v; %d store errors, %d calls the breaker refused; first hit %v after the pause",
		pause, calls.Load(), failed.Load(), time.Duration(slowest.Load()), stalled.Errors, stalled.Rejected, resumed)
	if failed.Load() != 0 {
		t.Fatalf("%d of %d callers failed, e.g. %v", failed.Load(), calls.Load(), firstErr.Load())
	}
	if stalled.Rejected == 0 {
		t.Fatalf("stats %+v: the stall never opened the breaker", stalled)
	}
}

func TestRedisLatencyWithBreaker(t *testing.T) {
	srv := redistest.Start(t)
	proxy := faultproxy.Start(t, srv.Addr)
	const budget = 50 * time.Millisecond
	c := corral.New(redisstore.New(redisClient(t, proxy.Addr)),
		corral.WithTimeout(budget), corral.WithCircuitBreaker(5, time.Minute))
	var calls atomic.Int64
	h := c.Handler(echoPath(&calls))
	proxy.SetLatency(2 * time.Second)

	var durations []time.Duration
	for i := range 100 {
		start := time.Now()
		w := do(h, "GET", fmt.Sprintf("/items/%d", i))
		durations = append(durations, time.Since(start))
		if w.Code != 200 {
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
	p99 := func(ds []time.Duration) time.Duration {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return ds[(len(ds)*99)/100]
	}
	before, after := durations[:5], durations[10:]
	t.Logf("2 s Redis latency, %v budget: p99 %v for the first 5 requests, %v once the breaker is open (state %s, stats %+v)",
		budget, p99(before), p99(after), c.BreakerState(), c.Stats())
	if c.BreakerState() != "open" {
		t.Fatalf("breaker %s", c.BreakerState())
	}
	if p99(before) > budget+500*time.Millisecond {
		t.Fatalf("p99 %v before the breaker opened, with a %v budget", p99(before), budget)
	}
	// Near zero on an idle machine (0.9 ms measured); the bound leaves room
	// for a loaded one, and stays well under the budget.
	if p99(after) > 2*budget {
		t.Fatalf("p99 %v once the breaker is open, want near zero", p99(after))
	}
}

// Values that embed their own key, read through cut replies and random
// cancellations: a reply must never reach the wrong read.
func TestNoCrossedRepliesUnderFaults(t *testing.T) {
	srv := redistest.Start(t)
	proxy := faultproxy.Start(t, srv.Addr)
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr, ContextTimeoutEnabled: true, PoolSize: 4})
	t.Cleanup(func() { client.Close() })
	c := corral.New(redisstore.New(client), corral.WithTimeout(200*time.Millisecond), corral.WithCircuitBreaker(0, 0))
	ctx := context.Background()
	const keys = 100
	setup := corral.New(redisstore.New(redisClient(t, srv.Addr)), corral.WithTimeout(10*time.Second))
	for i := range keys {
		k := fmt.Sprintf("k%d", i)
		must(t, setup.Set(ctx, k, strings.Repeat("value-of-"+k+";", 50), 0))
	}
	proxy.SetCut(0.02)

	var wg sync.WaitGroup
	var reads, answered, crossed atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 10_000 / 8 {
				k := fmt.Sprintf("k%d", rng.IntN(keys))
				deadline := 200 * time.Millisecond // half the reads have time to finish,
				if rng.IntN(2) == 0 {              // the other half are cancelled at a random moment
					deadline = time.Duration(rng.IntN(3000)) * time.Microsecond
				}
				rctx, cancel := context.WithTimeout(ctx, deadline)
				var v string
				found, err := c.Get(rctx, k, &v)
				cancel()
				reads.Add(1)
				if err == nil && found {
					answered.Add(1)
					if v != strings.Repeat("value-of-"+k+";", 50) {
						crossed.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d reads, %d answered, %d crossed", reads.Load(), answered.Load(), crossed.Load())
	if crossed.Load() != 0 {
		t.Fatalf("%d reads returned another key's value", crossed.Load())
	}
	if answered.Load() < 1000 {
		t.Fatalf("only %d of %d reads answered: the test did not exercise reads", answered.Load(), reads.Load())
	}
}

func TestSlowOriginImpatientClients(t *testing.T) {
	c := newHTTPCache(t)
	before := runtime.NumGoroutine()
	release := make(chan struct{})
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-release // the origin takes "30 s": until the test lets it go
		io.WriteString(w, "late")
	}))
	const clients = 200
	var wg sync.WaitGroup
	var slowest atomic.Int64
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/slow", nil).WithContext(ctx))
			took := int64(time.Since(start))
			for {
				old := slowest.Load()
				if took <= old || slowest.CompareAndSwap(old, took) {
					break
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("200 clients with a 1 s deadline on a blocked origin: the slowest returned after %v", time.Duration(slowest.Load()))
	if time.Duration(slowest.Load()) > 2500*time.Millisecond {
		t.Fatalf("a client returned after %v", time.Duration(slowest.Load()))
	}
	if calls.Load() != 1 {
		t.Fatalf("the origin ran %d times", calls.Load())
	}
	close(release)
	eventually(t, "back to the goroutines before", func() bool { return runtime.NumGoroutine() <= before })
}

// A computation that panics or calls runtime.Goexit under 10 concurrent
// callers, through the middleware and through Memoize: every caller returns,
// nothing is cached, and the next call computes again.
func TestPanicAndGoexitUnderConcurrency(t *testing.T) {
	failures := map[string]func(){
		"panic":  func() { panic("boom") },
		"Goexit": runtime.Goexit,
	}
	for name, fail := range failures {
		t.Run("middleware/"+name, func(t *testing.T) {
			c := newHTTPCache(t)
			var calls atomic.Int64
			release := make(chan struct{})
			h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					<-release
					fail()
				}
				io.WriteString(w, "fine")
			}))
			codes := make(chan int, 10)
			for range 10 {
				go func() {
					code := -1 // the leader's request ends in its panic or Goexit
					defer func() { recover(); codes <- code }()
					code = do(h, "GET", "/p").Code
				}()
			}
			waitFor(t, "callers waiting", func() uint64 { return c.Stats().Misses }, 10)
			close(release)
			var got []int
			for range 10 {
				got = append(got, <-codes)
			}
			slices.Sort(got)
			if got[0] != -1 || got[1] != 500 || got[9] != 500 {
				t.Fatalf("codes %v: want the leader's request to fail and 9 waiters to get 500", got)
			}
			if w := do(h, "GET", "/p"); w.Code != 200 || w.Body.String() != "fine" || calls.Load() != 2 {
				t.Fatalf("the next request: %d %q after %d calls", w.Code, w.Body, calls.Load())
			}
		})
		t.Run("Memoize/"+name, func(t *testing.T) {
			c := newHTTPCache(t)
			var calls atomic.Int64
			release := make(chan struct{})
			m := corral.Memoize(c, "m", time.Minute, func(ctx context.Context, k int) (string, error) {
				if calls.Add(1) == 1 {
					<-release
					fail()
				}
				return "fine", nil
			})
			errs := make(chan error, 10)
			for range 10 {
				go func() {
					err := fmt.Errorf("leader")
					defer func() { recover(); errs <- err }()
					_, err = m(context.Background(), 1)
				}()
			}
			waitFor(t, "callers waiting", func() uint64 { return c.Stats().Misses }, 10)
			close(release)
			leaders, waiters := 0, 0
			for range 10 {
				switch err := <-errs; {
				case err != nil && err.Error() == "leader":
					leaders++
				case errors.Is(err, corral.ErrPanicked):
					waiters++
				default:
					t.Fatalf("a caller got %v", err)
				}
			}
			if leaders != 1 || waiters != 9 {
				t.Fatalf("%d leaders, %d waiters with ErrPanicked", leaders, waiters)
			}
			if v, err := m(context.Background(), 1); v != "fine" || err != nil || calls.Load() != 2 {
				t.Fatalf("the next call: %q, %v after %d calls", v, err, calls.Load())
			}
		})
	}
}

// A full Redis (maxmemory reached under noeviction: every write gets OOM)
// is no outage: the values it holds keep hitting, the values it cannot
// take are computed and served, and the breaker never opens.
func TestFullRedisKeepsServingReads(t *testing.T) {
	srv := redistest.Start(t)
	client := redisClient(t, srv.Addr)
	c := corral.New(redisstore.New(client)) // default timeout and breaker
	const stored = 50
	var recomputed atomic.Int64 // computations of values Redis holds
	square := corral.Memoize(c, "square", time.Hour, func(_ context.Context, n int) (int, error) {
		if n < stored {
			recomputed.Add(1)
		}
		return n * n, nil
	})
	var calls atomic.Int64
	h := c.Handler(echoPath(&calls), corral.TTL(time.Hour))
	ctx := context.Background()
	for i := range stored { // written while Redis has room
		if _, err := square(ctx, i); err != nil {
			t.Fatal(err)
		}
		do(h, "GET", fmt.Sprintf("/items/%d", i))
	}
	fillRedis(t, client)
	recomputed.Store(0)
	calls.Store(0)
	for i := range 10 { // writes in a row, all refused
		if err := c.Set(ctx, fmt.Sprintf("new-%d", i), i, 0); !errors.Is(err, corral.ErrDeclined) {
			t.Fatalf("Set on a full Redis = %v, want ErrDeclined", err)
		}
	}

	var reads, hits, fresh, failed atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				n := (g*250 + i) % stored
				if v, err := square(ctx, n); err != nil || v != n*n {
					failed.Add(1)
				}
				if w := do(h, "GET", fmt.Sprintf("/items/%d", n)); w.Code != 200 {
					failed.Add(1)
				} else if w.Header().Get("Cache-Status") == "corral; hit" {
					hits.Add(1)
				}
				reads.Add(2) // one Memoize, one HTTP
				// A value Redis cannot take: computed, served, not stored.
				if v, err := square(ctx, stored+g*250+i); err != nil || v != (stored+g*250+i)*(stored+g*250+i) {
					failed.Add(1)
				}
				fresh.Add(1)
			}
		}()
	}
	wg.Wait()
	hits.Add(reads.Load()/2 - recomputed.Load()) // the Memoize reads that did not compute
	st := c.Stats()
	t.Logf("Redis full (maxmemory 1mb, noeviction): %d of %d reads of stored values hit (%.1f%%); 10 Sets and %d new values refused; %d failed calls; breaker %s, stats errors %d rejected %d",
		hits.Load(), reads.Load(), 100*float64(hits.Load())/float64(reads.Load()), fresh.Load(), failed.Load(), st.BreakerState, st.Errors, st.Rejected)
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed", failed.Load())
	}
	if hits.Load() != reads.Load() || calls.Load() != 0 {
		t.Fatalf("%d of %d reads of stored values hit; the handler ran %d times", hits.Load(), reads.Load(), calls.Load())
	}
	if st.BreakerState != "closed" || st.Rejected != 0 || st.Errors < uint64(fresh.Load())+10 {
		t.Fatalf("stats %+v: want the breaker closed, nothing rejected, every refused write counted", st)
	}
}

// fillRedis makes every write to the server get OOM: maxmemory 1mb under
// noeviction, below what the server holds.
func fillRedis(t *testing.T, client *redis.Client) {
	t.Helper()
	ctx := context.Background()
	must(t, client.Set(ctx, "filler", make([]byte, 256<<10), 0).Err())
	must(t, client.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err())
	must(t, client.ConfigSet(ctx, "maxmemory", "1mb").Err())
	if err := client.Set(ctx, "probe", "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "OOM") {
		t.Fatalf("a write to the full server = %v, want OOM", err)
	}
}
