package corral

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"time"
)

// DefaultComputeTimeout bounds a computation run by GetOrSet or Memoize.
const DefaultComputeTimeout = 30 * time.Second

// DefaultJoinTimeout is how long a request waits for another request's
// computation of the same response before running the handler itself.
const DefaultJoinTimeout = 5 * time.Second

// MemoOption configures [GetOrSet], [Memoize] and [MemoizeMany].
type MemoOption func(*memoConfig)

type memoConfig struct {
	swr, sie       time.Duration // stale-while-revalidate, stale-if-error windows
	lock           bool
	lockWait       time.Duration
	notFound       error
	negativeTTL    time.Duration
	jitter         float64
	computeTimeout time.Duration
	joinTimeout    time.Duration // 0: until the computation ends
	beta           float64       // refresh-ahead's weight (XFetch); 0: off
	ttlOf          func(any) time.Duration
	ttlType        reflect.Type // the value type ttlOf takes
	tags           []string     // static tags (Tags)
	soft           bool         // SoftInvalidate
}

func newMemoConfig(opts []MemoOption) memoConfig {
	cfg := memoConfig{computeTimeout: DefaultComputeTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// staleWindow is how long after expiry an entry stays in the store.
func (cfg *memoConfig) staleWindow() time.Duration { return max(cfg.swr, cfg.sie) }

// hitsShared reports whether a hit may be served from a value decoded once
// and shared (sharedHit, the memo index): not under refresh-ahead, which
// reads the entry's times on every hit.
func (cfg *memoConfig) hitsShared() bool { return cfg.beta == 0 }

// StaleWhileRevalidate serves a value that expired less than d ago at once,
// and refreshes it in the background; one refresh runs per key at a time.
// It panics on d < 0. Default: 0 (an expired value is recomputed while the
// callers wait).
func StaleWhileRevalidate(d time.Duration) MemoOption {
	if d < 0 {
		panic(fmt.Sprintf("corral: StaleWhileRevalidate(%v): want d >= 0", d))
	}
	return func(c *memoConfig) { c.swr = d }
}

// SoftInvalidate makes an invalidation by tag ([Cache.InvalidateTags],
// [Cache.InvalidateURL]) soft for this call site, as Varnish's
// xkey.softpurge: a value it invalidates is served stale, within the
// StaleWhileRevalidate window counted from the invalidation, while one
// background refresh computes it again, instead of being recomputed while
// its callers wait. Without a StaleWhileRevalidate window (the call site's,
// or an HTTP response's own), and for a value that must be revalidated or a
// cached "not found", it changes nothing. Default: off (invalidated values
// are misses).
func SoftInvalidate() MemoOption {
	return func(c *memoConfig) { c.soft = true }
}

// StaleIfError serves a value that expired less than d ago when computing a
// fresh one fails (an error, a panic, the compute timeout): the callers get
// the old value and no error. With GetOrSet and Memoize, a caller that holds
// such a value waits for the computation for the compute timeout at most,
// even when the function ignores its context: it gets the old value then,
// and the computation goes on without it. An error that [CacheNotFound]
// caches is no failure but an answer: it is returned, not hidden behind the
// old value. It panics on d < 0. Default: 0 (the error is returned).
func StaleIfError(d time.Duration) MemoOption {
	if d < 0 {
		panic(fmt.Sprintf("corral: StaleIfError(%v): want d >= 0", d))
	}
	return func(c *memoConfig) { c.sie = d }
}

// DistributedLock makes one instance compute a missing key while the others
// wait, for caches that share a store across processes (Redis). The instance
// that takes the lock computes; the others re-read the key with backoff for
// up to wait, then compute themselves (the lock fails open: a crashed or slow
// owner delays them by wait at most, whatever the compute timeout, which
// starts when the wait ends). The lock is the store's [Locker] (an
// owner token, released only by its owner) or, on a store without one, Add
// and Delete. Its lease is the compute timeout, and is never extended (a
// Locker takes only a free lock): the function's context ends when the
// lease does, so a function must honour its context, or it may run on two
// instances at once. It panics on wait <= 0.
// Default: no lock (one computation per key per process).
func DistributedLock(wait time.Duration) MemoOption {
	if wait <= 0 {
		panic(fmt.Sprintf("corral: DistributedLock(%v): want a positive wait", wait))
	}
	return func(c *memoConfig) { c.lock, c.lockWait = true, wait }
}

// CacheNotFound caches an error matching target (errors.Is) for ttl, as a
// negative entry: until it expires, callers get target without computing.
// Context errors are never cached. It panics on a nil target or ttl <= 0.
// Default: errors are never cached.
func CacheNotFound(target error, ttl time.Duration) MemoOption {
	if target == nil || ttl <= 0 {
		panic(fmt.Sprintf("corral: CacheNotFound(%v, %v): want an error and a positive TTL", target, ttl))
	}
	return func(c *memoConfig) { c.notFound, c.negativeTTL = target, ttl }
}

// Jitter shortens each TTL by a random fraction of up to f (0 < f < 1), so
// that keys written together do not all expire together. It panics on f
// outside (0, 1). Default: 0.
func Jitter(f float64) MemoOption {
	if !(f > 0 && f < 1) {
		panic(fmt.Sprintf("corral: Jitter(%v): want 0 < f < 1", f))
	}
	return func(c *memoConfig) { c.jitter = f }
}

// ComputeTimeout bounds each computation. The computation runs with a context
// detached from the caller's cancellation (a caller that goes away does not
// cancel it for the others) but bounded by d. d is also the lease of the
// [DistributedLock], which ends with the function's context: a function
// that ignores its context and runs past d no longer holds the lock, and
// another instance may compute the key too. It panics on d <= 0.
// Default: 30 s.
func ComputeTimeout(d time.Duration) MemoOption {
	if d <= 0 {
		panic(fmt.Sprintf("corral: ComputeTimeout(%v): want a positive duration", d))
	}
	return func(c *memoConfig) { c.computeTimeout = d }
}

// JoinTimeout bounds how long a caller waits for another caller's
// computation of the same key: past d it stops waiting and computes for
// itself, as nginx's proxy_cache_lock_timeout does, so that no slow
// computation pins its waiters. The computation goes on, and its value is
// stored. It panics on d <= 0. Default: the middleware waits 5 s
// ([DefaultJoinTimeout]); GetOrSet and Memoize wait until the computation
// ends, which ComputeTimeout bounds.
func JoinTimeout(d time.Duration) MemoOption {
	if d <= 0 {
		panic(fmt.Sprintf("corral: JoinTimeout(%v): want a positive duration", d))
	}
	return func(c *memoConfig) { c.joinTimeout = d }
}

// RefreshAhead refreshes a value in the background before it expires, so
// that a key read steadily never makes a caller wait for its computation
// after the first. Each read of a fresh value starts a refresh with the
// probability of XFetch (Vattani, Chierichetti and Lowenstein, "Optimal
// Probabilistic Cache Stampede Prevention", VLDB 2015): a read at time t of
// a value that expires at e, and whose computation took d, refreshes when
// t - d*beta*ln(rand()) >= e. So the refresh comes earlier for values that
// take long to compute, and earlier still for a larger beta; 1 is the
// paper's choice. The computation's time is stored with the value.
//
// The read is served the value it found, at once; one refresh runs per key
// at a time in this process, and with [DistributedLock], once across the
// instances that share the store (the others wait for its value, and are
// still served the old one meanwhile). A value stored without its
// computation's time (by [Cache.Set]) is not refreshed ahead. In the HTTP
// middleware, a refresh revalidates the stored response when it has a
// validator. It panics on beta <= 0 or a beta that is not finite.
// Default: off (a value is recomputed once it has expired).
func RefreshAhead(beta float64) MemoOption {
	if !(beta > 0) || math.IsInf(beta, 0) {
		panic(fmt.Sprintf("corral: RefreshAhead(%v): want a positive, finite beta", beta))
	}
	return func(c *memoConfig) { c.beta = beta }
}

// refreshDue reports whether a read at now of a fresh value that expires at
// expiry, and whose computation took took, should refresh it (XFetch).
// draw is the read's -ln(rand()) (see [xfetchDraw]).
func (cfg *memoConfig) refreshDue(now, expiry time.Time, took time.Duration, draw float64) bool {
	if cfg.beta <= 0 || took <= 0 || expiry.IsZero() {
		return false
	}
	return float64(expiry.Sub(now)) <= float64(took)*cfg.beta*draw
}

// xfetchDraw is XFetch's random factor, -ln(rand()), exponentially
// distributed with mean 1. A MemoizeMany call draws once for all its ids,
// so that ids computed together are refreshed together.
func xfetchDraw() float64 { return -math.Log(1 - rand.Float64()) } // 1-rand: never log(0)

// TTLFunc sets the TTL of each computed value from the value itself (a
// token that says when it expires, a record whose age tells how often it
// changes), in place of the ttl of the call: f's 0 means the call's ttl,
// [NoExpiration] (or a TTL past a century) forever, and any other negative
// TTL "do not store": the value is returned, and handed to the callers
// waiting for it, but not stored. With [MemoizeMany], f is asked for each
// id's value. V must be the type of the values: GetOrSet, Memoize and
// MemoizeMany panic on another. The HTTP middleware ignores it (the
// response's own freshness decides there). Default: the call's ttl.
func TTLFunc[V any](f func(V) time.Duration) MemoOption {
	if f == nil {
		panic("corral: TTLFunc(nil)")
	}
	return func(c *memoConfig) {
		c.ttlType = reflect.TypeFor[V]()
		c.ttlOf = func(v any) time.Duration { return f(v.(V)) }
	}
}

// mustTakeTTLOf panics when the TTLFunc of cfg takes no values of type V.
func mustTakeTTLOf[V any](cfg *memoConfig) {
	if cfg.ttlType != nil && cfg.ttlType != reflect.TypeFor[V]() {
		panic(fmt.Sprintf("corral: TTLFunc takes a %v, but the function returns a %v", cfg.ttlType, reflect.TypeFor[V]()))
	}
}

// ttlFor is the TTL a computed value v is stored for: its TTLFunc's, or
// ttl. It reports false when v is not to be stored.
func ttlFor[V any](cfg *memoConfig, v V, ttl time.Duration) (time.Duration, bool) {
	if cfg.ttlOf == nil {
		return ttl, true
	}
	switch d := cfg.ttlOf(v); {
	case d == 0:
		return ttl, true
	case d < 0 && d != NoExpiration:
		return 0, false
	default:
		return d, true
	}
}
