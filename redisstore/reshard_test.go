package redisstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
)

// reshardSlots is how many slots the reshard test moves.
const reshardSlots = 1000

// A reshard (redis-cli --cluster reshard, 1,000 slots from one master to
// another, keys included) under GetMany, SetMany and Delete from two
// goroutines, and a Clear while it runs: no caller sees an error, every
// value read is its key's, and the Clear leaves no key of its prefix.
func TestClusterReshardUnderLoad(t *testing.T) {
	redistest.ClusterWanted(t)
	cluster := redistest.StartCluster(t, 3)
	client := cluster.Client(t)
	ctx := context.Background()
	const bulk = 60_000
	load(t, client, map[string]int{"bulk": bulk, "gone": matching})
	// A budget of a second per call: this test is about answers during a
	// reshard (TRYAGAIN, ASK, MOVED), not about a 2-core machine shared
	// with other work; the slowest batch is logged.
	c := corral.New(redisstore.New(client), corral.WithPrefix("load"), corral.WithTimeout(time.Second))
	gone := corral.New(redisstore.New(client), corral.WithPrefix("gone"))

	if cluster.Owner(t, 0) != cluster.Nodes[0] {
		t.Fatal("slot 0 is not on the first node")
	}
	resharded := make(chan error, 1)
	go func() { resharded <- cluster.Reshard(ctx, t, cluster.Nodes[0], cluster.Nodes[1], reshardSlots) }()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ops, failed, slowest atomic.Int64
	var firstErr atomic.Value
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				ops.Add(1)
				began := time.Now()
				err := churn(ctx, c, rng)
				for took := int64(time.Since(began)); ; {
					if old := slowest.Load(); took <= old || slowest.CompareAndSwap(old, took) {
						break
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}

	// redis-cli moves the source's slots in order, from slot 0.
	start := time.Now()
	for cluster.Owner(t, 0) == cluster.Nodes[0] {
		if time.Since(start) > 30*time.Second {
			t.Fatal("the reshard did not move slot 0 within 30 s")
		}
		time.Sleep(5 * time.Millisecond) // polling for the reshard's first slot, bounded
	}
	began := time.Since(start)
	clearThroughCache(t, client, "gone") // while the reshard runs
	cleared := time.Since(start)
	err := <-resharded
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reshard of %d slots: %v; its first slot moved after %v, the Clear ended %v into it; %d batches of GetMany+SetMany+Delete, %d failed, the slowest took %v",
		reshardSlots, time.Since(start).Round(time.Millisecond), began.Round(time.Millisecond), cleared.Round(time.Millisecond),
		ops.Load(), failed.Load(), time.Duration(slowest.Load()).Round(time.Millisecond))
	if failed.Load() != 0 {
		t.Fatalf("%d of %d batches failed; the first: %v", failed.Load(), ops.Load(), firstErr.Load())
	}
	checkCleared(t, client, "gone")
	if n := count(t, client, "bulk:*"); n != bulk {
		t.Fatalf("%d keys of another prefix left, want %d", n, bulk)
	}
	if st := gone.Stats(); st.Errors != 0 {
		t.Fatalf("%d store errors", st.Errors)
	}
}

// churn writes ten keys of 500, deletes three and reads twenty, and checks
// that every value read is its key's.
func churn(ctx context.Context, c *corral.Cache, rng *rand.Rand) error {
	key := func() string { return fmt.Sprint("k", rng.IntN(500)) }
	items := map[string]string{}
	for range 10 {
		k := key()
		items[k] = "v-" + k
	}
	if err := c.SetMany(ctx, items, time.Hour); err != nil {
		return err
	}
	if err := c.Delete(ctx, key(), key(), key()); err != nil {
		return err
	}
	keys := make([]string, 20)
	for i := range keys {
		keys[i] = key()
	}
	got := map[string]string{}
	if err := c.GetMany(ctx, keys, got); err != nil {
		return err
	}
	for k, v := range got {
		if v != "v-"+k {
			return fmt.Errorf("GetMany read %q for %q", v, k)
		}
	}
	return nil
}
