// Package corral makes expensive work happen once.
//
// A [Cache] is a Django-style low-level cache API (Get, Set, Add, Delete,
// GetMany, SetMany, Has, Touch, Incr, Decr, Clear, IncrVersion, key prefixes
// and versions) over a pluggable [Store]: the bounded in-process
// [MemoryStore] by default, or Redis (package redisstore) when a service runs
// on many machines.
//
//	c := corral.New(corral.NewMemoryStore(), corral.WithPrefix("api"))
//	var stats DashboardStats
//	if found, _ := c.Get(ctx, "dashboard", &stats); !found {
//		stats = computeDashboardStats(ctx)
//		_ = c.Set(ctx, "dashboard", stats, time.Minute)
//	}
//
// The store is an optimisation, never a dependency: every store call is
// bounded by a timeout, failures wrap [ErrUnavailable], and a value that does
// not decode is a miss.
package corral
