package corral_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// watchedStore is a remote store for the near cache's own rules: the
// memory store behind the Store interface (so that the Cache calls it as a
// remote one), which counts its reads, can hold one read until released,
// and hands its sink to the test, which reports changes itself.
type watchedStore struct {
	corral.Store
	reads atomic.Int64
	hold  chan chan struct{} // a read sends a channel, then waits until it is closed
	sink  corral.WatchSink
}

func newWatchedStore(t *testing.T) *watchedStore {
	return &watchedStore{Store: newMemory(t), hold: make(chan chan struct{}, 1)}
}

func (s *watchedStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.reads.Add(1)
	data, err := s.Store.Get(ctx, key)
	select {
	case wait := <-s.hold:
		<-wait
	default:
	}
	return data, err
}

func (s *watchedStore) Clear(ctx context.Context, prefix string) error {
	return s.Store.(corral.Clearer).Clear(ctx, prefix)
}

func (s *watchedStore) Watch(prefix string, sink corral.WatchSink) func() {
	s.sink = sink
	sink.Watching("")
	return func() {}
}

// holdNextRead makes the next read wait, after it has read, until the
// returned function is called.
func (s *watchedStore) holdNextRead() (release func()) {
	wait := make(chan struct{})
	s.hold <- wait
	return func() { close(wait) }
}

// A read that was under way when a change of its key was reported keeps no
// copy: what it read may be older than the change.
func TestNearReadDuringChangeKeepsNothing(t *testing.T) {
	ctx := context.Background()
	s := newWatchedStore(t)
	c := corral.New(s, corral.WithNearCache(1<<20, time.Minute))
	must(t, c.Set(ctx, "k", "old", 0))
	release := s.holdNextRead()
	done := make(chan string)
	go func() {
		var v string
		c.Get(ctx, "k", &v)
		done <- v
	}()
	eventually(t, "the read under way", func() bool { return len(s.hold) == 0 })
	must(t, s.Store.Set(ctx, ":1:k", []byte(`"new"`), 0)) // another instance writes
	s.sink.Changed("", []string{":1:k"})
	release()
	if v := <-done; v != "old" {
		t.Fatalf("the read under way got %q", v)
	}
	var v string
	if _, err := c.Get(ctx, "k", &v); err != nil || v != "new" {
		t.Fatalf("Get after the change = %q, %v; want the new value", v, err)
	}
}

// A write in this process drops the copy before it returns: the next read
// gets what it wrote, reported or not.
func TestNearWriteDropsOwnCopy(t *testing.T) {
	ctx := context.Background()
	s := newWatchedStore(t)
	c := corral.New(s, corral.WithNearCache(1<<20, time.Minute))
	writes := map[string]func() error{
		"Set":     func() error { return c.Set(ctx, "k", "new", 0) },
		"Delete":  func() error { return c.Delete(ctx, "k") },
		"SetMany": func() error { return c.SetMany(ctx, map[string]string{"k": "new"}, 0) },
		"Clear":   func() error { return c.Clear(ctx) },
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			must(t, c.Set(ctx, "k", "old", 0))
			var v string
			c.Get(ctx, "k", &v)
			nearHit(t, c, "k")
			must(t, write())
			if found, _ := c.Get(ctx, "k", &v); found && v == "old" {
				t.Fatal("the old copy was served after the write")
			}
		})
	}
}

// While the channel is lost, nothing is served from the copies or kept;
// once it is back, copies are kept again.
func TestNearLostKeepsNothing(t *testing.T) {
	ctx := context.Background()
	s := newWatchedStore(t)
	c := corral.New(s, corral.WithNearCache(1<<20, time.Minute))
	must(t, c.Set(ctx, "k", "v", 0))
	nearHit(t, c, "k")
	s.sink.Lost("", nil)
	reads := s.reads.Load()
	for range 3 {
		if found, err := c.Get(ctx, "k", nil); !found || err != nil {
			t.Fatal(found, err)
		}
	}
	if got := s.reads.Load() - reads; got != 3 {
		t.Fatalf("3 reads with the channel lost read the store %d times", got)
	}
	s.sink.Watching("")
	nearHit(t, c, "k")
}

// Copies are bounded by maxBytes, and each lives maxAge at most.
func TestNearBounds(t *testing.T) {
	ctx := context.Background()
	s := newWatchedStore(t)
	c := corral.New(s, corral.WithNearCache(64<<10, 50*time.Millisecond))
	big := strings.Repeat("x", 16<<10)
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		must(t, c.Set(ctx, k, big, 0))
		c.Get(ctx, k, nil)
	}
	hits := 0
	for _, k := range []string{"f", "e", "d", "c", "b", "a"} { // the last kept first
		n := c.Stats().NearHits
		c.Get(ctx, k, nil)
		if c.Stats().NearHits > n {
			hits++
		}
	}
	if hits == 0 || hits > 3 {
		t.Fatalf("%d of 6 values of 16 kB served by a 64 kB near cache", hits)
	}
	nearHit(t, c, "f")
	eventually(t, "the copy past its age", func() bool {
		n := c.Stats().NearHits
		c.Get(ctx, "f", nil)
		return c.Stats().NearHits == n
	})
}

// On a store that reports no changes, copies are served for maxAge, and
// New says so in the log.
func TestNearWithoutWatcher(t *testing.T) {
	var logged bytes.Buffer
	c := corral.New(struct{ corral.Store }{newMemory(t)}, corral.WithNearCache(1<<20, time.Minute),
		corral.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	must(t, c.Set(context.Background(), "k", 1, 0))
	nearHit(t, c, "k")
	if !strings.Contains(logged.String(), "the store reports no changes") {
		t.Fatalf("log: %s", logged.String())
	}
}

func TestWithNearCachePanics(t *testing.T) {
	for _, args := range []struct {
		bytes int64
		age   time.Duration
	}{{0, time.Second}, {1, 0}, {-1, time.Second}} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(r.(string), "corral: WithNearCache") {
					t.Errorf("WithNearCache(%d, %v): panic %v", args.bytes, args.age, r)
				}
			}()
			corral.WithNearCache(args.bytes, args.age)
		}()
	}
}
