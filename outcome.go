package corral

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/corralhq/corral/internal/httpcache"
	"github.com/corralhq/corral/internal/response"
	"github.com/gorilla/mux"
)

// outcome is how the middleware served one request, and why: the one value
// from which its Cache-Status, X-Cache, route counter and debug log record
// are all made.
type outcome struct {
	decision decision
	detail   string // why not stored or not cached: "private", "authorization", "panic"...
}

// The Cache-Status values (RFC 9211) of the outcomes without a detail, made
// once: every request gets a copy.
var (
	statusHit       = []string{"corral; hit"}
	statusStale     = []string{"corral; fwd=stale"}
	statusStored    = []string{"corral; fwd=miss; stored"}
	statusCollapsed = []string{"corral; fwd=miss; collapsed"}
	statusMethod    = []string{"corral; fwd=method"}
	xCacheHit       = []string{"HIT"}
	xCacheMiss      = []string{"MISS"}
)

// cacheStatus returns o's Cache-Status value.
func (o outcome) cacheStatus() []string {
	switch o.decision {
	case decHit:
		return statusHit
	case decStale:
		return statusStale
	case decStored:
		return statusStored
	case decCollapsed:
		return statusCollapsed
	case decPassed:
		return statusMethod
	case decBypassed:
		return []string{"corral; fwd=bypass; detail=" + o.detail}
	}
	return []string{"corral; fwd=miss; detail=" + o.detail} // not stored, error
}

// setCacheStatus writes o's Cache-Status, and X-Cache when asked, into h:
// the one place where either is set. The values are copied into block (the
// request's own, grown when short) so that nothing a later writer does to
// them reaches another request; it returns block.
func (m *cachedHandler) setCacheStatus(h http.Header, o outcome, block []string) []string {
	block = putField(h, block, "Cache-Status", o.cacheStatus())
	if !m.cfg.xCache || o.decision == decPassed {
		return block
	}
	if o.decision == decHit || o.decision == decStale {
		return putField(h, block, "X-Cache", xCacheHit)
	}
	return putField(h, block, "X-Cache", xCacheMiss)
}

// replay writes a stored or shared response to w with o's Cache-Status (and
// Age for a stored one, which has been in the store for age). The header
// values are copied, in one block for the request. A client's own
// conditional or range request is answered from the full response.
func (m *cachedHandler) replay(w http.ResponseWriter, r *http.Request, resp *response.Response, o outcome, age time.Duration) {
	h := w.Header()
	block := make([]string, 0, resp.Values+3)
	for _, f := range resp.Fields {
		block = putField(h, block, f.Name, f.Values)
	}
	block = m.setCacheStatus(h, o, block)
	switch {
	case o.decision == decHit || o.decision == decStale:
		putField(h, block, "Age", ageValue(resp.Age, age))
	case resp.Age > 0: // computed for this request, and already old when it came
		putField(h, block, "Age", ageValue(resp.Age, 0))
	}
	writeResponse(w, r, resp)
}

// putField sets h[name] to a copy of values appended to block, capped so
// that an append to it copies, and returns block.
func putField(h http.Header, block []string, name string, values []string) []string {
	start := len(block)
	if len(values) == 1 { // most fields: one store, not a call to copy
		block = append(block, values[0])
	} else {
		block = append(block, values...)
	}
	h[name] = block[start:len(block):len(block)]
	return block
}

// writeResponse writes resp's status and body, answering r's conditional or
// range fields from a 200.
func writeResponse(w http.ResponseWriter, r *http.Request, resp *response.Response) {
	if resp.Status == http.StatusOK && conditional(r) {
		httpcache.ServeConditional(w, r, resp)
		return
	}
	w.WriteHeader(resp.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(resp.Body)
	}
}

// conditional reports whether r asks for a part of the response or sets a
// precondition (httpcache.ConditionalFields).
func conditional(r *http.Request) bool {
	for _, k := range httpcache.ConditionalFields {
		if _, ok := r.Header[k]; ok {
			return true
		}
	}
	return false
}

// ages are the Age values of the first minutes, made once.
var ages = func() [][]string {
	out := make([][]string, 600)
	for i := range out {
		out[i] = []string{strconv.Itoa(i)}
	}
	return out
}()

// ageValue is the Age of a response that was initial seconds old when it
// was stored, d ago (RFC 9111 4.2.3).
func ageValue(initial int64, d time.Duration) []string {
	secs := max(int64(d/time.Second), 0) + max(initial, 0)
	if secs < int64(len(ages)) {
		return ages[secs]
	}
	return []string{strconv.FormatInt(secs, 10)}
}

// finish counts o for r's route and logs it at debug level.
func (m *cachedHandler) finish(r *http.Request, o outcome, key string) {
	label := m.routeLabel(r)
	m.countersOf(label).n[o.decision].Add(1)
	if m.c.log.Enabled(r.Context(), slog.LevelDebug) {
		m.c.log.LogAttrs(context.Background(), slog.LevelDebug, "corral: http",
			slog.String("route", label), slog.String("key", strings.Clone(key)), // key may be a keyBuf view
			slog.String("decision", decisionNames[o.decision]), slog.String("detail", o.detail))
	}
}

// countersOf returns the counters of the route labelled label: without a
// lookup for the first route the handler counted (a route's own Handler
// counts no other), else from the cache's.
func (m *cachedHandler) countersOf(label string) *routeCounters {
	first := m.first.Load()
	if first != nil && first.label == label {
		return first.rc
	}
	rc := m.c.routes.counters(label)
	if first == nil {
		m.first.CompareAndSwap(nil, &routeCount{label: label, rc: rc})
	}
	return rc
}

// routeLabel is the label of r's route in HTTPStats: the gorilla/mux route
// template, else the ServeMux pattern, else the RouteName, else "unrouted".
func (m *cachedHandler) routeLabel(r *http.Request) string {
	if route := m.route(r); route != "" {
		return route
	}
	return "unrouted"
}

// route returns the route that r matched (routeOf), else the handler's
// RouteName, else "".
func (m *cachedHandler) route(r *http.Request) string {
	if route := routeOf(r); route != "" {
		return route
	}
	return m.cfg.routeName
}

// routeOf returns the route template gorilla/mux matched, or the ServeMux
// pattern, or "": a label for stats, never a part of the key.
func routeOf(r *http.Request) string {
	if route := mux.CurrentRoute(r); route != nil {
		if t, err := route.GetPathTemplate(); err == nil {
			return t
		}
	}
	return r.Pattern
}
