package corral

import (
	"context"
	"errors"
	"strings"
	"time"
)

// ErrRecursion is returned when a computation asks, directly or through
// other memoized calls, for the key it is computing, in a Cache on the same
// store: waiting would wait for itself. So does a cycle across computations
// started by different callers (a(1) needs b(1) while b(1) needs a(1)): one
// side gets ErrRecursion at once, and the other gets it through its flight.
// It is detected through the context the computation received, so pass that
// context on; a goroutine that keeps that context and calls after the
// computation has ended is no recursion. A cycle through another process
// (the distributed lock) is not seen: it ends at the lock's wait.
var ErrRecursion = errors.New("corral: computation asks for its own key")

// GetOrSet returns the value cached under key, or computes it with fn, stores
// it for ttl (0: the cache's default TTL, [NoExpiration] or a TTL past a
// century, math.MaxInt64 say: forever) and returns
// it. Concurrent calls for one key in this process run fn once and all get
// its result (with [DistributedLock], once across the processes that share
// the store).
//
// fn runs with a context detached from the caller's cancellation, bounded by
// [ComputeTimeout], and carrying the caller's values. Each caller waits with
// its own context: one whose context ends gets its context's error while fn
// goes on for the others, and one whose context has already ended gets its
// error at once, with nothing read or started. A panic in fn re-panics in
// the caller whose fn ran and gives the other callers an error wrapping
// [ErrPanicked].
//
// A value stored under key by [Cache.Set] is a hit too, if it decodes into T;
// a stored value of another type is an error wrapping [ErrDecode] for this
// caller, and stays stored. The store is never a reason to fail: a store
// that errors or times out, or holds bytes that are no value at all, is a
// miss, and fn's value is returned even when it cannot be stored. A value
// the codec cannot encode (a NaN or an infinity with [JSON], a channel) is
// returned to the callers and not stored: each call computes it again, and
// only a warning in the log says so. Errors from
// fn are returned and not cached (but see [CacheNotFound]); with
// [StaleIfError] a recent value is served instead. A Set, Delete, Clear or
// version bump of key while fn runs, through any Cache made with the same
// store in this process, wins: fn's value is returned but not stored, and a
// call that starts after the write does not join fn.
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
	mustTakeTTLOf[T](&cfg)
	return getOrSet(ctx, c, sk, key, ttl, fn, &cfg)
}

// getOrSet is GetOrSet for a store key already made.
func getOrSet[T any](ctx context.Context, c *Cache, sk, key string, ttl time.Duration,
	fn func(context.Context) (T, error), cfg *memoConfig) (T, error) {
	if err := ctx.Err(); err != nil { // the caller has left: nothing to read or start for it
		var zero T
		return zero, err
	}
	share := immutable[T]()
	if share && cfg.hitsShared() { // the hit path, before anything is made for a computation
		if v, _, ok := sharedHit[T](c, sk, c.codec, time.Now()); ok {
			c.stats.hits.Add(1)
			return v, nil
		}
	}
	j := job[T]{
		c: c, sk: sk, key: key, ttl: ttl, codec: c.codec, share: share, chain: true, cfg: cfg,
		run: func(ctx context.Context, _ func()) (T, error) { return fn(ctx) },
	}
	res, err := j.load(ctx)
	return res.val, err
}

// Memoize wraps fn so that its results are cached: a call with argument k
// is GetOrSet of the key name + ":" + part, with '%', ':' and unsafe bytes
// of name percent-encoded (any length), so that two functions never share
// a key: c.Delete(ctx, "user:42") invalidates the result of Memoize(c,
// "user", ...)(ctx, 42), and [MemoizeKey] returns the key for any name
// ("users:v2" is stored as "users%3Av2:42"). The part of k is k itself for
// string kinds, its decimal value for integer kinds, and a canonical
// encoding for other comparable types (structs, arrays, floats,
// interfaces), in which two distinct values never share a key
// ([MemoizeWithKey] takes a key function instead). Every MemoOption of
// GetOrSet applies to each call.
//
// A call whose k holds a NaN (a float, or a complex part) returns an error
// wrapping [ErrInvalidKey] without running fn: NaN equals nothing, not even
// itself. Memoize panics on an empty name or a K that holds pointers,
// channels or functions (they compare by address, which no cache can share).
// An interface K is keyed by its dynamic type's name and value: two types
// of one name declared inside different functions share keys, so do not
// mix such types under one interface key.
//
// WARNING: concurrent calls with one k share one computation, run with the
// first caller's context; see [GetOrSet].
func Memoize[K comparable, V any](c *Cache, name string, ttl time.Duration,
	fn func(context.Context, K) (V, error), opts ...MemoOption) func(context.Context, K) (V, error) {
	encode, err := keyEncoderFor[K]()
	if err != nil {
		panic(err.Error())
	}
	return memoize(c, name, ttl, encode, fn, opts, newMemoIndex[K, V]())
}

// MemoizeKey returns the key under which [Memoize] with name stores its
// result for k: name + ":" + the part of k, as [Cache.Get], [Cache.Delete]
// and [GetOrSet] take it. It returns an error wrapping [ErrInvalidKey] for an
// empty name, a K that Memoize refuses, or a k that holds a NaN.
func MemoizeKey[K comparable](name string, k K) (string, error) {
	if name == "" {
		return "", failure("memoize", "", ErrInvalidKey, errors.New("empty name"))
	}
	encode, err := keyEncoderFor[K]()
	if err != nil {
		return "", failure("memoize", name, ErrInvalidKey, err)
	}
	return memoKey(escapeName(name)+":", encode, k)
}

// MemoizeWithKey is [Memoize] with the key's last part made by key, for
// argument types that Memoize cannot encode (pointers, types with functions)
// or a shorter key. key must give distinct strings for distinct arguments:
// two arguments with one string share a cached result. The result for k is
// stored under name + ":" + key(k).
func MemoizeWithKey[K any, V any](c *Cache, name string, key func(K) string, ttl time.Duration,
	fn func(context.Context, K) (V, error), opts ...MemoOption) func(context.Context, K) (V, error) {
	if key == nil {
		panic("corral: MemoizeWithKey with a nil key function")
	}
	return memoize(c, name, ttl, func(k K) (string, error) { return key(k), nil }, fn, opts, nil)
}

// memoize makes the function Memoize and MemoizeWithKey return; idx, when
// not nil, serves its hits on the memory store (see memo_index.go).
func memoize[K any, V any](c *Cache, name string, ttl time.Duration, encode func(K) (string, error),
	fn func(context.Context, K) (V, error), opts []MemoOption, idx hitIndex[K, V]) func(context.Context, K) (V, error) {
	if name == "" {
		panic("corral: Memoize with an empty name")
	}
	cfg := newMemoConfig(opts)
	mustTakeTTLOf[V](&cfg)
	c = c.forFunction(name) // its counters: Cache.FunctionStats
	prefix := escapeName(name) + ":"
	if c.mem == nil || !cfg.hitsShared() {
		idx = nil
	}
	return func(ctx context.Context, k K) (V, error) {
		var zero V
		if idx != nil && ctx.Err() == nil {
			if v, ok := idx.get(c, k, time.Now()); ok {
				c.stats.hits.Add(1)
				if c.near != nil {
					c.stats.nearHits.Add(1)
				}
				return v, nil
			}
		}
		key, err := memoKey(prefix, encode, k)
		if err != nil {
			return zero, err
		}
		sk, err := c.key(key)
		if err != nil {
			return zero, err
		}
		v, err := getOrSet(ctx, c, sk, key, ttl, func(ctx context.Context) (V, error) { return fn(ctx, k) }, &cfg)
		if idx != nil && err == nil {
			idx.put(c, k, sk, time.Now())
		}
		return v, err
	}
}

// memoKey returns the key Memoize stores k under: prefix (the escaped
// name and ':'), then the part encode makes of k.
func memoKey[K any](prefix string, encode func(K) (string, error), k K) (string, error) {
	part, err := encode(k)
	if err != nil {
		return "", failure("memoize", strings.TrimSuffix(prefix, ":"), ErrInvalidKey, err)
	}
	return prefix + part, nil
}
