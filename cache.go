package corral

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/corralhq/corral/internal/envelope"
	"github.com/corralhq/corral/internal/guard"
)

// NoExpiration, passed as a TTL, stores a value that never expires. A TTL of
// 0 means the cache's default TTL (see [WithDefaultTTL]); any other negative
// TTL means the value is already expired, so it is deleted instead of stored.
const NoExpiration time.Duration = -1

// Cache is the low-level API, in the manner of Django's cache framework:
// Get, Set, Add, Delete, GetMany, SetMany, Has, Touch, Incr, Decr, Clear and
// IncrVersion over a [Store].
//
// Every key the store sees is "prefix:version:[build:]key" (see [WithPrefix],
// [WithVersion], [WithBuild]); keys that are long or hold spaces or control
// bytes are hashed after a readable start. Values are encoded by the [Codec].
//
// The store is an optimisation, not a dependency: every store call is bounded
// by [WithTimeout], and a failure comes back as an error wrapping
// [ErrUnavailable], which callers may treat as a miss. A stored value that
// does not decode into the caller's type is an error wrapping [ErrDecode],
// and stays stored.
//
// A Cache is safe for concurrent use. The views returned by
// [Cache.WithVersion], [Cache.WithPrefix] and [Cache.WithBuild] share its
// store, its computations in flight and its [Stats]: a view is the same core
// under another namespace. Every Cache made in this process with one store
// value shares its computations in flight too (not its Stats): a key is
// computed once among them, and a write through one wins over a computation
// through another. A store whose type cannot be compared (see [New]) is
// shared that way only by a Cache and its views.
type Cache struct {
	*core
	ns    namespace
	stats *counters // the view's counters (its prefix's), or a memoized function's
	fn    string    // the memoized function's name, when it is one
}

// core is what a cache and its views share.
type core struct {
	store Store
	codec Codec
	log   *slog.Logger

	defaultTTL      time.Duration
	timeout         time.Duration // 0: none
	breakerFailures uint32
	breakerCoolDown time.Duration

	local   bool         // the store never blocks: called without the guard
	mem     *memoryStore // the memory store (or the near cache's copies): hits skip decoding
	nearCfg nearConfig
	near    *nearCache   // nil without a near cache
	guard   *guard.Guard // nil for an in-process store
	sharder Sharder      // nil when the store is not sharded

	// locksStick: the store declined to release a lock (a Redis user
	// without EVAL); locks are taken with a short lease instead.
	locksStick atomic.Bool

	total     counters // the counts of every view: Stats
	scopes    scopes   // the counts by view and by function
	obs       observers
	routes    routeRegistry // HTTP counters by route
	urls      urlRegistry   // how the routes key URLs, for invalidation
	*registry               // computations in flight and the writes that overtake them: shared by every Cache over the store
}

// namespace is the front of every store key of a cache or view.
type namespace struct {
	prefix  string
	version int
	build   string
	front   string // "prefix:version:[build:]", escaped
}

// New returns a Cache over store. It panics on a nil store. Caches made with
// one store value (the same pointer, or equal values of a comparable type)
// share their computations in flight; see [Cache].
func New(store Store, opts ...Option) *Cache {
	if store == nil {
		panic("corral: New(nil store)")
	}
	c := &Cache{
		core: &core{
			store:           store,
			codec:           JSON,
			log:             slog.New(slog.DiscardHandler),
			defaultTTL:      DefaultTTL,
			timeout:         DefaultTimeout,
			breakerFailures: DefaultBreakerFailures,
			breakerCoolDown: DefaultBreakerCoolDown,
		},
		ns: namespace{version: 1},
	}
	for _, o := range opts {
		o(c)
	}
	c.ns.front = c.ns.make()
	c.stats = c.scopes.view(&c.total, c.ns.prefix)
	c.registry = registryFor(store, c.core)
	_, c.local = store.(inProcess)
	if ms, ok := store.(*MemoryStore); ok {
		c.mem = ms.memoryStore
	}
	if !c.local {
		c.sharder, _ = store.(Sharder)
		c.guard = c.newGuard()
		if c.nearCfg.maxBytes > 0 {
			c.startNear()
		}
	}
	return c
}

// Store returns the store the cache uses.
func (c *Cache) Store() Store { return c.store }

// WithVersion returns a view of c at another version, sharing its store.
func (c *Cache) WithVersion(version int) *Cache {
	ns := c.ns
	ns.version = version
	return c.view(ns)
}

// WithPrefix returns a view of c under another prefix, sharing its store.
func (c *Cache) WithPrefix(prefix string) *Cache {
	ns := c.ns
	ns.prefix = prefix
	return c.view(ns)
}

// WithBuild returns a view of c with another build id, sharing its store.
func (c *Cache) WithBuild(build string) *Cache {
	ns := c.ns
	ns.build = build
	return c.view(ns)
}

func (c *Cache) view(ns namespace) *Cache {
	ns.front = ns.make()
	return &Cache{core: c.core, ns: ns, stats: c.scopes.view(&c.total, ns.prefix)}
}

// Get decodes the value stored under key into dst, a pointer, as
// json.Unmarshal does, and reports whether it found one. With a nil dst it
// only reports whether key is present. A miss is found=false with a nil
// error; a store failure is an error wrapping [ErrUnavailable]; a value that
// does not decode into dst is an error wrapping [ErrDecode], and stays
// stored. A dst that is not a pointer, or a nil pointer, is an error
// wrapping [ErrDecode], hit or miss, and the store is not read.
func (c *Cache) Get(ctx context.Context, key string, dst any) (bool, error) {
	sk, err := c.key(key)
	if err != nil {
		return false, err
	}
	if err := checkDst(key, dst); err != nil {
		return false, err
	}
	data, err := c.get(ctx, sk)
	switch {
	case errors.Is(err, ErrNotFound):
		c.stats.misses.Add(1)
		return false, nil
	case err != nil:
		return false, c.failed(opGet, key, err)
	}
	data, ok, err := c.readable(ctx, key, data, nil)
	if err != nil {
		return false, err
	}
	if !ok {
		c.stats.misses.Add(1)
		return false, nil
	}
	if dst != nil {
		switch err := c.decode(key, data, dst); {
		case err == errNotAValue:
			c.stats.misses.Add(1)
			return false, nil
		case err != nil:
			return false, err
		}
	}
	c.stats.hits.Add(1)
	return true, nil
}

// readable is readable(data) for a caller's read: false too for a value
// that a tag invalidated, and an error when the store cannot say. pre holds
// tokens read already, if any.
func (c *Cache) readable(ctx context.Context, key string, data []byte, pre *prefetched) ([]byte, bool, error) {
	payload, tags, ok := readableEntry(data)
	if !ok || len(tags) == 0 {
		return payload, ok, nil
	}
	hold, _, err := c.tagsHold(ctx, tags, pre)
	switch {
	case err != nil:
		return nil, false, c.failed(opGetMany, key, err)
	case !hold:
		c.stats.invalidated.Add(1)
		return nil, false, nil
	}
	return payload, true, nil
}

// readable returns the bytes to decode from what the store holds: the payload
// of a fresh envelope (written by GetOrSet or Memoize), a raw value as it is,
// and false for an expired or negative envelope.
func readable(data []byte) ([]byte, bool) {
	payload, _, ok := readableEntry(data)
	return payload, ok
}

// readableEntry is readable, with the tags of a fresh envelope.
func readableEntry(data []byte) ([]byte, []envelope.Tag, bool) {
	if !envelope.Is(data) {
		return data, nil, true
	}
	switch e, state := envelope.Classify(data, time.Now()); state {
	case envelope.Fresh:
		return e.Payload, e.Tags, true
	case envelope.Foreign:
		return data, nil, true
	}
	return nil, nil, false
}

// Has reports whether key holds a value. It does not count as a hit or miss.
func (c *Cache) Has(ctx context.Context, key string) (bool, error) {
	sk, err := c.key(key)
	if err != nil {
		return false, err
	}
	data, err := c.get(ctx, sk)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, c.failed(opGet, key, err)
	}
	_, ok, err := c.readable(ctx, key, data, nil)
	return ok, err
}

// Set stores value under key for ttl (0: the default TTL, [NoExpiration] or
// a TTL past a century: forever, other negatives: delete key).
func (c *Cache) Set(ctx context.Context, key string, value any, ttl time.Duration) error {
	sk, err := c.key(key)
	if err != nil {
		return err
	}
	data, err := c.encode(key, value)
	if err != nil {
		return err
	}
	data = storable(data) // binary values that look like an entry stay whole
	ttl, keep := c.ttl(ttl)
	c.overtake(sk)
	err = c.call(ctx, opSet, sk, func(ctx context.Context) error {
		if !keep {
			return c.store.Delete(ctx, sk)
		}
		return c.store.Set(ctx, sk, data, ttl)
	})
	if err != nil {
		return c.failed(opSet, key, err)
	}
	return nil
}

// Add stores value under key only if key holds no value, and reports whether
// it stored. Under concurrent Adds of one key, exactly one stores. A
// memoized value that has expired (kept for its stale window) or a cached
// "not found" is no value, as Django's add stores over an expired key: Add
// then replaces it, which is not atomic against another Add of that key.
func (c *Cache) Add(ctx context.Context, key string, value any, ttl time.Duration) (bool, error) {
	sk, err := c.key(key)
	if err != nil {
		return false, err
	}
	data, err := c.encode(key, value)
	if err != nil {
		return false, err
	}
	data = storable(data) // binary values that look like an entry stay whole
	ttl, keep := c.ttl(ttl)
	if !keep {
		return false, nil // an already expired value would not be there to see
	}
	c.overtake(sk)
	var added bool
	err = c.call(ctx, opAdd, sk, func(ctx context.Context) (err error) {
		if added, err = c.store.Add(ctx, sk, data, ttl); err != nil || added {
			return err
		}
		return c.replaceDead(ctx, sk, data, ttl, &added)
	})
	if err != nil {
		return false, c.failed(opAdd, key, err)
	}
	return added, nil
}

// replaceDead stores data under sk when what is there is no live value (an
// expired memoized value, a cached "not found"), and sets *added.
func (c *Cache) replaceDead(ctx context.Context, sk string, data []byte, ttl time.Duration, added *bool) error {
	old, err := c.store.Get(ctx, sk)
	switch {
	case errors.Is(err, ErrNotFound): // gone since: try once more
		*added, err = c.store.Add(ctx, sk, data, ttl)
		return err
	case err != nil || live(old):
		return err
	}
	*added = true
	return c.store.Set(ctx, sk, data, ttl)
}

// Delete removes the keys. Absent keys are not an error.
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	sks := make([]string, len(keys))
	for i, k := range keys {
		sk, err := c.key(k)
		if err != nil {
			return err
		}
		sks[i] = sk
	}
	c.overtake(sks...)
	if err := c.callKeys(ctx, opDelete, sks, func(ctx context.Context) error { return c.store.Delete(ctx, sks...) }); err != nil {
		return c.failed(opDelete, keys[0], err)
	}
	return nil
}

// Touch sets a new ttl on key without changing its value, and reports whether
// key held a live value. A value written by GetOrSet or Memoize carries its
// freshness inside: Touch rewrites it with the new one (keeping its stale
// window), so that it lives for ttl from now; an expired one, or a cached
// "not found", is not live and is left alone. On a store without [Toucher],
// and for memoized values, it reads and rewrites the value, which is not
// atomic against a concurrent Set.
func (c *Cache) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	sk, err := c.key(key)
	if err != nil {
		return false, err
	}
	ttl, keep := c.ttl(ttl)
	if !keep { // already expired: report presence, then drop the value
		found, err := c.Has(ctx, key)
		if err != nil || !found {
			return found, err
		}
		return true, c.Delete(ctx, key)
	}
	var found bool
	err = c.call(ctx, opTouch, sk, func(ctx context.Context) (err error) {
		data, err := c.store.Get(ctx, sk)
		if err != nil {
			return err
		}
		if envelope.Is(data) {
			return c.retime(ctx, sk, data, ttl, &found)
		}
		found = true
		if t, ok := c.store.(Toucher); ok {
			found, err = t.Touch(ctx, sk, ttl)
			return err
		}
		return c.store.Set(ctx, sk, data, ttl)
	})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, c.failed(opTouch, key, err)
	}
	return found, nil
}

// retime rewrites a memoized entry fresh for ttl from now (0: forever),
// with the stale window it had, and sets *found; an entry that is not fresh
// is left alone.
func (c *Cache) retime(ctx context.Context, sk string, data []byte, ttl time.Duration, found *bool) error {
	e, state := envelope.Classify(data, time.Now())
	if state != envelope.Fresh {
		return nil
	}
	window := time.Duration(0)
	if !e.FreshUntil.IsZero() && !e.StaleUntil.IsZero() {
		window = e.StaleUntil.Sub(e.FreshUntil)
	}
	e.FreshUntil, e.StaleUntil = time.Time{}, time.Time{}
	storeTTL := time.Duration(0)
	if ttl > 0 {
		e.FreshUntil = time.Now().Add(ttl)
		storeTTL = ttl + window
		if window > 0 {
			e.StaleUntil = e.FreshUntil.Add(window)
		}
	}
	*found = true
	return c.store.Set(ctx, sk, e.Encode(), storeTTL)
}

// Clear removes every key under this cache's prefix, of every version and
// build, and nothing else. It needs a store that implements [Clearer]; on
// another it returns an error wrapping errors.ErrUnsupported.
func (c *Cache) Clear(ctx context.Context) error {
	cl, ok := c.store.(Clearer)
	if !ok {
		return fmt.Errorf("corral: clear: the store has no Clear: %w", errors.ErrUnsupported)
	}
	prefix := escapePart(c.ns.prefix) + ":"
	c.overtakePrefix(prefix)
	if err := c.callKeys(ctx, opClear, nil, func(ctx context.Context) error { return cl.Clear(ctx, prefix) }); err != nil {
		return c.failed(opClear, "", err)
	}
	return nil
}

// Stats returns the cache's counters, shared with its views, and the state of
// its store.
func (c *Cache) Stats() Stats {
	s := snapshot(&c.total)
	if ec, ok := c.store.(EvictionCounter); ok {
		s.Evictions = ec.Evictions()
	}
	if ms, ok := c.store.(*MemoryStore); ok {
		s.StoreEntries, s.StoreBytes = int64(ms.Len()), ms.Bytes()
	}
	s.BreakerState = c.BreakerState()
	return s
}

// get reads one store key: through the near cache when there is one,
// guarded.
func (c *Cache) get(ctx context.Context, sk string) ([]byte, error) {
	if c.local {
		return c.store.Get(ctx, sk)
	}
	if c.near != nil {
		return c.getThroughNear(ctx, sk)
	}
	return c.getRemote(ctx, sk)
}

// getRemote reads one store key from the store, guarded.
func (c *Cache) getRemote(ctx context.Context, sk string) ([]byte, error) {
	var data []byte
	err := c.call(ctx, opGet, sk, func(ctx context.Context) (err error) {
		data, err = c.store.Get(ctx, sk)
		return err
	})
	return data, err
}

// ttl resolves a caller's ttl into a store ttl, and reports false when the
// value is already expired. A ttl past [maxTTL] is forever: 0.
func (c *Cache) ttl(ttl time.Duration) (time.Duration, bool) {
	switch {
	case ttl == 0:
		ttl = c.defaultTTL
	case ttl < 0 && ttl != NoExpiration:
		return 0, false
	}
	if ttl == NoExpiration || ttl > maxTTL {
		return 0, true
	}
	return ttl, true
}

// maxTTL is the longest TTL kept as it is; a longer one (math.MaxInt64, say)
// means forever. Now plus a longer TTL would not fit in the int64 Unix
// nanoseconds that entries and stores hold (they end in 2262), and a TTL
// plus a stale window could wrap to a negative one.
const maxTTL = 100 * 365 * 24 * time.Hour

func (c *Cache) encode(key string, value any) ([]byte, error) {
	data, err := c.codec.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("corral: encode %q as %T: %w", key, value, err)
	}
	return data, nil
}

// decode decodes a stored value into dst. A value of the codec that does not
// fit dst is the caller's error, and stays stored; bytes that are no value
// of the codec at all (garbage, a foreign format) are errNotAValue, a miss.
func (c *Cache) decode(key string, data []byte, dst any) error {
	err := c.codec.Unmarshal(data, dst)
	if err == nil {
		return nil
	}
	c.stats.decodeErrors.Add(1)
	if c.codec.Unmarshal(data, new(any)) != nil {
		return errNotAValue
	}
	return failure("get", key, ErrDecode, fmt.Errorf("%d bytes into %T: %w", len(data), dst, err))
}

// errNotAValue is decode's report of stored bytes that are no value at all:
// the reader's miss.
var errNotAValue = errors.New("corral: stored bytes are not a value")

// failed counts and wraps a store failure (a call the breaker refused is
// counted by the guard, and not logged).
func (c *Cache) failed(op StoreOp, key string, err error) error {
	if errors.Is(err, guard.ErrOpen) {
		return failure(string(op), key, ErrUnavailable, err)
	}
	c.stats.errors.Add(1)
	c.stats.errorsByOp[op.index()].Add(1)
	c.log.LogAttrs(context.Background(), slog.LevelDebug, "corral: store call failed",
		slog.String("op", string(op)), slog.String("key", key), slog.Any("error", err))
	return failure(string(op), key, ErrUnavailable, err)
}
