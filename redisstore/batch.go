package redisstore

import (
	"context"
	"fmt"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// Calls on several keys. One command cannot span Cluster hash slots, and a
// Ring sends a command to the shard of its first key: so the keys are split
// into the groups one command may hold (see [Store.groups]), one command per
// group, pipelined. On a Cluster each key is a group of its own: corral's
// keys hold no hash tag, so the keys of one call fall in as many slots as
// there are keys anyway, and a command on one key survives a slot's
// migration (go-redis follows its ASK and MOVED), where a command on
// several keys of a slot whose keys are split between two masters gets
// TRYAGAIN until the migration ends.

func (s *Store) getMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	mget := func(c redis.Cmdable, group []string) redis.Cmder { return c.MGet(ctx, group...) }
	groups, cmds, err := s.grouped(ctx, keys, mget)
	if err != nil {
		return nil, err
	}
	for i, cmd := range cmds {
		for j, v := range cmd.(*redis.SliceCmd).Val() {
			if str, ok := v.(string); ok {
				// no copy: the reply's string is this call's alone, and
				// the caller never modifies what GetMany returns
				b := []byte{} // an empty value is present: never nil
				if str != "" {
					b = unsafe.Slice(unsafe.StringData(str), len(str))
				}
				out[groups[i][j]] = b
			}
		}
	}
	return out, nil
}

func (s *Store) delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	unlink := func(c redis.Cmdable, group []string) redis.Cmder { return c.Unlink(ctx, group...) }
	_, _, err := s.grouped(ctx, keys, unlink)
	return err
}

func (s *Store) setMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	if len(items) == 0 {
		return nil
	}
	for _, v := range items {
		if err := s.fits(v); err != nil {
			return err
		}
	}
	if expired(ttl) {
		keys := make([]string, 0, len(items))
		for k := range items {
			keys = append(keys, k)
		}
		return s.delete(ctx, keys...)
	}
	// One SET per key: go-redis routes each to its key's node.
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, v := range items {
			p.Set(ctx, k, v, expiration(ttl))
		}
		return nil
	})
	return err
}

// grouped sends one command (made by cmd) per group of keys, in one
// pipeline when there are several, and returns the groups with their
// commands; or the first error of a command, if any failed.
func (s *Store) grouped(ctx context.Context, keys []string,
	cmd func(c redis.Cmdable, group []string) redis.Cmder,
) ([][]string, []redis.Cmder, error) {
	groups, err := s.groups(keys)
	if err != nil {
		return nil, nil, err
	}
	cmds := make([]redis.Cmder, len(groups))
	if len(groups) == 1 {
		cmds[0] = cmd(s.client, groups[0])
	} else {
		_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, g := range groups {
				cmds[i] = cmd(p, g)
			}
			return nil
		})
	}
	for _, c := range cmds {
		if cerr := c.Err(); cerr != nil {
			return nil, nil, cerr
		}
	}
	if err != nil { // the pipeline failed, but no command says why (a hook)
		return nil, nil, err
	}
	return groups, cmds, nil
}

// groups splits keys into the groups one command may hold: all of them on
// a single node (or Sentinel's master), one key each on a Cluster, one
// shard each on a Ring. Keys keep their order within a group.
func (s *Store) groups(keys []string) ([][]string, error) {
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		groups := make([][]string, len(keys))
		for i := range keys {
			groups[i] = keys[i : i+1 : i+1]
		}
		return groups, nil
	case *redis.Ring:
		return groupBy(keys, func(k string) (*redis.Client, error) { return c.GetShardClientForKey(k) })
	case *redis.Client:
		return [][]string{keys}, nil
	}
	return nil, fmt.Errorf("corral/redisstore: calls on several keys do not support %T", s.client)
}

// groupBy groups keys by what of says of each, in the order of each group's
// first key.
func groupBy[G comparable](keys []string, of func(string) (G, error)) ([][]string, error) {
	index := map[G]int{}
	var groups [][]string
	for _, k := range keys {
		g, err := of(k)
		if err != nil {
			return nil, err
		}
		i, ok := index[g]
		if !ok {
			i = len(groups)
			index[g] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], k)
	}
	return groups, nil
}
