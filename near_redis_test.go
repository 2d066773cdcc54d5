package corral_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/faultproxy"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// nearRedis is a Redis for the near cache tests: one server, or a
// three-node Cluster.
type nearRedis struct {
	servers []*redistest.Server
	cluster bool
}

// client returns a new client (each instance has its own), closed when
// the test ends.
func (r *nearRedis) client(t *testing.T) redis.UniversalClient {
	var c redis.UniversalClient
	if r.cluster {
		addrs := make([]string, len(r.servers))
		for i, s := range r.servers {
			addrs[i] = s.Addr
		}
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true, MaxRetries: -1})
	} else {
		c = redis.NewClient(&redis.Options{Addr: r.servers[0].Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// gets returns how many GETs the servers have answered.
func (r *nearRedis) gets(t *testing.T) int {
	t.Helper()
	n := 0
	for _, s := range r.servers {
		info, err := s.Client(t).Info(context.Background(), "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		if _, rest, ok := strings.Cut(info, "cmdstat_get:calls="); ok {
			calls, _, _ := strings.Cut(rest, ",")
			v, _ := strconv.Atoi(calls)
			n += v
		}
	}
	return n
}

func (r *nearRedis) kill() {
	for _, s := range r.servers {
		s.Kill()
	}
}

// nearInstance is one instance of a service: its own client, its own near
// cache.
func nearInstance(t *testing.T, r *nearRedis, prefix string, opts ...corral.Option) *corral.Cache {
	return corral.New(redisstore.New(r.client(t)),
		append([]corral.Option{corral.WithPrefix(prefix), corral.WithNearCache(1<<20, time.Minute)}, opts...)...)
}

// nearHit reads key through c until the near cache answers, which it does
// once c watches the store: the copy is then in c's near cache.
func nearHit(t *testing.T, c *corral.Cache, key string) {
	t.Helper()
	eventually(t, "a near hit of "+key, func() bool {
		before := c.Stats().NearHits
		if found, err := c.Get(context.Background(), key, nil); err != nil || !found {
			t.Fatalf("Get(%q) = %v, %v", key, found, err)
		}
		return c.Stats().NearHits > before
	})
}

func TestNearCacheSingleNode(t *testing.T) {
	runNearSuite(t, func(t *testing.T) *nearRedis {
		return &nearRedis{servers: []*redistest.Server{redistest.Start(t)}}
	})
}

// The Cluster test starts three nodes; set CORRAL_REDIS_CLUSTER=1 to run it.
func TestNearCacheCluster(t *testing.T) {
	if os.Getenv("CORRAL_REDIS_CLUSTER") == "" && os.Getenv("CI") != "true" {
		t.Skip("set CORRAL_REDIS_CLUSTER=1 to run the three-node Redis Cluster test")
	}
	runNearSuite(t, func(t *testing.T) *nearRedis {
		return &nearRedis{servers: redistest.StartCluster(t, 3).Nodes, cluster: true}
	})
}

// runNearSuite runs the near cache's tests on one Redis (the last one
// kills it).
func runNearSuite(t *testing.T, start func(t *testing.T) *nearRedis) {
	r := start(t)
	t.Run("Propagation", func(t *testing.T) { testNearPropagation(t, r) })
	t.Run("RepeatedReads", func(t *testing.T) { testNearRepeatedReads(t, r) })
	t.Run("EveryWriteDrops", func(t *testing.T) { testNearEveryWriteDrops(t, r) })
	t.Run("HTTPInvalidation", func(t *testing.T) { testNearHTTPInvalidation(t, r) })
	t.Run("WritesWinAcrossInstances", func(t *testing.T) { testNearWritesWin(t, r) })
	t.Run("StaleIfErrorWhenKilled", func(t *testing.T) { testNearStaleIfErrorWhenKilled(t, r) })
}

// A Set or a Delete on one instance is seen by the other, which held the
// key in its near cache, within 100 ms (p99); without the store's reports
// it would be served for the near cache's whole age (a minute here).
func testNearPropagation(t *testing.T, r *nearRedis) {
	ctx := context.Background()
	a, b := nearInstance(t, r, "prop"), nearInstance(t, r, "prop")
	must(t, a.Set(ctx, "k", 0, 0))
	const rounds = 200
	var took []time.Duration
	for i := 1; i <= rounds; i++ {
		nearHit(t, b, "k") // b serves the old value from its near cache
		deleted := i%2 == 0
		if deleted {
			must(t, a.Delete(ctx, "k"))
		} else {
			must(t, a.Set(ctx, "k", i, 0))
		}
		start := time.Now()
		for !seen(t, b, i, deleted) {
			if time.Since(start) > 2*time.Second {
				t.Fatalf("round %d: the other instance still serves the old value after 2s", i)
			}
			time.Sleep(20 * time.Microsecond) // polling for the propagation
		}
		took = append(took, time.Since(start))
		if deleted {
			must(t, a.Set(ctx, "k", i, 0))
		}
	}
	slices.Sort(took)
	p50, p99 := took[len(took)/2], took[len(took)*99/100]
	t.Logf("a write on one instance seen by the other: p50 %v, p99 %v, max %v (%d rounds, half Set, half Delete)",
		p50, p99, took[len(took)-1], rounds)
	if p99 > 100*time.Millisecond {
		t.Fatalf("p99 %v, want at most 100 ms", p99)
	}
}

// seen reports whether b reads what round i wrote: i, or nothing.
func seen(t *testing.T, b *corral.Cache, i int, deleted bool) bool {
	var v int
	found, err := b.Get(context.Background(), "k", &v)
	if err != nil {
		t.Fatal(err)
	}
	if deleted {
		return !found
	}
	return found && v == i
}

// Repeated reads are answered by the near cache, with no call to Redis:
// Get, Memoize, and the middleware.
func testNearRepeatedReads(t *testing.T, r *nearRedis) {
	ctx := context.Background()
	c := nearInstance(t, r, "reads")
	must(t, c.Set(ctx, "k", "v", 0))
	var computed atomic.Int64
	report := corral.Memoize(c, "report", time.Minute, func(ctx context.Context, id int) (point, error) {
		computed.Add(1)
		return point{X: id, Tag: "report"}, nil
	})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		computed.Add(1)
		fmt.Fprint(w, "page")
	}), corral.TTL(time.Minute))
	nearHit(t, c, "k")
	eventually(t, "near hits of Memoize and the middleware", func() bool {
		before := c.Stats().NearHits
		if p, err := report(ctx, 7); err != nil || p.X != 7 {
			t.Fatalf("report(7) = %v, %v", p, err)
		}
		if body := get(h, "/page"); body != "page" {
			t.Fatalf("GET /page: %q", body)
		}
		return c.Stats().NearHits >= before+2
	})
	const n = 100
	before, gets, computations := c.Stats().NearHits, r.gets(t), computed.Load()
	var v string
	for range n {
		if found, err := c.Get(ctx, "k", &v); !found || err != nil || v != "v" {
			t.Fatalf("Get = %v, %v, %q", found, err, v)
		}
		if p, err := report(ctx, 7); err != nil || p.X != 7 {
			t.Fatalf("report(7) = %v, %v", p, err)
		}
		if body := get(h, "/page"); body != "page" {
			t.Fatalf("GET /page: %q", body)
		}
	}
	if got := c.Stats().NearHits - before; got != 3*n {
		t.Errorf("NearHits grew by %d, want %d", got, 3*n)
	}
	if got := r.gets(t) - gets; got != 0 {
		t.Errorf("Redis answered %d GETs, want 0", got)
	}
	if computed.Load() != computations {
		t.Errorf("computed %d more times", computed.Load()-computations)
	}
}

// get serves a GET of target through h and returns the body.
func get(h http.Handler, target string) string {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
	return w.Body.String()
}

// Every kind of write on one instance drops the other's copy of the key.
func testNearEveryWriteDrops(t *testing.T, r *nearRedis) {
	ctx := context.Background()
	a, b := nearInstance(t, r, "writes"), nearInstance(t, r, "writes")
	writes := []struct {
		name  string
		write func(key string) error
	}{
		{"Set", func(k string) error { return a.Set(ctx, k, 2, 0) }},
		{"Delete", func(k string) error { return a.Delete(ctx, k) }},
		{"SetMany", func(k string) error { return a.SetMany(ctx, map[string]int{k: 2}, 0) }},
		{"Incr", func(k string) error { _, err := a.Incr(ctx, k, 1); return err }},
		{"Touch", func(k string) error { _, err := a.Touch(ctx, k, time.Hour); return err }},
		{"IncrVersion", func(k string) error { _, err := a.IncrVersion(ctx, k, 1); return err }},
		{"Clear", func(string) error { return a.Clear(ctx) }},
		{"another client", func(k string) error {
			return r.client(t).Del(ctx, "writes:1:"+k).Err()
		}},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			key := "k-" + strings.ReplaceAll(w.name, " ", "-")
			must(t, a.Set(ctx, key, 1, 0))
			nearHit(t, b, key)
			drops := corral.NearDrops(b, key)
			must(t, w.write(key))
			eventually(t, "the other instance's copy dropped", func() bool { return corral.NearDrops(b, key) > drops })
		})
	}
}

// A POST through one instance's middleware drops the page that the other
// serves from its near cache.
func testNearHTTPInvalidation(t *testing.T, r *nearRedis) {
	var renders atomic.Int64
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprintf(w, "render %d", renders.Add(1))
		}
	})
	a := nearInstance(t, r, "http").Handler(page, corral.TTL(time.Minute))
	bc := nearInstance(t, r, "http")
	b := bc.Handler(page, corral.TTL(time.Minute))
	first := get(b, "/items/1")
	eventually(t, "a near hit of the page", func() bool {
		before := bc.Stats().NearHits
		if body := get(b, "/items/1"); body != first {
			t.Fatalf("GET = %q, want %q", body, first)
		}
		return bc.Stats().NearHits > before
	})
	w := httptest.NewRecorder()
	a.ServeHTTP(w, httptest.NewRequest("POST", "/items/1", nil))
	eventually(t, "the page rendered again", func() bool { return get(b, "/items/1") != first })
}

// A Delete on instance A while instance B computes the key keeps B's value
// out of the store, as a write in B's own process would.
func testNearWritesWin(t *testing.T, r *nearRedis) {
	ctx := context.Background()
	a, b := nearInstance(t, r, "win"), nearInstance(t, r, "win")
	must(t, b.Set(ctx, "ready", 1, 0))
	nearHit(t, b, "ready") // b watches the store
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		v, err := corral.GetOrSet(ctx, b, "k", time.Minute, func(context.Context) (string, error) {
			close(started)
			<-release
			return "computed before the delete", nil
		})
		if err == nil && v != "computed before the delete" {
			err = fmt.Errorf("GetOrSet = %q", v)
		}
		done <- err
	}()
	<-started
	drops := corral.NearDrops(b, "k")
	must(t, a.Delete(ctx, "k"))
	eventually(t, "the delete reported to b", func() bool { return corral.NearDrops(b, "k") > drops })
	close(release)
	must(t, <-done)
	if found, err := a.Has(ctx, "k"); found || err != nil {
		t.Fatalf("after the delete, the store holds b's value: Has = %v, %v", found, err)
	}
}

// With StaleIfError, Memoize on an instance whose Redis is killed answers
// from what its near cache holds: no computation, no error.
func testNearStaleIfErrorWhenKilled(t *testing.T, r *nearRedis) {
	ctx := context.Background()
	c := nearInstance(t, r, "killed", corral.WithCircuitBreaker(5, 50*time.Millisecond))
	var computed atomic.Int64
	report := corral.Memoize(c, "report", time.Minute, func(ctx context.Context, id int) (point, error) {
		computed.Add(1)
		return point{X: id, Tag: "report"}, nil
	}, corral.StaleIfError(time.Hour))
	ids := []int{1, 2, 3}
	for _, id := range ids {
		if _, err := report(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "near hits of every id", func() bool {
		before := c.Stats().NearHits
		for _, id := range ids {
			if _, err := report(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		return c.Stats().NearHits >= before+uint64(len(ids))
	})
	r.kill()
	stale := c.Stats().StaleServed
	served, calls, slowest := 0, 0, time.Duration(0)
	eventually(t, "100 stale answers", func() bool {
		for _, id := range ids {
			start := time.Now()
			p, err := report(ctx, id)
			if err != nil || p.X != id {
				t.Fatalf("report(%d) with Redis killed = %v, %v", id, p, err)
			}
			calls, slowest = calls+1, max(slowest, time.Since(start))
		}
		if computed.Load() != int64(len(ids)) {
			t.Fatalf("computed %d times with Redis killed", computed.Load()-int64(len(ids)))
		}
		if c.Stats().StaleServed > stale {
			served++ // the copies are held since the channel was lost
		}
		return served >= 100
	})
	s := c.Stats()
	if s.Errors == 0 && s.Rejected == 0 {
		t.Fatalf("no store call failed with Redis killed: %+v", s)
	}
	t.Logf("Redis killed: %d calls, 0 computations, 0 errors, %d served stale from the held copies, slowest %v",
		calls, s.StaleServed-stale, slowest.Round(time.Microsecond))
}

// When the channel to Redis is lost, the copies are no longer served as
// fresh, and none is kept until it is back: a change made meanwhile is
// never hidden behind a copy. (One server: the proxy stands between the
// instance and it.)
func TestNearCacheLostChannel(t *testing.T) {
	srv := redistest.Start(t)
	proxy := faultproxy.Start(t, srv.Addr)
	ctx := context.Background()
	direct := &nearRedis{servers: []*redistest.Server{srv}}
	a := nearInstance(t, direct, "lost")
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	b := corral.New(redisstore.New(client), corral.WithPrefix("lost"), corral.WithNearCache(1<<20, time.Minute),
		corral.WithCircuitBreaker(0, 0))
	must(t, a.Set(ctx, "k", "old", 0))
	nearHit(t, b, "k")

	proxy.Down() // b's connections, its watch's among them, are reset; no new one is accepted
	down := time.Now()
	must(t, a.Set(ctx, "k", "new", 0))
	var v string
	var lost time.Duration // until the first read the copy did not answer
	eventually(t, "a failed read", func() bool {
		hits, at := b.Stats().NearHits, time.Since(down)
		_, err := b.Get(ctx, "k", &v)
		if lost == 0 && b.Stats().NearHits == hits {
			lost = at
		}
		return errors.Is(err, corral.ErrUnavailable)
	})
	for range 10 {
		if found, err := b.Get(ctx, "k", &v); err == nil {
			t.Fatalf("Get with the channel lost = %v, %q: the old copy served", found, v)
		}
	}
	proxy.Up(t)
	up := time.Now()
	eventually(t, "the new value", func() bool {
		found, err := b.Get(ctx, "k", &v)
		return err == nil && found && v == "new"
	})
	nearHit(t, b, "k") // kept again once the channel is back
	t.Logf("the copies stopped serving %v after the connections were reset; near hits again %v after Redis was reachable",
		lost.Round(time.Microsecond), time.Since(up).Round(time.Millisecond))
}
