package corral

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/corralhq/corral/internal/httpcache"
	"github.com/corralhq/corral/internal/response"
)

// Middleware returns net/http middleware that caches the responses of the
// handler it wraps, as Django's cache_page does; it is a gorilla/mux
// MiddlewareFunc (r.Use(c.Middleware())). See [Cache.Handler] for the rules.
func (c *Cache) Middleware(opts ...HTTPOption) func(http.Handler) http.Handler {
	cfg := newHTTPConfig(opts)
	c.urls.register(cfg)
	return func(next http.Handler) http.Handler {
		return &cachedHandler{c: c, next: next, cfg: cfg}
	}
}

// Handler returns h with its responses cached:
//
//	http.Handle("GET /items/{id}", c.Handler(items, corral.TTL(time.Minute)))
//
// What is cached: GET and HEAD requests that carry no body, and for which
// the key function gives a key (by default not those with Authorization or
// cookies: see [DefaultKey], [KeyCookies], [IgnoreCredentials]). A HEAD is
// answered from the GET entry, and computed as a GET.
//
// A response is stored when its status is cacheable ([CacheStatuses], 200
// by default), its body is at most [MaxBodySize], as long as its
// Content-Length says, and was not flushed, the connection was not
// hijacked, it has no Set-Cookie, its Cache-Control has no private,
// no-store or no-cache, its Vary names only headers in the key ([VaryOn]),
// and it declares no trailers. Header names are read case-insensitively. The
// header stored is the one in force when the status was written (later
// changes are ignored, as net/http ignores them), without hop-by-hop fields.
//
// Concurrent misses for one key run the handler once, with a request that
// holds nothing the key does not: no Range, If-Range, If-None-Match,
// If-Modified-Since, If-Match or If-Unmodified-Since, and GET for a HEAD.
// Each request then gets its own answer from that full response: a 304 when
// its validators match, a 206 for a satisfiable range, a 412 when a
// precondition fails (net/http's rules, as http.ServeContent applies them).
// A response that is not stored for any reason is never handed to another
// request: the waiting requests run the handler themselves. Waiters stop
// waiting after [JoinTimeout] (5 s by default) and run the handler
// themselves. The handler runs with a context detached from the first
// request's cancellation, bounded by [ComputeTimeout], so a client that goes
// away does not fail the others; a response that streams (a flush, a
// hijack, a body past MaxBodySize) belongs to its own client from then on:
// the waiters go their own way at once, and the handler's context ends with
// that client's, not at the compute timeout. A handler that panics
// re-panics in the request it ran for (net/http recovers it); the requests
// waiting for it get a 500. A stale-while-revalidate refresh has no client:
// a refresh whose response would stream is dropped, never written anywhere.
//
// A replayed response has the original status, header and body, plus Age,
// Content-Length when it had none, and a Cache-Status header (RFC 9211):
// "corral; hit", "corral; fwd=miss; stored", "corral; fwd=stale",
// "corral; fwd=miss; collapsed", "corral; fwd=bypass; detail=...",
// "corral; fwd=miss; detail=..." (why it was not stored).
//
// A successful POST, PUT, PATCH or DELETE drops every stored variant of its
// URL (every VaryOn and KeyCookies value, GET and HEAD alike), whatever
// credentials it carries and whatever route matched it, as RFC 9111 section
// 4.4 asks: the URL with this route's query options, with its whole query,
// and without it. With a custom [Key], it drops the key that function gives
// the request as a GET. A response cut short by the compute timeout goes to
// its own client only. A store that fails or hangs costs at most one store
// timeout per request: the handler answers.
//
// Layers nest: when a route's own Handler runs inside a router's
// Middleware (or a subrouter's), the innermost layer caches the request and
// the outer ones pass its answer on untouched and uncounted.
//
// WARNING: the key holds only the method, scheme, host, path, query and the
// VaryOn headers (see [DefaultKey]). A handler whose response depends on
// any other input (X-Forwarded-Host, Origin, Accept-Language, an API key
// header, the client's address...) without saying so in the key shares one
// response between the requests that differ in it.
func (c *Cache) Handler(h http.Handler, opts ...HTTPOption) http.Handler {
	return c.Middleware(opts...)(h)
}

// surrogateCapability announces corral to the handler as a surrogate
// (Edge Architecture 1.0), so that Surrogate-Control may target it.
const surrogateCapability = httpcache.Target + `="Surrogate/1.0"`

type cachedHandler struct {
	c     *Cache
	next  http.Handler
	cfg   *httpConfig
	first atomic.Pointer[routeCount] // the counters of the first route it counted
}

// routeCount is a route's label and its counters.
type routeCount struct {
	label string
	rc    *routeCounters
}

// ServeHTTP serves r through the cache: GET and HEAD from a stored response
// or the one computation of their key, OPTIONS, TRACE and CONNECT through
// the handler, and every other method (unsafe, or of unknown safety, as RFC
// 9111 4.4 counts them) through the handler and then invalidation.
func (m *cachedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	claimLayer(r)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		m.serveCacheable(w, r)
	case http.MethodOptions, http.MethodTrace, http.MethodConnect:
		m.pass(w, r, outcome{decision: decPassed, detail: r.Method}, "")
	default: // POST, PUT, PATCH, DELETE, and methods whose safety is unknown
		m.serveUnsafe(w, r)
	}
}

// serveCacheable serves a GET or HEAD: from a stored response, else from the
// one computation of its key.
func (m *cachedHandler) serveCacheable(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		m.pass(w, r, outcome{decision: decBypassed, detail: "request-body"}, "")
		return
	}
	kb := keyBufs.Get().(*keyBuf)
	defer putKeyBuf(kb)
	key, sk, refusal := m.keyOf(r, kb)
	var q httpcache.Request
	directed := false
	if m.cfg.shared {
		q, directed = httpcache.ReadRequest(r)
	}
	fast := refusal == "" && !directed && m.cfg.memo.hitsShared()
	if fast && m.serveHit(w, r, key, sk) {
		return
	}
	key, sk = strings.Clone(key), strings.Clone(sk) // kept past kb: flights, store calls
	switch {
	case refusal != "":
		m.pass(w, r, outcome{decision: decBypassed, detail: refusal}, key)
	case directed:
		m.serveDirected(w, r, key, sk, q)
	default:
		m.serveThrough(w, r, key, sk, through{})
	}
}

// serveHit serves r from the memory store's fresh entry under sk, when
// there is one, and reports whether it did. key and sk may be views of a
// keyBuf: it keeps neither.
func (m *cachedHandler) serveHit(w http.ResponseWriter, r *http.Request, key, sk string) bool {
	now := time.Now()
	v, writtenAt, ok := sharedHit[*recorded](m.c, sk, responseCodec{}, now)
	switch {
	case !ok:
		return false
	case v.variants != nil:
		m.serveVariant(w, r, strings.Clone(key), v.variants)
		return true
	}
	m.serveStored(w, r, key, v.resp, outcome{decision: decHit}, now.Sub(writtenAt))
	return true
}

// serveStored answers r with a stored response that has been in the store
// for age, counted as a hit (fresh or stale, as o says).
func (m *cachedHandler) serveStored(w http.ResponseWriter, r *http.Request, key string, resp *response.Response, o outcome, age time.Duration) {
	m.c.stats.hits.Add(1)
	m.replay(w, r, resp, o, age)
	m.finish(r, o, key)
}

// putKeyBuf gives kb back to the pool, unless a long URL grew it.
func putKeyBuf(kb *keyBuf) {
	if cap(kb.b) <= 4<<10 {
		keyBufs.Put(kb)
	}
}

// through says how serveThrough looks a key up.
type through struct {
	sel        *selection // the variant of its URL the request selects; nil: the URL's key
	revalidate bool       // what is stored is revalidated before it is served
	storeDown  bool       // the request's read of the store failed: no more store calls
}

// serveThrough serves a miss: it leads or joins the computation of the key
// (of a URL, or of the variant of it that the request selects) and answers
// from its outcome.
func (m *cachedHandler) serveThrough(w http.ResponseWriter, r *http.Request, key, sk string, how through) {
	sel := how.sel
	target := response.NewTarget(w)
	defer target.Detach() // the handler may run on for others: it must not write to w after we return
	c := m.computation(r, target, key, sel)
	j := job[*recorded]{
		c: m.c, sk: sk, key: key, ttl: m.cfg.ttl, codec: responseCodec{}, share: true, cfg: &m.cfg.memo,
		run: func(ctx context.Context, release func()) (*recorded, error) {
			return c.run(ctx, release), nil
		},
		refresh: func(ctx context.Context) (*recorded, error) { return c.refresh(ctx, nil), nil },
		revalidate: func(ctx context.Context, release func(), stale *recorded) (*recorded, error) {
			if release == nil { // a background refresh
				return c.refresh(ctx, stale), nil
			}
			return c.revalidate(ctx, release, stale), nil
		},
		tags:         m.tagsOf(r),
		rule:         m.verdict,
		mustValidate: how.revalidate,
		storeDown:    how.storeDown,
		// the handler may stream to its client: the request waits for it
		writesToCaller: true,
		flight:         flightKey(sk, layerDepth(r.Context())),
	}
	if sel != nil {
		j.accept, j.flight = sel.accepts, sel.flight(sk, layerDepth(r.Context()))
	}
	res, err := j.load(r.Context())
	o := outcomeOf(res, err, r)
	switch {
	case res.val != nil && res.val.variants != nil && res.served != servedComputed:
		m.serveVariant(w, r, key, res.val.variants) // the URL's responses are variants: find r's
		return
	case res.val != nil && res.val.inner: // an inner layer answered, and counted
		if res.val.resp != nil {
			writeRaw(w, r, res.val.resp)
		}
		return
	case o.decision == decError && o.detail == "panic":
		m.setCacheStatus(w.Header(), o, nil)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	case err != nil && o.decision == decBypassed:
		m.pass(w, r, o, key)
		return
	case res.val != nil && res.val.resp != nil:
		m.replay(w, r, res.val.resp, o, time.Since(res.writtenAt))
	}
	m.finish(r, o, key)
}

// tagsOf returns the tags every response stored for r carries: its route's
// (when it has one) and its path's, for InvalidateURL without a host.
func (m *cachedHandler) tagsOf(r *http.Request) []string {
	tags := make([]string, 0, 2)
	if route := m.route(r); route != "" {
		tags = append(tags, RouteTag(route))
	}
	if t := pathTag(r); len(t) <= MaxTagLen {
		tags = append(tags, t)
	}
	return tags
}

// computation is how the handler runs for r's key: with the neutral request
// (a GET, without r's conditional fields), announcing corral as a surrogate.
func (m *cachedHandler) computation(r *http.Request, target *response.Target, key string, sel *selection) *computation {
	n := httpcache.Neutral(r)
	n.Header["Surrogate-Capability"] = []string{surrogateCapability} // the handler's own: it may edit it
	c := &computation{m: m, r: n, target: target, key: key, keyed: m.cfg.key.vary, learn: sel == nil}
	if sel != nil {
		c.keyed = append(slices.Clip(m.cfg.key.vary), sel.vs.names...)
		c.selecting = sel.values
	}
	return c
}

// outcomeOf says how a request was served from the engine's result.
func outcomeOf(res result[*recorded], err error, r *http.Request) outcome {
	switch {
	case err != nil && errors.Is(err, ErrPanicked):
		return outcome{decision: decError, detail: "panic"}
	case err != nil && r.Context().Err() != nil:
		return outcome{decision: decError, detail: "client-gone"} // the handler goes on for the others
	case err != nil:
		return outcome{decision: decBypassed, detail: "error"}
	case res.served == servedHit:
		return outcome{decision: decHit}
	case res.served == servedStale:
		return outcome{decision: decStale}
	case res.served == servedCollapsed:
		return outcome{decision: decCollapsed}
	case res.stored:
		return outcome{decision: decStored}
	}
	return outcome{decision: decNotStored, detail: res.reason}
}

// pass runs the handler for r without the cache, and counts o unless a
// caching layer inside this one took the request.
func (m *cachedHandler) pass(w http.ResponseWriter, r *http.Request, o outcome, key string) {
	m.setCacheStatus(w.Header(), o, nil)
	r, l := withLayer(r)
	m.next.ServeHTTP(&statusWriter{ResponseWriter: w}, r)
	if !l.claimed.Load() {
		m.finish(r, o, key)
	}
}

// writeRaw writes resp as it is: the answer of an inner caching layer.
func writeRaw(w http.ResponseWriter, r *http.Request, resp *response.Response) {
	h := w.Header()
	block := make([]string, 0, resp.Values)
	for _, f := range resp.Fields {
		block = putField(h, block, f.Name, f.Values)
	}
	writeResponse(w, r, resp)
}

// layer marks the requests a middleware hands on, so that a caching layer
// inside it (a route's own Handler under a router's Middleware) can claim
// them: the innermost layer caches, and the outer ones pass its answer on
// without storing or counting it.
type layer struct {
	claimed atomic.Bool
	depth   int // caching layers around this one's handler, this one included
}

type layerKey struct{}

// claimLayer tells the caching layer around this one, if any, that this
// one takes r.
func claimLayer(r *http.Request) {
	if l, ok := r.Context().Value(layerKey{}).(*layer); ok {
		l.claimed.Store(true)
	}
}

// withLayer returns r marked with a new layer.
func withLayer(r *http.Request) (*http.Request, *layer) {
	ctx, l := withLayerContext(r.Context())
	return r.WithContext(ctx), l
}

func withLayerContext(ctx context.Context) (context.Context, *layer) {
	l := &layer{depth: layerDepth(ctx) + 1}
	return context.WithValue(ctx, layerKey{}, l), l
}

// layerDepth is how many caching layers are around a request's handler.
func layerDepth(ctx context.Context) int {
	if l, ok := ctx.Value(layerKey{}).(*layer); ok {
		return l.depth
	}
	return 0
}

// flightKey is the flight of a store key for a layer ("" for the outermost:
// the store key itself); see layerFlight.
func flightKey(sk string, depth int) string {
	if depth == 0 {
		return ""
	}
	return layerFlight(sk, depth)
}
