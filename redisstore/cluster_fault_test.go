package redisstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// healthRecords keeps the store health records a cache logs.
type healthRecords struct {
	mu   sync.Mutex
	recs []string
}

func (h *healthRecords) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *healthRecords) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "node" {
			line += " node=" + a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, line)
	return nil
}
func (h *healthRecords) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *healthRecords) WithGroup(string) slog.Handler      { return h }

func (h *healthRecords) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.recs)
}

// readStats are the reads of one master's keys.
type readStats struct {
	reads, hits, failed int
	slow                int // reads over 10 ms
	slowest             time.Duration
}

// A killed Cluster master disables its own keys only: the keys of the live
// masters keep hitting, with the default timeout and breaker; the dead
// master's health is logged once each way, and its keys come back when it
// does.
func TestClusterMasterKilled(t *testing.T) {
	redistest.ClusterWanted(t)
	// Without replicas, the live masters keep serving their slots only when
	// the Cluster does not require every slot.
	cluster := redistest.StartCluster(t, 3, "--cluster-require-full-coverage", "no")
	client := cluster.Client(t)
	log := &healthRecords{}
	c := corral.New(redisstore.New(client), corral.WithLogger(slog.New(log)))
	ctx := context.Background()
	const keys = 300
	master := map[int]string{} // key → the address of its master
	for i := range keys {
		if err := c.Set(ctx, fmt.Sprint("k", i), i, time.Hour); err != nil {
			t.Fatal(err)
		}
		node, err := client.MasterForKey(ctx, fmt.Sprint(":1:k", i))
		if err != nil {
			t.Fatal(err)
		}
		master[i] = node.Options().Addr
	}
	victim := cluster.Nodes[0]
	victim.Kill()
	byNode := readFor(t, c, master, keys, time.Second)
	for addr, st := range byNode {
		t.Logf("master %s: %d reads in the second after %s was killed, %d hits, %d failed, %d over 10 ms, slowest %v",
			addr, st.reads, victim.Addr, st.hits, st.failed, st.slow, st.slowest)
	}
	for addr, st := range byNode {
		switch {
		case addr == victim.Addr && st.hits != 0:
			t.Errorf("%d hits on the dead master", st.hits)
		case addr == victim.Addr && st.slow > 2:
			// The first read waits for its deadline (the client had not
			// failed yet); then a refused dial ends a read at once, and
			// the open breaker refuses the others.
			t.Errorf("%d reads of the dead master's keys took over 10 ms", st.slow)
		case addr != victim.Addr && (st.hits != st.reads || st.failed != 0):
			t.Errorf("live master %s: %d of %d reads hit, %d failed", addr, st.hits, st.reads, st.failed)
		}
	}

	// A restarted master answers CLUSTERDOWN for about 2 s (Redis's
	// writable delay): its keys are back when it answers, not before.
	victim.Restart(t)
	restarted := time.Now()
	var answers, back time.Duration
	onVictim := fmt.Sprint("k", slices.IndexFunc(slices.Sorted(maps.Keys(master)), func(i int) bool { return master[i] == victim.Addr }))
	for deadline := time.Now().Add(10 * time.Second); back == 0; {
		if err := client.Get(ctx, ":1:"+onVictim).Err(); answers == 0 && (err == nil || err == redis.Nil) {
			answers = time.Since(restarted)
		}
		if err := c.Set(ctx, onVictim, 0, time.Hour); err == nil {
			if found, _ := c.Get(ctx, onVictim, nil); found {
				back = time.Since(restarted)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted master's keys did not come back within 10 s; logs %q", log.lines())
		}
		time.Sleep(5 * time.Millisecond) // polling for the hit, bounded
	}
	t.Logf("the restarted master answered %v after its restart; its keys hit again %v after that", answers, back-answers)
	if back-answers > 1500*time.Millisecond {
		t.Errorf("hits on the restarted master came %v after it answered, want within 1.5 s", back-answers)
	}
	want := []string{"WARN corral: store failing; serving without it node=" + victim.Addr, "INFO corral: store recovered node=" + victim.Addr}
	if got := log.lines(); !slices.Equal(got, want) {
		t.Fatalf("health records %q, want %q", got, want)
	}
}

// readFor reads every key, again and again for d, and counts the reads by
// the master of the key.
func readFor(t *testing.T, c *corral.Cache, master map[int]string, keys int, d time.Duration) map[string]*readStats {
	t.Helper()
	byNode := map[string]*readStats{}
	for start := time.Now(); time.Since(start) < d; {
		for i := range keys {
			st := byNode[master[i]]
			if st == nil {
				st = &readStats{}
				byNode[master[i]] = st
			}
			var v int
			began := time.Now()
			found, err := c.Get(context.Background(), fmt.Sprint("k", i), &v)
			took := time.Since(began)
			st.slowest = max(st.slowest, took)
			if took > 10*time.Millisecond {
				st.slow++
			}
			st.reads++
			switch {
			case err != nil:
				st.failed++
			case found && v == i:
				st.hits++
			}
		}
	}
	return byNode
}
