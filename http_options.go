package corral

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// DefaultMaxBodySize is the largest response body the middleware stores.
const DefaultMaxBodySize = 1 << 20

// HTTPOption configures [Cache.Middleware] and [Cache.Handler]. Every
// [MemoOption] is an HTTPOption too: StaleWhileRevalidate, StaleIfError,
// DistributedLock, Jitter, ComputeTimeout and JoinTimeout apply to cached
// responses.
//
// Options are named after what they set: those of [New] start with With,
// those of a call (MemoOption, HTTPOption, MemoryOption) are plain nouns.
type HTTPOption interface {
	applyHTTP(*httpConfig)
}

type httpOption func(*httpConfig)

func (o httpOption) applyHTTP(c *httpConfig) { o(c) }

func (o MemoOption) applyHTTP(c *httpConfig) { o(&c.memo) }

type httpConfig struct {
	ttl       time.Duration
	fixedTTL  bool
	shared    bool
	keyFunc   KeyFunc // nil: the default key, from key
	key       keyConfig
	statuses  []int
	maxBody   int
	etag      bool
	routeName string
	xCache    bool
	memo      memoConfig
}

// keyConfig is what the default key function takes from a request.
type keyConfig struct {
	vary              []string // canonical header names
	query             []string // allow-list; nil: every parameter
	noQuery           bool
	cookies           []string // cookie names that go into the key
	ignoreCredentials bool
}

func newHTTPConfig(opts []HTTPOption) *httpConfig {
	cfg := &httpConfig{statuses: []int{http.StatusOK}, maxBody: DefaultMaxBodySize}
	cfg.memo = newMemoConfig(nil)
	cfg.memo.joinTimeout = DefaultJoinTimeout
	for _, o := range opts {
		o.applyHTTP(cfg)
	}
	return cfg
}

// TTL sets how long responses stay cached when they do not say how long they
// are fresh: a response's s-maxage, max-age or Expires (less its Age) wins,
// as in Django's cache_page; max-age=0, an Expires in the past or an
// invalid one mean "not fresh": such a response is stored only when it has a
// validator, to be revalidated with the handler. [FixedTTL] makes the TTL
// win instead. It panics on a negative TTL other than [NoExpiration].
// Default: the cache's default TTL.
func TTL(d time.Duration) HTTPOption {
	if d < 0 && d != NoExpiration {
		panic(fmt.Sprintf("corral: TTL(%v): want d >= 0 or NoExpiration", d))
	}
	return httpOption(func(c *httpConfig) { c.ttl = d })
}

// TTLFromResponse was the option that let a response's max-age set its TTL.
// That is now what every response gets: see [TTL].
//
// Deprecated: it does nothing; responses' own freshness always wins unless
// [FixedTTL] is set.
func TTLFromResponse() HTTPOption { return httpOption(func(*httpConfig) {}) }

// FixedTTL keeps every stored response for the [TTL], whatever its
// Cache-Control max-age, s-maxage, Expires or Age say (no-store, private and
// the other rules of what may be stored still apply). Default: off, a
// response's own freshness wins.
func FixedTTL() HTTPOption {
	return httpOption(func(c *httpConfig) { c.fixedTTL = true })
}

// SharedCache makes the middleware an RFC 9111 shared cache, as a careful
// reverse proxy is: the response alone decides whether it is stored and for
// how long (its explicit freshness, else a heuristic one from Last-Modified
// for the statuses that allow it), there is no fallback TTL, any storable
// status may be stored ([CacheStatuses] is ignored), and the request
// directives a shared cache must honour are honoured: a client's no-cache
// or max-age=0 makes the handler revalidate what is stored, only-if-cached
// gets a 504 when nothing stored is acceptable, no-store passes the request
// through unstored, and max-age, min-fresh and max-stale narrow or widen
// what it accepts (Pragma, deprecated by RFC 9111, is not read). Clients can
// therefore make the handler run; without SharedCache they cannot: request
// directives are ignored, as nginx ignores them by default.
func SharedCache() HTTPOption {
	return httpOption(func(c *httpConfig) { c.shared = true })
}

// Key replaces the default key function. The function decides which requests
// share a cached response: two requests with one key get the same response,
// so it must hold everything the response depends on. ok=false bypasses the
// cache for that request. See [DefaultKey] to extend the default.
func Key(fn KeyFunc) HTTPOption {
	if fn == nil {
		panic("corral: Key(nil)")
	}
	return httpOption(func(c *httpConfig) { c.keyFunc = fn })
}

// VaryOn puts the values of these request headers into the key, so that
// requests that differ in them get their own entries (Accept-Language,
// Accept-Encoding...). A response whose Vary header names a header not listed
// here is not stored. VaryOn("Authorization") or VaryOn("Cookie") caches per
// credential. Default: none.
func VaryOn(headers ...string) HTTPOption {
	return httpOption(func(c *httpConfig) {
		for _, h := range headers {
			c.key.vary = append(c.key.vary, http.CanonicalHeaderKey(h))
		}
		slices.Sort(c.key.vary)
		c.key.vary = slices.Compact(c.key.vary)
	})
}

// QueryKeys puts only these query parameters into the key; the others are
// ignored, so requests that differ only in them share a response. Use it for
// tracking parameters (utm_source...), and only when the handler does not
// read the others. Default: every parameter, sorted by name.
func QueryKeys(names ...string) HTTPOption {
	return httpOption(func(c *httpConfig) { c.key.query = append(c.key.query, names...); c.key.noQuery = false })
}

// NoQuery leaves the query string out of the key. Default: every parameter.
func NoQuery() HTTPOption {
	return httpOption(func(c *httpConfig) { c.key.noQuery, c.key.query = true, nil })
}

// KeyCookies lets requests that carry cookies be cached, with the values of
// these cookies in the key and every other cookie ignored. Browsers send
// analytics and consent cookies with every request; name the cookies the
// response depends on (a language, a theme), or none:
//
//	c.Middleware(corral.KeyCookies())        // cookies never change this route's responses
//	c.Middleware(corral.KeyCookies("lang"))  // one entry per lang cookie value
//
// Default: requests with a Cookie header are not cached.
func KeyCookies(names ...string) HTTPOption {
	return httpOption(func(c *httpConfig) {
		c.key.cookies = append(c.key.cookies, names...)
		if c.key.cookies == nil {
			c.key.cookies = []string{}
		}
		slices.Sort(c.key.cookies)
	})
}

// IgnoreCredentials declares that the route's responses do not depend on the
// request's Authorization header or cookies, so requests that carry them are
// cached and share one response. Only for public content: a route that reads
// either and caches with this option serves one user's response to another.
// Default: requests with Authorization or Cookie are not cached.
func IgnoreCredentials() HTTPOption {
	return httpOption(func(c *httpConfig) { c.key.ignoreCredentials = true })
}

// CacheStatuses sets the response statuses that are stored. 206, 304 and 1xx
// answers can never be stored: it panics on them. Default: 200.
func CacheStatuses(codes ...int) HTTPOption {
	for _, code := range codes {
		if code < 200 || code == http.StatusPartialContent || code == http.StatusNotModified || code > 599 {
			panic(fmt.Sprintf("corral: CacheStatuses: %d can never be stored", code))
		}
	}
	return httpOption(func(c *httpConfig) { c.statuses = append([]int(nil), codes...) })
}

// MaxBodySize sets the largest body stored; a larger response streams through
// to its client and is not stored. It panics on n < 1. Default: 1 MiB.
func MaxBodySize(n int) HTTPOption {
	if n < 1 {
		panic(fmt.Sprintf("corral: MaxBodySize(%d): want n >= 1", n))
	}
	return httpOption(func(c *httpConfig) { c.maxBody = n })
}

// ETags gives stored responses that have no ETag a strong one computed from
// the body (SHA-256), so that clients can revalidate with If-None-Match and
// get 304 Not Modified. Responses with their own ETag answer If-None-Match
// either way. Default: off.
func ETags() HTTPOption {
	return httpOption(func(c *httpConfig) { c.etag = true })
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
