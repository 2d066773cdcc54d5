package redisstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// While a slot is half-way from one master to another (some of its keys
// moved with MIGRATE, the others still on the source), GetMany, SetMany,
// Delete and Clear through a Cache answer as if nothing moved, with no
// error: multi-key commands on the slot get TRYAGAIN from Redis, and the
// store retries them key by key.
func TestClusterHalfMigratedSlot(t *testing.T) {
	redistest.ClusterWanted(t)
	cluster := redistest.StartCluster(t, 3)
	client := cluster.Client(t)
	ctx := context.Background()
	c := corral.New(New(client))
	kept := corral.New(New(client), corral.WithPrefix("kept"))

	split := keysSharingSlot(":1:", "k", 12) // a cache without prefix stores "k" as ":1:k"
	shared := int(slot(":1:" + split[0]))
	all := slices.Clone(split)
	for i := range 20 {
		all = append(all, fmt.Sprint("other", i))
	}
	values := valuesOf(all, "v1")
	must(t, c.SetMany(ctx, values, time.Hour))
	must(t, kept.SetMany(ctx, values, time.Hour))

	from := cluster.Owner(t, shared)
	to := cluster.Nodes[slices.IndexFunc(cluster.Nodes, func(s *redistest.Server) bool { return s != from })]
	m := cluster.BeginMigration(t, shared, to)
	m.Move(t, storeKeys(":1:", split[:6])...)
	t.Logf("slot %d half-way from %s to %s: %d of its %d keys moved", shared, from.Addr, to.Addr, 6, len(split))

	getAll := func(want map[string]string) {
		t.Helper()
		got := map[string]string{}
		if err := c.GetMany(ctx, all, got); err != nil {
			t.Fatalf("GetMany through the half-migrated slot: %v", err)
		}
		if !maps.Equal(got, want) {
			t.Fatalf("GetMany read %d values, want %d: %v", len(got), len(want), got)
		}
	}
	getAll(values)

	values = valuesOf(all, "v2")
	must(t, c.SetMany(ctx, values, time.Hour))
	getAll(values)

	gone := append(slices.Clone(split[3:9]), all[len(split):len(split)+3]...) // moved, unmoved, elsewhere
	if err := c.Delete(ctx, gone...); err != nil {
		t.Fatalf("Delete through the half-migrated slot: %v", err)
	}
	for _, k := range gone {
		delete(values, k)
	}
	getAll(values)
	for _, s := range []*redistest.Server{from, to} {
		if left := keysOn(t, s, ":1:*"); hasAny(left, storeKeys(":1:", gone)) {
			t.Fatalf("Delete left keys on %s: %v", s.Addr, left)
		}
	}

	if err := c.Clear(ctx); err != nil {
		t.Fatalf("Clear through the half-migrated slot: %v", err)
	}
	for _, s := range cluster.Nodes {
		if left := keysOn(t, s, ":1:*"); len(left) > 0 {
			t.Fatalf("Clear left %d keys on %s: %v", len(left), s.Addr, left)
		}
	}
	survivors := map[string]string{}
	must(t, kept.GetMany(ctx, all, survivors))
	if len(survivors) != len(all) {
		t.Fatalf("Clear of another prefix left %d of %d keys of prefix kept", len(survivors), len(all))
	}
	if st := c.Stats(); st.Errors != 0 {
		t.Fatalf("%d store errors", st.Errors)
	}
}

// Keys can move between masters while Clear scans them, and escape both
// scans: the target is scanned before they arrive, the source after they
// left. Here a slot moves (all of its keys, or half) from the master not
// yet scanned to the one already scanned; the Clear reads what the masters
// say of their slots before and after, and removes the keys of the slots
// that moved.
func TestClearSettlesSlotsThatMoved(t *testing.T) {
	redistest.ClusterWanted(t)
	cluster := redistest.StartCluster(t, 3)
	client := cluster.Client(t)
	ctx := context.Background()
	s := New(client)
	unlink := func(ctx context.Context, keys []string) error { return s.delete(ctx, keys...) }
	for _, moved := range []int{10, 5} {
		t.Run(fmt.Sprintf("%d of 10 keys moved", moved), func(t *testing.T) {
			keys := storeKeys("gone:", keysSharingSlot("gone:", fmt.Sprint("m", moved, "-"), 10))
			for _, k := range keys {
				must(t, client.Set(ctx, k, "v", time.Hour).Err())
			}
			from := cluster.Owner(t, int(slot(keys[0])))
			to := cluster.Nodes[slices.IndexFunc(cluster.Nodes, func(n *redistest.Server) bool { return n != from })]
			job := &clearJob{prefix: "gone:", progress: &progress{}, done: make(chan struct{})}
			before, err := s.beganAt(ctx, client, job)
			must(t, err)

			must(t, s.sweep(ctx, job, masterAt(t, client, to.Addr), "gone:*", unlink))
			m := cluster.BeginMigration(t, int(slot(keys[0])), to)
			m.Move(t, keys[:moved]...)
			if moved == len(keys) {
				m.Finish(t)
			}
			must(t, s.sweep(ctx, job, masterAt(t, client, from.Addr), "gone:*", unlink))
			if escaped := keysOn(t, to, "gone:*"); len(escaped) != moved {
				t.Fatalf("%d keys escaped both scans, want %d: %v", len(escaped), moved, escaped)
			}

			must(t, s.settle(ctx, client, before, "gone:"))
			for _, n := range cluster.Nodes {
				if left := keysOn(t, n, "gone:*"); len(left) > 0 {
					t.Fatalf("%d keys left on %s: %v", len(left), n.Addr, left)
				}
			}
		})
	}
}

// masterAt returns the Cluster client's client of the master at addr.
func masterAt(t *testing.T, client *redis.ClusterClient, addr string) *redis.Client {
	t.Helper()
	var found *redis.Client
	var mu sync.Mutex
	must(t, client.ForEachMaster(context.Background(), func(_ context.Context, m *redis.Client) error {
		if m.Options().Addr == addr {
			mu.Lock()
			found = m
			mu.Unlock()
		}
		return nil
	}))
	if found == nil {
		t.Fatalf("no master at %s", addr)
	}
	return found
}

// keysSharingSlot returns n keys named name<i> whose store keys (prefix +
// key) fall in the slot of the first, name0.
func keysSharingSlot(prefix, name string, n int) []string {
	want := slot(prefix + name + "0")
	keys := []string{name + "0"}
	for i := 1; len(keys) < n; i++ {
		if k := fmt.Sprint(name, i); slot(prefix+k) == want {
			keys = append(keys, k)
		}
	}
	return keys
}

func storeKeys(prefix string, keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = prefix + k
	}
	return out
}

func valuesOf(keys []string, version string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = version + "-" + k
	}
	return m
}

// keysOn returns the keys matching match that server s holds itself,
// whatever slot they are in (SCAN is not redirected).
func keysOn(t *testing.T, s *redistest.Server, match string) []string {
	t.Helper()
	var keys []string
	cursor := "0"
	for {
		reply, err := s.Do(context.Background(), "scan", cursor, "match", match, "count", 1000)
		if err != nil {
			t.Fatalf("SCAN on %s: %v", s.Addr, err)
		}
		parts := reply.([]any)
		for _, k := range parts[1].([]any) {
			keys = append(keys, k.(string))
		}
		if cursor = parts[0].(string); cursor == "0" {
			return keys
		}
	}
}

func hasAny(keys, of []string) bool {
	return slices.ContainsFunc(keys, func(k string) bool { return slices.Contains(of, k) })
}

// What the masters' CLUSTER NODES say of their slots, as Redis 7 writes it:
// slot 5461 half-way from a to c, both sides saying so, and slot 100 with
// only its source saying so yet. The masters are known to the client by
// names, which their lines do not hold.
func TestTopologyFromClusterNodes(t *testing.T) {
	const (
		idA = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"
		idB = "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1"
		idC = "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f"
	)
	lines := map[string]string{
		idA: "10.0.0.1:6379@16379,a.example master - 0 1426238317239 1 connected",
		idB: "10.0.0.2:6379@16379 master - 0 1426238316232 2 connected",
		idC: "10.0.0.3:6379@16379 master - 0 1426238318243 3 connected",
	}
	view := func(self, slots string) string {
		var b strings.Builder
		for _, id := range []string{idA, idB, idC} {
			line := id + " " + lines[id]
			if id == self {
				line = strings.Replace(line, " master ", " myself,master ", 1) + " " + slots
			}
			b.WriteString(line + "\n")
		}
		b.WriteString(idA[:39] + "f 10.0.0.4:6379@16379 slave " + idA + " 0 1426238317239 1 connected\n")
		return b.String()
	}
	views := map[string]string{
		"a:6379": view(idA, "0-5461 [100->-"+idC+"] [5461->-"+idC+"]"),
		"b:6379": view(idB, "5462-10922"),
		"c:6379": view(idC, "10923-16383 [5461-<-"+idA+"]"),
	}
	selves, peers := map[string][]string{}, map[string]string{}
	for addr, v := range views {
		self, named, err := parseNodes(v)
		must(t, err)
		selves[addr] = self
		maps.Copy(peers, named)
	}
	top, err := newTopology(selves, peers, nil)
	must(t, err)
	for slot, want := range map[uint16][]string{0: {"a:6379"}, 5461: {"a:6379"}, 5462: {"b:6379"}, 10923: {"c:6379"}, 16383: {"c:6379"}} {
		if got := top.owners[slot]; !slices.Equal(got, want) {
			t.Errorf("slot %d served by %v, want %v", slot, got, want)
		}
	}
	wantMoving := map[uint16]migration{100: {"a:6379", "c:6379"}, 5461: {"a:6379", "c:6379"}}
	if !maps.Equal(top.moving, wantMoving) {
		t.Errorf("moving %v, want %v", top.moving, wantMoving)
	}
	later := *top
	later.moving = map[uint16]migration{}
	later.owners[5461] = []string{"c:6379"}
	if got := top.unsettled(&later); !slices.Equal(got, []uint16{100, 5461}) {
		t.Errorf("unsettled %v, want [100 5461]", got)
	}
	if got := top.changed(top, []uint16{100, 5461}); len(got) != 0 {
		t.Errorf("changed against itself: %v", got)
	}
}
