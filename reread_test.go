package corral_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// setOnSecondRead is a store on which a value is Set (by another process,
// say) between a caller's first read of a key and its re-read.
type setOnSecondRead struct {
	corral.Store
	reads atomic.Int32
	value []byte
}

func (s *setOnSecondRead) Get(ctx context.Context, key string) ([]byte, error) {
	if s.reads.Add(1) == 2 {
		if err := s.Store.Set(ctx, key, s.value, time.Minute); err != nil {
			return nil, err
		}
	}
	return s.Store.Get(ctx, key)
}

// A value written by Set between a caller's read and its computation's
// re-read is a hit there too, as it is at the first read: the computation
// does not run and does not store over it.
func TestSetBetweenReadAndRereadWins(t *testing.T) {
	ctx := context.Background()
	store := &setOnSecondRead{Store: newMemory(t), value: []byte(`"written"`)}
	c := corral.New(store)
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
