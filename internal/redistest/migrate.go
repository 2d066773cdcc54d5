package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Do sends one command to s alone (not through a Cluster client) and
// returns its reply.
func (s *Server) Do(ctx context.Context, args ...any) (any, error) {
	rc := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer rc.Close()
	return rc.Do(ctx, args...).Result()
}

// NodeID returns the Cluster node ID of s.
func (s *Server) NodeID(t testing.TB) string {
	t.Helper()
	id, err := s.Do(context.Background(), "cluster", "myid")
	if err != nil {
		t.Fatalf("CLUSTER MYID on %s: %v", s.Addr, err)
	}
	return fmt.Sprint(id)
}

// Owner returns the master that serves slot, as the first node sees it.
func (c *Cluster) Owner(t testing.TB, slot int) *Server {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: c.Nodes[0].Addr})
	defer rc.Close()
	ranges, err := rc.ClusterSlots(context.Background()).Result()
	if err != nil {
		t.Fatalf("CLUSTER SLOTS: %v", err)
	}
	for _, r := range ranges {
		if int(r.Start) <= slot && slot <= int(r.End) {
			for _, s := range c.Nodes {
				if s.Addr == r.Nodes[0].Addr {
					return s
				}
			}
		}
	}
	t.Fatalf("no node of the cluster serves slot %d: %v", slot, ranges)
	return nil
}

// Migration is a slot on its way from one master to another, as
// redis-cli --cluster reshard moves it, stopped where the test wants: the
// source answers for the keys it still holds and sends the client to the
// target (ASK) for the others.
type Migration struct {
	Slot     int
	From, To *Server
	cluster  *Cluster
}

// BeginMigration marks slot as importing on to and migrating on its owner
// (CLUSTER SETSLOT ... IMPORTING / MIGRATING), and moves no key.
func (c *Cluster) BeginMigration(t testing.TB, slot int, to *Server) *Migration {
	t.Helper()
	from := c.Owner(t, slot)
	if from == to {
		t.Fatalf("slot %d is already on %s", slot, to.Addr)
	}
	ctx := context.Background()
	if _, err := to.Do(ctx, "cluster", "setslot", slot, "importing", from.NodeID(t)); err != nil {
		t.Fatalf("CLUSTER SETSLOT %d IMPORTING on %s: %v", slot, to.Addr, err)
	}
	if _, err := from.Do(ctx, "cluster", "setslot", slot, "migrating", to.NodeID(t)); err != nil {
		t.Fatalf("CLUSTER SETSLOT %d MIGRATING on %s: %v", slot, from.Addr, err)
	}
	return &Migration{Slot: slot, From: from, To: to, cluster: c}
}

// Move moves keys (all in the migration's slot) from the source to the
// target with MIGRATE.
func (m *Migration) Move(t testing.TB, keys ...string) {
	t.Helper()
	args := []any{"migrate", "127.0.0.1", m.To.Port, "", 0, 5000, "keys"}
	for _, k := range keys {
		args = append(args, k)
	}
	if _, err := m.From.Do(context.Background(), args...); err != nil {
		t.Fatalf("MIGRATE of %d keys of slot %d: %v", len(keys), m.Slot, err)
	}
}

// Finish moves the slot's remaining keys and gives the slot to the target
// on every node (CLUSTER SETSLOT ... NODE): the target first, then the
// source, then the others, as redis-cli does.
func (m *Migration) Finish(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	left, err := m.From.Do(ctx, "cluster", "getkeysinslot", m.Slot, 1<<20)
	if err != nil {
		t.Fatalf("CLUSTER GETKEYSINSLOT %d on %s: %v", m.Slot, m.From.Addr, err)
	}
	var keys []string
	for _, k := range left.([]any) {
		keys = append(keys, k.(string))
	}
	if len(keys) > 0 {
		m.Move(t, keys...)
	}
	order := []*Server{m.To, m.From}
	for _, s := range m.cluster.Nodes {
		if s != m.To && s != m.From {
			order = append(order, s)
		}
	}
	id := m.To.NodeID(t)
	for _, s := range order {
		if _, err := s.Do(ctx, "cluster", "setslot", m.Slot, "node", id); err != nil {
			t.Fatalf("CLUSTER SETSLOT %d NODE on %s: %v", m.Slot, s.Addr, err)
		}
	}
}

// Reshard moves n slots from one master to another with redis-cli
// --cluster reshard, keys included, while the cluster serves; it returns
// when the last slot has moved.
func (c *Cluster) Reshard(ctx context.Context, t testing.TB, from, to *Server, n int) error {
	t.Helper()
	cli := Binary(t, "redis-cli")
	out, err := exec.CommandContext(ctx, cli, "--cluster", "reshard", from.Addr,
		"--cluster-from", from.NodeID(t), "--cluster-to", to.NodeID(t),
		"--cluster-slots", strconv.Itoa(n), "--cluster-yes").CombinedOutput()
	if err != nil {
		return fmt.Errorf("redis-cli --cluster reshard: %v\n%s", err, out)
	}
	return nil
}
