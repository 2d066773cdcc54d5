package corral

import (
	"context"
	"errors"
)

// Incr adds delta to the integer stored under key and returns the new value.
// A missing key is an error wrapping [ErrNotFound] (as Django's incr), a value
// that is not an integer one wrapping [ErrNotInteger].
//
// With the [JSON] codec on a store that implements [Incrementer] (the memory
// store, Redis), it is atomic and keeps the key's expiry. Otherwise it reads,
// adds and writes back with the default TTL, which is not atomic.
func (c *Cache) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	sk, err := c.key(key)
	if err != nil {
		return 0, err
	}
	if inc, ok := c.store.(Incrementer); ok && c.codec == JSON {
		c.overtake(sk)
		var n int64
		err := c.call(ctx, opIncr, func(ctx context.Context) (err error) {
			n, err = inc.Incr(ctx, sk, delta)
			return err
		})
		switch {
		case errors.Is(err, ErrNotFound):
			return 0, failure("incr", key, ErrNotFound, nil)
		case errors.Is(err, ErrNotInteger):
			return 0, failure("incr", key, ErrNotInteger, nil)
		case err != nil:
			return 0, c.failed(opIncr, key, err)
		}
		return n, nil
	}
	data, err := c.get(ctx, sk)
	switch {
	case errors.Is(err, ErrNotFound):
		return 0, failure("incr", key, ErrNotFound, nil)
	case err != nil:
		return 0, c.failed(opIncr, key, err)
	}
	var n int64
	if err := c.codec.Unmarshal(data, &n); err != nil {
		return 0, failure("incr", key, ErrNotInteger, err)
	}
	n += delta
	return n, c.Set(ctx, key, n, 0)
}

// Decr subtracts delta from the integer stored under key; see [Cache.Incr].
func (c *Cache) Decr(ctx context.Context, key string, delta int64) (int64, error) {
	return c.Incr(ctx, key, -delta)
}

// IncrVersion moves the value of key from this cache's version to version +
// delta (with the default TTL), deletes the old one, and returns the new
// version, as Django's incr_version. Read it back through
// c.WithVersion(newVersion). A missing key is an error wrapping [ErrNotFound].
func (c *Cache) IncrVersion(ctx context.Context, key string, delta int) (int, error) {
	sk, err := c.key(key)
	if err != nil {
		return 0, err
	}
	next := c.WithVersion(c.ns.version + delta)
	nsk, _ := next.key(key)
	data, err := c.get(ctx, sk)
	switch {
	case errors.Is(err, ErrNotFound):
		return 0, failure("incr_version", key, ErrNotFound, nil)
	case err != nil:
		return 0, c.failed(opIncrVersion, key, err)
	}
	ttl, _ := c.ttl(0)
	c.overtake(sk, nsk)
	err = c.call(ctx, opIncrVersion, func(ctx context.Context) error {
		if err := c.store.Set(ctx, nsk, data, ttl); err != nil {
			return err
		}
		return c.store.Delete(ctx, sk)
	})
	if err != nil {
		return 0, c.failed(opIncrVersion, key, err)
	}
	return next.ns.version, nil
}
