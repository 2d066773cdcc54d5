package guard

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/sony/gobreaker/v2"
)

// shard is the health of one part of the store (a Redis Cluster master, or
// the whole store): its breaker, its failures in a row, whether it is
// failing.
type shard struct {
	g       *Guard
	name    string
	breaker *gobreaker.CircuitBreaker[struct{}] // nil: no breaker
	down    atomic.Bool                         // the breaker is open: calls are refused, a probe runs
	outages atomic.Uint64                       // the breaker's openings: a probe loop belongs to one

	streak  atomic.Uint32 // consecutive failures
	mu      sync.Mutex    // orders the health reports
	failing atomic.Bool
}

// shard returns the named shard, made at its first call.
func (g *Guard) shard(name string) *shard {
	if name == "" {
		return g.whole
	}
	if sh, ok := g.shards.Load(name); ok {
		return sh.(*shard)
	}
	sh, _ := g.shards.LoadOrStore(name, g.newShard(name))
	return sh.(*shard)
}

func (g *Guard) newShard(name string) *shard {
	sh := &shard{g: g, name: name}
	if g.cfg.Failures == 0 {
		return sh
	}
	sh.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		// An open breaker may be half-open at once: calls are refused
		// while it is down, and the probe, not a clock, tries the shard.
		Timeout:       time.Nanosecond,
		ReadyToTrip:   func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= g.cfg.Failures },
		IsSuccessful:  func(err error) bool { _, failed := g.judged(err); return !failed },
		IsExcluded:    func(err error) bool { counts, _ := g.judged(err); return !counts },
		OnStateChange: sh.changed,
	})
	return sh
}

// run makes one call through the shard's breaker, and notes what it says
// of the shard's health before the breaker does: a failing report comes
// before the probe that may end it.
func (sh *shard) run(ctx context.Context, fn func(ctx context.Context) error) error {
	if sh.breaker == nil {
		err := sh.g.bounded(ctx, fn)
		sh.note(err)
		return err
	}
	_, err := sh.breaker.Execute(func() (struct{}, error) {
		err := sh.g.bounded(ctx, fn)
		sh.note(err)
		return struct{}{}, err
	})
	return err
}

// changed follows the breaker: when it opens, calls are refused and a probe
// starts in the background; when a probe closes it, calls go on.
func (sh *shard) changed(_ string, from, to gobreaker.State) {
	switch {
	case from == gobreaker.StateClosed && to == gobreaker.StateOpen:
		sh.down.Store(true)
		first, _ := sh.g.probeWaits()
		go probeUntilClosed(weak.Make(sh), sh.outages.Add(1), first)
	case to == gobreaker.StateClosed:
		sh.down.Store(false)
	}
	if f := sh.g.cfg.StateChange; f != nil {
		f(sh.name, from.String(), to.String())
	}
}

// probeUntilClosed probes the shard of an open breaker, after waits that
// double up to the cool-down, until a probe closes it, another outage has
// begun (with a loop of its own), or nothing holds the shard any more (its
// cache is gone): between probes the loop holds it weakly.
func probeUntilClosed(w weak.Pointer[shard], outage uint64, wait time.Duration) {
	for {
		time.Sleep(wait) // the probe's schedule, not a synchronisation
		sh := w.Value()
		if sh == nil || !sh.down.Load() || sh.outages.Load() != outage {
			return
		}
		sh.probe()
		_, most := sh.g.probeWaits()
		wait = min(2*wait, most)
	}
}

// probe calls the shard through its breaker, half-open by now: an answer
// closes it. It is bounded by the timeout (the cool-down without one).
func (sh *shard) probe() {
	g := sh.g
	budget := g.cfg.Timeout
	if budget <= 0 {
		_, budget = g.probeWaits()
	}
	_, _ = sh.breaker.Execute(func() (struct{}, error) {
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		defer cancel()
		err := safely(ctx, func(ctx context.Context) error { return g.cfg.Probe(ctx, sh.name) })
		sh.note(err)
		return struct{}{}, err
	})
}

// probeWaits returns the wait before the first probe of an open breaker,
// and the longest between two: the cool-down.
func (g *Guard) probeWaits() (first, most time.Duration) {
	most = g.cfg.CoolDown
	if most <= 0 {
		most = firstProbe
	}
	return min(firstProbe, most), most
}

// note counts a call's outcome toward the shard's health: failing after
// the breaker's number of consecutive failures, recovered at the first
// success after that.
func (sh *shard) note(err error) {
	counts, failed := sh.g.judged(err)
	switch {
	case !counts:
	case failed:
		if sh.streak.Add(1) >= sh.g.failures() && !sh.failing.Load() {
			sh.report(true, err)
		}
	default:
		if sh.streak.Load() != 0 {
			sh.streak.Store(0)
		}
		if sh.failing.Load() {
			sh.report(false, nil)
		}
	}
}

// report tells a change of the shard's health, once.
func (sh *shard) report(failing bool, err error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.failing.Load() == failing {
		return
	}
	sh.failing.Store(failing)
	if f := sh.g.cfg.Health; f != nil {
		f(sh.name, failing, err)
	}
}

// failures is how many consecutive failures make a shard failing.
func (g *Guard) failures() uint32 {
	if g.cfg.Failures == 0 {
		return DefaultFailures
	}
	return g.cfg.Failures
}
