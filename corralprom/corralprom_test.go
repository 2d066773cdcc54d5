package corralprom_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/corralprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// remote is the memory store seen as a remote store (the cache puts it
// behind its breaker and observer), which can be broken on command.
type remote struct {
	corral.Store
	broken atomic.Bool
}

func (r *remote) Get(ctx context.Context, k string) ([]byte, error) {
	if r.broken.Load() {
		return nil, errors.New("connection refused")
	}
	return r.Store.Get(ctx, k)
}

func (r *remote) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	if r.broken.Load() {
		return errors.New("connection refused")
	}
	return r.Store.Set(ctx, k, v, ttl)
}

func TestCollectorAfterKnownTraffic(t *testing.T) {
	ctx := context.Background()
	mem := corral.NewMemoryStore()
	defer mem.Close()
	store := &remote{Store: mem}
	c := corral.New(store, corral.WithCircuitBreaker(2, 50*time.Millisecond))
	col := corralprom.New(c, "test")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)

	value := func(context.Context) (int, error) { return 1, nil }
	// 3 misses, then 5 hits.
	for i := range 3 {
		corral.GetOrSet(ctx, c, fmt.Sprint("k", i), time.Minute, value)
	}
	for i := range 5 {
		corral.GetOrSet(ctx, c, fmt.Sprint("k", i%3), time.Minute, value)
	}
	// 4 concurrent callers of a cold key: 1 computation, 3 coalesced.
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			corral.GetOrSet(ctx, c, "cold", time.Minute, func(context.Context) (int, error) {
				close(started)
				<-release
				return 2, nil
			})
		}()
	}
	<-started
	for c.Stats().Misses < 3+4 {
		time.Sleep(time.Millisecond) // waiting for a counter: the callers have joined
	}
	close(release)
	wg.Wait()
	// A store outage: 2 failed reads open the breaker, 3 more are rejected.
	store.broken.Store(true)
	for range 5 {
		c.Get(ctx, "k0", nil)
	}

	want := `
# HELP corral_hits_total Reads that found a fresh value.
# TYPE corral_hits_total counter
corral_hits_total{cache="test"} 5
# HELP corral_misses_total Reads that found nothing usable.
# TYPE corral_misses_total counter
corral_misses_total{cache="test"} 7
# HELP corral_coalesced_total Callers that waited for another caller's computation.
# TYPE corral_coalesced_total counter
corral_coalesced_total{cache="test"} 3
# HELP corral_computations_total Computations run.
# TYPE corral_computations_total counter
corral_computations_total{cache="test"} 4
# HELP corral_store_rejected_total Store calls not made because the circuit breaker was open.
# TYPE corral_store_rejected_total counter
corral_store_rejected_total{cache="test"} 3
# HELP corral_breaker_state The store circuit breaker's state: 1 for the current one.
# TYPE corral_breaker_state gauge
corral_breaker_state{cache="test",state="closed"} 0
corral_breaker_state{cache="test",state="half-open"} 0
corral_breaker_state{cache="test",state="open"} 1
`
	names := []string{"corral_hits_total", "corral_misses_total", "corral_coalesced_total",
		"corral_computations_total", "corral_store_rejected_total", "corral_breaker_state"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	var errs strings.Builder
	errs.WriteString("# HELP corral_store_errors_total Store calls that failed or timed out, by operation.\n")
	errs.WriteString("# TYPE corral_store_errors_total counter\n")
	for _, op := range corral.StoreOps() {
		n := 0
		if op == "get" {
			n = 2 // the two reads that opened the breaker
		}
		fmt.Fprintf(&errs, "corral_store_errors_total{cache=\"test\",op=%q} %d\n", op, n)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(errs.String()), "corral_store_errors_total"); err != nil {
		t.Fatal(err)
	}
	// Every observed call is in the latency histogram: 3 misses read twice
	// (read, then re-read before computing) and store, 5 hits read, ...
	if n := testutil.CollectAndCount(col, "corral_store_call_duration_seconds"); n == 0 {
		t.Fatal("no store call latency was observed")
	}
	if problems, err := testutil.CollectAndLint(col); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}

	// Recovery: a background probe succeeds and closes the breaker.
	store.broken.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for c.BreakerState() != "closed" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the probe runs on wall-clock time
	}
	if c.BreakerState() != "closed" {
		t.Fatalf("breaker %s after recovery", c.BreakerState())
	}
}

// 10,000 distinct URLs on one route give one series per decision for that
// route: labels are route templates, never URLs.
func TestHTTPLabelsAreRoutes(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
	col := corralprom.New(c, "http")
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.PathValue("id"))
	})))
	for i := range 10_000 {
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", fmt.Sprintf("/items/%d?q=%d", i, i), nil))
	}
	if n := testutil.CollectAndCount(col, "corral_http_requests_total"); n != 1 {
		t.Fatalf("%d series of corral_http_requests_total for one route, want 1", n)
	}
	want := `
# HELP corral_http_requests_total Requests through the HTTP middleware, by route and decision.
# TYPE corral_http_requests_total counter
corral_http_requests_total{cache="http",decision="stored",route="GET /items/{id}"} 10000
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "corral_http_requests_total"); err != nil {
		t.Fatal(err)
	}
}

// Reads the near cache answers are corral_near_hits_total.
func TestCollectorNearHits(t *testing.T) {
	ctx := context.Background()
	mem := corral.NewMemoryStore()
	defer mem.Close()
	c := corral.New(&remote{Store: mem}, corral.WithNearCache(1<<20, time.Minute))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(corralprom.New(c, "test"))
	if err := c.Set(ctx, "k", 1, 0); err != nil {
		t.Fatal(err)
	}
	for range 3 { // a read of the store, then 2 near hits
		if found, err := c.Get(ctx, "k", nil); !found || err != nil {
			t.Fatal(found, err)
		}
	}
	want := `
# HELP corral_near_hits_total Reads the near cache answered, with no store call.
# TYPE corral_near_hits_total counter
corral_near_hits_total{cache="test"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "corral_near_hits_total"); err != nil {
		t.Fatal(err)
	}
}

type countingObserver struct{ n atomic.Int32 }

func (o *countingObserver) ObserveStoreCall(corral.StoreOp, time.Duration, error) { o.n.Add(1) }

// Functions and views have series of their own, exact after known
// traffic; the application's own Observer stays in place.
func TestFunctionAndViewSeries(t *testing.T) {
	ctx := context.Background()
	mem := corral.NewMemoryStore()
	defer mem.Close()
	c := corral.New(&remote{Store: mem}, corral.WithPrefix("shop"))
	mine := &countingObserver{}
	c.SetObserver(mine)
	col := corralprom.New(c, "test")
	user := corral.Memoize(c, "user", time.Minute, func(ctx context.Context, id int) (int, error) { return id, nil })
	for _, id := range []int{1, 1, 2} {
		_, _ = user(ctx, id)
	}
	_, _ = corral.GetOrSet(ctx, c.WithPrefix("admin"), "k", time.Minute, func(context.Context) (int, error) { return 1, nil })
	want := `
# HELP corral_function_misses_total Reads that found nothing usable. By memoized function.
# TYPE corral_function_misses_total counter
corral_function_misses_total{cache="test",function="user"} 2
# HELP corral_function_hits_total Reads that found a fresh value. By memoized function.
# TYPE corral_function_hits_total counter
corral_function_hits_total{cache="test",function="user"} 1
# HELP corral_view_computations_total Computations run. By view prefix.
# TYPE corral_view_computations_total counter
corral_view_computations_total{cache="test",view="admin"} 1
corral_view_computations_total{cache="test",view="shop"} 2
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want),
		"corral_function_misses_total", "corral_function_hits_total", "corral_view_computations_total"); err != nil {
		t.Fatal(err)
	}
	if mine.n.Load() == 0 {
		t.Fatal("corralprom.New replaced the application's Observer")
	}
	if problems, err := testutil.CollectAndLint(col); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}
