package corral_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
)

// MemoizeMany's table, on a real redis-server.
func TestMemoizeManyOnRedisStore(t *testing.T) { runMemoizeManySuite(t, flushedRedis(t)) }

// flushedRedis starts a redis-server, and returns stores on it that each
// start empty.
func flushedRedis(t *testing.T) newStoreFunc {
	client := redistest.Start(t).Client(t)
	return func(t *testing.T) corral.Store {
		// Our own server: emptying it between subtests is safe here, and
		// something corral itself never does.
		if err := client.FlushDB(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		return redisstore.New(client)
	}
}

// RefreshAhead with DistributedLock refreshes a hot key once across the
// instances that share a Redis: two instances reading it steadily never
// run its computation at the same time.
func TestRefreshAheadOncePerCluster(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	var running, overlaps, runs atomic.Int32
	compute := func(ctx context.Context, id int) (int32, error) {
		if running.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer running.Add(-1)
		time.Sleep(30 * time.Millisecond) // the computation's own time, not a wait for anything
		return runs.Add(1), nil
	}
	var wg sync.WaitGroup
	end := time.Now().Add(1200 * time.Millisecond)
	for range 2 { // two instances: two stores, so no flights shared in process
		c := corral.New(redisstore.New(client), corral.WithPrefix("cluster"))
		get := corral.Memoize(c, "report", 300*time.Millisecond, compute,
			corral.RefreshAhead(2), corral.DistributedLock(time.Second))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				if _, err := get(context.Background(), 1); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if overlaps.Load() > 0 || runs.Load() < 4 {
		t.Fatalf("%d computations, %d of them while another ran; want refreshes (4 or more), never two at once",
			runs.Load(), overlaps.Load())
	}
}
