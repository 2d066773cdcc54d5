package corral

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sony/gobreaker/v2"
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
// does not decode is a miss: it is logged and deleted.
//
// A Cache is safe for concurrent use. The views returned by
// [Cache.WithVersion], [Cache.WithPrefix] and [Cache.WithBuild] share its
// store and its [Stats].
type Cache struct {
	store Store
	codec Codec
	log   *slog.Logger

	prefix  string
	version int
	build   string
	ns      string // namespace(prefix, version, build), the front of every key

	defaultTTL time.Duration
	timeout    time.Duration // 0: none
	local      bool          // the store never blocks: call it without a timer or breaker

	breakerFailures uint32
	breakerCoolDown time.Duration
	mem             *memoryStore // the store, when it is the memory store: hits skip decoding

	stats   *counters
	obs     *observers                          // shared by views
	routes  *routeRegistry                      // shared by views: HTTP counters by route
	breaker *gobreaker.CircuitBreaker[struct{}] // shared by views; nil for the memory store or when off
	flights *flights                            // shared by views: one computation per store key
	writes  *writes                             // shared by views: writes overtake computations in flight
}

// New returns a Cache over store. It panics on a nil store.
func New(store Store, opts ...Option) *Cache {
	if store == nil {
		panic("corral: New(nil store)")
	}
	c := &Cache{
		store:      store,
		codec:      JSON,
		log:        slog.New(slog.DiscardHandler),
		version:    1,
		defaultTTL: DefaultTTL,
		timeout:    DefaultTimeout,
		stats:      new(counters),
		obs:        new(observers),
		routes:     new(routeRegistry),
		writes:     new(writes),

		breakerFailures: DefaultBreakerFailures,
		breakerCoolDown: DefaultBreakerCoolDown,
	}
	for _, o := range opts {
		o(c)
	}
	c.flights = &flights{onPanic: func(val any, stack []byte) {
		c.log.Error("corral: computation panicked", slog.Any("panic", val), slog.String("stack", string(stack)))
	}}
	if c.timeout < 0 {
		c.timeout = 0
	}
	_, c.local = store.(inProcess)
	if ms, ok := store.(*MemoryStore); ok {
		c.mem = ms.memoryStore
	}
	c.ns = namespace(c.prefix, c.version, c.build)
	c.breaker = c.newBreaker()
	return c
}

// Store returns the store the cache uses.
func (c *Cache) Store() Store { return c.store }

// WithVersion returns a view of c at another version, sharing its store.
func (c *Cache) WithVersion(version int) *Cache {
	v := *c
	v.version = version
	v.ns = namespace(v.prefix, v.version, v.build)
	return &v
}

// WithPrefix returns a view of c under another prefix, sharing its store.
func (c *Cache) WithPrefix(prefix string) *Cache {
	v := *c
	v.prefix = prefix
	v.ns = namespace(v.prefix, v.version, v.build)
	return &v
}

// WithBuild returns a view of c with another build id, sharing its store.
func (c *Cache) WithBuild(build string) *Cache {
	v := *c
	v.build = build
	v.ns = namespace(v.prefix, v.version, v.build)
	return &v
}

// Get decodes the value stored under key into dst, a pointer, as
// json.Unmarshal does, and reports whether it found one. With a nil dst it
// only reports whether key is present. A miss, and a value that does not
// decode into dst, are found=false with a nil error; a store failure is an
// error wrapping [ErrUnavailable].
func (c *Cache) Get(ctx context.Context, key string, dst any) (bool, error) {
	sk, err := c.key(key)
	if err != nil {
		return false, err
	}
	data, err := c.get(ctx, sk)
	switch {
	case errors.Is(err, ErrNotFound):
		c.stats.misses.Add(1)
		return false, nil
	case err != nil:
		return false, c.failed("get", key, err)
	}
	data, ok := readable(data)
	if !ok || (dst != nil && !c.decode(ctx, sk, data, dst)) {
		c.stats.misses.Add(1)
		return false, nil
	}
	c.stats.hits.Add(1)
	return true, nil
}

// readable returns the bytes to decode from what the store holds: the payload
// of a fresh envelope (written by GetOrSet or Memoize), data as it is when it
// is not an envelope, and false for an expired or negative envelope.
func readable(data []byte) ([]byte, bool) {
	if len(data) < envelopeHeader || data[0] != envelopeMagic[0] {
		return data, true
	}
	e, ok := parseEnvelope(data)
	if !ok {
		return data, true
	}
	if e.negative || !e.fresh(time.Now()) {
		return nil, false
	}
	return e.payload, true
}

// Has reports whether key holds a value. It does not count as a hit or miss.
func (c *Cache) Has(ctx context.Context, key string) (bool, error) {
	sk, err := c.key(key)
	if err != nil {
		return false, err
	}
	_, err = c.get(ctx, sk)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, c.failed("has", key, err)
	}
	return true, nil
}

// Set stores value under key for ttl (0: the default TTL, [NoExpiration]:
// forever, other negatives: delete key).
func (c *Cache) Set(ctx context.Context, key string, value any, ttl time.Duration) error {
	sk, err := c.key(key)
	if err != nil {
		return err
	}
	data, err := c.encode(key, value)
	if err != nil {
		return err
	}
	ttl, keep := c.ttl(ttl)
	c.writes.overtake(sk)
	err = c.do(ctx, "set", func(ctx context.Context) error {
		if !keep {
			return c.store.Delete(ctx, sk)
		}
		return c.store.Set(ctx, sk, data, ttl)
	})
	if err != nil {
		return c.failed("set", key, err)
	}
	return nil
}

// Add stores value under key only if key holds no value, and reports whether
// it stored. Under concurrent Adds of one key, exactly one stores.
func (c *Cache) Add(ctx context.Context, key string, value any, ttl time.Duration) (bool, error) {
	sk, err := c.key(key)
	if err != nil {
		return false, err
	}
	data, err := c.encode(key, value)
	if err != nil {
		return false, err
	}
	ttl, keep := c.ttl(ttl)
	if !keep {
		return false, nil // an already expired value would not be there to see
	}
	c.writes.overtake(sk)
	var added bool
	err = c.do(ctx, "add", func(ctx context.Context) (err error) {
		added, err = c.store.Add(ctx, sk, data, ttl)
		return err
	})
	if err != nil {
		return false, c.failed("add", key, err)
	}
	return added, nil
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
	c.writes.overtake(sks...)
	if err := c.do(ctx, "delete", func(ctx context.Context) error { return c.store.Delete(ctx, sks...) }); err != nil {
		return c.failed("delete", keys[0], err)
	}
	return nil
}

// Touch sets a new ttl on key without changing its value, and reports whether
// key was present. On a store without [Toucher] it reads and rewrites the
// value, which is not atomic against a concurrent Set.
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
	err = c.do(ctx, "touch", func(ctx context.Context) (err error) {
		if t, ok := c.store.(Toucher); ok {
			found, err = t.Touch(ctx, sk, ttl)
			return err
		}
		data, err := c.store.Get(ctx, sk)
		if err != nil {
			return err
		}
		found = true
		return c.store.Set(ctx, sk, data, ttl)
	})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, c.failed("touch", key, err)
	}
	return found, nil
}

// Clear removes every key under this cache's prefix, of every version and
// build, and nothing else. It needs a store that implements [Clearer]; on
// another it returns an error wrapping errors.ErrUnsupported.
func (c *Cache) Clear(ctx context.Context) error {
	cl, ok := c.store.(Clearer)
	if !ok {
		return fmt.Errorf("corral: clear: the store has no Clear: %w", errors.ErrUnsupported)
	}
	c.writes.overtakeAll()
	if err := c.do(ctx, "clear", func(ctx context.Context) error { return cl.Clear(ctx, escapePart(c.prefix)+":") }); err != nil {
		return c.failed("clear", "", err)
	}
	return nil
}

// Stats returns the cache's counters, shared with its views, and the state of
// its store.
func (c *Cache) Stats() Stats {
	s := c.stats.snapshot()
	if ec, ok := c.store.(EvictionCounter); ok {
		s.Evictions = ec.Evictions()
	}
	if ms, ok := c.store.(*MemoryStore); ok {
		s.StoreEntries, s.StoreBytes = int64(ms.Len()), ms.Bytes()
	}
	s.BreakerState = c.BreakerState()
	return s
}

// key returns the store key for key.
func (c *Cache) key(key string) (string, error) {
	part, err := keyPart(key)
	if err != nil {
		return "", err
	}
	return c.ns + part, nil
}

// call returns the context for one store call: ctx bounded by the timeout.
func (c *Cache) call(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.local || c.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// get reads one store key under the call timeout and the breaker.
func (c *Cache) get(ctx context.Context, sk string) ([]byte, error) {
	if c.local {
		return c.store.Get(ctx, sk)
	}
	var data []byte
	err := c.do(ctx, "get", func(ctx context.Context) (err error) {
		data, err = c.store.Get(ctx, sk)
		return err
	})
	return data, err
}

// ttl resolves a caller's ttl into a store ttl, and reports false when the
// value is already expired.
func (c *Cache) ttl(ttl time.Duration) (time.Duration, bool) {
	switch {
	case ttl == 0:
		ttl = c.defaultTTL
	case ttl < 0 && ttl != NoExpiration:
		return 0, false
	}
	if ttl == NoExpiration {
		return 0, true
	}
	return ttl, true
}

func (c *Cache) encode(key string, value any) ([]byte, error) {
	data, err := c.codec.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("corral: encode %q: %w", key, err)
	}
	return data, nil
}

// decode decodes data into dst. A value that does not decode is logged and
// deleted, and decode reports false.
func (c *Cache) decode(ctx context.Context, sk string, data []byte, dst any) bool {
	err := c.codec.Unmarshal(data, dst)
	if err == nil {
		return true
	}
	c.stats.decodeErrors.Add(1)
	c.log.LogAttrs(ctx, slog.LevelWarn, "corral: stored value does not decode; deleting it",
		slog.String("key", sk), slog.Int("bytes", len(data)), slog.Any("error", err))
	_ = c.do(context.WithoutCancel(ctx), "delete", func(ctx context.Context) error { // best effort: a failure is one more miss later
		return c.store.Delete(ctx, sk)
	})
	return false
}

// failed counts and wraps a store failure (a call the breaker refused is
// counted by do, and not logged).
func (c *Cache) failed(op, key string, err error) error {
	if errors.Is(err, errBreakerOpen) {
		return fmt.Errorf("%w: %s %q: %w", ErrUnavailable, op, key, err)
	}
	c.stats.errors.Add(1)
	c.stats.errorsByOp[opIndex(op)].Add(1)
	c.log.LogAttrs(context.Background(), slog.LevelDebug, "corral: store call failed",
		slog.String("op", op), slog.String("key", key), slog.Any("error", err))
	return fmt.Errorf("%w: %s %q: %w", ErrUnavailable, op, key, err)
}
