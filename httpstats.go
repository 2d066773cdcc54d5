package corral

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
)

// HTTPStats counts what the middleware did with the requests of one route.
type HTTPStats struct {
	Hits      uint64 // answered from a fresh stored response
	Stale     uint64 // answered from an expired one (stale-while-revalidate, stale-if-error)
	Collapsed uint64 // answered with another request's response, computed at the same time
	Stored    uint64 // computed, and the response stored
	NotStored uint64 // computed, and the response not stored (its Cache-Status says why)
	Bypassed  uint64 // not cached at all: credentials, a request body, the key function
	Passed    uint64 // methods that are never cached (POST, PUT, ...)
	Errors    uint64 // waiters answered 500 after a panic, and requests whose client left
}

// HTTPStats returns the middleware's counters by route: the gorilla/mux route
// template or ServeMux pattern, else the [RouteName] of the handler, else
// "unrouted". Labels are routes, never URLs, so their number stays that of
// the routes. Views of a cache share them.
func (c *Cache) HTTPStats() map[string]HTTPStats {
	out := map[string]HTTPStats{}
	c.routes.Range(func(k, v any) bool {
		out[k.(string)] = v.(*routeCounters).snapshot()
		return true
	})
	return out
}

// RouteName labels the requests of a handler in HTTPStats and metrics when no
// router gives a route template. Default: "unrouted".
func RouteName(name string) HTTPOption {
	return httpOption(func(c *httpConfig) { c.routeName = name })
}

// XCache adds an X-Cache header, HIT (fresh or stale) or MISS, next to
// Cache-Status, for tools that expect it. Default: off.
func XCache() HTTPOption {
	return httpOption(func(c *httpConfig) { c.xCache = true })
}

type decision uint8

const (
	decHit decision = iota
	decStale
	decCollapsed
	decStored
	decNotStored
	decBypassed
	decPassed
	decError
	numDecisions
)

var decisionNames = [numDecisions]string{"hit", "stale", "collapsed", "stored", "not_stored", "bypass", "method", "error"}

type routeCounters struct{ n [numDecisions]atomic.Uint64 }

func (rc *routeCounters) snapshot() HTTPStats {
	return HTTPStats{
		Hits: rc.n[decHit].Load(), Stale: rc.n[decStale].Load(), Collapsed: rc.n[decCollapsed].Load(),
		Stored: rc.n[decStored].Load(), NotStored: rc.n[decNotStored].Load(), Bypassed: rc.n[decBypassed].Load(),
		Passed: rc.n[decPassed].Load(), Errors: rc.n[decError].Load(),
	}
}

// routeLabel is the label of r's route.
func (m *cachedHandler) routeLabel(r *http.Request) string {
	if route := routeOf(r); route != "" {
		return route
	}
	if m.cfg.routeName != "" {
		return m.cfg.routeName
	}
	return "unrouted"
}

// record counts a decision for r's route, sets X-Cache when asked, and logs
// the decision at debug level.
func (m *cachedHandler) record(w http.ResponseWriter, r *http.Request, d decision, detail, key string) {
	label := m.routeLabel(r)
	rc, ok := m.c.routes.Load(label)
	if !ok {
		rc, _ = m.c.routes.LoadOrStore(label, new(routeCounters))
	}
	rc.(*routeCounters).n[d].Add(1)
	if m.cfg.xCache && (d != decPassed) {
		x := "MISS"
		if d == decHit || d == decStale {
			x = "HIT"
		}
		w.Header()["X-Cache"] = []string{x}
	}
	if m.c.log.Enabled(r.Context(), slog.LevelDebug) {
		m.c.log.LogAttrs(context.Background(), slog.LevelDebug, "corral: http",
			slog.String("route", label), slog.String("key", key),
			slog.String("decision", decisionNames[d]), slog.String("detail", detail))
	}
}

// routeRegistry is shared by a cache and its views.
type routeRegistry = sync.Map
