package corral

import (
	"sync"
	"sync/atomic"
)

// Stats are a cache's counters since it was made. Views of a cache share
// them; [Cache.ViewStats] and [Cache.FunctionStats] split them by view and
// by memoized function.
type Stats struct {
	Hits   uint64 // Get found a value that decoded
	Misses uint64 // Get found nothing, or a value that did not decode
	// Errors counts store calls that failed or timed out (ErrUnavailable).
	Errors uint64
	// DecodeErrors counts stored values that did not decode (and were deleted).
	DecodeErrors uint64
	// Evictions counts live entries the store dropped to respect its bounds,
	// for stores that implement EvictionCounter.
	Evictions uint64

	// StaleServed counts expired values served by GetOrSet and Memoize
	// (stale-while-revalidate, stale-if-error).
	StaleServed uint64
	// Refreshes counts background refreshes started (stale-while-revalidate).
	Refreshes uint64
	// Collapsed counts callers that waited for another caller's computation
	// of the same key and got its result (RFC 9211's "collapsed").
	Collapsed uint64
	// Computations counts the times a computation ran.
	Computations uint64
	// Revalidated counts stored responses that the handler confirmed with a
	// 304 (HTTP revalidation): each of these computations sent no body.
	Revalidated uint64
	// ComputeErrors counts computations that returned an error.
	ComputeErrors uint64
	// LockWaits counts computations that found the distributed lock held by
	// another instance and waited for it.
	LockWaits uint64
	// Rejected counts store calls not made because the circuit breaker was
	// open (they are misses and dropped writes, at no cost).
	Rejected uint64
	// NearHits counts reads the near cache answered (see [WithNearCache]),
	// with no store call.
	NearHits uint64
	// TagInvalidations counts the tags invalidated through this cache
	// ([Cache.InvalidateTags], [Cache.InvalidateURL], unsafe requests), and
	// Invalidated the stored values and responses found invalidated by a
	// tag when read (each a miss, or a stale value under [SoftInvalidate]).
	TagInvalidations, Invalidated uint64
	// ErrorsByOp splits Errors by store operation (the names of [StoreOps]).
	ErrorsByOp map[string]uint64
	// BreakerState is the circuit breaker's state: "closed", "open" (on a
	// sharded store, while the breaker of any of its servers is open), or
	// "none".
	BreakerState string
	// StoreEntries and StoreBytes are what the memory store holds (0 for
	// other stores).
	StoreEntries, StoreBytes int64
}

// counters are the counts of one scope: a whole cache, one of its views
// (by prefix), or one memoized function in a view. Each count also counts
// in its parent scope's, so that a scope's numbers are exact, and the
// cache's are the sum of its views'.
type counters struct {
	hits, misses, errors, decodeErrors              counter
	staleServed, refreshes, collapsed, computations counter
	computeErrors, lockWaits, rejected, revalidated counter
	nearHits, tagInvalidations, invalidated         counter
	errorsByOp                                      [len(storeOps)]counter
}

// counter is one count of a scope, which also counts in its parent's.
type counter struct {
	n      atomic.Uint64
	parent *counter // the same count of the enclosing scope; nil at the top
}

// Add adds d to the count and to its parents'.
func (c *counter) Add(d uint64) {
	for ; c != nil; c = c.parent {
		c.n.Add(d)
	}
}

func (c *counter) Load() uint64 { return c.n.Load() }

// namedCounts is how many counts all lists before errorsByOp's.
const namedCounts = 15

// all lists the counts, in one fixed order.
func (c *counters) all() []*counter {
	all := []*counter{&c.hits, &c.misses, &c.errors, &c.decodeErrors, &c.staleServed, &c.refreshes,
		&c.collapsed, &c.computations, &c.computeErrors, &c.lockWaits, &c.rejected, &c.revalidated, &c.nearHits,
		&c.tagInvalidations, &c.invalidated}
	for i := range c.errorsByOp {
		all = append(all, &c.errorsByOp[i])
	}
	return all
}

// newCounters returns the counters of a scope inside parent.
func newCounters(parent *counters) *counters {
	c := new(counters)
	mine := c.all()
	for i, p := range parent.all() {
		mine[i].parent = p
	}
	return c
}

// snapshot sums the counts of one or more counters.
func snapshot(cs ...*counters) Stats {
	var n [namedCounts + len(storeOps)]uint64
	for _, c := range cs {
		for i, x := range c.all() {
			n[i] += x.Load()
		}
	}
	s := Stats{
		Hits: n[0], Misses: n[1], Errors: n[2], DecodeErrors: n[3], StaleServed: n[4], Refreshes: n[5],
		Collapsed: n[6], Computations: n[7], ComputeErrors: n[8], LockWaits: n[9], Rejected: n[10], Revalidated: n[11], NearHits: n[12],
		TagInvalidations: n[13], Invalidated: n[14],
		ErrorsByOp: make(map[string]uint64, len(storeOps)),
	}
	for i, op := range storeOps {
		if v := n[namedCounts+i]; v > 0 {
			s.ErrorsByOp[string(op)] = v
		}
	}
	return s
}

// maxScopes bounds the views and the functions a cache counts apart,
// OtherScope included: past it, new ones count together under OtherScope,
// so that the number of series a metrics system sees stays bounded
// whatever the application does (a prefix per tenant, a name per request).
const maxScopes = 256

// OtherScope is the name under which [Cache.ViewStats] and
// [Cache.FunctionStats] count the views and functions past the first 255.
const OtherScope = "(other)"

// scopes holds a cache's counters by view and by function, shared by its
// views.
type scopes struct {
	mu    sync.Mutex
	views map[string]*counters    // by prefix; lazily made
	funcs map[[2]string]*counters // by prefix and name; lazily made
}

// view returns the counters of the views with prefix, made on first use.
func (sc *scopes) view(total *counters, prefix string) *counters {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return scoped(&sc.views, prefix, OtherScope, func() *counters { return newCounters(total) })
}

// function returns the counters of the function name in view, made on
// first use.
func (sc *scopes) function(view *counters, prefix, name string) *counters {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return scoped(&sc.funcs, [2]string{prefix, name}, [2]string{prefix, OtherScope}, func() *counters { return newCounters(view) })
}

// scoped returns m[k], made with make when there is room, else m[other].
func scoped[K comparable](m *map[K]*counters, k, other K, make func() *counters) *counters {
	if c := (*m)[k]; c != nil {
		return c
	}
	if *m == nil {
		*m = map[K]*counters{}
	}
	if len(*m) >= maxScopes-1 { // one place left: OtherScope
		k = other
		if c := (*m)[k]; c != nil {
			return c
		}
	}
	c := make()
	(*m)[k] = c
	return c
}

// ViewStats returns the counters of the cache's views by prefix ("" for
// none): what was read, computed and failed through a view and the views
// of the same prefix (other versions or builds). The store's state
// (evictions, entries, breaker) is the whole cache's: see [Cache.Stats].
// At most 255 prefixes are counted apart; the others count together under
// [OtherScope].
func (c *Cache) ViewStats() map[string]Stats {
	c.scopes.mu.Lock()
	defer c.scopes.mu.Unlock()
	out := make(map[string]Stats, len(c.scopes.views))
	for prefix, cs := range c.scopes.views {
		out[prefix] = snapshot(cs)
	}
	return out
}

// FunctionStats returns the counters of the functions made by [Memoize],
// [MemoizeWithKey] and [MemoizeMany] on the cache and its views, by name
// (one name used in several views counts once, summed): hits, misses,
// stale values served, refreshes, collapsed waits, computations and their
// errors, and the store errors of their calls. A MemoizeMany call counts a
// hit or a miss per id, and a computation per call of its function. At
// most 255 functions are counted apart; the others count together under
// [OtherScope].
func (c *Cache) FunctionStats() map[string]Stats {
	c.scopes.mu.Lock()
	byName := map[string][]*counters{}
	for k, cs := range c.scopes.funcs {
		byName[k[1]] = append(byName[k[1]], cs)
	}
	c.scopes.mu.Unlock()
	out := make(map[string]Stats, len(byName))
	for name, cs := range byName {
		out[name] = snapshot(cs...)
	}
	return out
}

// forFunction returns c as the function name sees it: the same cache,
// counting in the function's counters.
func (c *Cache) forFunction(name string) *Cache {
	fc := *c
	fc.stats = c.scopes.function(c.stats, c.ns.prefix, name)
	fc.fn = name
	return &fc
}
