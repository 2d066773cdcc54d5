package corral

import (
	"context"
	"errors"
	"log/slog"

	"github.com/corralhq/corral/internal/guard"
)

// newGuard returns the guard of every call to a store outside the process:
// the per-call timeout, the circuit breaker, and a store panic turned into
// an error, observed.
func (c *Cache) newGuard() *guard.Guard {
	return guard.New(guard.Config{
		Timeout:  max(c.timeout, 0),
		Failures: c.breakerFailures,
		CoolDown: c.breakerCoolDown,
		Answered: storeAnswered,
		Observe:  c.observe,
		Rejected: func() { c.stats.rejected.Add(1) },
		StateChange: func(from, to string) {
			// The store's health is logged once per change by observe; this
			// is the detail.
			c.log.LogAttrs(context.Background(), slog.LevelDebug, "corral: store circuit breaker",
				slog.String("from", from), slog.String("to", to))
		},
	})
}

// storeAnswered reports whether a store call's error says the store works: no
// error, a miss, an answer about the value, or a call it declined.
func storeAnswered(err error) bool {
	return err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotInteger) ||
		errors.Is(err, ErrTooLarge) || errors.Is(err, ErrDeclined)
}

// call runs one store operation op (one or more calls) through the guard;
// the in-process store is called as it is.
func (c *Cache) call(ctx context.Context, op StoreOp, fn func(ctx context.Context) error) error {
	if c.guard == nil {
		return fn(ctx)
	}
	return c.guard.Do(ctx, string(op), fn)
}

// BreakerState reports the circuit breaker's state: "closed", "open",
// "half-open", or "none" when there is no breaker.
func (c *Cache) BreakerState() string {
	if c.guard == nil {
		return "none"
	}
	return c.guard.State()
}
