// Command dashboard is corral's quick start: a page whose report takes
// hundreds of milliseconds to compute, cached on the embedded store, that
// shows what the cache did for each request.
//
// Run it from the repository root:
//
//	go run ./_examples/dashboard
//
// then open the URL it prints. The first load computes the report (slow);
// the next ones are cache hits until the TTL ends. The page says which, with
// its Cache-Status and Age, and draws the last minutes of traffic. Its
// buttons fire 500 simultaneous requests at a cold key (one computation),
// drop the cached entries, and make the store fail or hang (every request is
// still answered; the circuit breaker opens, then closes). /stats has the
// counters as JSON, /metrics the cache's Prometheus metrics.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/corralprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed page.html
var pageHTML string

var templates = template.Must(template.New("").Funcs(template.FuncMap{"took": took}).Parse(pageHTML))

// The cache keys the page uses: Delete them and the next load recomputes.
const (
	pageKey      = "page"     // the rendered report, stored by c.Handler
	aggregateKey = "stats:7d" // the aggregate, stored by Memoize("stats")("7d")
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	cfg := config{}
	flag.DurationVar(&cfg.ttl, "ttl", 10*time.Second, "how long the report stays cached")
	flag.DurationVar(&cfg.work, "work", 300*time.Millisecond, "how long the aggregate takes to compute")
	flag.DurationVar(&cfg.coolDown, "cooldown", corral.DefaultBreakerCoolDown, "the longest wait between two probes of the open circuit breaker")
	flag.Parse()

	d := newDashboard(cfg)
	defer d.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("dashboard: serving http://%s/ (stats at /stats)\n", ln.Addr())
	srv := &http.Server{Handler: d, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.Serve(ln))
}

type config struct{ ttl, work, coolDown time.Duration }

// dashboard is the whole application: a cache, the page, and the counters.
type dashboard struct {
	http.Handler // the routes
	cfg          config
	c            *corral.Cache
	store        *switchStore
	aggregate    func(ctx context.Context, period string) (DashboardStats, error) // memoized

	// What the example counts itself, so that each number says one thing.
	pageRequests, pageNot200, pageRenders, computations atomic.Uint64
	recent                                              window // the last minutes, for the charts
}

func newDashboard(cfg config) *dashboard {
	d := &dashboard{cfg: cfg, store: &switchStore{next: corral.NewMemoryStore()}}
	d.c = corral.New(d.store, corral.WithPrefix("dashboard"),
		corral.WithTimeout(100*time.Millisecond), corral.WithCircuitBreaker(5, cfg.coolDown))

	// The expensive aggregate, computed once per TTL however many pages ask
	// for it at once.
	d.aggregate = corral.Memoize(d.c, "stats", cfg.ttl, func(ctx context.Context, period string) (DashboardStats, error) {
		d.computations.Add(1)
		d.recent.computed()
		return computeDashboardStats(ctx, cfg.work)
	})

	// The report, cached as rendered bytes under one key for everyone; the
	// frame around it is rendered for each request, to say what the cache did.
	report := d.c.Handler(http.HandlerFunc(d.renderReport), corral.TTL(cfg.ttl),
		corral.Key(func(*http.Request) (string, bool) { return pageKey, true }))

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", d.frame(report))
	mux.HandleFunc("GET /stats", d.serveStats)
	mux.HandleFunc("POST /visitors", d.visitors)
	mux.HandleFunc("POST /invalidate", d.invalidate)
	mux.HandleFunc("POST /store", d.setStore)
	reg := prometheus.NewRegistry()
	reg.MustRegister(corralprom.New(d.c, "dashboard"))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	d.Handler = mux
	return d
}

func (d *dashboard) Close() { d.store.next.(*corral.MemoryStore).Close() }

// DashboardStats is the aggregate the report shows.
type DashboardStats struct {
	Orders     int
	Revenue    float64
	ComputedAt time.Time
	Took       time.Duration
}

// computeDashboardStats stands for the expensive aggregate query.
func computeDashboardStats(ctx context.Context, work time.Duration) (DashboardStats, error) {
	start := time.Now()
	select {
	case <-time.After(work):
	case <-ctx.Done():
		return DashboardStats{}, ctx.Err()
	}
	return DashboardStats{
		Orders:     1000 + rand.IntN(100),
		Revenue:    float64(rand.IntN(10_000_000)) / 100,
		ComputedAt: start,
		Took:       time.Since(start),
	}, nil
}

// renderReport is the page's expensive part, behind c.Handler: it runs on a
// miss only.
func (d *dashboard) renderReport(w http.ResponseWriter, r *http.Request) {
	s, err := d.aggregate(r.Context(), "7d")
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	d.pageRenders.Add(1)
	now := time.Now()
	var page bytes.Buffer
	err = templates.ExecuteTemplate(&page, "report", map[string]any{"S": s, "TTL": d.cfg.ttl, "ExpiresAt": now.Add(d.cfg.ttl)})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError) // not stored: 500 is not cached
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(page.Bytes())
}

// frame serves the report (from report, the cached handler) inside the page:
// this response's Cache-Status and Age, how long it took, the live panel.
func (d *dashboard) frame(report http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		inner := &capture{header: http.Header{}, status: http.StatusOK}
		report.ServeHTTP(inner, r)
		took := time.Since(start)
		status := inner.header.Get("Cache-Status")
		d.pageRequests.Add(1)
		d.recent.request(took, kindOf(status), d.c.BreakerState())

		for _, h := range []string{"Cache-Status", "Age", "Content-Type"} {
			if v := inner.header.Get(h); v != "" {
				w.Header().Set(h, v)
			}
		}
		if inner.status != http.StatusOK {
			d.pageNot200.Add(1)
			w.WriteHeader(inner.status)
			_, _ = w.Write(inner.body.Bytes())
			return
		}
		_, detail, _ := strings.Cut(status, "detail=") // why it was not stored
		var page bytes.Buffer
		err := templates.ExecuteTemplate(&page, "page", map[string]any{
			"Status": status, "Kind": kindOf(status), "Age": inner.header.Get("Age"), "Took": took,
			"Detail": detail,
			"Report": template.HTML(inner.body.String()), "Work": d.cfg.work, "TTL": d.cfg.ttl,
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page.Bytes())
	})
}

// kindOf names a Cache-Status for people: hit, stale, miss, collapsed, or
// not stored.
func kindOf(cacheStatus string) string {
	switch {
	case strings.Contains(cacheStatus, "; hit"):
		return "hit"
	case strings.Contains(cacheStatus, "fwd=stale"):
		return "stale"
	case strings.Contains(cacheStatus, "collapsed"):
		return "collapsed"
	case strings.Contains(cacheStatus, "stored"):
		return "miss"
	}
	return "not stored"
}

// visitors drops the cached entries and sends 500 simultaneous GET / through
// the server's handler (in this process, without sockets), then reports what
// answered them.
func (d *dashboard) visitors(w http.ResponseWriter, r *http.Request) {
	const n = 500
	_ = d.c.Delete(r.Context(), pageKey, aggregateKey) // a cold key
	before := d.computations.Load()
	start := time.Now()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		kinds = map[string]int{}
		ok    int
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "/", nil)
			rec := &capture{header: http.Header{}, status: http.StatusOK}
			d.ServeHTTP(rec, req)
			mu.Lock()
			defer mu.Unlock()
			kinds[kindOf(rec.header.Get("Cache-Status"))]++
			if rec.status == http.StatusOK {
				ok++
			}
		}()
	}
	wg.Wait()
	writeJSON(w, map[string]any{
		"requests": n, "answered_200": ok, "computations": d.computations.Load() - before,
		"by_cache_status": kinds, "took_ms": ms(time.Since(start)),
	})
}

// invalidate drops the report and the aggregate: the next load recomputes.
func (d *dashboard) invalidate(w http.ResponseWriter, r *http.Request) {
	if err := d.c.Delete(r.Context(), pageKey, aggregateKey); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, map[string]any{"dropped": []string{pageKey, aggregateKey}})
}

// setStore makes the store work, fail or hang.
func (d *dashboard) setStore(w http.ResponseWriter, r *http.Request) {
	mode := r.FormValue("mode")
	if mode != "ok" && mode != "fail" && mode != "hang" {
		http.Error(w, `mode: "ok", "fail" or "hang"`, http.StatusBadRequest)
		return
	}
	d.store.mode.Store(mode)
	writeJSON(w, map[string]any{"store": mode})
}

// serveStats writes the counters and the last minutes as JSON.
func (d *dashboard) serveStats(w http.ResponseWriter, r *http.Request) {
	s := d.c.Stats()
	page := d.c.HTTPStats()["GET /{$}"]
	writeJSON(w, map[string]any{
		"page_requests":          d.pageRequests.Load(), // GET /, the 500 visitors included
		"page_hits":              page.Hits,             // answered from the cache
		"page_stale":             page.Stale,            // answered from an expired entry
		"page_collapsed":         page.Collapsed,        // waited for another request's computation
		"page_misses_stored":     page.Stored,           // computed, then stored
		"page_misses_not_stored": page.NotStored,        // computed, not stored (the store failed...)
		"page_answers_not_200":   d.pageNot200.Load(),   // the store failing is no reason for one
		"page_renders":           d.pageRenders.Load(),  // times the report's handler ran
		"aggregate_computations": d.computations.Load(), // times the expensive query ran
		"functions":              functionsJSON(d.c.FunctionStats()),
		"store_mode":             d.store.Mode(),
		"store_errors":           s.Errors,   // store calls that failed or timed out
		"store_calls_rejected":   s.Rejected, // calls the open breaker did not make
		"breaker":                s.BreakerState,
		"window":                 d.recent.snapshot(time.Now(), d.c.BreakerState()),
	})
}

// functionsJSON is what the cache counted for each memoized function: a
// page's miss is one miss of its route and, inside it, one of the
// aggregate, each counted where it happened.
func functionsJSON(fs map[string]corral.Stats) map[string]any {
	out := make(map[string]any, len(fs))
	for name, s := range fs {
		out[name] = map[string]uint64{"hits": s.Hits, "misses": s.Misses, "collapsed": s.Collapsed,
			"computations": s.Computations, "compute_errors": s.ComputeErrors, "stale_served": s.StaleServed}
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// ms is a duration in milliseconds, for JSON.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// took is a duration in milliseconds, for people.
func took(d time.Duration) string {
	switch v := ms(d); {
	case v < 1:
		return fmt.Sprintf("%.2f ms", v)
	case v < 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.0f ms", v)
	}
}

// capture is a ResponseWriter that keeps the response.
type capture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *capture) Header() http.Header         { return c.header }
func (c *capture) WriteHeader(status int)      { c.status = status }
func (c *capture) Write(p []byte) (int, error) { return c.body.Write(p) }

// switchStore is a corral.Store that works, fails or hangs on demand. It is
// a type of its own, not a *corral.MemoryStore: the cache calls it through
// its timeout and circuit breaker, as it would call Redis.
type switchStore struct {
	next corral.Store
	mode atomic.Value // "ok" (or nil), "fail", "hang"
}

var errStoreDown = errors.New("store down (switched off from the dashboard)")

func (s *switchStore) Mode() string {
	if m, _ := s.mode.Load().(string); m != "" {
		return m
	}
	return "ok"
}

// broken returns the error of a call in the current mode, nil when it works.
func (s *switchStore) broken(ctx context.Context) error {
	switch s.Mode() {
	case "fail":
		return errStoreDown
	case "hang":
		<-ctx.Done() // until the cache's timeout
		return ctx.Err()
	}
	return nil
}

func (s *switchStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.broken(ctx); err != nil {
		return nil, err
	}
	return s.next.Get(ctx, key)
}

func (s *switchStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.broken(ctx); err != nil {
		return err
	}
	return s.next.Set(ctx, key, value, ttl)
}

func (s *switchStore) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := s.broken(ctx); err != nil {
		return false, err
	}
	return s.next.Add(ctx, key, value, ttl)
}

func (s *switchStore) Delete(ctx context.Context, keys ...string) error {
	if err := s.broken(ctx); err != nil {
		return err
	}
	return s.next.Delete(ctx, keys...)
}
