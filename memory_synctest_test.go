//go:build go1.25

package corral_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// In a synctest bubble the clock is fake: go-cache's expiry and the janitor's
// ticker run on it, and synctest.Test fails if the janitor outlives the test,
// which is what shows that Close stops it.
func TestMemoryStoreExpiryAndJanitor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := corral.NewMemoryStore(corral.CleanupInterval(time.Minute))
		defer s.Close()
		must(t, s.Set(ctx, "short", []byte("v"), time.Second))
		must(t, s.Set(ctx, "forever", []byte("v"), 0))

		time.Sleep(time.Second - time.Nanosecond)
		if _, err := s.Get(ctx, "short"); err != nil {
			t.Fatalf("expired early: %v", err)
		}
		time.Sleep(time.Nanosecond + 1)
		if _, err := s.Get(ctx, "short"); !errors.Is(err, corral.ErrNotFound) {
			t.Fatalf("Get after the TTL = %v, want ErrNotFound", err)
		}
		if s.Len() != 2 {
			t.Fatalf("Len = %d before the janitor ran, want 2 (expired, not yet reclaimed)", s.Len())
		}
		time.Sleep(time.Minute)
		synctest.Wait() // the janitor has run and is blocked again
		if s.Len() != 1 || s.Bytes() != int64(len("forever")+1)+corral.EntryOverhead {
			t.Fatalf("after the janitor: Len = %d, Bytes = %d", s.Len(), s.Bytes())
		}
	})
}

func TestCacheTTLOnFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := corral.NewMemoryStore(corral.CleanupInterval(0))
		c := corral.New(s) // default TTL: 5 minutes
		must(t, c.Set(ctx, "default", 1, 0))
		must(t, c.Set(ctx, "forever", 1, corral.NoExpiration))
		time.Sleep(corral.DefaultTTL - time.Nanosecond)
		if !present(t, c, "default") {
			t.Fatal("the default TTL is shorter than DefaultTTL")
		}
		time.Sleep(2 * time.Nanosecond)
		if present(t, c, "default") {
			t.Fatal("the default TTL is longer than DefaultTTL")
		}
		time.Sleep(1000 * time.Hour)
		if !present(t, c, "forever") {
			t.Fatal("NoExpiration expired")
		}
	})
}

// A store dropped without Close stops its janitor once it is collected.
func TestMemoryStoreJanitorStopsWhenUnreachable(t *testing.T) {
	base := janitors()
	stores := make([]*corral.MemoryStore, 20)
	for i := range stores {
		stores[i] = corral.NewMemoryStore(corral.CleanupInterval(time.Hour))
	}
	eventually(t, "20 janitors running", func() bool { return janitors() >= base+20 })
	runtime.KeepAlive(stores) // unreachable from here on
	eventually(t, "the 20 janitors gone", func() bool {
		runtime.GC()
		return janitors() <= base
	})
}

// janitors counts the goroutines running a memory store's janitor (other
// tests' goroutines come and go: counting all of them is not a measure).
func janitors() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "(*memoryStore).janitor(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Expired entries that eviction meets are reclaimed, not counted as
// evictions, whether they were never read (dropped from the small queue) or
// read (met when they would move to the main queue).
func TestMemoryStoreEvictionReclaimsExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := corral.NewMemoryStore(corral.MaxEntries(4), corral.CleanupInterval(0))
		defer s.Close()
		for _, k := range []string{"read", "unread"} {
			must(t, s.Set(ctx, k, []byte("v"), time.Second))
		}
		if _, err := s.Get(ctx, "read"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		for _, k := range []string{"a", "b", "c", "d"} {
			must(t, s.Set(ctx, k, []byte("v"), 0))
		}
		if s.Len() != 4 || s.Evictions() != 0 {
			t.Fatalf("Len = %d, Evictions = %d; want 4, 0 (two expired entries reclaimed)", s.Len(), s.Evictions())
		}
		must(t, s.Set(ctx, "e", []byte("v"), 0))
		if s.Len() != 4 || s.Evictions() != 1 {
			t.Fatalf("Len = %d, Evictions = %d; want 4, 1", s.Len(), s.Evictions())
		}
	})
}

// The store keeps each entry's expiry itself (go-cache holds them without
// one, so that a hit reads the clock once): every read and every write that
// depends on a live entry sees it expire at the end of its TTL, not before.
func TestMemoryStoreExpiryOnEveryPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := corral.NewMemoryStore(corral.CleanupInterval(0))
		defer s.Close()
		c := corral.New(s)
		calls := 0
		hit := corral.Memoize(c, "f", time.Second, func(context.Context, int) (int, error) { calls++; return calls, nil })
		must(t, s.Set(ctx, "n", []byte("1"), time.Second))
		must(t, s.Set(ctx, "touched", []byte("v"), time.Second))
		if ok, err := s.Lock(ctx, "lock", "me", time.Second); !ok || err != nil {
			t.Fatalf("Lock = %v, %v", ok, err)
		}
		if v, _ := hit(ctx, 1); v != 1 {
			t.Fatalf("first call = %d", v)
		}
		time.Sleep(time.Second - time.Nanosecond)
		if v, _ := hit(ctx, 1); v != 1 {
			t.Fatalf("a hit before the TTL's end = %d, want the stored 1", v)
		}
		if n, err := s.Incr(ctx, "n", 1); n != 2 || err != nil {
			t.Fatalf("Incr before the TTL's end = %d, %v", n, err)
		}
		time.Sleep(2 * time.Nanosecond)
		if v, _ := hit(ctx, 1); v != 2 {
			t.Fatalf("a call after the TTL = %d, want a new computation (2)", v)
		}
		if _, err := s.Incr(ctx, "n", 1); !errors.Is(err, corral.ErrNotFound) {
			t.Fatalf("Incr of an expired value = %v, want ErrNotFound", err)
		}
		if ok, err := s.Touch(ctx, "touched", time.Hour); ok || err != nil {
			t.Fatalf("Touch of an expired value = %v, %v", ok, err)
		}
		if ok, err := s.Unlock(ctx, "lock", "me"); ok || err != nil {
			t.Fatalf("Unlock of an expired lock = %v, %v", ok, err)
		}
		if ok, err := s.Lock(ctx, "lock", "you", time.Second); !ok || err != nil {
			t.Fatalf("Lock over an expired lock = %v, %v", ok, err)
		}
	})
}

// A write keeps an entry whose expiry is the clock's very instant, as every
// read still sees it then: Incr at that instant stores its sum.
func TestMemoryStoreIncrAtExpiryInstant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := corral.NewMemoryStore(corral.CleanupInterval(0))
		defer s.Close()
		must(t, s.Set(ctx, "n", []byte("1"), time.Second))
		time.Sleep(time.Second) // the fake clock stands at the expiry instant
		if n, err := s.Incr(ctx, "n", 1); n != 2 || err != nil {
			t.Fatalf("Incr at the expiry instant = %d, %v; want 2", n, err)
		}
		if v, err := s.Get(ctx, "n"); string(v) != "2" || err != nil {
			t.Fatalf("Get after it = %q, %v; want the sum, until the instant passes", v, err)
		}
		time.Sleep(time.Nanosecond)
		if _, err := s.Get(ctx, "n"); !errors.Is(err, corral.ErrNotFound) {
			t.Fatalf("Get past the instant = %v, want ErrNotFound", err)
		}
	})
}

// An expired entry of the main queue is reclaimed when eviction meets it,
// uses or not: room is made without evicting a live entry.
func TestMemoryStoreEvictionReclaimsExpiredMain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := corral.NewMemoryStore(corral.MaxEntries(3), corral.CleanupInterval(0))
		defer s.Close()
		get := func(keys ...string) {
			for _, k := range keys {
				if _, err := s.Get(ctx, k); err != nil {
					t.Fatalf("Get(%q) = %v", k, err)
				}
			}
		}
		for _, k := range []string{"h1", "h2", "h3"} {
			must(t, s.Set(ctx, k, []byte("v"), time.Second))
		}
		get("h1", "h2", "h3")
		must(t, s.Set(ctx, "x", []byte("v"), 0)) // h1..h3 go to the main queue; h1, unused there, leaves
		get("h2", "h3", "x")                     // h2 and h3 used in the main queue, x in the small one
		time.Sleep(2 * time.Second)              // h2 and h3 expire
		must(t, s.Set(ctx, "y", []byte("v"), 0))
		if s.Evictions() != 1 {
			t.Fatalf("Evictions = %d, want 1: the expired h2 makes room", s.Evictions())
		}
		get("x", "y")
	})
}
