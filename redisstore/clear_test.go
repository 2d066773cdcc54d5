package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// keyspace sizes of the Clear tests: a large keyspace, of which a few keys
// are under each cleared prefix.
const (
	keyspace = 300_000
	matching = 1_000
)

// Clear of 1,000 keys among 300,000 on one node, through a Cache with the
// default 100 ms timeout: SCAN needs several times that for the whole
// keyspace, so the clear goes on past its caller's deadline, under its own
// budget, and completes; the caller learns it with an answer, not an
// outage. Then a store whose ClearTimeout is too short for one pass: each
// Clear resumes where the previous one stopped, so repeated Clears
// complete, having scanned the keyspace about once.
func TestClearLargeKeyspace(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	scans := &scanCounter{}
	client.AddHook(scans)
	load(t, client, map[string]int{"other": keyspace - 2*matching, "gone": matching, "resumed": matching})

	t.Run("through a Cache", func(t *testing.T) {
		clearThroughCache(t, client, "gone")
		checkCleared(t, client, "gone")
	})

	t.Run("resumed", func(t *testing.T) {
		s := redisstore.New(client, redisstore.ClearTimeout(20*time.Millisecond))
		scans.n.Store(0)
		if err := redisstore.New(client).Clear(context.Background(), "absent:"); err != nil { // one whole pass, uninterrupted
			t.Fatal(err)
		}
		onePass := scans.n.Load()
		scans.n.Store(0)
		calls := 1
		for err := s.Clear(context.Background(), "resumed:"); err != nil; calls++ {
			if !errors.Is(err, corral.ErrDeclined) || calls == 1000 {
				t.Fatalf("Clear %d with a 20 ms ClearTimeout: %v", calls, err)
			}
			err = s.Clear(context.Background(), "resumed:")
		}
		n := scans.n.Load()
		t.Logf("%d Clears with a 20 ms ClearTimeout: %d SCANs in all (one uninterrupted pass: %d)", calls, n, onePass)
		checkCleared(t, client, "resumed")
		if n > onePass*6/5+int64(calls) {
			t.Fatalf("%d SCANs over %d Clears, against %d for one pass: the Clears did not resume", n, calls, onePass)
		}
	})
	if n, err := client.DBSize(context.Background()).Result(); err != nil || n != keyspace-2*matching {
		t.Fatalf("DBSIZE = %d, %v after the Clears; want %d: a key outside the prefixes went", n, err, keyspace-2*matching)
	}
}

// The same Clear on the three-node Cluster.
func TestClearLargeKeyspaceCluster(t *testing.T) {
	redistest.ClusterWanted(t)
	cluster := redistest.StartCluster(t, 3)
	client := cluster.Client(t)
	load(t, client, map[string]int{"other": keyspace - matching, "gone": matching})
	clearThroughCache(t, client, "gone")
	checkCleared(t, client, "gone")
	if left := count(t, client, "other:*"); left != keyspace-matching {
		t.Fatalf("%d keys of another prefix left, want %d", left, keyspace-matching)
	}
}

// clearThroughCache clears prefix through a Cache with the default
// settings, calling Clear again until it reports the clear done.
func clearThroughCache(t *testing.T, client redis.UniversalClient, prefix string) {
	t.Helper()
	c := corral.New(redisstore.New(client), corral.WithPrefix(prefix))
	start := time.Now()
	err := c.Clear(context.Background())
	first := time.Since(start)
	calls := 1
	for ; err != nil; calls++ {
		if !errors.Is(err, corral.ErrDeclined) || time.Since(start) > time.Minute {
			t.Fatalf("Clear: %v", err)
		}
		err = c.Clear(context.Background())
	}
	t.Logf("Clear of the keys under %s: the first call returned after %v, done after %v and %d calls",
		prefix, first.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), calls)
	if first > time.Second {
		t.Errorf("the first Clear returned after %v, want its caller's timeout", first)
	}
	if st := c.Stats(); st.BreakerState != "closed" {
		t.Fatalf("the breaker is %s after the Clear: a clear under way counted as an outage", st.BreakerState)
	}
}

// checkCleared fails the test if a key under prefix is left.
func checkCleared(t *testing.T, client redis.UniversalClient, prefix string) {
	t.Helper()
	if left := count(t, client, prefix+":*"); left != 0 {
		t.Fatalf("Clear left %d keys under %s", left, prefix)
	}
}

// load writes n keys "<prefix>:1:k<i>" for each prefix, in pipelines.
func load(t *testing.T, client redis.UniversalClient, prefixes map[string]int) {
	t.Helper()
	ctx := context.Background()
	const batch = 10_000
	for prefix, n := range prefixes {
		for lo := 0; lo < n; lo += batch {
			_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := lo; i < min(lo+batch, n); i++ {
					p.Set(ctx, fmt.Sprintf("%s:1:k%d", prefix, i), "v", time.Hour)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("loading %s: %v", prefix, err)
			}
		}
	}
}

// count counts the keys that match match on every master.
func count(t *testing.T, client redis.UniversalClient, match string) int {
	t.Helper()
	ctx := context.Background()
	var n atomic.Int64
	scan := func(ctx context.Context, node *redis.Client) error {
		iter := node.Scan(ctx, 0, match, 1000).Iterator()
		for iter.Next(ctx) {
			n.Add(1)
		}
		return iter.Err()
	}
	var err error
	switch c := client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Ring:
		err = c.ForEachShard(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return int(n.Load())
}

// scanCounter counts the SCAN commands of a client.
type scanCounter struct{ n atomic.Int64 }

func (h *scanCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *scanCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *scanCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "scan" {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
