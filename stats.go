package corral

import "sync/atomic"

// Stats are a cache's counters since it was made. Views of a cache share them.
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

type counters struct {
	hits, misses, errors, decodeErrors              atomic.Uint64
	staleServed, refreshes, collapsed, computations atomic.Uint64
	computeErrors, lockWaits, rejected, revalidated atomic.Uint64
	nearHits                                        atomic.Uint64
	errorsByOp                                      [len(storeOps)]atomic.Uint64
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Hits:          c.hits.Load(),
		Misses:        c.misses.Load(),
		Errors:        c.errors.Load(),
		DecodeErrors:  c.decodeErrors.Load(),
		StaleServed:   c.staleServed.Load(),
		Refreshes:     c.refreshes.Load(),
		Collapsed:     c.collapsed.Load(),
		Computations:  c.computations.Load(),
		Revalidated:   c.revalidated.Load(),
		ComputeErrors: c.computeErrors.Load(),
		LockWaits:     c.lockWaits.Load(),
		Rejected:      c.rejected.Load(),
		NearHits:      c.nearHits.Load(),
		ErrorsByOp:    make(map[string]uint64, len(storeOps)),
	}
	for i, op := range storeOps {
		if n := c.errorsByOp[i].Load(); n > 0 {
			s.ErrorsByOp[string(op)] = n
		}
	}
	return s
}
