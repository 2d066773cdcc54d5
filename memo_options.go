package corral

import (
	"fmt"
	"time"
)

// DefaultComputeTimeout bounds a computation run by GetOrSet or Memoize.
const DefaultComputeTimeout = 30 * time.Second

// DefaultJoinTimeout is how long a request waits for another request's
// computation of the same response before running the handler itself.
const DefaultJoinTimeout = 5 * time.Second

// MemoOption configures [GetOrSet] and [Memoize].
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
