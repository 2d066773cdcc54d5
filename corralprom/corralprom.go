// Package corralprom exports a corral.Cache's counters as Prometheus metrics
// (github.com/prometheus/client_golang), with a histogram of store call
// latency:
//
//	c := corral.New(redisstore.New(client))
//	prometheus.MustRegister(corralprom.New(c, "api"))
//
// Every series has a cache label (the name given to New). HTTP series are
// labelled by route template, never by URL or key, so that their number is
// bounded by the application's routes; the series of memoized functions by
// their name, and those of views by their prefix, at most 256 of each (see
// corral.OtherScope). The names are stable:
//
//	corral_hits_total, corral_misses_total, corral_stale_served_total,
//	corral_refreshes_total, corral_coalesced_total, corral_computations_total,
//	corral_compute_errors_total, corral_lock_waits_total,
//	corral_decode_errors_total, corral_evictions_total,
//	corral_store_rejected_total, corral_near_hits_total counters
//	corral_store_errors_total{op}                     counter
//	corral_store_entries, corral_store_bytes          gauges (memory store)
//	corral_breaker_state{state}                       gauge, 1 for the current state
//	corral_http_requests_total{route,decision}        counter
//	corral_store_call_duration_seconds{op}            histogram
//	corral_function_hits_total{function}, corral_function_misses_total,
//	corral_function_stale_served_total, corral_function_refreshes_total,
//	corral_function_coalesced_total, corral_function_computations_total,
//	corral_function_compute_errors_total               counters, by Memoize name
//	corral_view_hits_total{view}, ... (the same seven)  counters, by view prefix
package corralprom

import (
	"time"

	"github.com/corralhq/corral"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a prometheus.Collector for one Cache. It reads the cache's
// counters at each scrape, and observes each store call as it happens.
type Collector struct {
	cache   *corral.Cache
	latency *prometheus.HistogramVec

	counters []counter
	scoped   []scopedCounter // by function and by view
	storeErr *prometheus.Desc
	entries  *prometheus.Desc
	bytes    *prometheus.Desc
	breaker  *prometheus.Desc
	httpReq  *prometheus.Desc
}

type counter struct {
	desc  *prometheus.Desc
	value func(corral.Stats) uint64
}

// scopedCounter is a counter of each function, or of each view.
type scopedCounter struct {
	counter
	byFunction bool // else by view
}

var (
	_ prometheus.Collector = (*Collector)(nil)
	_ corral.Observer      = (*Collector)(nil)
)

// New returns a Collector for c, labelled cache=name, and adds it to c's
// store observers (see corral.Cache.AddObserver: an Observer the
// application set stays). Register it with a prometheus.Registerer.
func New(c *corral.Cache, name string) *Collector {
	labels := prometheus.Labels{"cache": name}
	desc := func(metric, help string, variable ...string) *prometheus.Desc {
		return prometheus.NewDesc("corral_"+metric, help, variable, labels)
	}
	col := &Collector{
		cache: c,
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "corral_store_call_duration_seconds",
			Help:        "Time of the calls the cache made to its store, by operation.",
			ConstLabels: labels,
			Buckets:     []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op"}),
		storeErr: desc("store_errors_total", "Store calls that failed or timed out, by operation.", "op"),
		entries:  desc("store_entries", "Entries held by the memory store."),
		bytes:    desc("store_bytes", "Bytes charged to the entries of the memory store."),
		breaker:  desc("breaker_state", "The store circuit breaker's state: 1 for the current one.", "state"),
		httpReq:  desc("http_requests_total", "Requests through the HTTP middleware, by route and decision.", "route", "decision"),
	}
	add := func(metric, help string, value func(corral.Stats) uint64) {
		col.counters = append(col.counters, counter{desc(metric, help), value})
	}
	addScoped := func(metric, help string, value func(corral.Stats) uint64) {
		add(metric, help, value)
		col.scoped = append(col.scoped,
			scopedCounter{counter{desc("function_"+metric, help+" By memoized function.", "function"), value}, true},
			scopedCounter{counter{desc("view_"+metric, help+" By view prefix.", "view"), value}, false})
	}
	addScoped("hits_total", "Reads that found a fresh value.", func(s corral.Stats) uint64 { return s.Hits })
	addScoped("misses_total", "Reads that found nothing usable.", func(s corral.Stats) uint64 { return s.Misses })
	addScoped("stale_served_total", "Expired values served (stale-while-revalidate, stale-if-error).", func(s corral.Stats) uint64 { return s.StaleServed })
	addScoped("refreshes_total", "Background refreshes started.", func(s corral.Stats) uint64 { return s.Refreshes })
	addScoped("coalesced_total", "Callers that waited for another caller's computation.", func(s corral.Stats) uint64 { return s.Collapsed })
	addScoped("computations_total", "Computations run.", func(s corral.Stats) uint64 { return s.Computations })
	addScoped("compute_errors_total", "Computations that returned an error.", func(s corral.Stats) uint64 { return s.ComputeErrors })
	add("revalidated_total", "Stored HTTP responses the handler confirmed with a 304.", func(s corral.Stats) uint64 { return s.Revalidated })
	add("lock_waits_total", "Computations that waited on another instance's lock.", func(s corral.Stats) uint64 { return s.LockWaits })
	add("decode_errors_total", "Stored values that did not decode.", func(s corral.Stats) uint64 { return s.DecodeErrors })
	add("evictions_total", "Entries the store evicted to stay within its bounds.", func(s corral.Stats) uint64 { return s.Evictions })
	add("store_rejected_total", "Store calls not made because the circuit breaker was open.", func(s corral.Stats) uint64 { return s.Rejected })
	add("near_hits_total", "Reads the near cache answered, with no store call.", func(s corral.Stats) uint64 { return s.NearHits })
	add("tag_invalidations_total", "Tags invalidated through the cache.", func(s corral.Stats) uint64 { return s.TagInvalidations })
	add("invalidated_total", "Stored values found invalidated by a tag when read.", func(s corral.Stats) uint64 { return s.Invalidated })
	c.AddObserver(col)
	return col
}

// ObserveStoreCall implements corral.Observer.
func (col *Collector) ObserveStoreCall(op corral.StoreOp, took time.Duration, err error) {
	col.latency.WithLabelValues(string(op)).Observe(took.Seconds())
}

// Describe implements prometheus.Collector.
func (col *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range col.counters {
		ch <- c.desc
	}
	for _, c := range col.scoped {
		ch <- c.desc
	}
	ch <- col.storeErr
	ch <- col.entries
	ch <- col.bytes
	ch <- col.breaker
	ch <- col.httpReq
	col.latency.Describe(ch)
}

// Collect implements prometheus.Collector.
func (col *Collector) Collect(ch chan<- prometheus.Metric) {
	s := col.cache.Stats()
	for _, c := range col.counters {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.value(s)))
	}
	col.collectScoped(ch, col.cache.FunctionStats(), col.cache.ViewStats())
	for _, op := range corral.StoreOps() {
		ch <- prometheus.MustNewConstMetric(col.storeErr, prometheus.CounterValue, float64(s.ErrorsByOp[string(op)]), string(op))
	}
	ch <- prometheus.MustNewConstMetric(col.entries, prometheus.GaugeValue, float64(s.StoreEntries))
	ch <- prometheus.MustNewConstMetric(col.bytes, prometheus.GaugeValue, float64(s.StoreBytes))
	for _, state := range []string{"closed", "half-open", "open"} {
		v := 0.0
		if s.BreakerState == state {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(col.breaker, prometheus.GaugeValue, v, state)
	}
	for route, h := range col.cache.HTTPStats() {
		for decision, n := range map[string]uint64{
			"hit": h.Hits, "stale": h.Stale, "collapsed": h.Collapsed, "stored": h.Stored,
			"not_stored": h.NotStored, "bypass": h.Bypassed, "method": h.Passed, "error": h.Errors,
		} {
			if n > 0 {
				ch <- prometheus.MustNewConstMetric(col.httpReq, prometheus.CounterValue, float64(n), route, decision)
			}
		}
	}
	col.latency.Collect(ch)
}

// collectScoped sends the counters of each function and of each view.
func (col *Collector) collectScoped(ch chan<- prometheus.Metric, functions, views map[string]corral.Stats) {
	for _, c := range col.scoped {
		stats := views
		if c.byFunction {
			stats = functions
		}
		for label, s := range stats {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.value(s)), label)
		}
	}
}
