package corral

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/corralhq/corral/internal/envelope"
)

// A batch is one call of a MemoizeMany function's fn, for the ids whose
// flights one call leads. Each id keeps its own flight, so that a call (or
// a Memoize of the same name) that needs the id joins it; the flights wait
// for the batch, which runs on a goroutine of its own.

// start leads the computation of every item that no other call computes,
// in one batch, and returns each item's flight and whether this call leads
// it. A background refresh (stale-while-revalidate, refresh-ahead) takes
// only values newer than the ones it refreshes, and nobody waits for it.
func (m *manyLoader[K, V]) start(ctx context.Context, items []*item[K, V], background bool) ([]*flight, []bool) {
	if len(items) == 0 {
		return nil, nil
	}
	b := m.newBatch(ctx, nil)
	b.background = background
	flights, leads := make([]*flight, len(items)), make([]bool, len(items))
	for i, it := range items {
		if background {
			it.j.newerThan = it.l.res.writtenAt
		}
		flights[i], leads[i] = m.c.flights.flightOf(it.j.flightKey(), nil, func(func()) (any, error) { return b.outcome(it) })
		if leads[i] {
			b.items = append(b.items, it)
		}
	}
	if len(b.items) > 0 {
		if background {
			m.c.stats.refreshes.Add(uint64(len(b.items)))
		}
		go b.run()
	}
	return flights, leads
}

// batch is one computation of several ids.
type batch[K comparable, V any] struct {
	m          *manyLoader[K, V]
	ctx        context.Context // the leading caller's: its values, not its cancellation
	items      []*item[K, V]   // complete before run starts
	storeDown  bool            // the caller's read failed: no more store calls
	background bool            // a refresh, which no caller waits for
	done       chan struct{}   // closed when every item has its outcome

	ending // written before done is closed
}

func (m *manyLoader[K, V]) newBatch(ctx context.Context, items []*item[K, V]) *batch[K, V] {
	return &batch[K, V]{m: m, ctx: context.WithoutCancel(ctx), items: items, done: make(chan struct{})}
}

// outcome waits for the batch and returns one item's outcome, as its
// flight's: a panic or Goexit of fn happens again in every flight, which
// hands it to that id's callers.
func (b *batch[K, V]) outcome(it *item[K, V]) (any, error) {
	<-b.done
	switch {
	case b.panicked:
		panic(b.panicVal)
	case b.goexit:
		runtime.Goexit()
	}
	return it.got, it.err
}

// run computes the batch and records how fn ended.
func (b *batch[K, V]) run() {
	returned := false
	defer close(b.done)
	defer b.record(&returned)
	b.compute()
	returned = true
}

// compute re-reads the ids, runs fn on those still missing, and stores
// what it returned. The run is bounded by the compute timeout.
func (b *batch[K, V]) compute() {
	c := b.m.c
	defer c.logPanic()
	var end func(ComputationEnd)
	b.ctx, end = c.startComputation(b.ctx, Computation{Key: b.items[0].j.key, IDs: len(b.items), Refresh: b.background})
	defer func() { end(b.end()) }()
	b.storeDown = slices.ContainsFunc(b.items, func(it *item[K, V]) bool { return it.l.storeDown })
	for _, it := range b.items {
		it.p = c.writes.begin(it.j.sk)
		defer c.writes.end(it.j.sk, it.p)
	}
	todo := b.reread()
	if len(todo) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.m.cfg.computeTimeout)
	defer cancel()
	tags := c.newTagSet(b.m.cfg.tags) // Tag(ctx) in fn tags every value of the batch
	ctx = context.WithValue(ctx, tagSetKey{}, tags)
	if !b.storeDown {
		tags.watch(ctx)
	}
	ids := make([]K, len(todo))
	for i, it := range todo {
		ids[i] = it.k
	}
	c.stats.computations.Add(1)
	start := time.Now()
	vals, err := b.m.fn(ctx, ids)
	b.persist(context.WithoutCancel(ctx), todo, ran[map[K]V]{val: vals, err: err, took: time.Since(start), tags: tags})
}

// end says how the batch ended, once every item has its outcome: failed,
// found stored, stored (any id), or not stored.
func (b *batch[K, V]) end() ComputationEnd {
	fromStore, stored, reason := true, false, ""
	for _, it := range b.items {
		var f *fnFailed
		if errors.As(it.err, &f) {
			return computationEnd(false, false, "", f.err)
		}
		fromStore = fromStore && it.got.fromStore
		stored = stored || it.got.stored
		reason = cmp.Or(reason, it.got.verdict.reason)
	}
	return computationEnd(fromStore, stored, reason, nil)
}

// reread looks again, in one batched read, before computing: another call
// (or instance) may have stored some ids since this one read them. It
// returns the items still to compute.
func (b *batch[K, V]) reread() []*item[K, V] {
	if b.storeDown {
		return b.items
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.m.cfg.computeTimeout)
	defer cancel()
	sks := make([]string, len(b.items))
	for i, it := range b.items {
		sks[i] = it.j.sk
	}
	data, err := b.m.c.getMany(ctx, sks)
	if err != nil {
		return b.items
	}
	pre := b.m.c.tagsOfMany(ctx, data)
	var todo []*item[K, V]
	for _, it := range b.items {
		if got, ok := it.j.storedSince(ctx, data[it.j.sk], pre); ok {
			it.got = got
			continue
		}
		todo = append(todo, it)
	}
	return todo
}

// persist gives each computed item its outcome, and stores the values, and
// the ids fn left out under CacheNotFound, in batched writes. A failure of
// fn fails every item, and stores nothing.
func (b *batch[K, V]) persist(ctx context.Context, todo []*item[K, V], r ran[map[K]V]) {
	vals, err, took := r.val, r.err, r.took
	if err != nil {
		b.m.c.stats.computeErrors.Add(1)
		failed := &fnFailed{err: err}
		for _, it := range todo {
			it.err = failed
		}
		return
	}
	var w batchWrite[K, V]
	var tags stamped
	why := ""
	if !b.storeDown {
		tags, why = r.tags.stamp(ctx)
	}
	storeTTL, _ := b.m.c.ttl(b.m.ttl)
	defer b.m.c.createTokens(ctx, tags.creates, storeTTL)() // written with the entries, before the callers go
	for _, it := range todo {
		v, ok := vals[it.k]
		if !ok {
			it.err = b.m.missing()
			if b.m.cfg.notFound != nil && !b.storeDown && why == "" {
				e, ttl := b.m.cfg.negativeEntry(b.m.c, it.err)
				e.Tags = tags.tags
				w.add(nil, it, e.Encode(), ttl)
			}
			continue
		}
		it.got = computed[V]{val: v, verdict: it.j.verdictOn(v), codec: it.j.codec}
		it.got.verdict.took, it.got.verdict.tags = took, tags
		if why != "" && it.got.verdict.store {
			it.got.verdict.reason, it.got.verdict.store = why, why != "invalidated"
			continue
		}
		b.encode(ctx, &w, it)
	}
	w.write(ctx, b.m.c)
}

// encode adds an item's computed value to the writes, unless it is not to
// be stored, and says why not.
func (b *batch[K, V]) encode(ctx context.Context, w *batchWrite[K, V], it *item[K, V]) {
	if b.storeDown {
		it.got.verdict.reason = "store-unavailable"
		return
	}
	e, ttl, ok := it.j.entry(ctx, it.got.val, it.got.verdict)
	if !ok {
		it.got.verdict.reason = "not-stored"
		return
	}
	it.got.payload = e.Payload
	w.add(&it.got, it, e.Encode(), b.m.c.unjittered(ttl, e, it.got.verdict))
}

// fnFailed is the error of the ids whose batch failed: fn's own error, as
// the callers of each id get it. It is never a "not found", whatever it
// wraps: a failure of fn never marks its ids missing.
type fnFailed struct{ err error }

func (e *fnFailed) Error() string { return e.err.Error() }
func (e *fnFailed) Unwrap() error { return e.err }

// missing is the error of an id that fn left out of its map: the target of
// CacheNotFound when the call site caches it, else one wrapping ErrNotFound.
func (m *manyLoader[K, V]) missing() error {
	if m.cfg.notFound != nil {
		return &cachedError{msg: m.cfg.notFound.Error(), target: m.cfg.notFound}
	}
	return fmt.Errorf("%w: %s returned no value for it", ErrNotFound, m.name)
}

// unjittered is how long the store keeps an entry, as if the TTL had no
// jitter: the entry's own times say when it expires, and entries of one
// TTL are written in one call.
func (c *Cache) unjittered(storeTTL time.Duration, e envelope.Entry, vd verdict) time.Duration {
	ttl, _ := c.ttl(vd.ttl)
	if storeTTL == 0 || ttl == 0 || vd.expired {
		return storeTTL
	}
	return storeTTL + ttl - e.FreshUntil.Sub(e.WrittenAt)
}

// batchWrite is what a batch stores, by how long the store keeps it: one
// batched write per store TTL.
type batchWrite[K comparable, V any] struct {
	groups map[time.Duration][]entryWrite[K, V]
}

// entryWrite is one entry to store; got, when not nil, learns whether it was.
type entryWrite[K comparable, V any] struct {
	got  *computed[V]
	it   *item[K, V]
	data []byte
}

func (w *batchWrite[K, V]) add(got *computed[V], it *item[K, V], data []byte, ttl time.Duration) {
	if w.groups == nil {
		w.groups = make(map[time.Duration][]entryWrite[K, V])
	}
	w.groups[ttl] = append(w.groups[ttl], entryWrite[K, V]{got: got, it: it, data: data})
}

// write stores each group in one call, leaving out the ids that a write
// overtook. It holds the computations' marks meanwhile (taken in key order,
// one group at a time), so that a write that comes second wins in the store
// too.
func (w *batchWrite[K, V]) write(ctx context.Context, c *Cache) {
	for ttl, group := range w.groups {
		slices.SortFunc(group, func(a, b entryWrite[K, V]) int { return cmp.Compare(a.it.j.sk, b.it.j.sk) })
		items := make(map[string][]byte, len(group))
		var sks []string
		for _, e := range group {
			e.it.p.mu.Lock()
			if !e.it.p.overtaken {
				items[e.it.j.sk] = e.data
				sks = append(sks, e.it.j.sk)
			}
		}
		var err error
		if len(items) > 0 {
			err = c.callKeys(ctx, opSetMany, sks, func(ctx context.Context) error { return c.writeMany(ctx, items, ttl) })
		}
		if err != nil {
			_ = c.failed(opSetMany, group[0].it.j.key, err)
		}
		for _, e := range group {
			if _, ok := items[e.it.j.sk]; ok && err == nil && e.got != nil {
				e.got.stored = true
			} else if e.got != nil {
				e.got.verdict.reason = "not-stored"
			}
			e.it.p.mu.Unlock()
		}
	}
}
