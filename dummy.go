package corral

import (
	"context"
	"time"
)

// DummyStore is a [Store] that stores nothing, as Django's DummyCache: every
// Get is a miss, and Set, Add and Delete succeed and keep nothing. Use it in
// development and tests to run code that caches without caching: every
// GetOrSet and Memoize call computes (concurrent calls for one key still
// share one computation, which happens in the process), and every HTTP
// response is rendered again.
//
// Add reports true, as Django's does, so it is no lock: two concurrent Adds
// of one key both succeed (a [DistributedLock] then never waits). Caches made
// with one DummyStore share their computations in flight, as with any store.
type DummyStore struct {
	_ byte // not zero-sized: two DummyStores are two stores
}

// NewDummyStore returns a store that stores nothing.
func NewDummyStore() *DummyStore { return new(DummyStore) }

var _ Store = (*DummyStore)(nil)

// Get implements [Store]: always [ErrNotFound].
func (*DummyStore) Get(ctx context.Context, key string) ([]byte, error) { return nil, ErrNotFound }

// Set implements [Store]: it keeps nothing.
func (*DummyStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return nil
}

// Add implements [Store]: it keeps nothing, and reports true.
func (*DummyStore) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	return true, nil
}

// Delete implements [Store].
func (*DummyStore) Delete(ctx context.Context, keys ...string) error { return nil }

func (*DummyStore) inProcess() {}
