package corral

import (
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
	c.routes.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*routeCounters).snapshot()
		return true
	})
	return out
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

// routeRegistry holds a cache's counters by route, shared by its views.
type routeRegistry struct{ m sync.Map } // route label -> *routeCounters

// counters returns the counters of a route, made on first use.
func (rr *routeRegistry) counters(label string) *routeCounters {
	if rc, ok := rr.m.Load(label); ok {
		return rc.(*routeCounters)
	}
	rc, _ := rr.m.LoadOrStore(label, new(routeCounters))
	return rc.(*routeCounters)
}
