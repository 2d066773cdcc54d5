//go:build go1.25

package corral_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// A key read steadily, with a 300 ms TTL and a 30 ms computation, never
// makes a caller wait for its computation after the first under
// RefreshAhead; without it, a caller waits at each expiry.
func TestRefreshAheadKeepsHotKeyFresh(t *testing.T) {
	tests := []struct {
		name     string
		opts     []corral.MemoOption
		maxWait  time.Duration
		maxMiss  uint64
		minFresh int32 // computations over the 1.5 s
	}{
		{"refresh ahead", []corral.MemoOption{corral.RefreshAhead(1)}, 0, 1, 5},
		{"without", nil, time.Hour, 1 << 20, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				slowest, misses, runs := steadyReads(t, tt.opts)
				if tt.opts == nil && slowest < 30*time.Millisecond {
					t.Fatalf("without RefreshAhead no caller waited (slowest %v): the test shows nothing", slowest)
				}
				if slowest > tt.maxWait || misses > tt.maxMiss || runs < tt.minFresh {
					t.Fatalf("slowest read waited %v, %d misses, %d computations; want at most %v, %d misses, at least %d computations",
						slowest, misses, runs, tt.maxWait, tt.maxMiss, tt.minFresh)
				}
			})
		})
	}
}

// steadyReads reads one key every millisecond for 1.5 s (on synctest's
// clock) after its first computation, and returns the longest read, the
// misses and the computations.
func steadyReads(t *testing.T, opts []corral.MemoOption) (time.Duration, uint64, int32) {
	ctx := context.Background()
	c := newBubbleCache(t)
	var runs atomic.Int32
	get := corral.Memoize(c, "report", 300*time.Millisecond, func(ctx context.Context, id int) (int32, error) {
		time.Sleep(30 * time.Millisecond)
		return runs.Add(1), nil
	}, opts...)
	_, _ = get(ctx, 1)
	var slowest time.Duration
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(time.Millisecond) {
		start := time.Now()
		if _, err := get(ctx, 1); err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
	}
	time.Sleep(time.Second) // a refresh in flight ends
	synctest.Wait()
	return slowest, c.Stats().Misses, runs.Load()
}

// RefreshAhead applies to MemoizeMany: ids read steadily are refreshed in
// the background, in batches, and no call waits after the first.
func TestRefreshAheadMemoizeMany(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newBubbleCache(t)
		var calls atomic.Int32
		many := corral.MemoizeMany(c, "user", 300*time.Millisecond, func(ctx context.Context, ids []int) (map[int]string, error) {
			calls.Add(1)
			time.Sleep(30 * time.Millisecond)
			return users(ids), nil
		}, corral.RefreshAhead(1))
		_, _ = many(ctx, ids(1, 10))
		for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(time.Millisecond) {
			start := time.Now()
			got, err := many(ctx, ids(1, 10))
			if err != nil || len(got) != 10 || time.Since(start) > 0 {
				t.Fatalf("a steady read = %d values, %v, after %v; want 10 at once", len(got), err, time.Since(start))
			}
		}
		time.Sleep(time.Second) // a refresh in flight ends
		synctest.Wait()
		if s := c.Stats(); s.Misses != 10 || calls.Load() < 5 {
			t.Fatalf("%d misses and %d calls of fn; want the first 10 misses only, and background refreshes", s.Misses, calls.Load())
		}
	})
}

// StaleIfError applies per id: when a batch fails, the ids that have a
// recent value get it, and only the others fail.
func TestMemoizeManyStaleIfErrorPerID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newBubbleCache(t)
		errDB := errors.New("db down")
		var fail atomic.Bool
		many := corral.MemoizeMany(c, "user", 10*time.Second, func(ctx context.Context, ids []int) (map[int]string, error) {
			if fail.Load() {
				return nil, errDB
			}
			return users(ids), nil
		}, corral.StaleIfError(time.Minute))
		_, _ = many(ctx, ids(1, 2))
		time.Sleep(20 * time.Second) // expired, inside the stale-if-error window
		fail.Store(true)
		got, err := many(ctx, ids(1, 3))
		if !errors.Is(err, errDB) || got[1] != "u1" || got[2] != "u2" || len(got) != 2 {
			t.Fatalf("got %v, %v; want the stale 1 and 2, and an error for 3 only", got, err)
		}
	})
}

// StaleWhileRevalidate serves expired ids at once and refreshes them in
// one background call of fn.
func TestMemoizeManyStaleWhileRevalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newBubbleCache(t)
		var asked [][]int
		var mu sync.Mutex
		var version atomic.Int32
		many := corral.MemoizeMany(c, "user", 10*time.Second, func(ctx context.Context, ids []int) (map[int]int32, error) {
			mu.Lock()
			asked = append(asked, slices.Sorted(slices.Values(ids)))
			mu.Unlock()
			n := version.Add(1)
			out := map[int]int32{}
			for _, id := range ids {
				out[id] = n
			}
			return out, nil
		}, corral.StaleWhileRevalidate(time.Minute))
		_, _ = many(ctx, ids(1, 3))
		time.Sleep(15 * time.Second)
		if got, _ := many(ctx, ids(1, 4)); got[1] != 1 || got[3] != 1 || got[4] < 2 {
			t.Fatalf("got %v; want the stale 1..3 at once and 4 computed", got)
		}
		synctest.Wait()
		got, _ := many(ctx, ids(1, 4))
		if got[1] < 2 || got[1] != got[3] || len(asked) != 3 || !slices.ContainsFunc(asked, func(a []int) bool { return slices.Equal(a, ids(1, 3)) }) {
			t.Fatalf("after the refresh got %v (fn asked %v); want 1..3 refreshed in one call", got, asked)
		}
		if s := c.Stats(); s.Refreshes != 3 || s.StaleServed != 3 {
			t.Fatalf("stats %+v; want 3 refreshes, 3 stale served", s)
		}
	})
}

// TTLFunc sets a result's TTL from the value: a token lives as long as it
// says, a value with a negative TTL is not stored.
func TestTTLFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newBubbleCache(t)
		type token struct {
			Value   string
			Expires time.Duration
		}
		var runs atomic.Int32
		fetch := corral.Memoize(c, "token", time.Hour, func(ctx context.Context, scope string) (token, error) {
			runs.Add(1)
			if scope == "once" {
				return token{Value: scope, Expires: -time.Second}, nil
			}
			return token{Value: scope, Expires: time.Minute}, nil
		}, corral.TTLFunc(func(t token) time.Duration { return t.Expires }))
		for _, scope := range []string{"read", "read", "once", "once"} {
			_, _ = fetch(ctx, scope)
		}
		if runs.Load() != 3 {
			t.Fatalf("%d computations; want read once, and once twice (not stored)", runs.Load())
		}
		time.Sleep(2 * time.Minute) // past the token's minute, within the call's hour
		_, _ = fetch(ctx, "read")
		if runs.Load() != 4 {
			t.Fatalf("%d computations; want the token recomputed after its own minute", runs.Load())
		}
	})
}

// An error that CacheNotFound caches keeps its message, and matches
// errors.Is, on every later call.
func TestCachedNotFoundKeepsMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newBubbleCache(t)
		errGone := errors.New("not found")
		get := corral.Memoize(c, "user", time.Minute, func(ctx context.Context, id int) (string, error) {
			return "", fmt.Errorf("user %d: %w", id, errGone)
		}, corral.CacheNotFound(errGone, time.Minute))
		for i := range 3 {
			if _, err := get(ctx, 42); !errors.Is(err, errGone) || err.Error() != "user 42: not found" {
				t.Fatalf("call %d: %v; want %q matching the target", i, err, "user 42: not found")
			}
		}
		if s := c.Stats(); s.Computations != 1 {
			t.Fatalf("%d computations, want 1", s.Computations)
		}
	})
}
