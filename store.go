package corral

import (
	"context"
	"time"
)

// Store is where a [Cache] keeps its bytes. See [MemoryStore] and the
// redisstore package for the two stores corral ships; the storetest package
// holds a conformance suite for third-party stores.
//
// Keys reach a Store already prefixed, versioned and made safe by the Cache:
// a Store never sees an empty key, a space or a control byte, a brace (no
// key holds a Redis Cluster hash tag), or a key over 512 bytes. Values are
// opaque bytes, and may be empty.
//
// The contract is zero-copy: a Store may keep the slice it is given in Set or
// Add (the caller never modifies it afterwards), and the slice Get returns may
// be shared with the store and with other callers, so the caller must not
// modify it.
//
// A ttl counts in whole milliseconds, truncated, as Redis's PX does: a
// positive ttl under 1 ms means the value is already expired. Set and
// SetMany then store nothing and remove what the key held, Add and Lock store
// nothing and report false, and Touch removes the key and reports whether it
// was there.
//
// Every method must honour its context: when ctx ends, the call returns
// promptly with an error. A Store reports a miss with [ErrNotFound] and any
// other failure with an error of its own; the Cache wraps the latter in
// [ErrUnavailable].
type Store interface {
	// Get returns the value stored under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key, replacing what was there. A ttl <= 0 means
	// the value does not expire.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Add stores value under key only if key holds nothing (or only an
	// expired value). It reports whether it stored. Under concurrent Adds of
	// one key exactly one succeeds.
	Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Delete removes the keys. Keys that are absent are not an error.
	Delete(ctx context.Context, keys ...string) error
}

// The optional capabilities below are each one method, checked with a type
// assertion as io.WriterTo is. A Cache uses them when its Store has them and
// falls back to the four Store methods when it does not.

// BatchGetter fetches several keys in one round trip.
type BatchGetter interface {
	// GetMany returns the values of the keys that are present; absent keys
	// are left out of the map. The same zero-copy rule as Get applies.
	GetMany(ctx context.Context, keys []string) (map[string][]byte, error)
}

// BatchSetter stores several values in one round trip, all with one ttl.
type BatchSetter interface {
	// SetMany stores every item as Set would. The store keeps the slices.
	SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error
}

// Incrementer adds to an integer value atomically.
type Incrementer interface {
	// Incr adds delta to the decimal integer stored under key and returns the
	// new value, keeping the key's expiry. It returns ErrNotFound when the key
	// is absent, and ErrNotInteger, leaving the value as it was, when the
	// value is not the canonical decimal of an int64 (Redis's rule: an
	// optional '-', no '+', no leading zero, no space, not "-0") or when the
	// sum overflows int64.
	Incr(ctx context.Context, key string, delta int64) (int64, error)
}

// Toucher changes the expiry of a stored value without rewriting it.
type Toucher interface {
	// Touch sets key's ttl (ttl <= 0: no expiry) and reports whether the key
	// was present.
	Touch(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// Clearer removes every key that starts with a prefix. It must never remove
// keys outside the prefix (no FLUSHDB): other caches may share the store.
type Clearer interface {
	Clear(ctx context.Context, prefix string) error
}

// Locker is a lock with an owner token: only the owner can release it, and it
// expires on its own after ttl so that a crashed owner cannot hold it forever.
type Locker interface {
	// Lock takes the lock named key for token if nobody holds it, and reports
	// whether it did.
	Lock(ctx context.Context, key, token string, ttl time.Duration) (bool, error)
	// Unlock releases the lock if token still owns it, and reports whether it
	// did. A lock that expired or that another token holds is left alone.
	Unlock(ctx context.Context, key, token string) (bool, error)
}

// Sharder is a store whose keys live on servers that fail one by one, as
// the masters of a Redis Cluster do. The Cache keeps the health of each
// apart, with one circuit breaker per server: a dead server disables its
// own keys only.
type Sharder interface {
	// Shard names the server that holds key; "" when the store cannot say
	// (such keys share one breaker). It is called before every call to
	// the store: it must not block.
	Shard(key string) string
}

// Watcher is a store that tells a near cache (see [WithNearCache]) which of
// its keys change, whoever changes them: a Cache on another instance,
// another client of the store, an expiry or an eviction. A Cache with a near
// cache watches its store when the store implements Watcher; the redisstore
// package implements it with Redis's client-side caching protocol.
type Watcher interface {
	// Watch reports to sink the changes of the keys that start with
	// prefix, from the store's servers (its shards, as [Sharder] names
	// them; "" for a store of one server), until stop is called. It
	// returns at once and connects in the background: sink learns that a
	// shard is watched from its Watching call.
	Watch(prefix string, sink WatchSink) (stop func())
}

// WatchSink receives what a [Watcher] sees. Its methods may be called from
// several goroutines, but the calls about one shard come in order, and
// they must not block.
type WatchSink interface {
	// Watching says that, from now on, every change of a key on shard
	// will be reported.
	Watching(shard string)
	// Changed reports keys of shard that changed: written, deleted,
	// expired or evicted.
	Changed(shard string, keys []string)
	// Lost says that changes of shard's keys may go unreported from now
	// until the next Watching (the connection is down, or the store
	// dropped every key at once), or that the store cannot watch shard.
	Lost(shard string, err error)
}

// EvictionCounter is implemented by stores that drop entries to stay within a
// bound; [Cache.Stats] reports the count.
type EvictionCounter interface {
	Evictions() uint64
}

// inProcess is implemented by stores whose calls never block on I/O. The
// Cache calls them without arming a per-call timer, which keeps the hit path
// free of allocations.
type inProcess interface {
	inProcess()
}
