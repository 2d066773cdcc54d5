package corral

import (
	"fmt"
	"time"
)

// DefaultComputeTimeout bounds a computation run by GetOrSet or Memoize.
const DefaultComputeTimeout = 30 * time.Second

// MemoOption configures [GetOrSet] and [Memoize].
type MemoOption func(*memoConfig)

type memoConfig struct {
	swr, sie       time.Duration // stale-while-revalidate, stale-if-error windows
	lock           bool
	lockWait       time.Duration
	notFound       error
	negativeTTL    time.Duration
	keyEncoder     any // func(K) string, checked by Memoize
	jitter         float64
	computeTimeout time.Duration

	// Set by the HTTP middleware, not by options:
	codec Codec                                                // nil: the cache's
	ttlOf func(v any, ttl time.Duration) (time.Duration, bool) // per value TTL; false: do not store
}

func (cfg *memoConfig) codecFor(c *Cache) Codec {
	if cfg.codec != nil {
		return cfg.codec
	}
	return c.codec
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

// StaleIfError serves a value that expired less than d ago when computing a
// fresh one fails (an error, a panic, the compute timeout): the callers get
// the old value and no error. It panics on d < 0. Default: 0 (the error is
// returned).
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
// owner delays them by wait at most). The lock is the store's [Locker] (an
// owner token, released only by its owner) or, on a store without one, Add
// and Delete; it expires after the compute timeout. It panics on wait <= 0.
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

// KeyWith sets how [Memoize] turns its argument into the key's last part. The
// function must give distinct strings for distinct arguments: two arguments
// with one string share a cached result. Memoize panics if K is not the type
// of its function's argument; GetOrSet ignores it. Default: a canonical
// encoding of K (see [Memoize]).
func KeyWith[K any](encode func(K) string) MemoOption {
	if encode == nil {
		panic("corral: KeyWith(nil)")
	}
	return func(c *memoConfig) { c.keyEncoder = encode }
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
// cancel it for the others) but bounded by d; d is also how long the
// distributed lock is held at most. It panics on d <= 0. Default: 30 s.
func ComputeTimeout(d time.Duration) MemoOption {
	if d <= 0 {
		panic(fmt.Sprintf("corral: ComputeTimeout(%v): want a positive duration", d))
	}
	return func(c *memoConfig) { c.computeTimeout = d }
}
