package corral_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// setAfterFirstRead is a store on which the cache's own Set writes a key
// right after a caller's first read of it has missed: in this process,
// between that read and the computation.
type setAfterFirstRead struct {
	corral.Store
	reads atomic.Int32
	set   func(ctx context.Context) error
}

func (s *setAfterFirstRead) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := s.Store.Get(ctx, key)
	if s.reads.Add(1) == 1 {
		if err := s.set(ctx); err != nil {
			return nil, err
		}
	}
	return data, err
}

// A value written by Set between a caller's read and its computation is a
// hit there too, as it is at the first read: the computation reads the key
// again, does not run and does not store over it.
func TestSetBetweenReadAndRereadWins(t *testing.T) {
	ctx := context.Background()
	store := &setAfterFirstRead{Store: newMemory(t)}
	c := corral.New(store)
	store.set = func(ctx context.Context) error { return c.Set(ctx, "k", "written", time.Minute) }
	var runs atomic.Int32
	v, err := corral.GetOrSet(ctx, c, "k", time.Minute, func(context.Context) (string, error) {
		runs.Add(1)
		return "computed", nil
	})
	if err != nil || v != "written" || runs.Load() != 0 {
		t.Fatalf("GetOrSet = %q, %v after %d runs; want the written value, no run", v, err, runs.Load())
	}
	var got string
	if found, _ := c.Get(ctx, "k", &got); !found || got != "written" {
		t.Fatalf("the store holds %q, want the written value", got)
	}
}

// countingStore counts reads and writes: each call is one round trip on
// Redis.
type countingStore struct {
	corral.Store
	gets, sets atomic.Int32
}

func (s *countingStore) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	s.gets.Add(1)
	return s.Store.(corral.BatchGetter).GetMany(ctx, keys)
}

func (s *countingStore) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	s.sets.Add(1)
	return s.Store.Add(ctx, key, value, ttl)
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.sets.Add(1)
	return s.Store.Set(ctx, key, value, ttl)
}

// A cold miss costs one read and one write (two round trips on Redis): the
// computation reads the key again only when this process wrote it since
// the caller's read. Before, every miss read it twice.
func TestColdMissReadsOnce(t *testing.T) {
	store := &countingStore{Store: newMemory(t)}
	c := corral.New(store)
	for i := range 3 {
		key := fmt.Sprintf("k%d", i)
		if _, err := corral.GetOrSet(context.Background(), c, key, time.Minute, func(context.Context) (int, error) { return i, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if g, s := store.gets.Load(), store.sets.Load(); g != 3 || s != 3 {
		t.Fatalf("3 cold misses: %d reads, %d writes; want 3 and 3", g, s)
	}
}
