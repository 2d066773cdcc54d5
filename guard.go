package corral

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Defaults of the circuit breaker around the store.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCoolDown = 5 * time.Second
)

// errBreakerOpen is what store calls return while the circuit breaker is
// open: they are not made. It wraps into ErrUnavailable like any failure.
var errBreakerOpen = errors.New("corral: circuit breaker open: the store is not called")

// WithCircuitBreaker sets the circuit breaker around the store (on
// github.com/sony/gobreaker/v2): after failures consecutive failed or timed
// out calls, the cache stops calling the store for coolDown, during which
// reads are misses and writes are dropped at once; then one call probes the
// store, and success closes the breaker. Misses and caller cancellations are
// not failures. failures 0 turns the breaker off. The in-process memory store
// is never behind a breaker. It panics on coolDown <= 0 with failures > 0.
// Default: 5 failures, 5 s.
func WithCircuitBreaker(failures uint32, coolDown time.Duration) Option {
	if failures > 0 && coolDown <= 0 {
		panic(fmt.Sprintf("corral: WithCircuitBreaker(%d, %v): want a positive cool-down", failures, coolDown))
	}
	return func(c *Cache) { c.breakerFailures, c.breakerCoolDown = failures, coolDown }
}

func (c *Cache) newBreaker() *gobreaker.CircuitBreaker[struct{}] {
	if c.breakerFailures == 0 || c.local {
		return nil
	}
	failures := c.breakerFailures
	return gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         "corral",
		MaxRequests:  1,
		Timeout:      c.breakerCoolDown,
		ReadyToTrip:  func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= failures },
		IsSuccessful: storeAnswered,
		IsExcluded:   func(err error) bool { var g *callerGone; return errors.As(err, &g) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			// The store's health is logged once per change by observe; this
			// is the detail.
			c.log.LogAttrs(context.Background(), slog.LevelDebug, "corral: store circuit breaker",
				slog.String("from", from.String()), slog.String("to", to.String()))
		},
	})
}

// storeAnswered reports whether a store call's error says the store works: no
// error, a miss, or an answer about the value.
func storeAnswered(err error) bool {
	return err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotInteger) || errors.Is(err, ErrTooLarge)
}

// do runs one store operation op (one or more calls): bounded by the
// per-call timeout, through the circuit breaker, with a panic in the store
// turned into an error, and observed. The in-process store is called as it is.
func (c *Cache) do(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	if c.local {
		return fn(ctx)
	}
	start := time.Now()
	var err error
	if c.breaker == nil {
		err = c.bounded(ctx, fn)
	} else {
		_, err = c.breaker.Execute(func() (struct{}, error) { return struct{}{}, c.bounded(ctx, fn) })
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			c.stats.rejected.Add(1)
			return errBreakerOpen // not a call: nothing to observe
		}
	}
	if g := (*callerGone)(nil); !errors.As(err, &g) {
		c.observe(op, start, err)
	}
	return err
}

func (c *Cache) bounded(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	cctx, cancel := c.call(ctx)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corral: the store panicked: %v", r)
		}
	}()
	if err = fn(cctx); err != nil && ctx.Err() != nil {
		return &callerGone{err} // the caller gave up: says nothing of the store
	}
	return err
}

// callerGone is a store call ended by its caller's own context.
type callerGone struct{ err error }

func (g *callerGone) Error() string { return g.err.Error() }
func (g *callerGone) Unwrap() error { return g.err }

// BreakerState reports the circuit breaker's state: "closed", "open",
// "half-open", or "none" when there is no breaker.
func (c *Cache) BreakerState() string {
	if c.breaker == nil {
		return "none"
	}
	return c.breaker.State().String()
}
