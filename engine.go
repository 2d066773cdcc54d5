package corral

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/corralhq/corral/internal/envelope"
)

// The read-through engine behind GetOrSet, Memoize and the middleware: look
// the key up, else join (or lead) the one computation of it, else fall back
// to a stale value. It returns what happened; callers pass in how to
// compute, how to encode and when to store.

// served says how a value reached its caller.
type served uint8

const (
	servedComputed  served = iota // this caller's computation ran
	servedHit                     // a fresh stored value
	servedStale                   // an expired value (stale-while-revalidate or -if-error)
	servedCollapsed               // another caller's computation, waited for or just stored
)

// result is what the engine did for one caller.
type result[T any] struct {
	val       T
	served    served
	stored    bool      // computed by this caller and stored
	reason    string    // computed and not stored: why
	failed    bool      // computed, and a failure for stale-if-error (a 5xx)
	writtenAt time.Time // hit or stale: when the value was written
}

// verdict is a storage rule's decision on a computed value.
type verdict struct {
	ttl    time.Duration
	store  bool   // false: neither stored nor handed to other callers
	failed bool   // a failure for stale-if-error, though the value is returned
	reason string // why it is not stored
	// expired: the value is stored already expired (ttl is ignored), kept
	// for keep so that it can be revalidated; it is still handed out.
	expired bool
	keep    time.Duration // how long past its freshness it stays stored to be revalidated
	// mustRevalidate, swr and sie are the value's own stale rules, which
	// the envelope keeps: see envelope.Entry.
	mustRevalidate bool
	swr, sie       time.Duration
	took           time.Duration // how long the computation took, which the envelope keeps (refresh-ahead)
	tags           stamped       // the value's tags with their tokens, which the envelope keeps
}

// job is one read-through call.
type job[T any] struct {
	c       *Cache
	sk, key string // the store key, and the caller's key (for messages)
	flight  string // the flight's key; "": sk
	ttl     time.Duration
	codec   Codec
	tags    []string // the call's own tags, past cfg's (the middleware's route and path)
	share   bool     // values of T may be shared between callers: immutable
	chain   bool     // detect recursion through the context
	// writesToCaller: run may write to its caller directly (the middleware's
	// handler streams), so the caller waits for it to end.
	writesToCaller bool
	cfg            *memoConfig

	// run computes for the callers; release lets the waiters go their own
	// way (a value that will not be shared). refresh computes for a
	// background refresh, which has no caller; nil: run. revalidate, when
	// set, computes instead of both when an expired value was found: with
	// that value, and with a nil release for a background refresh.
	run        func(ctx context.Context, release func()) (T, error)
	refresh    func(ctx context.Context) (T, error)
	revalidate func(ctx context.Context, release func(), stale T) (T, error)
	// rule decides whether and how long a value is stored; nil: always, for ttl.
	rule func(v T, ttl time.Duration) verdict
	// accept says whether a stored value answers this caller; nil: any. One
	// that does not is neither served, fresh or stale, nor revalidated.
	accept func(v T) bool
	// mustValidate: no stored value answers this caller as it is; one that
	// is found is revalidated (an HTTP request's no-cache).
	mustValidate bool
	// storeDown: the caller's own read of the store just failed: the job
	// neither reads nor writes it again (one store timeout per request).
	storeDown bool
	// newerThan, for a refresh: the re-read takes only a value written
	// after the one being refreshed, which may still be fresh.
	newerThan time.Time
	// draw is the read's random factor for refresh-ahead; 0: a draw of
	// its own (see xfetchDraw).
	draw float64
	// background: a refresh, which no caller waits for.
	background bool
}

// computed is what a computation hands its callers.
type computed[T any] struct {
	val       T
	verdict   verdict
	stored    bool
	payload   []byte    // the encoded value, for callers that need their own copy
	codec     Codec     // payload's codec: another Cache on the store may use another
	fromStore bool      // found stored by the re-read: no computation ran
	writtenAt time.Time // when fromStore
}

// load looks the key up, else joins or leads its computation, else falls back
// to a stale value.
func (j *job[T]) load(ctx context.Context) (result[T], error) {
	if j.chain && inChain(ctx, j.c.registry, j.flightKey()) {
		return result[T]{}, fmt.Errorf("%w: %q", ErrRecursion, j.key)
	}
	m := j.c.writes.markOf(j.sk)
	l := lookedUp[T]{basis: basis{storeDown: true}}
	if !j.storeDown {
		l = j.lookup(ctx)
	}
	l.basis.mark = m
	if l.done {
		if l.refresh {
			j.startRefresh(ctx, l.res.val, l.res.writtenAt, l.tags)
		}
		return l.res, l.err
	}
	j.c.stats.misses.Add(1)
	wctx, stop := j.staleBound(ctx, &l)
	res, err := j.join(wctx, &l)
	stop()
	return j.fallback(ctx, l, res, err)
}

// staleBound bounds the caller's wait for the computation by the compute
// timeout when it holds a value that stale-if-error may serve: a function
// that ignores its context does not hold it longer. The caller gets the
// stale value then; the computation goes on without it. A run that writes
// to its caller (the middleware's handler, which may stream to its client)
// keeps its caller until it ends.
func (j *job[T]) staleBound(ctx context.Context, l *lookedUp[T]) (context.Context, context.CancelFunc) {
	if l.stale == nil || j.writesToCaller || !l.stale.UsableStale(time.Now(), max(j.cfg.sie, l.stale.SIE)) {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, j.cfg.computeTimeout)
}

// lookedUp is what a lookup found.
type lookedUp[T any] struct {
	done     bool // res and err answer the caller
	res      result[T]
	err      error
	stale    *envelope.Entry // an expired entry whose value is in staleVal
	staleVal T
	refresh  bool // done, and the value served is to be refreshed in the background
	// tags are the tags of the entry found, which a revalidation of it
	// keeps: a 304 confirms the response, whatever named it.
	tags []envelope.Tag
	basis
}

// basis is what a computation knows of the store from its caller's read.
type basis struct {
	storeDown bool // the read failed: do not read or write the store again
	mark      mark // the key's writes when the caller read it
	reread    bool // read again whatever the mark says
	// tokens are the tokens of the call's known tags, read with the key
	// (nil: not read).
	tokens *prefetched
}

// lookup reads the key: a fresh value (or cached "not found") answers; an
// expired one is served at once under stale-while-revalidate, else kept
// for stale-if-error. A value served that is to be refreshed (stale, or
// fresh and due under refresh-ahead) says so.
func (j *job[T]) lookup(ctx context.Context) lookedUp[T] {
	if j.share && !j.mustValidate && j.cfg.hitsShared() {
		if v, writtenAt, ok := sharedHit[T](j.c, j.sk, j.codec, time.Now()); ok && j.accepts(v) {
			j.c.stats.hits.Add(1)
			return lookedUp[T]{done: true, res: result[T]{val: v, served: servedHit, writtenAt: writtenAt}}
		}
	}
	data, pre, err := j.read(ctx)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			_ = j.c.failed(opGet, j.key, err) // counted and logged; the store is a miss
			if l, ok := j.held(); ok {
				return l // the near cache's copy, under stale-if-error
			}
			return lookedUp[T]{basis: basis{storeDown: true}}
		}
		return lookedUp[T]{basis: basis{tokens: pre}}
	}
	l := j.found(ctx, data, time.Now(), pre)
	l.tokens = pre
	return l
}

// read reads the key and, from a store across the network, the tokens of
// the tags the call knows it will carry (Tags, the middleware's route and
// path) in the same round trip: a hit of a value tagged by them needs no
// other, and neither does a miss before it computes.
func (j *job[T]) read(ctx context.Context) ([]byte, *prefetched, error) {
	if j.c.local || j.c.near != nil || len(j.cfg.tags)+len(j.tags) == 0 {
		data, err := j.c.get(ctx, j.sk)
		return data, nil, err
	}
	pre := &prefetched{}
	sks := make([]string, 1, 1+len(j.cfg.tags)+len(j.tags))
	sks[0] = j.sk
	for _, tags := range [][]string{j.cfg.tags, j.tags} {
		for _, t := range tags {
			if sk, err := j.c.tagKey(t); err == nil {
				sks = append(sks, sk)
				pre.names = append(pre.names, t)
			}
		}
	}
	got, err := j.c.getMany(ctx, sks)
	if err != nil {
		return nil, nil, err
	}
	pre.sks, pre.got = sks[1:], got
	data, ok := got[j.sk]
	if !ok {
		return nil, pre, ErrNotFound
	}
	return data, pre, nil
}

// found says what the bytes read under the key are for this caller at now.
func (j *job[T]) found(ctx context.Context, data []byte, now time.Time, pre *prefetched) lookedUp[T] {
	e, state := envelope.Classify(data, now)
	if len(e.Tags) > 0 && state != envelope.Dead {
		if l, ok := j.invalidated(ctx, e, now, pre); ok {
			return l
		}
	}
	switch state {
	case envelope.Foreign:
		return j.foreign(data)
	case envelope.Fresh:
		if j.mustValidate {
			return j.kept(e)
		}
		l := j.fresh(e)
		l.refresh = l.done && l.err == nil && j.refreshDue(now, e)
		l.tags = e.Tags
		return l
	case envelope.Negative:
		if j.cfg.notFound == nil {
			return lookedUp[T]{} // cached by a call site with CacheNotFound: not ours to read
		}
		j.c.stats.hits.Add(1)
		return lookedUp[T]{done: true, res: result[T]{served: servedHit, writtenAt: e.WrittenAt}, err: j.cfg.cachedError(e.Payload)}
	case envelope.Expired:
		if j.mustValidate {
			return j.kept(e)
		}
		return j.expired(e, now)
	}
	return lookedUp[T]{}
}

// invalidated checks the tags of an entry read at now, and reports true
// with what the caller gets when one of them was invalidated: a miss, or,
// under SoftInvalidate, the value served stale from the invalidation on
// while a refresh runs. A store that cannot say is a failed read.
func (j *job[T]) invalidated(ctx context.Context, e envelope.Entry, now time.Time, pre *prefetched) (lookedUp[T], bool) {
	hold, at, err := j.c.tagsHold(ctx, e.Tags, pre)
	switch {
	case err != nil:
		_ = j.c.failed(opGetMany, j.key, err)
		return lookedUp[T]{basis: basis{storeDown: true}}, true
	case hold:
		return lookedUp[T]{}, false
	}
	j.c.stats.invalidated.Add(1)
	if !j.cfg.soft || at.IsZero() || e.Negative || e.MustRevalidate || j.mustValidate ||
		!now.Before(at.Add(max(j.cfg.swr, e.SWR))) {
		return lookedUp[T]{}, true
	}
	l := j.kept(e)
	if l.stale == nil {
		return lookedUp[T]{}, true
	}
	return j.servedStale(l, true), true
}

// refreshDue reports whether a fresh entry read at now is due for
// refresh-ahead.
func (j *job[T]) refreshDue(now time.Time, e envelope.Entry) bool {
	if j.cfg.beta == 0 {
		return false
	}
	draw := j.draw
	if draw == 0 {
		draw = xfetchDraw()
	}
	return j.cfg.refreshDue(now, e.FreshUntil, e.Took, draw)
}

// foreign reads what is not an envelope: a value written by Set is a hit, as
// in Django's get_or_set; anything that does not decode (another format,
// garbage) is a miss, recomputed and overwritten.
func (j *job[T]) foreign(data []byte) lookedUp[T] {
	var v T
	if j.codec.Unmarshal(data, &v) != nil || !j.accepts(v) {
		return lookedUp[T]{}
	}
	j.c.stats.hits.Add(1)
	return lookedUp[T]{done: true, res: result[T]{val: v, served: servedHit}}
}

// fresh decodes a fresh entry. One that does not decode into T but is a
// value of the codec is the caller's error: it stays stored for the callers
// whose type it is. One that is not a value at all is corrupt: a miss,
// recomputed and overwritten.
func (j *job[T]) fresh(e envelope.Entry) lookedUp[T] {
	var v T
	if err := j.codec.Unmarshal(e.Payload, &v); err != nil {
		j.c.stats.decodeErrors.Add(1)
		if j.codec.Unmarshal(e.Payload, new(any)) != nil {
			return lookedUp[T]{}
		}
		return lookedUp[T]{done: true, err: failure("get", j.key, ErrDecode, fmt.Errorf("into %T: %w", v, err))}
	}
	if !j.accepts(v) {
		return lookedUp[T]{}
	}
	j.c.stats.hits.Add(1)
	return lookedUp[T]{done: true, res: result[T]{val: v, served: servedHit, writtenAt: e.WrittenAt}}
}

// kept keeps a stored value to be revalidated, or for stale-if-error.
func (j *job[T]) kept(e envelope.Entry) lookedUp[T] {
	l := lookedUp[T]{stale: &e}
	if j.codec.Unmarshal(e.Payload, &l.staleVal) != nil || !j.accepts(l.staleVal) {
		return lookedUp[T]{}
	}
	return l
}

// servedStale serves l's kept value stale, counted, and refreshed in the
// background when refresh says so.
func (j *job[T]) servedStale(l lookedUp[T], refresh bool) lookedUp[T] {
	j.c.stats.staleServed.Add(1)
	e := l.stale
	return lookedUp[T]{done: true, refresh: refresh, tags: e.Tags, res: result[T]{val: l.staleVal, served: servedStale, writtenAt: e.WrittenAt}}
}

// expired serves an expired value under stale-while-revalidate, to be
// refreshed in the background, or keeps it for stale-if-error.
func (j *job[T]) expired(e envelope.Entry, now time.Time) lookedUp[T] {
	l := j.kept(e)
	if l.stale == nil {
		return l
	}
	if e.UsableStale(now, max(j.cfg.swr, e.SWR)) {
		return j.servedStale(l, true)
	}
	return l
}

// startRefresh recomputes (or revalidates) the key's value written at
// writtenAt, stale or due for refresh-ahead, in the background, unless a
// computation of it is already running. The refresh has no caller: it never
// writes to one.
func (j *job[T]) startRefresh(ctx context.Context, stale T, writtenAt time.Time, tags []envelope.Tag) {
	j = j.refreshing(writtenAt)
	run := j.run
	switch {
	case j.revalidate != nil:
		revalidate := j.revalidate
		run = func(ctx context.Context, _ func()) (T, error) {
			tagAgain(ctx, tags)
			return revalidate(ctx, nil, stale)
		}
	case j.refresh != nil:
		refresh := j.refresh
		run = func(ctx context.Context, _ func()) (T, error) { return refresh(ctx) }
	}
	detached := context.WithoutCancel(ctx)
	link := j.newLink(ctx)
	j.c.flights.start(j.flightKey(), link, func(func()) (any, error) {
		defer j.c.logPanic()
		j.c.stats.refreshes.Add(1) // only when no computation of the key was running
		return j.compute(detached, run, nil, basis{reread: true}, link)
	})
}

// join leads or joins the computation of the key. A waiter released by the
// leader, or whose wait bound passed, or that cannot use the leader's value,
// computes for itself, outside the flight (but for a failure that
// stale-if-error covers: it gets the stale value instead).
func (j *job[T]) join(ctx context.Context, l *lookedUp[T]) (result[T], error) {
	link := j.newLink(ctx)
	run := j.runFor(l)
	out := j.c.flights.join(ctx, j.flightKey(), j.cfg.joinTimeout, link, func(release func()) (any, error) {
		defer j.c.logPanic()
		return j.compute(ctx, run, release, l.basis, link)
	})
	if out.err == errWaitCycle {
		return result[T]{}, fmt.Errorf("%w: %q waits, through other computations, for itself", ErrRecursion, j.key)
	}
	if out.err != nil {
		if !out.leader && ctx.Err() == nil {
			j.c.stats.collapsed.Add(1)
		}
		return result[T]{served: servedCollapsed}, out.err
	}
	if !out.released {
		got, sameType := out.val.(computed[T]) // another call site may use the key with another type
		if res, ok := j.handOut(got, out.leader); sameType && ok {
			return res, nil
		}
		if sameType && got.verdict.failed { // the shared computation failed (a 5xx): no need to fail again
			if res, ok := j.staleFor(ctx, l); ok {
				return res, nil
			}
		}
	}
	return j.computeAlone(ctx, l.basis, run)
}

// accepts reports whether a stored value answers this caller.
func (j *job[T]) accepts(v T) bool { return j.accept == nil || j.accept(v) }

// runFor is the computation for a caller that looked up l: the revalidation
// of the expired value it found, when the job can revalidate, else run.
func (j *job[T]) runFor(l *lookedUp[T]) func(context.Context, func()) (T, error) {
	if j.revalidate == nil || l.stale == nil {
		return j.run
	}
	stale, tags := l.staleVal, l.stale.Tags
	return func(ctx context.Context, release func()) (T, error) {
		tagAgain(ctx, tags)
		return j.revalidate(ctx, release, stale)
	}
}

// computeAlone computes for this caller only, outside the flight, on a
// goroutine of its own so that the caller still waits with its own context.
func (j *job[T]) computeAlone(ctx context.Context, b basis, run func(context.Context, func()) (T, error)) (result[T], error) {
	link := j.newLink(ctx)
	out := j.c.flights.alone(ctx, link, func(func()) (any, error) {
		defer j.c.logPanic()
		return j.compute(ctx, run, nil, b, link)
	})
	if out.err != nil {
		return result[T]{served: servedComputed}, out.err
	}
	res, _ := j.handOut(out.val.(computed[T]), true)
	return res, nil
}

// newLink returns the chain link of a computation of the key that ctx's
// caller may run, or nil when the job does not detect recursion.
func (j *job[T]) newLink(ctx context.Context) *chain {
	if !j.chain {
		return nil
	}
	return newLink(ctx, j.c.registry, j.flightKey())
}

// flightKey is the key of the key's flight: the store key, unless the
// caller set another (a nested HTTP layer, which must not wait for the
// layer around it).
func (j *job[T]) flightKey() string {
	if j.flight != "" {
		return j.flight
	}
	return j.sk
}

// handOut turns a computation's outcome into this caller's result, and
// reports false when a waiter cannot have it (not shared, or of another
// type on the same key) and must compute for itself.
func (j *job[T]) handOut(got computed[T], own bool) (result[T], bool) {
	if own && !got.fromStore {
		return result[T]{val: got.val, served: servedComputed, stored: got.stored,
			reason: got.verdict.reason, failed: got.verdict.failed}, true
	}
	if !own && !got.verdict.store && !got.fromStore {
		return result[T]{}, false
	}
	res := result[T]{val: got.val, served: servedCollapsed, writtenAt: got.writtenAt}
	if !j.share { // a copy of its own, which it may change
		v, ok := j.copyOf(got)
		if !ok {
			return result[T]{}, false
		}
		res.val = v
	}
	j.c.stats.collapsed.Add(1)
	return res, true
}

// copyOf decodes a copy of a computed value for one more caller, from its
// stored bytes or, when it was not stored, from a new encoding.
func (j *job[T]) copyOf(got computed[T]) (T, bool) {
	var v T
	payload := got.payload
	if payload == nil || !sameCodec(got.codec, j.codec) {
		var err error
		if payload, err = j.codec.Marshal(got.val); err != nil {
			return v, false
		}
	}
	return v, j.codec.Unmarshal(payload, &v) == nil
}

// fallback serves the kept stale value when the computation failed and
// stale-if-error allows it; otherwise a leader's panic goes on in its own
// goroutine. A "not found" that CacheNotFound caches is no failure: it is
// the answer, returned as the callers after it get it from the store.
func (j *job[T]) fallback(ctx context.Context, l lookedUp[T], res result[T], err error) (result[T], error) {
	if (err != nil && !j.cfg.caches(err)) || res.failed {
		if stale, ok := j.staleFor(ctx, &l); ok {
			return stale, nil // a leader's panic was logged by logPanic
		}
	}
	if err != nil {
		reraise(err)
	}
	return res, err
}

// staleFor serves the kept stale value, when stale-if-error allows it now.
func (j *job[T]) staleFor(ctx context.Context, l *lookedUp[T]) (result[T], bool) {
	if l.stale == nil || ctx.Err() != nil || !l.stale.UsableStale(time.Now(), max(j.cfg.sie, l.stale.SIE)) {
		return result[T]{}, false
	}
	j.c.stats.staleServed.Add(1)
	return result[T]{val: l.staleVal, served: servedStale, writtenAt: l.stale.WrittenAt}, true
}

// compute runs fn for the callers of the key: re-read, run, persist. The
// run is detached from the caller's cancellation and bounded by the compute
// timeout, which starts after the re-read (a wait for the distributed lock
// has its own bound) and, under the lock, ends with its lease. It reads
// the key again only where that can find something its caller's read did
// not: under the lock, for a refresh, or when this process wrote or stored
// the key since (a computation that ended just before this one began).
// When the caller's read of the store just failed, it does not read or
// write the store again: one store timeout per request at most. link, when
// not nil, is the computation's chain link: fn's context carries it.
func (j *job[T]) compute(ctx context.Context, fn func(context.Context, func()) (T, error), release func(), b basis, link *chain) (got computed[T], err error) {
	cctx := context.WithoutCancel(ctx)
	if link != nil {
		cctx = link.in(cctx)
		defer link.end()
	}
	cctx, end := j.c.startComputation(cctx, Computation{Key: j.key, Refresh: j.background})
	defer func() { end(computationEnd(got.fromStore, got.stored, got.verdict.reason, err)) }()
	p := j.c.writes.begin(j.sk)
	defer j.c.writes.end(j.sk, p)

	storeDown := b.storeDown
	tags := j.c.newTagSet(j.cfg.tags, j.tags)
	tags.pre = b.tokens
	cctx = context.WithValue(cctx, tagSetKey{}, tags)
	var until time.Time
	if !storeDown && (b.reread || j.cfg.lock || j.c.writes.wroteSince(j.sk, b.mark)) {
		got, held, ok := j.reread(cctx)
		defer held.release()
		if ok {
			return got, nil
		}
		until = held.until
	}
	if !storeDown {
		tags.watch(cctx)
	}
	if until.IsZero() {
		until = time.Now().Add(j.cfg.computeTimeout)
	}
	cctx, cancel := context.WithDeadline(cctx, until)
	defer cancel()
	j.c.stats.computations.Add(1)
	if release == nil {
		release = func() {}
	}
	start := time.Now()
	v, err := fn(cctx, release)
	return j.persist(cctx, p, ran[T]{val: v, err: err, took: time.Since(start), tags: tags}, storeDown)
}

// ran is how one run of a computation ended.
type ran[T any] struct {
	val  T
	err  error
	took time.Duration
	tags *tagSet // the value's tags
}

// refreshing returns a copy of the job for a refresh of the value written
// at writtenAt.
func (j *job[T]) refreshing(writtenAt time.Time) *job[T] {
	r := *j
	r.newerThan, r.background = writtenAt, true
	return &r
}

// reread looks again before computing, since another caller (or instance)
// may have stored the value since this one read a miss; under the
// distributed lock it waits for the instance that holds it, for the lock's
// wait. held gives the lock back, and says until when this instance holds
// it. The store calls are bounded by the compute timeout past the wait.
func (j *job[T]) reread(ctx context.Context) (got computed[T], held heldLock, ok bool) {
	var data []byte
	held.release = func() {}
	bound := j.cfg.computeTimeout
	if j.cfg.lock {
		bound += j.cfg.lockWait
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	if j.cfg.lock {
		held = j.c.acquire(ctx, j.sk, j.key, j.cfg, j.newerThan)
		data = held.data
	} else if d, err := j.c.get(ctx, j.sk); err == nil {
		data = d
	}
	got, ok = j.storedSince(ctx, data, nil)
	return got, held, ok
}

// storedSince reports whether data, read again before computing, is a value
// stored since the caller's read that answers it: a fresh one (newer than
// the one a refresh refreshes), or one written by Set.
func (j *job[T]) storedSince(ctx context.Context, data []byte, pre *prefetched) (got computed[T], ok bool) {
	e, state := envelope.Classify(data, time.Now())
	if len(e.Tags) > 0 {
		if hold, _, err := j.c.tagsHold(ctx, e.Tags, pre); err != nil || !hold {
			return got, false
		}
	}
	switch state {
	case envelope.Foreign: // a value written by Set since the caller's read: a hit, as there
		if data == nil {
			return got, false
		}
		e.Payload = data
	case envelope.Fresh:
		if j.mustValidate || !e.WrittenAt.After(j.newerThan) { // a refresh does not take what it refreshes
			return got, false
		}
	default:
		return got, false
	}
	if j.codec.Unmarshal(e.Payload, &got.val) != nil || !j.accepts(got.val) {
		return got, false
	}
	got.fromStore, got.writtenAt, got.payload, got.codec = true, e.WrittenAt, e.Payload, j.codec
	got.verdict.store = true
	return got, true
}

// persist stores a computed value (or a "not found" under CacheNotFound)
// unless the rule says otherwise or a write overtook the computation. The
// writes are not bound by the compute timeout (the store's own timeout
// bounds them): a value that came late, from a function that did not honour
// its context, is stored like any other.
func (j *job[T]) persist(ctx context.Context, p *pending, r ran[T], storeDown bool) (computed[T], error) {
	ctx = context.WithoutCancel(ctx)
	got := computed[T]{val: r.val}
	if r.err != nil {
		j.c.stats.computeErrors.Add(1)
		if j.cfg.caches(r.err) && !storeDown {
			e, ttl := j.cfg.negativeEntry(j.c, r.err)
			var st stamped
			if st, got.verdict.reason = r.tags.stamp(ctx); got.verdict.reason == "" {
				e.Tags = st.tags
				j.c.storeEntry(ctx, p, j.sk, j.key, &e, ttl, st.creates)
			}
		}
		return got, r.err
	}
	got.verdict = j.verdictOn(r.val)
	if !got.verdict.store {
		return got, nil
	}
	if storeDown {
		got.verdict.reason = "store-unavailable"
		return got, nil
	}
	if got.verdict.tags, got.verdict.reason = r.tags.stamp(ctx); got.verdict.reason != "" {
		// a value that an invalidation overtook is its own caller's only
		got.verdict.store = got.verdict.reason != "invalidated"
		return got, nil
	}
	got.verdict.took = r.took
	got.stored, got.payload = j.store(ctx, p, r.val, got.verdict)
	got.codec = j.codec
	if !got.stored && got.verdict.reason == "" {
		got.verdict.reason = "not-stored"
	}
	return got, nil
}

// verdictOn decides whether and how long a computed value is stored: by the
// job's rule, else for its TTLFunc's TTL or the job's.
func (j *job[T]) verdictOn(v T) verdict {
	if j.rule != nil {
		return j.rule(v, j.ttl)
	}
	ttl, ok := ttlFor(j.cfg, v, j.ttl)
	if !ok {
		return verdict{store: true, expired: true} // handed to the waiters, not stored
	}
	return verdict{ttl: ttl, store: true}
}

// negativeEntry is the entry of a cached "not found", which keeps err's
// message, and how long the store keeps it (0: forever).
func (cfg *memoConfig) negativeEntry(c *Cache, err error) (envelope.Entry, time.Duration) {
	ttl, _ := c.ttl(cfg.negativeTTL) // positive; 0 when forever
	e := envelope.Entry{Negative: true, WrittenAt: time.Now(), Payload: errorMessage(err)}
	if ttl > 0 {
		e.FreshUntil = e.WrittenAt.Add(ttl)
	}
	return e, ttl
}

// store encodes v in an envelope and writes it for the verdict's ttl plus
// the stale window (or the time it is kept for revalidation, when longer),
// and reports whether it did, with the encoded value.
func (j *job[T]) store(ctx context.Context, p *pending, v T, vd verdict) (bool, []byte) {
	e, ttl, ok := j.entry(ctx, v, vd)
	if !ok {
		return false, nil
	}
	return j.c.storeEntry(ctx, p, j.sk, j.key, &e, ttl, vd.tags.creates), e.Payload
}

// entry encodes v in an envelope for the verdict, and returns it with how
// long the store keeps it (0: forever). It reports false when there is
// nothing to store: v is already expired and not to be revalidated, or
// does not encode.
func (j *job[T]) entry(ctx context.Context, v T, vd verdict) (envelope.Entry, time.Duration, bool) {
	ttl, keep := j.c.ttl(vd.ttl)
	if vd.expired {
		ttl, keep = 0, vd.keep > 0
	}
	if !keep {
		return envelope.Entry{}, 0, false
	}
	payload, err := j.codec.Marshal(v)
	if err != nil {
		j.c.log.LogAttrs(ctx, slog.LevelWarn, "corral: computed value does not encode; not cached",
			slog.String("key", j.key), slog.Any("error", err))
		return envelope.Entry{}, 0, false
	}
	e := envelope.Entry{WrittenAt: time.Now(), Payload: payload, MustRevalidate: vd.mustRevalidate, SWR: vd.swr, SIE: vd.sie, Took: vd.took, Tags: vd.tags.tags}
	return e, j.expiries(&e, ttl, vd), true
}

// expiries sets when e stops being fresh and stops being served stale, and
// returns how long the store keeps it (0: forever).
func (j *job[T]) expiries(e *envelope.Entry, ttl time.Duration, vd verdict) time.Duration {
	if ttl == 0 && !vd.expired {
		return 0 // forever
	}
	if ttl > 0 { // at most maxTTL: c.ttl made longer ones forever
		ttl = j.cfg.jittered(ttl)
	}
	e.FreshUntil = e.WrittenAt.Add(ttl)
	window := max(j.cfg.staleWindow(), vd.swr, vd.sie)
	if vd.mustRevalidate {
		window = 0
	}
	if window > maxTTL-ttl || vd.keep > maxTTL-ttl {
		return 0 // kept forever, and never wraps
	}
	e.StaleUntil = e.FreshUntil.Add(window)
	return ttl + max(window, vd.keep)
}

// storeEntry writes e under sk, with the tag tokens it created, unless a
// write overtook the computation, and reports whether it stored. A failure
// to store is counted and otherwise ignored: the value is served.
func (c *Cache) storeEntry(ctx context.Context, p *pending, sk, key string, e *envelope.Entry, ttl time.Duration, creates []tokenWrite) bool {
	stored := false
	p.storeUnlessOvertaken(func() {
		tokens := c.createTokens(ctx, creates, ttl)
		if c.local { // the tokens first: the entry records those another writer created
			adopt(e, tokens())
		}
		set := func(data []byte) error {
			return c.call(ctx, opSet, sk, func(ctx context.Context) error { return c.store.Set(ctx, sk, data, ttl) })
		}
		err := set(e.Encode())
		if adopted := tokens(); err == nil && !c.local && len(adopted) > 0 {
			adopt(e, adopted)
			err = set(e.Encode())
		}
		if err != nil {
			_ = c.failed(opSet, key, err)
			return
		}
		stored = true
	})
	if stored {
		c.writes.noted(sk) // a caller that read a miss before this re-reads it
	}
	return stored
}

// adopt makes e record the tokens another writer created for its tags.
func adopt(e *envelope.Entry, tokens map[int]envelope.Token) {
	for i, tok := range tokens {
		e.Tags[i].Token = tok
	}
}

func (cfg *memoConfig) jittered(ttl time.Duration) time.Duration {
	if cfg.jitter <= 0 {
		return ttl
	}
	return ttl - time.Duration(rand.Float64()*cfg.jitter*float64(ttl))
}

// caches reports whether err is a "not found" that CacheNotFound caches.
func (cfg *memoConfig) caches(err error) bool {
	return cfg.notFound != nil && errors.Is(err, cfg.notFound) && !isContextErr(err)
}

// logPanic, deferred by a computation, logs its panic with the stack to the
// cache's logger and lets the panic go on to the flight, which hands it to
// the callers. The flights may be shared with Caches that log elsewhere.
func (c *Cache) logPanic() {
	if r := recover(); r != nil {
		c.log.Error("corral: computation panicked", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		panic(r)
	}
}
