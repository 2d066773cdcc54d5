package corral

import (
	"hash/maphash"
	"sync"
	"time"
)

// A Memoize hit on the memory store, for a value that can be shared, is
// served from a per-function index of decoded values by argument, without
// building the key or looking the store up: one shard lock, one map lookup,
// one clock read. An indexed value answers while its store entry is live
// and fresh, and its tags' tokens are still the store's (see localTags):
// every write of the key (Set, Delete, Clear, IncrVersion, a computation
// storing anew), eviction and expiry take the entry out of the store's
// map, and the store's release marks it. Anything else falls back to the
// full path, which indexes the value again when it is a fresh hit.

// hitIndex is how memoize reaches the index of one function (nil: none,
// for arguments that cannot be map keys).
type hitIndex[K any, V any] interface {
	get(c *Cache, k K, now time.Time) (V, bool)
	put(c *Cache, k K, sk string, now time.Time)
}

const indexShards = 16

// memoIndex is the index of one memoized function.
type memoIndex[K comparable, V any] struct {
	seed   maphash.Seed
	shards [indexShards]indexShard[K, V]
}

type indexShard[K comparable, V any] struct {
	mu    sync.RWMutex
	m     map[K]*indexed[V]
	sweep int // size at which dead entries are swept out next
	_     [32]byte
}

// indexed is one value of the index and what says it still answers.
type indexed[V any] struct {
	val        V
	freshUntil time.Time  // zero: forever
	item       *memItem   // its store entry
	tags       *localTags // its tags; nil: none
}

// newMemoIndex returns the index of a memoized function, or nil when its
// values cannot be shared (each caller then decodes its own copy).
func newMemoIndex[K comparable, V any]() hitIndex[K, V] {
	if !immutable[V]() {
		return nil
	}
	return &memoIndex[K, V]{seed: maphash.MakeSeed()}
}

func (x *memoIndex[K, V]) shard(k K) *indexShard[K, V] {
	return &x.shards[maphash.Comparable(x.seed, k)%indexShards]
}

// get returns k's indexed value when it still answers at now.
func (x *memoIndex[K, V]) get(c *Cache, k K, now time.Time) (V, bool) {
	s := x.shard(k)
	s.mu.RLock()
	e := s.m[k]
	s.mu.RUnlock()
	var zero V
	if e == nil || e.item.released.Load() ||
		(!e.freshUntil.IsZero() && !now.Before(e.freshUntil)) || !e.tags.hold(c, now) {
		return zero, false
	}
	e.item.node.use()
	return e.val, true
}

// put indexes k's value as the memory store holds it under sk, decoded and
// fresh at now, if it does.
func (x *memoIndex[K, V]) put(c *Cache, k K, sk string, now time.Time) {
	if c.mem == nil {
		return
	}
	item, storedUntil, ok := c.mem.peek(sk, now)
	if !ok {
		return
	}
	d := item.decoded.Load()
	if d == nil || !sameCodec(d.codec, c.codec) {
		return
	}
	until := d.freshUntil // the store may drop it sooner (a near cache's maxAge)
	if !storedUntil.IsZero() && (until.IsZero() || storedUntil.Before(until)) {
		until = storedUntil
	}
	if !until.IsZero() && !now.Before(until) || !d.tags.hold(c, now) {
		return
	}
	v, ok := d.val.(V)
	if !ok {
		return
	}
	s := x.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[K]*indexed[V])
	}
	s.m[k] = &indexed[V]{val: v, freshUntil: until, item: item, tags: d.tags}
	if len(s.m) >= s.sweep {
		s.sweepDead()
	}
}

// sweepDead drops the entries whose store entry is gone, so that the index
// never holds more than the store does (plus what came since the last
// sweep), and sets the size of the next sweep.
func (s *indexShard[K, V]) sweepDead() {
	for k, e := range s.m {
		if e.item.released.Load() {
			delete(s.m, k)
		}
	}
	s.sweep = 2*len(s.m) + 64
}
