package corral

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// StoreOps are the names of the store operations that Stats and an
// [Observer] report on.
var StoreOps = []string{"get", "set", "add", "delete", "get_many", "set_many", "touch", "incr", "incr_version", "clear", "lock", "unlock"}

func opIndex(op string) int {
	for i, o := range StoreOps {
		if o == op {
			return i
		}
	}
	return 0 // "has" and other reads are gets
}

// Observer sees every call a Cache makes to a store outside this process
// (the memory store is not observed): its operation (one of [StoreOps]), how
// long it took, and its error (nil, or ErrNotFound for a miss, which is not a
// failure). It must be fast and safe for concurrent use. The corralprom
// package has one that feeds a Prometheus histogram.
type Observer interface {
	ObserveStoreCall(op string, took time.Duration, err error)
}

// SetObserver makes o see the cache's store calls, replacing any earlier
// one; nil removes it. The cache's views share it. Safe to call at any time.
func (c *Cache) SetObserver(o Observer) {
	if o == nil {
		c.obs.observer.Store(nil)
		return
	}
	c.obs.observer.Store(&o)
}

// observers is what a cache and its views share for observing the store.
type observers struct {
	observer atomic.Pointer[Observer]
	failing  atomic.Bool // the last store call that says anything about the store failed
}

// observe reports a finished store call, and logs the store's health once per
// change: failing after a success, recovered after a failure.
func (c *Cache) observe(op string, start time.Time, err error) {
	if o := c.obs.observer.Load(); o != nil {
		(*o).ObserveStoreCall(op, time.Since(start), err)
	}
	switch healthy := storeAnswered(err); {
	case !healthy && c.obs.failing.CompareAndSwap(false, true):
		c.log.LogAttrs(context.Background(), slog.LevelWarn, "corral: store failing; serving without it",
			slog.String("op", op), slog.Any("error", err))
	case healthy && c.obs.failing.CompareAndSwap(true, false):
		c.log.LogAttrs(context.Background(), slog.LevelInfo, "corral: store recovered", slog.String("op", op))
	}
}
