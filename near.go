package corral

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corralhq/corral/internal/envelope"
)

// WithNearCache keeps, in this process, a copy of what the cache reads from
// a remote store (Redis), at most maxBytes of it (counted as [MaxBytes]
// counts) and each copy for at most maxAge after it was read, so that a read
// of a key read lately costs no round trip. GetOrSet, Memoize and the HTTP
// middleware serve such a near hit as they serve a hit of the memory store;
// [Stats].NearHits counts them.
//
// On a store that implements [Watcher] (the redisstore package does), the
// copies are kept coherent across instances: a change of a key, by a Cache
// on any instance or by any other client of the store (an expiry and an
// eviction too), drops every instance's copy of it, within about a
// millisecond on one network; a write through this Cache drops it before
// the write returns. While the channel to a server of the store is down, no
// copy of that server's keys is kept, and those kept before are not served
// as fresh (the changes they missed would not have been reported): a caller
// whose read of the store then fails gets them only under [StaleIfError]
// (the failure is the error), as a stale value. A change reported while a
// computation of the key runs here keeps the computation's value out of the
// store, as a write in this process does; one that comes later than the
// computation's own write to the store (they crossed on the network) does
// not.
//
// Only the keys under the cache's prefix are kept, of every version and
// build: a view made with [Cache.WithPrefix] reads through. Values written
// are not kept: the next read fetches them. On a store without Watcher, a
// copy is served for maxAge whatever other instances write (coherent within
// this process only), and New logs a warning saying so. On an in-process
// store (the [MemoryStore]) the option does nothing.
//
// The watch of the store (with Redis, one connection per master) ends when
// the Cache and its views are garbage collected. It panics on maxBytes <= 0
// or maxAge <= 0. Default: no near cache.
func WithNearCache(maxBytes int64, maxAge time.Duration) Option {
	if maxBytes <= 0 || maxAge <= 0 {
		panic(fmt.Sprintf("corral: WithNearCache(%d, %v): want a positive size and age", maxBytes, maxAge))
	}
	return func(c *Cache) { c.nearCfg = nearConfig{maxBytes: maxBytes, maxAge: maxAge} }
}

// nearConfig is what WithNearCache asked for; zero: no near cache.
type nearConfig struct {
	maxBytes int64
	maxAge   time.Duration
}

// nearCache is the copy a Cache keeps of what it reads from a remote store,
// and the sink of the store's watch. A copy is kept only when nothing that
// could have changed the key was seen between the start of the read and the
// keeping (see nearTicket), and only while the channel to the key's server
// is up; a write or a reported change drops it.
type nearCache struct {
	fresh    *MemoryStore // the copies served as they are: the Cache's memory-store hit path reads it
	maxAge   time.Duration
	maxBytes int64
	prefix   string                 // the store keys it keeps: those of the Cache's prefix
	shardOf  func(sk string) string // the server of a store key ("" for a store of one)
	watched  bool                   // the store reports changes; false: copies live maxAge
	overtake func(sks ...string)    // a reported change overtakes the computations of its keys here
	log      *slog.Logger

	seed    maphash.Seed
	stripes [nearStripes]nearStripe

	mu        sync.Mutex
	epoch     atomic.Uint64     // moved on, under mu, by each change of a channel and each drop of every copy
	shards    map[string]bool   // guarded by mu: whether each watched server's channel is up
	held      map[string][]byte // guarded by mu: the copies kept when a channel was lost, for stale-if-error
	heldBytes int64             // guarded by mu
	holding   atomic.Bool       // held is not empty
}

// nearStripes is how many stripes order the keeping of copies with the
// drops of their keys. A drop of a key moves its stripe's sequence on, so a
// read of another key of the stripe in flight then is not kept: more
// stripes, fewer such losses.
const nearStripes = 256

// nearStripe orders keeps and drops of the keys that hash to it.
type nearStripe struct {
	mu  sync.Mutex
	seq atomic.Uint64 // changed under mu
}

// startNear makes the near cache of a Cache over a remote store and starts
// watching the store; the Cache's memory-store hit path then reads the copies.
func (c *Cache) startNear() {
	n := &nearCache{
		fresh:    NewMemoryStore(MaxBytes(c.nearCfg.maxBytes), MaxEntries(0)),
		maxAge:   c.nearCfg.maxAge,
		maxBytes: c.nearCfg.maxBytes,
		prefix:   escapePart(c.ns.prefix) + ":",
		shardOf:  func(string) string { return "" },
		overtake: c.registry.overtakeKeys,
		log:      c.log,
		seed:     maphash.MakeSeed(),
		shards:   make(map[string]bool),
	}
	if c.sharder != nil {
		n.shardOf = c.sharder.Shard // not c.shardOf: the watch must not keep the Cache alive
	}
	c.near, c.mem = n, n.fresh.memoryStore
	w, ok := c.store.(Watcher)
	if !ok {
		c.log.LogAttrs(context.Background(), slog.LevelWarn,
			"corral: the store reports no changes; near cache copies are served for their whole age, whatever other instances write",
			slog.Duration("max_age", n.maxAge))
		return
	}
	n.watched = true
	stop := w.Watch(n.prefix, n)
	runtime.AddCleanup(c.core, func(stop func()) { stop() }, stop)
}

// getThroughNear reads one store key: the near copy when there is one, else
// the store, keeping a copy of what it read.
func (c *Cache) getThroughNear(ctx context.Context, sk string) ([]byte, error) {
	if data, ok := c.near.lookup(sk); ok {
		c.stats.nearHits.Add(1)
		return data, nil
	}
	t, keep := c.near.ticket(sk)
	data, err := c.getRemote(ctx, sk)
	if err == nil && keep {
		c.near.keep(t, sk, data)
	}
	return data, err
}

// getManyThroughNear reads several store keys: the near copies, and the
// others from the store, keeping copies of what it read.
func (c *Cache) getManyThroughNear(ctx context.Context, sks []string) (map[string][]byte, error) {
	got := make(map[string][]byte, len(sks))
	var rest []string
	for _, sk := range sks {
		if data, ok := c.near.lookup(sk); ok {
			c.stats.nearHits.Add(1)
			got[sk] = data
		} else {
			rest = append(rest, sk)
		}
	}
	if len(rest) == 0 {
		return got, nil
	}
	tickets := make([]nearTicket, len(rest))
	keeps := make([]bool, len(rest))
	for i, sk := range rest {
		tickets[i], keeps[i] = c.near.ticket(sk)
	}
	read, err := c.getManyRemote(ctx, rest)
	if err != nil {
		return nil, err
	}
	for i, sk := range rest {
		if data, ok := read[sk]; ok {
			got[sk] = data
			if keeps[i] {
				c.near.keep(tickets[i], sk, data)
			}
		}
	}
	return got, nil
}

// changes reports whether op may change what keys hold. Locks are left
// out: the near cache never holds their keys.
func (op StoreOp) changes() bool {
	switch op {
	case opGet, opGetMany, opLock, opUnlock:
		return false
	}
	return true
}

// held serves a caller whose read of the store failed with the copy the
// near cache held when its channel was lost, under stale-if-error: the
// store's failure is the error, so the copy is served as a stale value and
// nothing is computed. It reports false when there is none, or when the
// caller's stale-if-error window (widened by the value's own) does not
// cover it.
func (j *job[T]) held() (lookedUp[T], bool) {
	if j.c.near == nil || j.mustValidate {
		return lookedUp[T]{}, false
	}
	data, ok := j.c.near.heldCopy(j.sk)
	if !ok {
		return lookedUp[T]{}, false
	}
	now := time.Now()
	e, state := envelope.Classify(data, now)
	window := max(j.cfg.sie, e.SIE)
	usable := (state == envelope.Fresh && window > 0 && !e.MustRevalidate) ||
		(state == envelope.Expired && e.UsableStale(now, window))
	if !usable {
		return lookedUp[T]{}, false
	}
	l := j.kept(e)
	if l.stale == nil {
		return lookedUp[T]{}, false
	}
	return j.servedStale(l, false), true
}

// lookup returns the near copy of sk.
func (n *nearCache) lookup(sk string) ([]byte, bool) {
	e, ok := n.fresh.lookup(sk)
	if !ok {
		return nil, false
	}
	return e.value, true
}

// nearTicket is taken before a read of the store: what the read returns is
// kept only if no drop of the key's stripe, and no change of a channel, came
// in between.
type nearTicket struct {
	stripe     *nearStripe
	seq, epoch uint64
}

// ticket starts a read of sk, and reports whether its value may be kept: sk
// is under the cache's prefix and the channel to its server is up.
func (n *nearCache) ticket(sk string) (nearTicket, bool) {
	if !strings.HasPrefix(sk, n.prefix) {
		return nearTicket{}, false
	}
	st := n.stripeOf(sk)
	t := nearTicket{stripe: st, seq: st.seq.Load()}
	shard := n.shardOf(sk)
	n.mu.Lock()
	defer n.mu.Unlock()
	t.epoch = n.epoch.Load()
	return t, !n.watched || n.shards[shard]
}

// keep keeps a copy of what a read started with t returned, unless the key
// was dropped or a channel changed since t.
func (n *nearCache) keep(t nearTicket, sk string, data []byte) {
	ttl, ok := n.lifetime(data)
	if !ok {
		return
	}
	t.stripe.mu.Lock()
	defer t.stripe.mu.Unlock()
	if t.stripe.seq.Load() != t.seq || n.epoch.Load() != t.epoch {
		return
	}
	if n.fresh.Set(context.Background(), sk, data, ttl) != nil {
		return // larger than the whole near cache
	}
	if n.epoch.Load() != t.epoch { // a channel was lost while we kept it: it was not held
		_ = n.fresh.Delete(context.Background(), sk)
	}
}

// lifetime is how long a copy of data is kept: maxAge, and no longer than
// a memoized value may be served (stale windows included), or a cached
// "not found" is fresh.
func (n *nearCache) lifetime(data []byte) (time.Duration, bool) {
	ttl := n.maxAge
	if e, ok := envelope.Parse(data); ok {
		switch {
		case !e.StaleUntil.IsZero():
			ttl = min(ttl, time.Until(e.StaleUntil))
		case e.Negative && !e.FreshUntil.IsZero():
			ttl = min(ttl, time.Until(e.FreshUntil))
		}
	}
	return ttl, ttl >= time.Millisecond
}

// drop drops the copies of sks, and makes the reads of their stripes in
// flight keep nothing: what they read may predate the change. A write
// drops before it reaches the store and again once it returned, so no
// copy of the old value outlives it. nil drops every copy (Clear).
func (n *nearCache) drop(sks []string) {
	if sks == nil {
		n.dropAll()
		return
	}
	for _, sk := range sks {
		if !strings.HasPrefix(sk, n.prefix) {
			continue
		}
		st := n.stripeOf(sk)
		st.mu.Lock()
		st.seq.Add(1)
		if _, ok := n.fresh.items.Get(sk); ok { // not lookup: a drop is no use of the copy
			_ = n.fresh.Delete(context.Background(), sk)
		}
		st.mu.Unlock()
	}
	if n.holding.Load() {
		n.mu.Lock()
		for _, sk := range sks {
			n.unhold(sk)
		}
		n.mu.Unlock()
	}
}

// dropAll drops every copy, held ones included, and makes every read in
// flight keep nothing.
func (n *nearCache) dropAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.epoch.Add(1)
	_ = n.fresh.Clear(context.Background(), "")
	n.held, n.heldBytes = nil, 0
	n.holding.Store(false)
}

// Watching implements [WatchSink]: copies of shard's keys are kept again,
// and the copies held since its channel was lost are dropped (the store
// answers again; what they missed is unknown).
func (n *nearCache) Watching(shard string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.epoch.Add(1)
	up, known := n.shards[shard]
	n.shards[shard] = true
	for sk := range n.held {
		if n.shardOf(sk) == shard {
			n.unhold(sk)
		}
	}
	if known && !up {
		n.log.LogAttrs(context.Background(), slog.LevelInfo, "corral: near cache watching the store again", nodeAttr(shard)...)
	}
}

// Changed implements [WatchSink]: the keys' copies are dropped, and their
// computations running here will not store their values.
func (n *nearCache) Changed(_ string, keys []string) {
	n.drop(keys)
	n.overtake(keys...)
}

// Lost implements [WatchSink]: no copy is kept until the shard is watched
// again, and every copy stops being served as fresh; they are held for
// stale-if-error.
func (n *nearCache) Lost(shard string, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.epoch.Add(1)
	up, known := n.shards[shard]
	n.shards[shard] = false
	n.holdAll()
	if up || !known {
		n.log.LogAttrs(context.Background(), slog.LevelWarn,
			"corral: near cache lost its channel to the store; copies are not served until it is back",
			append(nodeAttr(shard), slog.Any("error", err))...)
	}
}

// holdAll moves every fresh copy to the held ones, up to maxBytes of them.
// n.mu must be held.
func (n *nearCache) holdAll() {
	now := time.Now()
	for sk, it := range n.fresh.items.Items() {
		e := it.Object.(*memItem)
		if e.node.expired(now) {
			continue
		}
		value := e.value
		size := charge(sk, value)
		if _, dup := n.held[sk]; dup || n.heldBytes+size > n.maxBytes {
			continue
		}
		if n.held == nil {
			n.held = make(map[string][]byte)
		}
		n.held[sk] = value
		n.heldBytes += size
	}
	_ = n.fresh.Clear(context.Background(), "")
	n.holding.Store(len(n.held) > 0)
}

// unhold forgets the held copy of sk. n.mu must be held.
func (n *nearCache) unhold(sk string) {
	if value, ok := n.held[sk]; ok {
		delete(n.held, sk)
		n.heldBytes -= charge(sk, value)
		n.holding.Store(len(n.held) > 0)
	}
}

// heldCopy returns the copy of sk held since a channel was lost.
func (n *nearCache) heldCopy(sk string) ([]byte, bool) {
	if !n.holding.Load() {
		return nil, false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	data, ok := n.held[sk]
	return data, ok
}

func (n *nearCache) stripeOf(sk string) *nearStripe {
	return &n.stripes[maphash.String(n.seed, sk)%nearStripes]
}

// overtakeKeys makes changes of these store keys, reported by the store,
// win over the computations of them in this process, as a write here does.
func (r *registry) overtakeKeys(sks ...string) {
	for _, sk := range sks {
		r.flights.forgetKey(sk)
	}
	r.writes.overtake(sks...)
}
