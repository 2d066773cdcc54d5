package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// On a Ring of three servers the store groups keys by the shard the Ring
// sends each to: GetMany reads every key, Delete and Clear remove every key
// from the server that holds it, and Shard names that server. (Grouped by
// Cluster slot, a Ring sent each group to its first key's shard: GetMany
// read 966 of 1,000 keys, and Delete left 34, with no error.)
func TestRing(t *testing.T) {
	ctx := context.Background()
	servers := map[string]*redistest.Server{}
	addrs := map[string]string{}
	for i := range 3 {
		s := redistest.Start(t)
		servers[s.Addr] = s
		addrs[fmt.Sprint("shard", i)] = s.Addr
	}
	ring := redis.NewRing(&redis.RingOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { ring.Close() })
	s := redisstore.New(ring)
	c := corral.New(s)
	kept := corral.New(s, corral.WithPrefix("kept"))

	const n = 1000
	keys := make([]string, n)
	values := map[string]string{}
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
		values[keys[i]] = "v-" + keys[i]
	}
	if err := c.SetMany(ctx, values, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := kept.SetMany(ctx, values, time.Hour); err != nil {
		t.Fatal(err)
	}
	direct := map[string]*redis.Client{}
	for addr, srv := range servers {
		direct[addr] = srv.Client(t)
	}
	perShard := map[string]int{}
	for _, k := range keys {
		addr := s.Shard(":1:" + k)
		perShard[addr]++
		if n, err := direct[addr].Exists(ctx, ":1:"+k).Result(); err != nil || n != 1 {
			t.Fatalf("Shard names %s for %q, which does not hold it (%v)", addr, k, err)
		}
	}
	t.Logf("keys per shard: %v", perShard)
	if len(perShard) != 3 {
		t.Fatalf("keys on %d shards, want 3: %v", len(perShard), perShard)
	}

	read := func(want int) {
		t.Helper()
		got := map[string]string{}
		if err := c.GetMany(ctx, keys, got); err != nil || len(got) != want {
			t.Fatalf("GetMany read %d of %d keys (%v)", len(got), want, err)
		}
		for k, v := range got {
			if v != values[k] {
				t.Fatalf("GetMany read %q for %q", v, k)
			}
		}
	}
	read(n)
	if err := c.Delete(ctx, keys[:n/2]...); err != nil {
		t.Fatal(err)
	}
	read(n / 2)
	if left := count(t, ring, ":1:*"); left != n/2 {
		t.Fatalf("%d keys left after deleting %d of %d", left, n/2, n)
	}
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if left := count(t, ring, ":1:*"); left != 0 {
		t.Fatalf("Clear left %d keys", left)
	}
	if got := count(t, ring, "kept:*"); got != n {
		t.Fatalf("Clear of another prefix left %d of %d keys", got, n)
	}
	if st := c.Stats(); st.Errors != 0 {
		t.Fatalf("%d store errors", st.Errors)
	}
}

// A client that reads from replicas is refused: a replica serves what its
// master deleted or replaced a moment ago (508 of 1,000 reads right after
// a Delete, with a replica 20 ms behind).
func TestReplicaReadsRefused(t *testing.T) {
	nowhere := []string{"127.0.0.1:1"} // never dialled: New does not connect
	clients := map[string]redis.UniversalClient{
		"ReadOnly":       redis.NewClusterClient(&redis.ClusterOptions{Addrs: nowhere, ReadOnly: true}),
		"RouteByLatency": redis.NewClusterClient(&redis.ClusterOptions{Addrs: nowhere, RouteByLatency: true}),
		"RouteRandomly":  redis.NewClusterClient(&redis.ClusterOptions{Addrs: nowhere, RouteRandomly: true}),
		"Sentinel, RouteRandomly": redis.NewFailoverClusterClient(&redis.FailoverOptions{
			MasterName: "m", SentinelAddrs: nowhere, RouteRandomly: true,
		}),
	}
	for name, client := range clients {
		t.Run(name, func(t *testing.T) {
			defer client.Close()
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "reads from replicas") {
					t.Fatalf("New panicked with %v, want a refusal that names replica reads", r)
				}
			}()
			redisstore.New(client)
		})
	}
}
