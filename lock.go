package corral

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"time"

	"github.com/corralhq/corral/internal/envelope"
)

// lockSuffix makes a lock's store key from its data key's part. Keys used as
// they are never hold hashMarker, and hashed ones end in 64 hex digits right
// after it, so no data key can be a lock key.
const lockSuffix = hashMarker + "lock:"

// stuckLease is the lease of a lock on a store that cannot release locks
// (a Redis user without EVAL): the lock expires instead, and the other
// instances wait that long at most, while a computation that lasts longer
// may run on two instances at once.
const stuckLease = time.Second

// heldLock is the outcome of acquire: data is the value another instance
// stored while this one waited (nil if it must compute), and release gives
// the lock back when this instance holds it, whose lease ends at until
// (zero when it does not hold it).
type heldLock struct {
	data    []byte
	release func()
	until   time.Time
}

// acquire takes the distributed lock for sk, or waits for the instance that
// holds it to store the value. Every failure fails open: on a store error,
// or when the wait ends without a value, the caller computes. The wait is
// bounded by cfg.lockWait alone, not by the compute timeout: ctx should have
// no deadline before that. The lease is the compute timeout, from the try
// that took the lock: the computation's context ends with it. Only a value
// written after newerThan counts (a refresh waits for a newer value than
// the one it refreshes).
func (c *Cache) acquire(ctx context.Context, sk, key string, cfg *memoConfig, newerThan time.Time) heldLock {
	lockKey := c.ns.front + lockSuffix + sk[len(c.ns.front):]
	token := rand.Text()
	lease, storeLease := cfg.computeTimeout, cfg.computeTimeout
	if c.locksStick.Load() {
		storeLease = min(lease, stuckLease)
	}
	noop := heldLock{release: func() {}}

	tried := time.Now()
	got, err := c.tryLock(ctx, lockKey, key, token, storeLease)
	if err != nil {
		return noop
	}
	if !got {
		c.stats.lockWaits.Add(1)
		deadline := time.NewTimer(cfg.lockWait)
		defer deadline.Stop()
		for backoff := 5 * time.Millisecond; ; backoff = min(2*backoff, 100*time.Millisecond) {
			select {
			case <-deadline.C:
				return noop // the owner is slow or gone: compute ourselves
			case <-ctx.Done():
				return noop
			case <-time.After(backoff):
			}
			if data, ok := c.freshEntry(ctx, sk, newerThan); ok {
				return heldLock{data: data, release: func() {}}
			}
			tried = time.Now()
			if got, err = c.tryLock(ctx, lockKey, key, token, storeLease); err != nil {
				return noop
			} else if got {
				break // the owner released without storing (it failed): our turn
			}
		}
	}
	l := heldLock{release: func() { c.unlock(context.WithoutCancel(ctx), lockKey, key, token) }, until: tried.Add(lease)}
	// The owner before us may have stored the value between our read and the lock.
	if data, ok := c.freshEntry(ctx, sk, newerThan); ok {
		l.data = data
	}
	return l
}

func (c *Cache) tryLock(ctx context.Context, lockKey, key, token string, lease time.Duration) (bool, error) {
	var got bool
	err := c.call(ctx, opLock, lockKey, func(ctx context.Context) (err error) {
		if l, ok := c.store.(Locker); ok {
			got, err = l.Lock(ctx, lockKey, token, lease)
		} else {
			got, err = c.store.Add(ctx, lockKey, []byte(token), lease)
		}
		return err
	})
	if err != nil {
		_ = c.failed(opLock, key, err)
	}
	return got, err
}

func (c *Cache) unlock(ctx context.Context, lockKey, key, token string) {
	err := c.call(ctx, opUnlock, lockKey, func(ctx context.Context) (err error) {
		if l, ok := c.store.(Locker); ok {
			_, err = l.Unlock(ctx, lockKey, token)
			return err
		}
		return c.store.Delete(ctx, lockKey) // without a Locker, release is not owner-checked
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		_ = c.failed(opUnlock, key, err)
	}
	if errors.Is(err, ErrDeclined) {
		c.stuckLock(ctx, lockKey, err)
	}
}

// stuckLock handles a store that declined to release a lock (a Redis user
// without EVAL): it says so once in the log, shortens the lock it could
// not release where the store can (an unchecked PEXPIRE, which at worst
// shortens the lease of another owner who took it since), and from then on
// takes locks with a short lease that expires on its own.
func (c *Cache) stuckLock(ctx context.Context, lockKey string, err error) {
	if c.locksStick.CompareAndSwap(false, true) {
		c.log.LogAttrs(ctx, slog.LevelWarn, "corral: the store cannot release locks; they expire instead",
			slog.Duration("lease", stuckLease), slog.Any("error", err))
	}
	if t, ok := c.store.(Toucher); ok {
		_ = c.call(ctx, opUnlock, lockKey, func(ctx context.Context) error {
			_, err := t.Touch(ctx, lockKey, stuckLease)
			return err
		})
	}
}

// freshEntry returns the envelope stored under sk if it is fresh and was
// written after newerThan.
func (c *Cache) freshEntry(ctx context.Context, sk string, newerThan time.Time) ([]byte, bool) {
	data, err := c.get(ctx, sk)
	if err != nil {
		return nil, false
	}
	if e, state := envelope.Classify(data, time.Now()); state == envelope.Fresh && e.WrittenAt.After(newerThan) {
		return data, true
	}
	return nil, false
}
