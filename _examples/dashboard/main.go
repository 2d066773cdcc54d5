// Command dashboard is corral's quick start: a page whose statistics take
// hundreds of milliseconds to compute, cached on the embedded store.
//
// Run it from the repository root:
//
//	go run ./_examples/dashboard
//
// then open the URL it prints: the first load computes (slow), the next ones
// are served from the cache until the TTL ends (curl -i shows Cache-Status).
// /stats shows the counters, /metrics the same as Prometheus metrics.
package main

import (
	"context"
	"flag"
	"fmt"
	"html/template"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/corralprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DashboardStats is what the page shows.
type DashboardStats struct {
	Orders     int
	Revenue    float64
	ComputedAt time.Time
	Took       time.Duration
}

// computeDashboardStats stands for the expensive aggregate query.
func computeDashboardStats(ctx context.Context) (DashboardStats, error) {
	start := time.Now()
	select {
	case <-time.After(300 * time.Millisecond):
	case <-ctx.Done():
		return DashboardStats{}, ctx.Err()
	}
	return DashboardStats{
		Orders:     1000 + rand.IntN(100),
		Revenue:    float64(rand.IntN(1_000_000)) / 100,
		ComputedAt: start,
		Took:       time.Since(start),
	}, nil
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<title>Dashboard</title>
<h1>Dashboard</h1>
<p>{{.Orders}} orders, {{printf "%.2f" .Revenue}} in revenue.</p>
<p>Computed at {{.ComputedAt.Format "15:04:05.000"}} in {{.Took}}.</p>
<p><a href="/stats">cache stats</a></p>
`))

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	ttl := flag.Duration("ttl", 10*time.Second, "how long the dashboard stays cached")
	flag.Parse()

	store := corral.NewMemoryStore()
	defer store.Close()
	c := corral.New(store, corral.WithPrefix("dashboard"))

	// The expensive aggregate, computed once per TTL however many pages ask
	// for it at once.
	stats := corral.Memoize(c, "stats", *ttl, func(ctx context.Context, period string) (DashboardStats, error) {
		return computeDashboardStats(ctx)
	})

	// The page itself, cached as rendered bytes: a hit costs no template.
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := stats(r.Context(), "7d")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = pageTemplate.Execute(w, s)
	})

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", c.Handler(page, corral.TTL(*ttl), corral.KeyCookies()))
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		s := c.Stats()
		fmt.Fprintf(w, "hits %d\nmisses %d\nstale served %d\ncomputations %d\ncoalesced %d\n",
			s.Hits, s.Misses, s.StaleServed, s.Computations, s.Collapsed)
		fmt.Fprintf(w, "store errors %d\nbreaker %s\nentries %d\nbytes %d\nevictions %d\n",
			s.Errors, s.BreakerState, s.StoreEntries, s.StoreBytes, s.Evictions)
		for route, h := range c.HTTPStats() {
			fmt.Fprintf(w, "route %q: %d hits, %d stored, %d not stored, %d collapsed, %d bypassed\n",
				route, h.Hits, h.Stored, h.NotStored, h.Collapsed, h.Bypassed)
		}
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(corralprom.New(c, "dashboard"))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("dashboard: serving http://%s/ (stats at /stats)\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.Serve(ln))
}
