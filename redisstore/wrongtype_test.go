package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
)

// A key that holds another Redis type (a list, a hash) is garbage to corral:
// Get and GetMany see a miss, Incr a value that is not an integer, and a
// Cache recomputes and overwrites it, without counting a store failure.
func TestWrongTypeIsGarbage(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	s := redisstore.New(client)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(client.RPush(ctx, "list", "a", "b").Err())
	must(client.HSet(ctx, "hash", "f", "v").Err())
	for _, key := range []string{"list", "hash"} {
		if v, err := s.Get(ctx, key); !errors.Is(err, corral.ErrNotFound) {
			t.Errorf("Get(%s) = %q, %v; want ErrNotFound", key, v, err)
		}
		if m, err := s.GetMany(ctx, []string{key}); err != nil || len(m) != 0 {
			t.Errorf("GetMany(%s) = %q, %v; want nothing", key, m, err)
		}
		if n, err := s.Incr(ctx, key, 1); !errors.Is(err, corral.ErrNotInteger) {
			t.Errorf("Incr(%s) = %d, %v; want ErrNotInteger", key, n, err)
		}
	}

	c := corral.New(s, corral.WithPrefix("wt"), corral.WithCircuitBreaker(1, time.Hour))
	must(client.RPush(ctx, "wt:1:k", "a").Err())
	must(client.RPush(ctx, "wt:1:n", "a").Err())
	if _, err := c.Incr(ctx, "n", 1); !errors.Is(err, corral.ErrNotInteger) {
		t.Errorf("Cache.Incr on a list = %v, want ErrNotInteger", err)
	}
	v, err := corral.GetOrSet(ctx, c, "k", time.Minute, func(context.Context) (string, error) { return "computed", nil })
	if err != nil || v != "computed" {
		t.Fatalf("GetOrSet over a list = %q, %v", v, err)
	}
	var got string
	if found, err := c.Get(ctx, "k", &got); !found || err != nil || got != "computed" {
		t.Fatalf("after GetOrSet, Get = %v, %v, %q: the list was not overwritten", found, err, got)
	}
	if st := c.Stats(); st.Errors != 0 || st.BreakerState != "closed" {
		t.Fatalf("garbage counted as a store failure: %+v", st)
	}
}
