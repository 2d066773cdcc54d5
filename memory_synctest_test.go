//go:build go1.25

package corral_test

import (
	"context"
	"errors"
	"runtime"
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
	base := runtime.NumGoroutine()
	for range 20 {
		corral.NewMemoryStore(corral.CleanupInterval(time.Hour))
	}
	if runtime.NumGoroutine() < base+20 {
		t.Fatalf("janitors did not start")
	}
	eventually(t, "back to the goroutines before", func() bool {
		runtime.GC()
		return runtime.NumGoroutine() <= base
	})
}
