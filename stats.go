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
}

type counters struct {
	hits, misses, errors, decodeErrors atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Hits:         c.hits.Load(),
		Misses:       c.misses.Load(),
		Errors:       c.errors.Load(),
		DecodeErrors: c.decodeErrors.Load(),
	}
}
