// Package redisstore is a corral.Store on Redis, through go-redis v9's
// UniversalClient: a single node, Sentinel (failover), Cluster or Ring. A
// Cluster client that reads from replicas is refused (see [New]).
//
// It implements every optional capability of corral.Store: GetMany (MGET;
// one per shard on a Ring, one per key on a Cluster), SetMany (one
// pipeline), Incr (INCRBY on an existing key), Touch (PEXPIRE), Clear (SCAN
// MATCH and UNLINK on every master, under a budget of its own: see
// [ClearTimeout]; never FLUSHDB), a Locker (SET NX PX with an owner token,
// released by a compare-and-delete script) and a Watcher for near caches
// (CLIENT TRACKING; see [Store.Watch]). Calls on several keys and Clear
// hold through a Cluster slot's migration. On a Cluster and a Ring it is a
// corral.Sharder: a corral.Cache keeps a circuit breaker per master
// (shard), and a dead one disables its own keys only.
//
// Deadlines: every call returns by its context's deadline (corral's
// WithTimeout), whatever the client. go-redis itself honours a context's
// deadline only when the client was made with ContextTimeoutEnabled: true;
// for a client without it, the store runs each command on a goroutine of its
// own and stops waiting at the deadline, while the command goes on until the
// client's ReadTimeout or WriteTimeout (3 s by default). Prefer
// ContextTimeoutEnabled: calls then cost no extra goroutine, and a hung
// server holds no connection past the deadline.
//
// Errors: an error reply of Redis that refuses one call while the server
// works (OOM, READONLY, NOPERM, NOSCRIPT and the like) wraps
// corral.ErrDeclined, and a value over the server's proto-max-bulk-len
// corral.ErrTooLarge: a corral.Cache counts neither as an outage. Replies
// that say the server cannot serve at all (LOADING, MASTERDOWN,
// CLUSTERDOWN, BUSY) are outages, as network errors and timeouts are.
// go-redis retries some answers itself (READONLY, TRYAGAIN), MaxRetries
// times with backoff: about 100 ms in all with its defaults, which is
// corral's default timeout, and a call that ends at its deadline counts as
// an outage. A client made with MaxRetries: -1 gets the answer at once.
//
// A server that refuses connections fails fast: once a call to the client
// has failed, for 10 s after, a call whose server (a single node, a
// Cluster key's master, a Ring key's shard) refuses a dial ends at once
// with the dial's error, where go-redis would wait for the call's deadline
// while it retries the dial. A call that ends at its deadline while the client cannot connect
// returns an error that wraps both the dial's error and the context's, as in
// "dial tcp 10.0.0.7:6379: connect: connection refused (context deadline
// exceeded)"; go-redis alone reports only the deadline, as it dials on a
// goroutine of its own. The store watches the dials of a single-node or
// Sentinel client, of a Ring's shards, and of the Cluster nodes the client
// makes after New. The store's errors name no store key and no script's
// hash (corral.Cache names the caller's key), and none shows the password in
// the client's options. [SetLogger] routes go-redis's own log lines to a
// slog.Logger.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/corralhq/corral"
	"github.com/redis/go-redis/v9"
)

// Store is a [corral.Store] on Redis. Make it with [New]. It is safe for
// concurrent use; closing the client is the caller's business.
type Store struct {
	client    redis.UniversalClient
	scanCount int64
	maxValue  int // bytes; a longer value is refused before it is sent
	// honorsDeadline: the client was made with ContextTimeoutEnabled, so
	// go-redis itself ends a call at its context's deadline.
	honorsDeadline bool
	// dials watches the client's dials, whose errors explain a call that
	// ended at its deadline (nil for a client type it cannot watch).
	dials *dialWatch
	// secrets are the passwords in the client's options: no error shows them.
	secrets []string
	// slotsKnown: a call has answered, so a Cluster client knows its slots.
	slotsKnown atomic.Bool
	// watched are the prefixes of the store's watches (see Store.Watch):
	// a Delete of their keys is announced to every instance.
	watched watchedPrefixes

	clearTimeout time.Duration // the budget of a Clear, whatever its caller's
	clears       clearJobs
}

// Option configures a [Store].
type Option func(*Store)

// ScanCount sets how many keys Clear asks SCAN for at a time, and so how many
// it unlinks per batch. It panics on n < 1. Default: 1000.
func ScanCount(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("corral/redisstore: ScanCount(%d): want at least 1", n))
	}
	return func(s *Store) { s.scanCount = int64(n) }
}

// MaxValueBytes sets the longest value the store sends; Set, Add and
// SetMany refuse a longer one with corral.ErrTooLarge, which is no outage.
// Set it to the server's proto-max-bulk-len when that is lowered: Redis
// answers a longer value by closing the connection, which looks like a
// network failure. It panics on n < 1. Default: 512 MiB (Redis's default
// proto-max-bulk-len).
func MaxValueBytes(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("corral/redisstore: MaxValueBytes(%d): want at least 1", n))
	}
	return func(s *Store) { s.maxValue = n }
}

var (
	_ corral.Store       = (*Store)(nil)
	_ corral.BatchGetter = (*Store)(nil)
	_ corral.BatchSetter = (*Store)(nil)
	_ corral.Incrementer = (*Store)(nil)
	_ corral.Toucher     = (*Store)(nil)
	_ corral.Clearer     = (*Store)(nil)
	_ corral.Locker      = (*Store)(nil)
	_ corral.Sharder     = (*Store)(nil)
)

// New returns a Store on client. It does not connect: a Redis that is down is
// seen at the first call, as an error. It panics on a nil client, and on a
// Cluster client that reads from replicas (ClusterOptions.ReadOnly,
// RouteByLatency or RouteRandomly, which redis.NewFailoverClusterClient
// sets from its options of the same names): a replica answers with what its
// master held a moment ago, values since deleted or replaced included, so
// a cache would serve what was invalidated.
//
// New adds a hook to the client (once per client) that watches its dials
// and changes nothing of them: a call that ends at its deadline while the
// client cannot connect reports why (see the package's Errors).
func New(client redis.UniversalClient, opts ...Option) *Store {
	if client == nil {
		panic("corral/redisstore: New(nil client)")
	}
	if readsReplicas(client) {
		panic("corral/redisstore: New: the Cluster client reads from replicas (ReadOnly, RouteByLatency or RouteRandomly), " +
			"which serve deleted and replaced values until they catch up with their master; make it without them")
	}
	s := &Store{
		client:         client,
		scanCount:      1000,
		maxValue:       512 << 20,
		clearTimeout:   time.Minute,
		honorsDeadline: honorsDeadline(client),
		dials:          watchDials(client),
		secrets:        secrets(client),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// readsReplicas reports whether client sends reads to replicas.
func readsReplicas(client redis.UniversalClient) bool {
	c, ok := client.(*redis.ClusterClient)
	if !ok {
		return false
	}
	o := c.Options()
	return o.ReadOnly || o.RouteByLatency || o.RouteRandomly
}

func honorsDeadline(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// run runs one command on key ("" for several keys) and explains its
// error (see [Store.explain]). While the server has failed lately, the call
// ends as soon as a dial to it is refused, instead of at its deadline (see
// [dialWatch.arm]).
func (s *Store) run(ctx context.Context, key string, fn func(context.Context) error) error {
	ended := ctx.Err() != nil // before the call: no dial explains that
	start := time.Now()
	armed, done := ctx, noRefusal
	if !s.dials.quiet(start) { // the address costs a slot or shard lookup: only when armed
		armed, done = s.dials.arm(ctx, s.addrOf(key), start)
	}
	err := s.bound(armed, fn)
	refused := done()
	switch {
	case err == nil, err == corral.ErrNotFound, err == corral.ErrNotInteger:
		if !s.slotsKnown.Load() {
			s.slotsKnown.Store(true)
		}
		return err // the store's own answers (a miss is common): nothing to add
	case ended:
		return redact(err, s.secrets)
	case errors.Is(err, corral.ErrDeclined), errors.Is(err, corral.ErrTooLarge):
		return redact(err, s.secrets) // answers already: nothing wrong with the server
	}
	if a := answer(err); a != nil {
		return redact(a, s.secrets)
	}
	s.dials.troubled()
	if refused != nil && ctx.Err() == nil {
		return redact(refused, s.secrets)
	}
	return s.explain(ctx, start, err)
}

// addrOf returns the address of the server a command on key goes to, ""
// when the store cannot say (several keys on a Cluster or a Ring).
func (s *Store) addrOf(key string) string {
	switch c := s.client.(type) {
	case *redis.Client:
		return c.Options().Addr
	case *redis.ClusterClient, *redis.Ring:
		if key != "" {
			return s.Shard(key)
		}
	}
	return ""
}

// onlyKey returns the key of a call on one key, "" for several.
func onlyKey(keys []string) string {
	if len(keys) == 1 {
		return keys[0]
	}
	return ""
}

// bound runs fn by ctx's deadline. When the client does not end calls at
// their context's deadline (made without ContextTimeoutEnabled), fn runs on a
// goroutine of its own and the caller stops waiting at the deadline; the
// command itself ends with the client's read and write timeouts.
func (s *Store) bound(ctx context.Context, fn func(context.Context) error) error {
	if s.honorsDeadline || ctx.Done() == nil {
		return fn(ctx)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done: // it ended with the context: its answer says more
			return err
		default:
			return ctx.Err()
		}
	}
}

// Get implements [corral.Store].
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.run(ctx, key, func(ctx context.Context) (err error) { v, err = s.get(ctx, key); return err })
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Set implements [corral.Store].
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.run(ctx, key, func(ctx context.Context) error { return s.set(ctx, key, value, ttl) })
}

// Add implements [corral.Store] with SET NX.
func (s *Store) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	var ok bool
	err := s.run(ctx, key, func(ctx context.Context) (err error) { ok, err = s.add(ctx, key, value, ttl); return err })
	return ok && err == nil, err
}

// Delete implements [corral.Store] with UNLINK: one command on a single
// node, one per shard on a Ring, one per key on a Cluster (pipelined). Keys
// under a watched prefix are announced first (see [Store.Watch]).
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	return s.run(ctx, onlyKey(keys), func(ctx context.Context) error {
		s.announce(ctx, keys)
		return s.delete(ctx, keys...)
	})
}

// GetMany implements [corral.BatchGetter] with MGET: one command on a single
// node, one per shard on a Ring, and one per key on a Cluster (pipelined),
// which holds while a slot migrates.
func (s *Store) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	var m map[string][]byte
	err := s.run(ctx, onlyKey(keys), func(ctx context.Context) (err error) { m, err = s.getMany(ctx, keys); return err })
	if err != nil {
		return nil, err
	}
	return m, nil
}

// SetMany implements [corral.BatchSetter] with one pipeline of SETs.
func (s *Store) SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	return s.run(ctx, "", func(ctx context.Context) error { return s.setMany(ctx, items, ttl) })
}

// Incr implements [corral.Incrementer]: INCRBY on a key that exists, which
// keeps the key's expiry.
func (s *Store) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	var n int64
	err := s.run(ctx, key, func(ctx context.Context) (err error) { n, err = s.incr(ctx, key, delta); return err })
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Touch implements [corral.Toucher] with PEXPIRE (PERSIST for ttl <= 0).
func (s *Store) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	var ok bool
	err := s.run(ctx, key, func(ctx context.Context) (err error) { ok, err = s.touch(ctx, key, ttl); return err })
	return ok && err == nil, err
}

// Lock implements [corral.Locker] with SET key token NX PX ttl.
func (s *Store) Lock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	var ok bool
	err := s.run(ctx, key, func(ctx context.Context) (err error) { ok, err = s.lock(ctx, key, token, ttl); return err })
	return ok && err == nil, err
}

// Unlock implements [corral.Locker]: only the owner's token releases the lock.
func (s *Store) Unlock(ctx context.Context, key, token string) (bool, error) {
	var ok bool
	err := s.run(ctx, key, func(ctx context.Context) (err error) { ok, err = s.unlock(ctx, key, token); return err })
	return ok && err == nil, err
}

// Shard implements [corral.Sharder]: the address of the server that holds
// key, so that a corral.Cache keeps a circuit breaker per server: on a
// Cluster the master that serves key's slot, on a Ring the shard the Ring
// sends key to now (a shard the Ring finds down no longer gets keys). It
// is "" on a single node or Sentinel client, on a Ring with no shard up,
// and on a Cluster before a call has answered (Shard never waits for the
// network to learn the slots).
func (s *Store) Shard(key string) string {
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		if !s.slotsKnown.Load() {
			return ""
		}
		node, err := c.MasterForKey(context.Background(), key)
		if err != nil {
			return ""
		}
		return node.Options().Addr
	case *redis.Ring:
		shard, err := c.GetShardClientForKey(key)
		if err != nil {
			return ""
		}
		return shard.Options().Addr
	}
	return ""
}

// Client returns the client the store uses.
func (s *Store) Client() redis.UniversalClient { return s.client }

func (s *Store) get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.client.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) || wrongType(err) {
		// A key of another type (a list, a hash) holds no value of
		// corral's: garbage is a miss, which SET overwrites.
		return nil, corral.ErrNotFound
	}
	return v, err
}

func (s *Store) set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.fits(value); err != nil {
		return err
	}
	if expired(ttl) {
		return s.client.Unlink(ctx, key).Err()
	}
	return s.client.Set(ctx, key, value, expiration(ttl)).Err()
}

func (s *Store) add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := s.fits(value); err != nil {
		return false, err
	}
	if expired(ttl) {
		return false, nil
	}
	return s.client.SetNX(ctx, key, value, expiration(ttl)).Result()
}

// fits refuses a value longer than the server takes.
func (s *Store) fits(value []byte) error {
	if len(value) > s.maxValue {
		return fmt.Errorf("%w: %d bytes, the server takes %d", corral.ErrTooLarge, len(value), s.maxValue)
	}
	return nil
}

// incrScript is INCRBY on a key that exists: Django's incr fails on a missing
// key, where INCRBY alone would create it. It returns the new value as the
// string GET reads: Lua holds INCRBY's integer reply as a double, which
// rounds integers past 2^53.
var incrScript = redis.NewScript(`
if redis.call('exists', KEYS[1]) == 0 then return false end
redis.call('incrby', KEYS[1], ARGV[1])
return redis.call('get', KEYS[1])`)

func (s *Store) incr(ctx context.Context, key string, delta int64) (int64, error) {
	n, err := incrScript.Run(ctx, s.client, []string{key}, delta).Int64()
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, redis.Nil):
		return 0, corral.ErrNotFound
	case wrongType(err): // another type than a string: garbage, not a number
		return 0, fmt.Errorf("%w: %w", corral.ErrNotInteger, scriptErr(err))
	case redisError(err, "not an integer"):
		// Redis's text names the script's hash and line: the caller
		// (corral.Cache.Incr) names the key.
		return 0, corral.ErrNotInteger
	case redisError(err, "overflow"):
		return 0, fmt.Errorf("%w: adding %d overflows int64", corral.ErrNotInteger, delta)
	}
	return 0, scriptErr(err)
}

// wrongType reports whether err is Redis's answer for a key that holds
// another type than a string.
func wrongType(err error) bool { return redisError(err, "WRONGTYPE") }

// persistScript removes a key's expiry and reports whether the key exists
// (PERSIST alone answers 0 for a key that has no expiry).
var persistScript = redis.NewScript(`
if redis.call('exists', KEYS[1]) == 0 then return 0 end
redis.call('persist', KEYS[1])
return 1`)

func (s *Store) touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if expired(ttl) {
		n, err := s.client.Unlink(ctx, key).Result()
		return n == 1, err
	}
	if ttl <= 0 {
		n, err := persistScript.Run(ctx, s.client, []string{key}).Int64()
		return n == 1, scriptErr(err)
	}
	return s.client.PExpire(ctx, key, ttl).Result()
}

// escapeGlob escapes the characters SCAN MATCH treats as a pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (s *Store) lock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	if expired(ttl) {
		return false, nil
	}
	return s.client.SetNX(ctx, key, token, expiration(ttl)).Result()
}

// unlockScript deletes the lock only if it still holds the caller's token.
var unlockScript = redis.NewScript(`
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`)

func (s *Store) unlock(ctx context.Context, key, token string) (bool, error) {
	n, err := unlockScript.Run(ctx, s.client, []string{key}, token).Int64()
	return n == 1, scriptErr(err)
}

// expired reports whether ttl is already over: Redis counts a PX in whole
// milliseconds, and the Store contract reads a positive ttl under 1 ms as
// already expired (go-redis would round it up to 1 ms, and log).
func expired(ttl time.Duration) bool { return ttl > 0 && ttl < time.Millisecond }

// expiration turns a Store ttl into go-redis's: 0 for no expiry. go-redis
// reads -1 as KEEPTTL, which a Store ttl <= 0 never means.
func expiration(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return 0
	}
	return ttl
}
