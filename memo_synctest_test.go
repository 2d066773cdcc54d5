//go:build go1.25

package corral_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// These tests run on synctest's fake clock: time.Sleep moves it, and
// synctest.Wait waits until every goroutine of the test is blocked.

func newBubbleCache(t *testing.T) *corral.Cache {
	s := corral.NewMemoryStore(corral.CleanupInterval(0))
	return corral.New(s)
}

func TestStaleWhileRevalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newBubbleCache(t)
		opt := corral.StaleWhileRevalidate(time.Minute)
		var version atomic.Int32
		release := make(chan struct{})
		fn := func(context.Context) (int32, error) {
			n := version.Add(1)
			if n > 1 {
				<-release // refreshes wait until the test lets them land
			}
			return n, nil
		}
		if v, _ := corral.GetOrSet(ctx, c, "k", 10*time.Second, fn, opt); v != 1 {
			t.Fatalf("first call = %d", v)
		}
		time.Sleep(15 * time.Second) // expired, inside the stale window
		for range 20 {
			if v, err := corral.GetOrSet(ctx, c, "k", 10*time.Second, fn, opt); v != 1 || err != nil {
				t.Fatalf("stale call = %d, %v; want the old value at once", v, err)
			}
		}
		synctest.Wait() // the refresh is blocked on release
		if s := c.Stats(); s.Refreshes != 1 || s.Computations != 2 || s.StaleServed != 20 {
			t.Fatalf("stats = %+v, want 1 refresh, 2 computations, 20 stale served", s)
		}
		close(release)
		synctest.Wait() // the refresh has stored its value
		if v, _ := corral.GetOrSet(ctx, c, "k", 10*time.Second, fn, opt); v != 2 {
			t.Fatalf("after the refresh = %d, want 2", v)
		}
		// Past the stale window, callers wait for a fresh value.
		time.Sleep(10*time.Second + time.Minute + time.Second)
		if v, _ := corral.GetOrSet(ctx, c, "k", 10*time.Second, fn, opt); v != 3 {
			t.Fatalf("past the stale window = %d, want a fresh 3", v)
		}
	})
}

func TestStaleIfError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newBubbleCache(t)
		opt := corral.StaleIfError(time.Minute)
		errDB := errors.New("db down")
		fail := false
		fn := func(context.Context) (string, error) {
			if fail {
				return "", errDB
			}
			return "good", nil
		}
		corral.GetOrSet(ctx, c, "k", 10*time.Second, fn, opt)
		fail = true
		time.Sleep(30 * time.Second) // expired 20 s ago: inside the window
		if v, err := corral.GetOrSet(ctx, c, "k", 10*time.Second, fn, opt); v != "good" || err != nil {
			t.Fatalf("failing refresh inside the window = %q, %v; want the old value, no error", v, err)
		}
		time.Sleep(time.Minute) // expired 80 s ago: past the window
		if _, err := corral.GetOrSet(ctx, c, "k", 10*time.Second, fn, opt); !errors.Is(err, errDB) {
			t.Fatalf("failing refresh past the window = %v, want the error", err)
		}
		if s := c.Stats(); s.StaleServed != 1 || s.ComputeErrors != 2 {
			t.Fatalf("stats = %+v", s)
		}
	})
}

// A write to a key while its computation runs wins: the computation's value
// goes to its callers but is not stored over the write.
func TestGetOrSetWritesWinOverLoads(t *testing.T) {
	ctx := context.Background()
	writes := map[string]func(c *corral.Cache) error{
		"Delete":      func(c *corral.Cache) error { return c.Delete(ctx, "k") },
		"Set":         func(c *corral.Cache) error { return c.Set(ctx, "k", "written", 0) },
		"Clear":       func(c *corral.Cache) error { return c.Clear(ctx) },
		"IncrVersion": func(c *corral.Cache) error { _, err := c.IncrVersion(ctx, "k", 1); return err },
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newBubbleCache(t)
				keep := corral.StaleIfError(time.Hour) // the expired entry stays in the store
				old := func(context.Context) (string, error) { return "old", nil }
				corral.GetOrSet(ctx, c, "k", time.Second, old, keep)
				time.Sleep(2 * time.Second)

				b := newBlocked("computed")
				got := make(chan string, 1)
				go func() { v, _ := corral.GetOrSet(ctx, c, "k", time.Minute, b.fn, keep); got <- v }()
				<-b.started
				must(t, write(c))
				close(b.release)
				if v := <-got; v != "computed" {
					t.Fatalf("the caller got %q, want the computed value", v)
				}
				var stored string
				found, _ := c.Get(ctx, "k", &stored)
				switch {
				case name == "Set" && stored != "written":
					t.Fatalf("after a Set during the computation the key holds %q, %v", stored, found)
				case name != "Set" && found:
					t.Fatalf("the computation stored %q over a %s made while it ran", stored, name)
				}
				if name == "IncrVersion" {
					if _, err := c.Store().Get(ctx, ":2:k"); err != nil { // moved as it was: expired, so no reader sees it
						t.Fatalf("IncrVersion did not move the value: %v", err)
					}
				}
			})
		})
	}
}

func TestJitterShortensTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newBubbleCache(t)
		fn := func(context.Context) (int, error) { return 1, nil }
		for i := range 50 {
			corral.GetOrSet(ctx, c, string(rune('a'+i)), 100*time.Second, fn, corral.Jitter(0.5))
		}
		time.Sleep(50*time.Second - time.Nanosecond) // no TTL is shorter than half
		live := func() (n int) {
			for i := range 50 {
				if found, _ := c.Get(ctx, string(rune('a'+i)), nil); found {
					n++
				}
			}
			return n
		}
		if n := live(); n != 50 {
			t.Fatalf("%d of 50 alive at half the TTL; jitter shortened one by more than 50%%", n)
		}
		time.Sleep(25 * time.Second)
		if n := live(); n == 0 || n == 50 {
			t.Fatalf("%d of 50 alive at 3/4 of the TTL: the TTLs were not spread", n)
		}
		time.Sleep(25 * time.Second)
		if n := live(); n != 0 {
			t.Fatalf("%d alive past the full TTL", n)
		}
	})
}

// A call that starts after a Delete, a Set (here for ever: NoExpiration) or
// a Clear returned does not get the value of a computation that started
// before it: it reads the write (Set) or computes anew (Delete, Clear), and
// the old value is not stored over it.
func TestReadAfterWriteDoesNotGetOldComputation(t *testing.T) {
	ctx := context.Background()
	writes := []struct {
		name  string
		write func(c *corral.Cache) error
		want  int32 // what a call after the write gets, and what stays stored
	}{
		{"Delete", func(c *corral.Cache) error { return c.Delete(ctx, "user:42") }, 2},
		{"Set forever", func(c *corral.Cache) error { return c.Set(ctx, "user:42", int32(9), corral.NoExpiration) }, 9},
		{"Clear", func(c *corral.Cache) error { return c.Clear(ctx) }, 2},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newBubbleCache(t)
				var version atomic.Int32
				release := make(chan struct{})
				load := func(ctx context.Context) (int32, error) {
					v := version.Add(1)
					if v == 1 {
						<-release
					}
					return v, nil
				}
				first := make(chan int32)
				go func() {
					v, _ := corral.GetOrSet(ctx, c, "user:42", time.Minute, load)
					first <- v
				}()
				synctest.Wait()
				must(t, w.write(c))
				got := make(chan int32, 1)
				go func() { v, _ := corral.GetOrSet(ctx, c, "user:42", time.Minute, load); got <- v }()
				synctest.Wait()
				select {
				case v := <-got:
					if v != w.want {
						t.Fatalf("GetOrSet after %s = %v, want %v", w.name, v, w.want)
					}
				default:
					close(release)
					t.Fatalf("GetOrSet after %s waits for the computation that started before it (got %v)", w.name, <-got)
				}
				close(release)
				if v := <-first; v != 1 {
					t.Fatalf("the first caller got %v", v)
				}
				if v, _ := corral.GetOrSet(ctx, c, "user:42", time.Minute, load); v != w.want {
					t.Fatalf("stored value = %v, want %v (the overtaken computation must not store)", v, w.want)
				}
			})
		})
	}
}

// A TTL or stale window of "forever" (math.MaxInt64) does not overflow the
// times stored with the value: it stays a hit (or a usable stale value) on
// every later call, however late.
func TestForeverTTLsDoNotOverflow(t *testing.T) {
	ctx := context.Background()
	const forever = time.Duration(math.MaxInt64)
	const late = 200 * 365 * 24 * time.Hour
	errDown := errors.New("down")
	cases := []struct {
		name string
		ttl  time.Duration
		opt  corral.MemoOption
	}{
		{"ttl", forever, corral.Jitter(0.1)},
		{"StaleWhileRevalidate", time.Minute, corral.StaleWhileRevalidate(forever)},
		{"StaleIfError", time.Minute, corral.StaleIfError(forever)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newBubbleCache(t)
				fail := false
				fn := func(context.Context) (string, error) {
					if fail {
						return "", errDown
					}
					return "v", nil
				}
				if v, err := corral.GetOrSet(ctx, c, "k", tc.ttl, fn, tc.opt); v != "v" || err != nil {
					t.Fatalf("first call = %q, %v", v, err)
				}
				fail = true // from now on a computation fails: only the stored value answers
				for _, wait := range []time.Duration{time.Second, time.Hour, late} {
					time.Sleep(wait)
					if v, err := corral.GetOrSet(ctx, c, "k", tc.ttl, fn, tc.opt); v != "v" || err != nil {
						t.Fatalf("after %v more = %q, %v; want the stored value", wait, v, err)
					}
					synctest.Wait() // a background refresh, if any, has ended
				}
			})
		})
	}
	t.Run("Set", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := newBubbleCache(t)
			must(t, c.Set(ctx, "k", "v", forever))
			time.Sleep(late)
			if found, err := c.Get(ctx, "k", nil); !found || err != nil {
				t.Fatalf("Set for %v: found %v, %v after %v", forever, found, err, late)
			}
		})
	})
}

// A caller whose context has already ended gets its context's error at
// once: no computation starts, and the store is not counted as failing.
func TestEndedContextStartsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newBubbleCache(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var runs atomic.Int32
		fn := func(context.Context) (int, error) { runs.Add(1); return 1, nil }
		if _, err := corral.GetOrSet(ctx, c, "k", time.Minute, fn); !errors.Is(err, context.Canceled) {
			t.Fatalf("GetOrSet with an ended context = %v, want context.Canceled", err)
		}
		if _, err := corral.Memoize(c, "m", time.Minute, func(ctx context.Context, k int) (int, error) {
			return fn(ctx)
		})(ctx, 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("Memoize with an ended context = %v, want context.Canceled", err)
		}
		synctest.Wait()
		if n := runs.Load(); n != 0 {
			t.Errorf("%d computations ran for callers that had already left", n)
		}
		if s := c.Stats(); s.Errors != 0 || s.Computations != 0 {
			t.Errorf("stats = %+v, want no store error and no computation", s)
		}
	})
}

// Clear of one prefix leaves the computations of other prefixes alone: their
// values are stored, and a later caller of theirs still joins them.
func TestClearKeepsOtherPrefixesComputations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newBubbleCache(t)
		a, b := c.WithPrefix("a"), c.WithPrefix("b")
		blk := newBlocked("b's value")
		got := make(chan string, 2)
		call := func() { v, _ := corral.GetOrSet(ctx, b, "k", time.Minute, blk.fn); got <- v }
		go call()
		<-blk.started
		must(t, a.Clear(ctx))
		go call()
		synctest.Wait() // the second caller waits for the first one's computation
		close(blk.release)
		for range 2 {
			if v := <-got; v != "b's value" {
				t.Fatalf("caller got %q", v)
			}
		}
		if n := blk.runs.Load(); n != 1 {
			t.Errorf("%d computations of b's key, want 1: a Clear of prefix a made a caller of b compute anew", n)
		}
		if found, _ := b.Get(ctx, "k", nil); !found {
			t.Error("a Clear of prefix a kept b's computation from storing its value")
		}
	})
}

// Writes win within the process, not only within one Cache: with two Caches
// made on one store, a Delete through one while the other computes keeps
// the old value out of the store, and later calls through either compute
// anew instead of joining the old computation.
func TestWritesWinAcrossCachesOnOneStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := corral.NewMemoryStore(corral.CleanupInterval(0))
		a, b := corral.New(s), corral.New(s)
		var version atomic.Int32
		release := make(chan struct{})
		load := func(ctx context.Context) (int32, error) {
			v := version.Add(1)
			if v == 1 {
				<-release
			}
			return v, nil
		}
		first := make(chan int32)
		go func() { v, _ := corral.GetOrSet(ctx, a, "k", time.Minute, load); first <- v }()
		synctest.Wait()
		must(t, b.Delete(ctx, "k"))
		for name, c := range map[string]*corral.Cache{"a": a, "b": b} {
			got := make(chan int32, 1)
			go func() { v, _ := corral.GetOrSet(ctx, c, "k", time.Minute, load); got <- v }()
			synctest.Wait()
			select {
			case v := <-got:
				if v == 1 {
					t.Errorf("a call through %s after the Delete got the old computation's value", name)
				}
			default:
				t.Errorf("a call through %s after the Delete waits for the computation that started before it", name)
				close(release)
				<-got
				release = nil
			}
		}
		if release != nil {
			close(release)
		}
		if v := <-first; v != 1 {
			t.Fatalf("the first caller got %v", v)
		}
		var stored int32
		if found, _ := b.Get(ctx, "k", &stored); found && stored == 1 {
			t.Error("the computation overtaken by a Delete through another Cache stored its value")
		}
	})
}

// ErrRecursion only where a computation would wait for itself: not for a
// cache in front of another cache (on another store) computing the same
// key, nor for a goroutine a computation left behind that calls after the
// computation ended.
func TestRecursionOnlyOnSelfWait(t *testing.T) {
	ctx := context.Background()
	t.Run("cache in front of a cache", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			local, remote := newBubbleCache(t), newBubbleCache(t)
			v, err := corral.GetOrSet(ctx, local, "k", time.Minute, func(ctx context.Context) (string, error) {
				return corral.GetOrSet(ctx, remote, "k", time.Minute, func(context.Context) (string, error) { return "v", nil })
			})
			if v != "v" || err != nil {
				t.Fatalf("local in front of remote = %q, %v; want the value", v, err)
			}
		})
	})
	t.Run("goroutine left behind", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := newBubbleCache(t)
			ended := make(chan struct{})
			late := make(chan error, 1)
			fn := func(context.Context) (int, error) { return 1, nil }
			_, err := corral.GetOrSet(ctx, c, "k", time.Millisecond, func(ctx context.Context) (int, error) {
				bg := context.WithoutCancel(ctx)
				go func() {
					<-ended
					_, err := corral.GetOrSet(bg, c, "k", time.Minute, fn)
					late <- err
				}()
				return 0, nil
			})
			must(t, err)
			time.Sleep(time.Second) // the value expired: the late call computes
			close(ended)
			if err := <-late; err != nil {
				t.Fatalf("a call after the computation ended = %v, want no error", err)
			}
		})
	})
}

// Stale hits during one slow refresh hold no memory each: the refresh's
// flight keeps no per-caller state (x/sync's DoChan, which corral used
// before, added a channel per call), so 100,000 of them leave the heap flat.
func TestStaleHitsDuringRefreshKeepHeapFlat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newBubbleCache(t)
		opt := corral.StaleWhileRevalidate(time.Hour)
		release := make(chan struct{})
		var runs atomic.Int32
		fn := func(context.Context) (int, error) {
			if runs.Add(1) > 1 {
				<-release // the refresh is slow: it ends after every stale hit
			}
			return 1, nil
		}
		corral.GetOrSet(ctx, c, "k", time.Second, fn, opt)
		time.Sleep(2 * time.Second)
		corral.GetOrSet(ctx, c, "k", time.Second, fn, opt) // starts the refresh
		synctest.Wait()
		const hits = 100_000
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range hits {
			if v, err := corral.GetOrSet(ctx, c, "k", time.Second, fn, opt); v != 1 || err != nil {
				t.Fatalf("stale hit = %v, %v", v, err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		close(release)
		synctest.Wait()
		if s := c.Stats(); s.Refreshes != 1 || s.StaleServed != hits+1 {
			t.Fatalf("stats = %+v, want one refresh and %d stale values served", s, hits+1)
		}
		if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 2<<20 {
			t.Fatalf("the heap grew by %d bytes over %d stale hits during one refresh (%.1f bytes each)",
				grown, hits, float64(grown)/hits)
		}
	})
}

// Caches on one store share a computation even when their codecs differ: a
// waiter of another codec gets its own copy of the value, encoded with its
// codec, not the leader's bytes read with the wrong one.
func TestSharedComputationAcrossCodecs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := corral.NewMemoryStore(corral.CleanupInterval(0))
		a, b := corral.New(s), corral.New(s, corral.WithCodec(gobCodec{}))
		var runs atomic.Int32
		release := make(chan struct{})
		fn := func(context.Context) ([]string, error) { runs.Add(1); <-release; return []string{"x", "y"}, nil }
		got := make(chan []string, 2)
		for _, c := range []*corral.Cache{a, b} {
			go func() { v, _ := corral.GetOrSet(ctx, c, "k", time.Minute, fn); got <- v }()
			synctest.Wait()
		}
		close(release)
		for range 2 {
			if v := <-got; len(v) != 2 || v[0] != "x" || v[1] != "y" {
				t.Fatalf("a caller got %q", v)
			}
		}
		if n := runs.Load(); n != 1 {
			t.Errorf("%d computations for two Caches on one store, want 1", n)
		}
	})
}

type gobCodec struct{}

func (gobCodec) Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(v)
	return buf.Bytes(), err
}

func (gobCodec) Unmarshal(data []byte, v any) error {
	return gob.NewDecoder(bytes.NewReader(data)).Decode(v)
}
