package corral

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"

	"github.com/corralhq/corral/internal/guard"
)

// newGuard returns the guard of every call to a store outside the process:
// the per-call budget, a circuit breaker per shard of the store with its
// background probe, and a store panic turned into an error, observed.
func (c *Cache) newGuard() *guard.Guard {
	return guard.New(guard.Config{
		Timeout:  max(c.timeout, 0),
		Failures: c.breakerFailures,
		CoolDown: c.breakerCoolDown,
		Answered: storeAnswered,
		Probe:    c.probe,
		Observe:  c.observe,
		Rejected: func() { c.stats.rejected.Add(1) },
		Health:   c.logHealth,
		StateChange: func(shard, from, to string) {
			// The store's health is logged once per change by logHealth;
			// this is the detail.
			c.log.LogAttrs(context.Background(), slog.LevelDebug, "corral: store circuit breaker",
				append(nodeAttr(shard), slog.String("from", from), slog.String("to", to))...)
		},
	})
}

// storeAnswered reports whether a store call's error says the store works: no
// error, a miss, an answer about the value, or a call it declined.
func storeAnswered(err error) bool {
	return err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotInteger) ||
		errors.Is(err, ErrTooLarge) || errors.Is(err, ErrDeclined)
}

// call runs one store operation op (one or more calls) on the store key sk
// through the guard of sk's shard; the in-process store is called as it is.
func (c *Cache) call(ctx context.Context, op StoreOp, sk string, fn func(ctx context.Context) error) (err error) {
	if c.guard == nil {
		return fn(ctx)
	}
	if c.near != nil && op.changes() {
		sks := []string{sk}
		c.near.drop(sks)       // reads in flight keep nothing
		defer c.near.drop(sks) // nor do reads answered before the write landed
	}
	ctx, end := c.startStoreCall(ctx, op)
	defer func() { end(err) }()
	return c.guard.Do(ctx, string(op), c.shardOf(sk), fn)
}

// callKeys runs one store operation on several store keys (nil: on keys
// of every shard, as Clear does) through the guard of their shards.
func (c *Cache) callKeys(ctx context.Context, op StoreOp, sks []string, fn func(ctx context.Context) error) (err error) {
	if c.guard == nil {
		return fn(ctx)
	}
	if c.near != nil && op.changes() {
		c.near.drop(sks) // nil (Clear): every copy
		defer c.near.drop(sks)
	}
	ctx, end := c.startStoreCall(ctx, op)
	defer func() { end(err) }()
	if c.sharder == nil {
		return c.guard.Do(ctx, string(op), "", fn)
	}
	var shards []string
	for _, sk := range sks {
		if s := c.sharder.Shard(sk); !slices.Contains(shards, s) {
			shards = append(shards, s)
		}
	}
	return c.guard.DoAcross(ctx, string(op), shards, fn)
}

// shardOf names the store server that holds sk, "" when the store has one.
func (c *Cache) shardOf(sk string) string {
	if c.sharder == nil {
		return ""
	}
	return c.sharder.Shard(sk)
}

// probeKey is the key the background probe reads: no key a caller can
// write, since keys used as they are never hold hashMarker.
const probeKey = hashMarker + "probe"

// probe checks in the background that a shard of the store answers, with a
// read of a key that is never written; on a sharded store, of a key of that
// shard. A shard that holds no key any more (its server left the Cluster)
// has nothing to probe: it answers.
func (c *Cache) probe(ctx context.Context, shard string) error {
	sk, ok := c.probeKeyOn(shard)
	if !ok {
		return nil
	}
	_, err := c.store.Get(ctx, sk)
	return err
}

// probeKeyOn returns a probe key that the shard holds.
func (c *Cache) probeKeyOn(shard string) (string, bool) {
	sk := c.ns.front + probeKey
	if c.sharder == nil {
		return sk, true
	}
	for i := range 1 << 12 { // a Cluster of n masters: about n tries
		if k := sk + strconv.Itoa(i); c.sharder.Shard(k) == shard {
			return k, true
		}
	}
	return "", false
}

// BreakerState reports the circuit breakers' state: "open" while the
// breaker of the store (on a sharded store, of any of its servers) is open,
// "closed" otherwise, or "none" when there is no breaker.
func (c *Cache) BreakerState() string {
	if c.guard == nil {
		return "none"
	}
	return c.guard.State()
}
