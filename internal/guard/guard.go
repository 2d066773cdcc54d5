// Package guard bounds every call to a store outside the process: a
// timeout that leaves the caller time of its own, one circuit breaker
// (sony/gobreaker/v2) per shard of the store, which a background probe
// closes again as soon as the shard answers, and a panic in the store
// turned into an error.
package guard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrOpen is what calls return while the breaker is open: they are not made.
var ErrOpen = errors.New("circuit breaker open: the store is not called")

// Config is how a Guard behaves. Zero fields turn their part off.
type Config struct {
	// Timeout bounds every call; 0: only the caller's context. A caller
	// with a deadline gives a call at most half of the time it has left.
	Timeout time.Duration
	// Failures is how many consecutive failures of a shard open its
	// breaker; 0: no breaker (the shard's health is still reported, after
	// DefaultFailures).
	Failures uint32
	// CoolDown is the longest wait between two probes of an open breaker.
	CoolDown time.Duration

	// Answered reports whether a call's error says the store works (a miss,
	// an answer about the value): such calls are successes.
	Answered func(err error) bool
	// Probe calls the shard in the background while its breaker is open;
	// an answer closes it. No caller waits for it.
	Probe func(ctx context.Context, shard string) error
	// Observe sees every call made, with its duration and error; calls that
	// the breaker refused or that their caller ended are not observed.
	Observe func(op string, took time.Duration, err error)
	// Rejected counts the calls the open breaker refused.
	Rejected func()
	// Health sees each change of a shard's health, once: failing (with the
	// failure that decided it) after Failures consecutive failures, and
	// recovered (err nil) at its first success after that.
	Health func(shard string, failing bool, err error)
	// StateChange sees the breakers' transitions.
	StateChange func(shard, from, to string)
}

// DefaultFailures is how many consecutive failures make a shard failing
// when there is no breaker.
const DefaultFailures = 5

// firstProbe is the wait before the first probe of an open breaker; the
// waits double from there up to the cool-down.
const firstProbe = 50 * time.Millisecond

// callerShare divides what is left of a caller's deadline: a store call
// gets at most that share, the caller keeps the rest to compute.
const callerShare = 2

// Guard runs store calls. It is safe for concurrent use.
type Guard struct {
	cfg    Config
	whole  *shard   // the shard named "": the whole store, or keys of no known shard
	shards sync.Map // other names → *shard, made at their first call
}

// New returns a guard configured by cfg. It panics when cfg has a breaker
// but no probe.
func New(cfg Config) *Guard {
	if cfg.Failures > 0 && cfg.Probe == nil {
		panic("corral/internal/guard: a breaker needs a Probe")
	}
	g := &Guard{cfg: cfg}
	g.whole = g.newShard("")
	return g
}

// Do runs one store operation op (one or more calls) on keys of one shard
// ("" for a store of one shard): bounded by its budget, through the shard's
// breaker, with a panic turned into an error.
func (g *Guard) Do(ctx context.Context, op, shard string, fn func(ctx context.Context) error) error {
	sh := g.shard(shard)
	if sh.down.Load() {
		return g.reject()
	}
	start := time.Now()
	err := sh.run(ctx, fn)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return g.reject()
	}
	g.observe(op, start, err)
	return err
}

// DoAcross runs one store operation on keys of several shards (nil: every
// shard). It is refused while the breaker of any of them is open; its
// outcome counts for none, since it cannot say which shard failed.
func (g *Guard) DoAcross(ctx context.Context, op string, shards []string, fn func(ctx context.Context) error) error {
	if len(shards) == 1 {
		return g.Do(ctx, op, shards[0], fn)
	}
	if g.anyDown(shards) {
		return g.reject()
	}
	start := time.Now()
	err := g.bounded(ctx, fn)
	g.observe(op, start, err)
	return err
}

// State is the breakers' state: "open" while any shard's breaker is open
// (or probing), "closed" otherwise, and "none" without breakers.
func (g *Guard) State() string {
	switch {
	case g.cfg.Failures == 0:
		return "none"
	case g.anyDown(nil):
		return "open"
	}
	return "closed"
}

func (g *Guard) reject() error {
	if g.cfg.Rejected != nil {
		g.cfg.Rejected()
	}
	return ErrOpen
}

func (g *Guard) observe(op string, start time.Time, err error) {
	if _, gone := err.(*callerGone); !gone && g.cfg.Observe != nil {
		g.cfg.Observe(op, time.Since(start), err)
	}
}

// anyDown reports whether the breaker of any of the named shards (nil:
// of any shard) is open.
func (g *Guard) anyDown(names []string) bool {
	if names != nil {
		for _, name := range names {
			if g.shard(name).down.Load() {
				return true
			}
		}
		return false
	}
	down := g.whole.down.Load()
	g.shards.Range(func(_, sh any) bool {
		down = down || sh.(*shard).down.Load()
		return !down
	})
	return down
}

// bounded runs fn within its budget (see [Guard.budget]), and turns a panic
// of the store into an error. A call its caller cancelled says nothing of
// the store (callerGone), nor does one cut short by a budget too small to
// judge the store by (cutShort); one cut by its caller's deadline during a
// stall is a failure like any timeout.
func (g *Guard) bounded(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return &callerGone{err}
	}
	budget, judged := g.budget(ctx)
	cctx := ctx
	if budget > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
	}
	err := safely(cctx, fn)
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.Canceled):
		return &callerGone{err}
	case !judged && cctx.Err() != nil:
		return &cutShort{err}
	}
	return err
}

// safely runs fn, and turns a panic of the store into an error.
func safely(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the store panicked: %v", r)
		}
	}()
	return fn(ctx)
}

// budget is how long a call may take: the timeout, and at most a share of
// what is left of the caller's deadline, so that the caller still has time
// to compute. judged reports whether the budget is long enough for a
// timeout to say something of the store: a tenth of the timeout at least.
func (g *Guard) budget(ctx context.Context) (budget time.Duration, judged bool) {
	budget = g.cfg.Timeout
	deadline, ok := ctx.Deadline()
	if !ok {
		return budget, true
	}
	share := time.Until(deadline) / callerShare
	if budget > 0 && budget <= share {
		return budget, true
	}
	return max(share, time.Nanosecond), share >= g.cfg.Timeout/10
}

// callerGone is a store call ended by its caller's own context.
type callerGone struct{ err error }

func (g *callerGone) Error() string { return g.err.Error() }
func (g *callerGone) Unwrap() error { return g.err }

// cutShort is a store call that ran out of a budget its caller's deadline
// made too short to judge the store by.
type cutShort struct{ err error }

func (c *cutShort) Error() string { return c.err.Error() }
func (c *cutShort) Unwrap() error { return c.err }

// judged reports whether err, as bounded returns it, says something of the
// store's health, and whether that is a failure.
func (g *Guard) judged(err error) (counts, failed bool) {
	switch err.(type) {
	case nil:
		return true, false
	case *callerGone, *cutShort:
		return false, false
	}
	return true, g.cfg.Answered == nil || !g.cfg.Answered(err)
}
