package corral

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// StoreOp names a store operation, in [Stats].ErrorsByOp and for an
// [Observer].
type StoreOp string

// The store operations a Cache makes.
const (
	opGet         StoreOp = "get"
	opSet         StoreOp = "set"
	opAdd         StoreOp = "add"
	opDelete      StoreOp = "delete"
	opGetMany     StoreOp = "get_many"
	opSetMany     StoreOp = "set_many"
	opTouch       StoreOp = "touch"
	opIncr        StoreOp = "incr"
	opIncrVersion StoreOp = "incr_version"
	opClear       StoreOp = "clear"
	opLock        StoreOp = "lock"
	opUnlock      StoreOp = "unlock"
)

var storeOps = [...]StoreOp{opGet, opSet, opAdd, opDelete, opGetMany, opSetMany, opTouch,
	opIncr, opIncrVersion, opClear, opLock, opUnlock}

// StoreOps returns the store operations that Stats and an [Observer] report
// on, in a new slice.
func StoreOps() []StoreOp { return slices.Clone(storeOps[:]) }

func (op StoreOp) index() int {
	if i := slices.Index(storeOps[:], op); i >= 0 {
		return i
	}
	return 0
}

// Observer sees every call a Cache makes to a store outside this process
// (the memory store is not observed): its operation, how long it took, and
// its error (nil, or ErrNotFound for a miss, which is not a failure). It must
// be fast and safe for concurrent use. The corralprom package has one that
// feeds a Prometheus histogram.
type Observer interface {
	ObserveStoreCall(op StoreOp, took time.Duration, err error)
}

// SetObserver makes o see the cache's store calls, replacing the one an
// earlier SetObserver set (not those of [Cache.AddObserver]); nil removes
// it. The cache's views share it. Safe to call at any time.
func (c *Cache) SetObserver(o Observer) {
	if o == nil {
		c.obs.observer.Store(nil)
		return
	}
	c.obs.observer.Store(&o)
}

// AddObserver makes o see the cache's store calls too, besides the
// observer of [Cache.SetObserver] and those added before, for good: adapters
// such as corralprom add themselves, and leave the application's own
// observer in place. The cache's views share it. Safe to call at any time.
func (c *Cache) AddObserver(o Observer) {
	if o == nil {
		panic("corral: AddObserver(nil)")
	}
	c.obs.mu.Lock()
	defer c.obs.mu.Unlock()
	added := append(c.obs.loadAdded(), o) // a new slice: readers keep theirs
	c.obs.added.Store(&added)
}

// observers is what a cache and its views share for observing the store
// and tracing.
type observers struct {
	observer atomic.Pointer[Observer]
	mu       sync.Mutex                 // serializes AddObserver
	added    atomic.Pointer[[]Observer] // replaced whole, never changed
	tracer   atomic.Pointer[Tracer]
}

func (o *observers) loadAdded() []Observer {
	if a := o.added.Load(); a != nil {
		return slices.Clip(*a)
	}
	return nil
}

// observe reports a finished store call to the observers.
func (c *Cache) observe(op string, took time.Duration, err error) {
	if o := c.obs.observer.Load(); o != nil {
		(*o).ObserveStoreCall(StoreOp(op), took, err)
	}
	if a := c.obs.added.Load(); a != nil {
		for _, o := range *a {
			o.ObserveStoreCall(StoreOp(op), took, err)
		}
	}
}

// logHealth logs a change of the store's health, once per change (on a
// sharded store, per server): failing after consecutive failures, with the
// last one, and recovered at the first success after that.
func (c *Cache) logHealth(shard string, failing bool, err error) {
	if failing {
		c.log.LogAttrs(context.Background(), slog.LevelWarn, "corral: store failing; serving without it",
			append(nodeAttr(shard), slog.Any("error", err))...)
		return
	}
	c.log.LogAttrs(context.Background(), slog.LevelInfo, "corral: store recovered", nodeAttr(shard)...)
}

// nodeAttr names the store's server in a log record, when it has several.
func nodeAttr(shard string) []slog.Attr {
	if shard == "" {
		return nil
	}
	return []slog.Attr{slog.String("node", shard)}
}
