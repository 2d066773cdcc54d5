package guard

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var errDown = errors.New("down")

func failing(context.Context) error { return errDown }
func working(context.Context) error { return nil }

// healthLog records the health reports of a guard, in order.
type healthLog struct {
	mu      sync.Mutex
	reports []string
}

func (h *healthLog) report(shard string, failing bool, _ error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	state := "recovered"
	if failing {
		state = "failing"
	}
	h.reports = append(h.reports, shard+" "+state)
}

func (h *healthLog) get() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.reports...)
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after 5 s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A dead shard opens its own breaker only; its probe, not a caller, finds
// it back; its health is reported once each way, however the calls of
// other shards interleave.
func TestShardsFailApart(t *testing.T) {
	var dead atomic.Bool
	dead.Store(true)
	var probes atomic.Int64
	var health healthLog
	g := New(Config{Failures: 3, CoolDown: 10 * time.Millisecond, Health: health.report,
		Probe: func(_ context.Context, shard string) error {
			probes.Add(1)
			if shard == "a" && dead.Load() {
				return errDown
			}
			return nil
		}})
	ctx := context.Background()
	for range 20 {
		g.Do(ctx, "get", "a", failing)
		if err := g.Do(ctx, "get", "b", working); err != nil {
			t.Fatalf("shard b = %v while shard a is down", err)
		}
	}
	if err := g.Do(ctx, "get", "a", working); !errors.Is(err, ErrOpen) {
		t.Fatalf("shard a = %v, want ErrOpen", err)
	}
	if err := g.DoAcross(ctx, "get_many", []string{"a", "b"}, working); !errors.Is(err, ErrOpen) {
		t.Fatalf("a call across shards a and b = %v, want ErrOpen", err)
	}
	eventually(t, "probed twice", func() bool { return probes.Load() >= 2 })
	dead.Store(false)
	eventually(t, "closed by the probe", func() bool { return g.State() == "closed" })
	if err := g.Do(ctx, "get", "a", working); err != nil {
		t.Fatalf("shard a after recovery = %v", err)
	}
	if got := health.get(); len(got) != 2 || got[0] != "a failing" || got[1] != "a recovered" {
		t.Fatalf("health reports %q, want a failing, a recovered", got)
	}
}

// Failures that alternate with successes do not make a shard failing, and
// make no report.
func TestInterleavedFailuresReportNothing(t *testing.T) {
	var health healthLog
	g := New(Config{Failures: 3, CoolDown: time.Second, Health: health.report, Probe: func(context.Context, string) error { return nil }})
	for range 100 {
		g.Do(context.Background(), "get", "", failing)
		g.Do(context.Background(), "get", "", working)
	}
	if got := health.get(); len(got) != 0 || g.State() != "closed" {
		t.Fatalf("breaker %s, health reports %q; want closed, none", g.State(), got)
	}
}

// A call gets at most half of what is left of its caller's deadline. Cut
// short by it during a stall, it is a failure; cut shorter than a tenth of
// the timeout, it says nothing of the store; cancelled by its caller, nor.
func TestCallerDeadlineShare(t *testing.T) {
	g := New(Config{Timeout: 100 * time.Millisecond, Failures: 1, CoolDown: time.Hour,
		Probe: func(context.Context, string) error { return errDown }})
	stall := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	call := func(left time.Duration) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), left)
		defer cancel()
		start := time.Now()
		err := g.Do(ctx, "get", "", stall)
		return time.Since(start), err
	}
	if took, err := call(8 * time.Millisecond); took >= 8*time.Millisecond || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with 8 ms left: %v after %v, want a deadline within 4 ms", err, took)
	}
	if g.State() != "closed" {
		t.Fatal("a 4 ms budget, under a tenth of the timeout, opened the breaker")
	}
	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	g.Do(ctx, "get", "", stall)
	if g.State() != "closed" {
		t.Fatal("a cancelled caller opened the breaker")
	}
	if took, _ := call(50 * time.Millisecond); took >= 50*time.Millisecond {
		t.Fatalf("with 50 ms left the call took %v", took)
	}
	if g.State() != "open" {
		t.Fatal("a call cut at 25 ms by its caller's share did not count as a failure")
	}
}

// The probe of an open breaker stops when nothing holds its guard.
func TestProbeStopsWithItsGuard(t *testing.T) {
	var probes atomic.Int64
	g := New(Config{Failures: 1, CoolDown: time.Millisecond,
		Probe: func(context.Context, string) error { probes.Add(1); return errDown }})
	g.Do(context.Background(), "get", "", failing)
	eventually(t, "probing", func() bool { return probes.Load() >= 3 })
	g = nil
	eventually(t, "stopped", func() bool {
		runtime.GC()
		before := probes.Load()
		time.Sleep(20 * time.Millisecond) // 20 cool-downs without a probe
		return probes.Load() == before
	})
}
