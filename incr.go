package corral

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// Incr adds delta to the integer stored under key and returns the new value.
// A missing key is an error wrapping [ErrNotFound] (as Django's incr), a value
// that is not an integer one wrapping [ErrNotInteger], and so is a result
// that overflows int64 (the value is then left as it was).
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
		err := c.call(ctx, opIncr, sk, func(ctx context.Context) (err error) {
			n, err = inc.Incr(ctx, sk, delta)
			return err
		})
		switch {
		case errors.Is(err, ErrNotFound):
			return 0, failure("incr", key, ErrNotFound, nil)
		case errors.Is(err, ErrNotInteger):
			return 0, failure("incr", key, ErrNotInteger, err)
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
	sum, ok := addInt64(n, delta)
	if !ok {
		return 0, failure("incr", key, ErrNotInteger, errOverflow(n, delta))
	}
	return sum, c.Set(ctx, key, sum, 0)
}

// Decr subtracts delta from the integer stored under key; see [Cache.Incr].
// A delta of math.MinInt64, whose negation is no int64, is an error wrapping
// [ErrNotInteger], and the value is left as it was.
func (c *Cache) Decr(ctx context.Context, key string, delta int64) (int64, error) {
	if delta == math.MinInt64 {
		return 0, failure("decr", key, ErrNotInteger, fmt.Errorf("cannot subtract %d: use Incr", delta))
	}
	return c.Incr(ctx, key, -delta)
}

// addInt64 returns n+delta, and false when that overflows int64.
func addInt64(n, delta int64) (int64, bool) {
	if (delta > 0 && n > math.MaxInt64-delta) || (delta < 0 && n < math.MinInt64-delta) {
		return 0, false
	}
	return n + delta, true
}

// errOverflow says that n+delta is no int64.
func errOverflow(n, delta int64) error {
	return fmt.Errorf("%d%+d overflows int64", n, delta)
}

// IncrVersion moves the value of key from this cache's version to version +
// delta (with the default TTL), deletes the old one, and returns the new
// version, as Django's incr_version. Read it back through
// c.WithVersion(newVersion). A missing key is an error wrapping [ErrNotFound].
// A delta of 0 moves nothing: it returns this cache's version when key holds
// a value, and leaves the value where it is. A negative delta moves the
// value to an earlier version: IncrVersion(ctx, key, -1) is
// [Cache.DecrVersion](ctx, key, 1).
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
	if nsk == sk { // delta 0: the value is already at its version
		return c.ns.version, nil
	}
	ttl, _ := c.ttl(0)
	c.overtake(sk, nsk)
	err = c.callKeys(ctx, opIncrVersion, []string{nsk, sk}, func(ctx context.Context) error {
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

// DecrVersion moves the value of key from this cache's version to version -
// delta, as Django's decr_version: it is IncrVersion(ctx, key, -delta), and
// returns the new version. A delta of math.MinInt, whose negation is no
// int, is an error, and nothing moves.
func (c *Cache) DecrVersion(ctx context.Context, key string, delta int) (int, error) {
	if delta == math.MinInt {
		return 0, fmt.Errorf("corral: decr_version %q: cannot subtract %d from a version", key, delta)
	}
	return c.IncrVersion(ctx, key, -delta)
}
