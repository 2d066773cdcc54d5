package corral

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MemoizeMany wraps fn, which loads many values at once (one query with
// IN, one call of an API that takes a list of ids), so that its results
// are cached one per id, and fn is asked only for the ids that are missing:
// the cure for the N+1 query.
//
// A call reads every id in one batched read of the store ([BatchGetter]:
// one MGET per hash slot on Redis), returns the values found, and calls fn
// once with the ids that were missing. Concurrent calls whose ids overlap
// compute each id once: an id that another call (or a [Memoize] call of the
// same name) is computing is waited for, not asked again. Each id is stored
// under the key [Memoize] with the same name gives it (name + ":" + the
// part of k, see [MemoizeKey]), so Memoize and MemoizeMany of one name
// share their values both ways, and c.Delete(ctx, "user:42") drops one.
//
// An id that fn's map leaves out is left out of the result too: it has no
// value. With [CacheNotFound] it is cached as such for the option's ttl (a
// Memoize of the same name then gets the option's error for it); without,
// the next call asks fn again. Ids fn returns but was not asked for are
// ignored. Duplicate ids are asked for once.
//
// A failure of fn (an error, a panic, the compute timeout) fails the ids it
// was asked for, and only those: it never caches them as missing. The call
// then returns the values it has (hits, and the ids of other calls'
// computations) with an error that says which ids failed; with
// [StaleIfError], an id that has a recent value gets it instead, with no
// error. [StaleWhileRevalidate] and [RefreshAhead] refresh stale and
// expiring ids in the background, in one call of fn per call that finds
// them. [TTLFunc] sets each id's TTL from its value; [Jitter],
// [ComputeTimeout] and [CacheNotFound] apply per call of fn as they apply to
// Memoize. [DistributedLock] and [JoinTimeout] do not apply: a batch is
// computed once per process, and its callers wait for it until
// ComputeTimeout. Recursion is not detected in batches: a fn that asks,
// through the cache, for an id it is computing waits for itself until
// ComputeTimeout.
//
// fn runs with a context detached from the caller's cancellation, bounded
// by ComputeTimeout, and carrying the caller's values; each caller waits
// with its own context. A panic in fn re-panics in the caller whose call
// ran it and gives the other callers of its ids an error wrapping
// [ErrPanicked]. MemoizeMany panics on an empty name, a nil fn, or a K
// that [Memoize] refuses.
//
// WARNING: the callers that share one computation share its result,
// computed with the first caller's context; see [GetOrSet].
func MemoizeMany[K comparable, V any](c *Cache, name string, ttl time.Duration,
	fn func(context.Context, []K) (map[K]V, error), opts ...MemoOption) func(context.Context, []K) (map[K]V, error) {
	encode, err := keyEncoderFor[K]()
	switch {
	case err != nil:
		panic(err.Error())
	case name == "":
		panic("corral: MemoizeMany with an empty name")
	case fn == nil:
		panic("corral: MemoizeMany with a nil function")
	}
	cfg := newMemoConfig(opts)
	mustTakeTTLOf[V](&cfg)
	m := &manyLoader[K, V]{c: c.forFunction(name), name: name, ttl: ttl, cfg: &cfg, prefix: escapeName(name) + ":",
		encode: encode, fn: fn, share: immutable[V]()}
	return m.load
}

// manyLoader is a function made by MemoizeMany.
type manyLoader[K comparable, V any] struct {
	c      *Cache
	name   string
	ttl    time.Duration
	cfg    *memoConfig
	prefix string // the escaped name and ':'
	encode func(K) (string, error)
	fn     func(context.Context, []K) (map[K]V, error)
	share  bool // values of V may be shared between callers: immutable
}

// item is one id of a call: its job (keys, codec, options), what the read
// of its key found and, once a batch has computed it, its outcome.
type item[K comparable, V any] struct {
	k K
	j job[V]
	l lookedUp[V]

	// Written by the batch that computes the id, before its done closes:
	p   *pending // the id's computation, which a write overtakes
	got computed[V]
	err error
}

// load is the function MemoizeMany returns: read every id, then compute
// the missing ones.
func (m *manyLoader[K, V]) load(ctx context.Context, ids []K) (map[K]V, error) {
	if err := ctx.Err(); err != nil { // the caller has left: nothing to read or start for it
		return nil, err
	}
	items, err := m.items(ids)
	if err != nil {
		return nil, err
	}
	out := make(map[K]V, len(items))
	missing, errs := m.read(ctx, items, out)
	if len(missing) > 0 {
		errs = append(errs, m.fill(ctx, missing, out)...)
	}
	return out, errors.Join(errs...)
}

// items makes the items of ids, once per distinct id.
func (m *manyLoader[K, V]) items(ids []K) ([]*item[K, V], error) {
	items := make([]*item[K, V], 0, len(ids))
	backing := make([]item[K, V], len(ids)) // one allocation for all
	seen := make(map[K]struct{}, len(ids))
	for _, k := range ids {
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		key, err := memoKey(m.prefix, m.encode, k)
		if err != nil {
			return nil, err
		}
		sk, err := m.c.key(key)
		if err != nil {
			return nil, err
		}
		it := &backing[len(items)]
		it.k, it.j = k, job[V]{c: m.c, sk: sk, key: key, ttl: m.ttl, codec: m.c.codec, share: m.share, cfg: m.cfg}
		items = append(items, it)
	}
	return items, nil
}

// read looks every id up in one batched read, puts what it found into out,
// starts the refreshes of what it found stale or due, and returns the ids
// to compute, and the errors of ids whose values do not decode.
func (m *manyLoader[K, V]) read(ctx context.Context, items []*item[K, V], out map[K]V) (missing []*item[K, V], errs []error) {
	rest := m.sharedHits(items, out)
	if len(rest) == 0 {
		return nil, nil
	}
	data, storeDown := m.fetch(ctx, rest)
	pre := m.c.tagsOfMany(ctx, data)
	var refresh []*item[K, V]
	now, draw := time.Now(), xfetchDraw() // one draw: ids computed together are refreshed together
	for _, it := range rest {
		it.j.draw = draw
		if raw, ok := data[it.j.sk]; ok {
			it.l = it.j.found(ctx, raw, now, pre)
		}
		it.l.storeDown = storeDown
		switch {
		case !it.l.done:
			m.c.stats.misses.Add(1)
			missing = append(missing, it)
		case it.l.err != nil && !m.cfg.caches(it.l.err): // a value of another type
			errs = append(errs, it.l.err)
		case it.l.err == nil: // a cached "not found" is left out
			out[it.k] = it.l.res.val
			if it.l.refresh {
				refresh = append(refresh, it)
			}
		}
	}
	m.start(ctx, refresh, true)
	return missing, errs
}

// sharedHits serves the ids that the memory store holds decoded (values
// of immutable types), and returns the others.
func (m *manyLoader[K, V]) sharedHits(items []*item[K, V], out map[K]V) []*item[K, V] {
	if !m.share || m.c.mem == nil || !m.cfg.hitsShared() {
		return items
	}
	rest := items[:0:0]
	now := time.Now()
	for _, it := range items {
		if v, _, ok := sharedHit[V](m.c, it.j.sk, it.j.codec, now); ok {
			m.c.stats.hits.Add(1)
			out[it.k] = v
			continue
		}
		rest = append(rest, it)
	}
	return rest
}

// fetch reads the items' keys in one batched read. A store that fails is a
// miss of every id, and is neither read nor written again by this call.
func (m *manyLoader[K, V]) fetch(ctx context.Context, items []*item[K, V]) (map[string][]byte, bool) {
	sks := make([]string, len(items))
	for i, it := range items {
		sks[i] = it.j.sk
	}
	data, err := m.c.getMany(ctx, sks)
	if err != nil {
		_ = m.c.failed(opGetMany, items[0].j.key, err) // counted and logged; the store is a miss
		return nil, true
	}
	return data, false
}

// fill computes the missing ids, or waits for the computations of them
// that other calls run, and puts their values into out. It returns the
// errors of the ids that failed.
func (m *manyLoader[K, V]) fill(ctx context.Context, missing []*item[K, V], out map[K]V) []error {
	flights, leads := m.start(ctx, missing, false)
	var failed idFailures
	var mine error // a panic or Goexit of this call's own computation, carried on at the end
	for i, it := range missing {
		got, err := m.wait(ctx, flights[i], leads[i], it)
		switch {
		case err == nil:
			out[it.k] = got
		case m.absent(err):
		case isLeaderEnd(err):
			mine = err
		default:
			if v, ok := m.staleFor(ctx, it); ok {
				out[it.k] = v
				continue
			}
			failed.add(fmt.Sprint(it.k), err)
		}
	}
	if mine != nil {
		reraise(mine)
	}
	if err := ctx.Err(); err != nil {
		return []error{err}
	}
	return failed.errors(m.name)
}

// idFailures gathers the ids that failed by their error's message, so
// that the ids of one failed batch make one error.
type idFailures []idFailure

type idFailure struct {
	ids []string
	err error
}

func (f *idFailures) add(id string, err error) {
	for i := range *f {
		if (*f)[i].err.Error() == err.Error() {
			(*f)[i].ids = append((*f)[i].ids, id)
			return
		}
	}
	*f = append(*f, idFailure{ids: []string{id}, err: err})
}

// errors returns one error per message, naming its ids and wrapping the
// first of its errors.
func (f idFailures) errors(name string) []error {
	errs := make([]error, len(f))
	for i, x := range f {
		errs[i] = fmt.Errorf("corral: %s %s: %w", name, strings.Join(x.ids, ","), x.err)
	}
	return errs
}

// wait waits for the flight of one id with ctx, and returns its value for
// this caller. A value it cannot have (computed by a call site that uses
// the key with another type) it computes alone.
func (m *manyLoader[K, V]) wait(ctx context.Context, fl *flight, leader bool, it *item[K, V]) (V, error) {
	var zero V
	select {
	case <-fl.done:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	out := fl.result(leader)
	if out.err != nil {
		if !leader {
			m.c.stats.collapsed.Add(1)
		}
		return zero, out.err
	}
	got, sameType := out.val.(computed[V])
	if res, ok := it.j.handOut(got, leader); sameType && ok {
		return res.val, nil
	}
	return m.alone(ctx, it)
}

// alone computes one id for this caller only, outside the flights.
func (m *manyLoader[K, V]) alone(ctx context.Context, it *item[K, V]) (V, error) {
	b := m.newBatch(ctx, []*item[K, V]{it})
	out := m.c.flights.alone(ctx, nil, func(func()) (any, error) {
		go b.run()
		return b.outcome(it)
	})
	var zero V
	if out.err != nil {
		return zero, out.err
	}
	res, _ := it.j.handOut(out.val.(computed[V]), true)
	return res.val, nil
}

// absent reports whether an id's error says it has no value: left out by
// fn, a "not found" that CacheNotFound caches, or ErrNotFound from a
// Memoize of the same name. A failure of fn is never one.
func (m *manyLoader[K, V]) absent(err error) bool {
	var f *fnFailed
	return !errors.As(err, &f) && (errors.Is(err, ErrNotFound) || m.cfg.caches(err))
}

// staleFor serves an id's recent value when its computation failed and
// stale-if-error allows it.
func (m *manyLoader[K, V]) staleFor(ctx context.Context, it *item[K, V]) (V, bool) {
	res, ok := it.j.staleFor(ctx, &it.l)
	return res.val, ok
}

// isLeaderEnd reports whether err carries a panic or Goexit of the caller's
// own computation.
func isLeaderEnd(err error) bool {
	var lp *leaderPanic
	return errors.As(err, &lp) || err == errLeaderGoexit
}
