// Package guard bounds every call to a store outside the process: a
// per-call timeout, a circuit breaker (sony/gobreaker/v2), and a panic in
// the store turned into an error.
package guard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrOpen is what calls return while the breaker is open: they are not made.
var ErrOpen = errors.New("circuit breaker open: the store is not called")

// Config is how a Guard behaves. Zero fields turn their part off.
type Config struct {
	Timeout  time.Duration // per call; 0: only the caller's context
	Failures uint32        // consecutive failures that open the breaker; 0: no breaker
	CoolDown time.Duration // how long the breaker stays open before one probe

	// Answered reports whether a call's error says the store works (a miss,
	// an answer about the value): such calls are successes.
	Answered func(err error) bool
	// Observe sees every call made, with its duration and error; calls that
	// the breaker refused or that their caller ended are not observed.
	Observe func(op string, took time.Duration, err error)
	// Rejected counts the calls the open breaker refused.
	Rejected func()
	// StateChange sees the breaker's transitions.
	StateChange func(from, to string)
}

// Guard runs store calls. It is safe for concurrent use.
type Guard struct {
	cfg     Config
	breaker *gobreaker.CircuitBreaker[struct{}]
}

// New returns a guard configured by cfg.
func New(cfg Config) *Guard {
	g := &Guard{cfg: cfg}
	if cfg.Failures == 0 {
		return g
	}
	g.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         "corral",
		MaxRequests:  1,
		Timeout:      cfg.CoolDown,
		ReadyToTrip:  func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= cfg.Failures },
		IsSuccessful: cfg.Answered,
		IsExcluded:   func(err error) bool { var g *callerGone; return errors.As(err, &g) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if cfg.StateChange != nil {
				cfg.StateChange(from.String(), to.String())
			}
		},
	})
	return g
}

// Do runs one store operation op (one or more calls): bounded by the
// per-call timeout, through the breaker, with a panic turned into an error.
func (g *Guard) Do(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	start := time.Now()
	var err error
	if g.breaker == nil {
		err = g.bounded(ctx, fn)
	} else {
		_, err = g.breaker.Execute(func() (struct{}, error) { return struct{}{}, g.bounded(ctx, fn) })
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			if g.cfg.Rejected != nil {
				g.cfg.Rejected()
			}
			return ErrOpen
		}
	}
	if gone := (*callerGone)(nil); !errors.As(err, &gone) && g.cfg.Observe != nil {
		g.cfg.Observe(op, time.Since(start), err)
	}
	return err
}

func (g *Guard) bounded(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	cctx := ctx
	if g.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, g.cfg.Timeout)
		defer cancel()
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the store panicked: %v", r)
		}
	}()
	if err = fn(cctx); err != nil && ctx.Err() != nil {
		return &callerGone{err} // the caller gave up: says nothing of the store
	}
	return err
}

// CallerGone reports whether err is a call ended by its caller's context.
func CallerGone(err error) bool {
	var g *callerGone
	return errors.As(err, &g)
}

// callerGone is a store call ended by its caller's own context.
type callerGone struct{ err error }

func (g *callerGone) Error() string { return g.err.Error() }
func (g *callerGone) Unwrap() error { return g.err }

// State is the breaker's state: "closed", "open", "half-open", or "none".
func (g *Guard) State() string {
	if g.breaker == nil {
		return "none"
	}
	return g.breaker.State().String()
}
