package redisstore

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// clearCluster clears a Cluster: it sweeps every master, then settles the
// slots that moved meanwhile (see [Store.settle]). A key is removed through
// the Cluster client, which follows it to wherever its slot went.
func (s *Store) clearCluster(ctx context.Context, c *redis.ClusterClient, job *clearJob, match string) error {
	before, err := s.beganAt(ctx, c, job)
	if err != nil {
		return err
	}
	unlink := func(ctx context.Context, keys []string) error { return s.delete(ctx, keys...) }
	err = c.ForEachMaster(ctx, func(ctx context.Context, master *redis.Client) error {
		return s.sweep(ctx, job, master, match, unlink)
	})
	if err != nil {
		return err
	}
	return s.settle(ctx, c, before, job.prefix)
}

// beganAt returns the slots as they were when job began, read now if
// it has just begun.
func (s *Store) beganAt(ctx context.Context, c *redis.ClusterClient, job *clearJob) (*topology, error) {
	job.progress.mu.Lock()
	before := job.progress.before
	job.progress.mu.Unlock()
	if before != nil {
		return before, nil
	}
	before, err := readTopology(ctx, c)
	if err != nil {
		return nil, err
	}
	job.progress.mu.Lock()
	defer job.progress.mu.Unlock()
	job.progress.before = before
	return before, nil
}

// settle removes the keys under prefix of the slots that were migrating,
// or changed master, while the masters were swept (since before): SCAN may
// have missed those. Each round asks the masters for every key of those
// slots, and the next round takes the slots whose state changed during it,
// until none did. Without CLUSTER NODES (before is nil, or now) it does
// nothing: such keys may stay.
func (s *Store) settle(ctx context.Context, c *redis.ClusterClient, before *topology, prefix string) error {
	now, err := readTopology(ctx, c)
	if err != nil || before == nil || now == nil {
		return err
	}
	slots := before.unsettled(now)
	for len(slots) > 0 {
		if err := s.sweepSlots(ctx, now, slots, prefix); err != nil {
			return err
		}
		next, err := readTopology(ctx, c)
		if err != nil || next == nil {
			return err
		}
		slots, now = now.changed(next, slots), next
	}
	return nil
}

// sweepSlots removes the keys under prefix of slots, as t says where they
// are: first from the masters that serve them or migrate them away, then
// from the masters they migrate to. A key of a migrating slot only ever
// moves from the first to the second, so none slips between the two reads.
func (s *Store) sweepSlots(ctx context.Context, t *topology, slots []uint16, prefix string) error {
	sources, targets := map[string][]uint16{}, map[string][]uint16{}
	for _, slot := range slots {
		for _, addr := range t.owners[slot] {
			sources[addr] = append(sources[addr], slot)
		}
		if m, ok := t.moving[slot]; ok {
			if m.from != "" && !slices.Contains(t.owners[slot], m.from) {
				sources[m.from] = append(sources[m.from], slot)
			}
			if m.to != "" {
				targets[m.to] = append(targets[m.to], slot)
			}
		}
	}
	for _, where := range []map[string][]uint16{sources, targets} {
		for addr, slots := range where {
			if err := s.sweepSlotsOn(ctx, t, addr, slots, prefix); err != nil {
				return err
			}
		}
	}
	return nil
}

// sweepSlotsOn removes the keys under prefix that the master at addr holds
// in slots.
func (s *Store) sweepSlotsOn(ctx context.Context, t *topology, addr string, slots []uint16, prefix string) error {
	node := t.clients[addr]
	if node == nil {
		// A master that serves no slot yet, while it imports one: the
		// Cluster client does not know it. The next attempt will.
		return fmt.Errorf("corral/redisstore: clear: the Cluster client does not know node %s yet", addr)
	}
	cmds := make([]*redis.StringSliceCmd, len(slots))
	_, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, slot := range slots {
			cmds[i] = p.ClusterGetKeysInSlot(ctx, int(slot), math.MaxInt32)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var keys []string
	for _, cmd := range cmds {
		for _, k := range cmd.Val() {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return s.delete(ctx, keys...)
}

// numSlots is the number of hash slots of a Redis Cluster.
const numSlots = 16384

// topology is what the masters of a Cluster say of their slots: which
// master serves each, and which are migrating, from where to where.
type topology struct {
	owners  [numSlots][]string       // the masters that claim each slot (one, but for a moment)
	moving  map[uint16]migration     // the slots being migrated
	clients map[string]*redis.Client // the masters, by address
}

// migration is a slot moving from one master to another.
type migration struct{ from, to string }

// readTopology asks every master the Cluster client knows for its view of
// itself (CLUSTER NODES): the slots it serves, and those it migrates or
// imports. It returns nil when the masters refuse the command (an ACL):
// the clear then does without.
func readTopology(ctx context.Context, c *redis.ClusterClient) (*topology, error) {
	var mu sync.Mutex
	selves := map[string][]string{} // the master's address → its own line
	clients := map[string]*redis.Client{}
	peers := map[string]string{} // node id → address, as the masters name them
	err := c.ForEachMaster(ctx, func(ctx context.Context, master *redis.Client) error {
		nodes, err := master.ClusterNodes(ctx).Result()
		if err != nil {
			return err
		}
		self, named, err := parseNodes(nodes)
		if err != nil {
			return fmt.Errorf("corral/redisstore: CLUSTER NODES of %s: %w", master.Options().Addr, err)
		}
		mu.Lock()
		defer mu.Unlock()
		addr := master.Options().Addr
		selves[addr], clients[addr] = self, master
		maps.Copy(peers, named)
		return nil
	})
	switch {
	case err != nil && answer(err) != nil:
		return nil, nil
	case err != nil:
		return nil, err
	}
	return newTopology(selves, peers, clients)
}

// newTopology reads the masters' own lines of CLUSTER NODES (selves, by
// the addresses the Cluster client knows them by), with peers naming the
// nodes' addresses by id.
func newTopology(selves map[string][]string, peers map[string]string, clients map[string]*redis.Client) (*topology, error) {
	for addr, self := range selves {
		peers[self[0]] = addr // as the Cluster client names it
	}
	t := &topology{moving: map[uint16]migration{}, clients: clients}
	for _, addr := range slices.Sorted(maps.Keys(selves)) {
		for _, field := range selves[addr][8:] {
			if err := t.claim(addr, field, peers); err != nil {
				return nil, fmt.Errorf("corral/redisstore: CLUSTER NODES of %s: %w", addr, err)
			}
		}
	}
	return t, nil
}

// parseNodes reads a master's CLUSTER NODES: its own line (flag "myself"),
// whose fields from the ninth on say which slots it serves ("0-5460",
// "5461"), migrates ("[5461->-<node id>]") and imports
// ("[5461-<-<node id>]"); and the address of every node, by id.
func parseNodes(nodes string) (self []string, addrs map[string]string, err error) {
	addrs = map[string]string{}
	for line := range strings.Lines(nodes) {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@") // ip:port@cport[,hostname]
		addrs[f[0]] = addr
		if slices.Contains(strings.Split(f[2], ","), "myself") {
			self = f
		}
	}
	if self == nil {
		return nil, nil, fmt.Errorf("no line for the node itself")
	}
	return self, addrs, nil
}

// claim records one slot field of the master at me.
func (t *topology) claim(me, field string, addrs map[string]string) error {
	if inner, ok := strings.CutPrefix(field, "["); ok {
		inner = strings.TrimSuffix(inner, "]")
		if n, peer, ok := strings.Cut(inner, "->-"); ok {
			return t.migrate(n, me, addrs[peer])
		}
		if n, peer, ok := strings.Cut(inner, "-<-"); ok {
			return t.migrate(n, addrs[peer], me)
		}
		return fmt.Errorf("slot field %q", field)
	}
	first, last, isRange := strings.Cut(field, "-")
	if !isRange {
		last = first
	}
	lo, err1 := strconv.Atoi(first)
	hi, err2 := strconv.Atoi(last)
	if err1 != nil || err2 != nil || lo < 0 || hi >= numSlots || lo > hi {
		return fmt.Errorf("slot field %q", field)
	}
	for slot := lo; slot <= hi; slot++ {
		t.owners[slot] = append(t.owners[slot], me)
	}
	return nil
}

// migrate records slot n moving from one master to another; either side
// may say so first.
func (t *topology) migrate(n, from, to string) error {
	slot, err := strconv.Atoi(n)
	if err != nil || slot < 0 || slot >= numSlots {
		return fmt.Errorf("migrating slot %q", n)
	}
	m := t.moving[uint16(slot)]
	if from != "" {
		m.from = from
	}
	if to != "" {
		m.to = to
	}
	t.moving[uint16(slot)] = m
	return nil
}

// unsettled returns the slots a sweep between t and later may have missed
// keys of: those migrating at either time, or served by another master.
func (t *topology) unsettled(later *topology) []uint16 {
	var slots []uint16
	for slot := range uint16(numSlots) {
		_, was := t.moving[slot]
		_, is := later.moving[slot]
		if was || is || !slices.Equal(t.owners[slot], later.owners[slot]) {
			slots = append(slots, slot)
		}
	}
	return slots
}

// changed returns those of slots whose state differs between t and later.
func (t *topology) changed(later *topology, slots []uint16) []uint16 {
	var out []uint16
	for _, slot := range slots {
		if t.moving[slot] != later.moving[slot] || !slices.Equal(t.owners[slot], later.owners[slot]) {
			out = append(out, slot)
		}
	}
	return out
}
