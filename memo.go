package corral

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"time"
)

// ErrRecursion is returned when a computation asks, directly or through
// other memoized calls, for the key it is computing: waiting would wait for
// itself. It is detected through the context the computation received, so
// pass that context on.
var ErrRecursion = errors.New("corral: computation asks for its own key")

// GetOrSet returns the value cached under key, or computes it with fn, stores
// it for ttl (0: the cache's default TTL, [NoExpiration]: forever) and returns
// it. Concurrent calls for one key in this process run fn once and all get
// its result (with [DistributedLock], once across the processes that share
// the store).
//
// fn runs with a context detached from the caller's cancellation, bounded by
// [ComputeTimeout], and carrying the caller's values. Each caller waits with
// its own context: one whose context ends gets its context's error while fn
// goes on for the others. A panic in fn re-panics in the caller whose fn ran
// and gives the other callers an error wrapping [ErrPanicked].
//
// A value stored under key by [Cache.Set] is a hit too, if it decodes into T.
// The store is never a reason to fail: a store that errors or times out, or
// holds something that does not decode, is a miss, and fn's value is returned
// even when it cannot be stored. Errors from
// fn are returned and not cached (but see [CacheNotFound]); with
// [StaleIfError] a recent value is served instead. A Set, Delete or version
// bump of key while fn runs wins: fn's value is returned but not stored.
//
// WARNING: the callers that share one computation share its result, computed
// with the first caller's context. If fn's result depends on who asks (a
// user's permissions read from the context), put that in key, or a call by
// one user may return what only another may see.
func GetOrSet[T any](ctx context.Context, c *Cache, key string, ttl time.Duration,
	fn func(context.Context) (T, error), opts ...MemoOption) (T, error) {
	sk, err := c.key(key)
	if err != nil {
		var zero T
		return zero, err
	}
	cfg := newMemoConfig(opts)
	return getOrSet(ctx, c, sk, key, ttl, fn, &cfg)
}

// getOrSet is GetOrSet for a store key already made.
func getOrSet[T any](ctx context.Context, c *Cache, sk, key string, ttl time.Duration,
	fn func(context.Context) (T, error), cfg *memoConfig) (T, error) {
	v, _, err := load(ctx, c, sk, key, ttl, fn, cfg)
	return v, err
}

// loaded says how load got its value, and when that value was written (zero
// when unknown or just computed).
type loaded struct {
	how       how
	writtenAt time.Time
	at        time.Time // when the hit was read, when known
}

// how says how load got its value.
type how uint8

const (
	howComputed  how = iota // this caller's computation ran
	howHit                  // a fresh stored value
	howStale                // an expired value (stale-while-revalidate or -if-error)
	howCoalesced            // another caller's computation, waited for
)

// load is the heart of GetOrSet: read, serve fresh or stale, else join or
// lead the one computation of sk.
func load[T any](ctx context.Context, c *Cache, sk, key string, ttl time.Duration,
	fn func(context.Context) (T, error), cfg *memoConfig) (T, loaded, error) {
	var zero T
	if inChain(ctx, sk) {
		return zero, loaded{}, fmt.Errorf("%w: %q", ErrRecursion, key)
	}
	codec := cfg.codecFor(c)
	if v, got, ok := sharedHit[T](c, sk, codec, immutable[T]()); ok {
		c.stats.hits.Add(1)
		return v, got, nil
	}
	now := time.Now()
	var stale T
	var staleEnv envelope
	haveStale, readFailed := false, false

	data, err := c.get(ctx, sk)
	switch {
	case err == nil:
		e, ok := parseEnvelope(data)
		if !ok {
			// A value written by Set is a hit, as in Django's get_or_set;
			// anything that does not decode (another format version,
			// garbage) is a miss, recomputed and overwritten.
			var v T
			if err := codec.Unmarshal(data, &v); err == nil {
				c.stats.hits.Add(1)
				return v, loaded{how: howHit}, nil
			}
			break
		}
		if e.fresh(now) {
			if e.negative {
				c.stats.hits.Add(1)
				return zero, loaded{how: howHit, writtenAt: e.writtenAt}, cfg.notFound
			}
			var v T
			if err := codec.Unmarshal(e.payload, &v); err == nil {
				c.stats.hits.Add(1)
				return v, loaded{how: howHit, writtenAt: e.writtenAt}, nil
			}
			c.stats.decodeErrors.Add(1)
			break
		}
		if !e.negative && codec.Unmarshal(e.payload, &stale) == nil {
			haveStale, staleEnv = true, e
			if e.usableStale(now, cfg.swr) {
				c.stats.staleServed.Add(1)
				refresh(ctx, c, sk, ttl, fn, cfg)
				return stale, loaded{how: howStale, writtenAt: e.writtenAt}, nil
			}
		}
	case !errors.Is(err, ErrNotFound):
		_ = c.failed("get", key, err) // counted and logged; the store is a miss
		readFailed = true
	}
	c.stats.misses.Add(1)

	v, leader, err := c.flights.do(ctx, sk, func() (any, error) {
		return compute(ctx, c, sk, ttl, fn, cfg, readFailed)
	})
	got := loaded{how: howComputed}
	sv, fromStore := v.(storedValue)
	if fromStore {
		v = sv.v
	}
	if !leader || fromStore {
		// A waiter that got the shared answer, or a leader that found the
		// value another computation had just stored.
		got.how = howCoalesced
		if ctx.Err() == nil {
			c.stats.coalesced.Add(1)
		}
	}
	if err != nil {
		if haveStale && ctx.Err() == nil && staleEnv.usableStale(time.Now(), cfg.sie) {
			c.stats.staleServed.Add(1)
			return stale, loaded{how: howStale, writtenAt: staleEnv.writtenAt}, nil // a leader's panic was logged by onPanic
		}
		reraise(err) // the leader's panic or Goexit goes on in its own goroutine
		return zero, got, err
	}
	t, _ := v.(T) // v is nil for a nil interface T
	return t, got, nil
}

// refresh recomputes sk in the background, unless a computation of it is
// already running, for stale-while-revalidate.
func refresh[T any](ctx context.Context, c *Cache, sk string, ttl time.Duration,
	fn func(context.Context) (T, error), cfg *memoConfig) {
	detached := context.WithoutCancel(ctx)
	c.flights.forget(sk, func() (any, error) {
		c.stats.refreshes.Add(1) // only when no computation of sk was running
		return compute(detached, c, sk, ttl, fn, cfg, false)
	})
}

// compute runs fn for the callers of sk: under the distributed lock when
// asked, with a detached and bounded context, and stores its result unless a
// write overtook it. When the caller's read of the store just failed, it does
// not read or write the store again: one store timeout per request at most.
func compute[T any](ctx context.Context, c *Cache, sk string, ttl time.Duration,
	fn func(context.Context) (T, error), cfg *memoConfig, storeDown bool) (any, error) {
	cctx, cancel := context.WithTimeout(withChain(context.WithoutCancel(ctx), sk), cfg.computeTimeout)
	defer cancel()
	p := c.writes.begin(sk)
	defer c.writes.end(sk, p)

	// Another caller (or instance) may have stored the value since this one
	// read a miss: a caller can reach the flight just after the previous one
	// ended. Look again before computing; the lock does so once it is held.
	codec := cfg.codecFor(c)
	var stored []byte
	switch {
	case storeDown:
	case cfg.lock:
		l := c.acquire(cctx, sk, cfg)
		defer l.release()
		stored = l.data
	default:
		stored, _ = c.freshEntry(cctx, sk)
	}
	if e, ok := parseEnvelope(stored); ok && e.negative {
		return nil, cfg.notFound
	} else if ok {
		var v T
		if err := codec.Unmarshal(e.payload, &v); err == nil {
			return storedValue{v}, nil
		}
	}

	c.stats.computations.Add(1)
	v, err := fn(cctx)
	now := time.Now()
	switch {
	case err != nil && cfg.notFound != nil && errors.Is(err, cfg.notFound) && !isContextErr(err):
		c.stats.computeErrors.Add(1)
		if !storeDown {
			e := envelope{negative: true, writtenAt: now, freshUntil: now.Add(cfg.negativeTTL)}
			c.storeEnvelope(cctx, p, sk, &e, cfg.negativeTTL)
		}
		return v, err
	case err != nil:
		c.stats.computeErrors.Add(1)
		return v, err
	}
	if cfg.ttlOf != nil {
		var store bool
		if ttl, store = cfg.ttlOf(v, ttl); !store {
			return v, nil // shared with the callers, not stored
		}
	}
	if storeDown {
		if m, ok := any(v).(interface{ markStored(bool) }); ok {
			m.markStored(false)
		}
		return v, nil
	}
	ttl, keep := c.ttl(ttl)
	if !keep {
		return v, nil // already expired: nothing to store
	}
	payload, err := codec.Marshal(v)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "corral: computed value does not encode; not cached",
			slog.String("key", sk), slog.Any("error", err))
		return v, nil
	}
	e := envelope{writtenAt: now, payload: payload}
	storeTTL := time.Duration(0)
	if ttl > 0 {
		ttl = cfg.jittered(ttl)
		e.freshUntil = now.Add(ttl)
		storeTTL = ttl + cfg.staleWindow()
		e.staleUntil = now.Add(storeTTL)
	}
	ok := c.storeEnvelope(cctx, p, sk, &e, storeTTL)
	if m, isMarker := any(v).(interface{ markStored(bool) }); isMarker {
		m.markStored(ok)
	}
	return v, nil
}

// storedValue is what compute returns when it found the value already stored
// (by the computation just before, or another instance) instead of computing.
type storedValue struct{ v any }

// storeEnvelope writes e under sk unless a write overtook the computation,
// and reports whether it stored. A failure to store is counted and otherwise
// ignored: the value is served.
func (c *Cache) storeEnvelope(ctx context.Context, p *pending, sk string, e *envelope, ttl time.Duration) bool {
	data := e.encode()
	stored := false
	p.storeUnlessOvertaken(func() {
		err := c.do(ctx, "set", func(ctx context.Context) error { return c.store.Set(ctx, sk, data, ttl) })
		if err != nil {
			_ = c.failed("set", sk, err)
			return
		}
		stored = true
	})
	return stored
}

func (cfg *memoConfig) jittered(ttl time.Duration) time.Duration {
	if cfg.jitter <= 0 {
		return ttl
	}
	return ttl - time.Duration(rand.Float64()*cfg.jitter*float64(ttl))
}

// Memoize wraps fn so that its results are cached: a call with argument k
// is GetOrSet of the key "name:" + k (name with ':' escaped), so that
// c.Delete(ctx, "name:"+k) invalidates one result. The key part of k is k
// itself for string kinds, its decimal value for integer kinds, and a
// canonical encoding for other comparable types (structs, arrays, floats,
// interfaces), in which two distinct values never share a key; [KeyWith]
// replaces it. Every MemoOption of GetOrSet applies to each call.
//
// It panics on an empty name or a K that holds pointers, channels or
// functions (they compare by address, which no cache can share), unless
// KeyWith is given.
//
// WARNING: concurrent calls with one k share one computation, run with the
// first caller's context; see [GetOrSet].
func Memoize[K comparable, V any](c *Cache, name string, ttl time.Duration,
	fn func(context.Context, K) (V, error), opts ...MemoOption) func(context.Context, K) (V, error) {
	if name == "" {
		panic("corral: Memoize with an empty name")
	}
	cfg := newMemoConfig(opts)
	encode, err := keyEncoderFor[K]()
	if custom, ok := cfg.keyEncoder.(func(K) string); ok {
		encode, err = func(k K) (string, error) { return custom(k), nil }, nil
	} else if cfg.keyEncoder != nil {
		panic(fmt.Sprintf("corral: Memoize: KeyWith takes a func(%v) string, not %T", reflect.TypeFor[K](), cfg.keyEncoder))
	}
	if err != nil {
		panic(err.Error())
	}
	prefix := escapePart(name) + ":"
	return func(ctx context.Context, k K) (V, error) {
		var zero V
		part, err := encode(k)
		if err != nil {
			return zero, err
		}
		key := prefix + part
		sk, err := c.key(key)
		if err != nil {
			return zero, err
		}
		return getOrSet(ctx, c, sk, key, ttl, func(ctx context.Context) (V, error) { return fn(ctx, k) }, &cfg)
	}
}
