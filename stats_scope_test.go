package corral_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// Counters by function and by view are exact after known traffic, and the
// cache's are their sum.
func TestFunctionAndViewStats(t *testing.T) {
	ctx := context.Background()
	c := corral.New(newMemory(t), corral.WithPrefix("app"))
	admin := c.WithPrefix("admin")
	errDB := errors.New("db down")
	user := corral.Memoize(c, "user", time.Minute, func(ctx context.Context, id int) (string, error) { return fmt.Sprint(id), nil })
	order := corral.Memoize(admin, "order", time.Minute, func(ctx context.Context, id int) (string, error) {
		if id < 0 {
			return "", errDB
		}
		return fmt.Sprint(id), nil
	})
	many := corral.MemoizeMany(c, "users", time.Minute, func(ctx context.Context, ids []int) (map[int]string, error) {
		return users(ids), nil
	})
	for _, id := range []int{1, 1, 2, 1} { // 2 misses, 2 hits
		_, _ = user(ctx, id)
	}
	_, _ = order(ctx, 7)
	_, _ = order(ctx, 7)
	_, _ = order(ctx, -1) // a miss and an error
	_, _ = many(ctx, ids(1, 3))
	_, _ = many(ctx, ids(1, 5)) // 3 hits, 2 misses, a second computation
	_, _ = corral.GetOrSet(ctx, c, "plain", time.Minute, func(context.Context) (int, error) { return 1, nil })

	fs := c.FunctionStats()
	want := map[string][4]uint64{ // hits, misses, computations, compute errors
		"user": {2, 2, 2, 0}, "order": {1, 2, 2, 1}, "users": {3, 5, 2, 0},
	}
	for name, w := range want {
		s := fs[name]
		if got := [4]uint64{s.Hits, s.Misses, s.Computations, s.ComputeErrors}; got != w {
			t.Errorf("function %q: hits, misses, computations, errors = %v, want %v", name, got, w)
		}
	}
	if len(fs) != len(want) {
		t.Errorf("functions %v, want %d", fs, len(want))
	}
	vs := c.ViewStats()
	if a, b := vs["app"], vs["admin"]; a.Misses != 2+5+1 || a.Hits != 2+3 || b.Misses != 2 || b.Hits != 1 {
		t.Errorf("views: app %+v, admin %+v", a, b)
	}
	if s := admin.Stats(); s.Misses != 10 || s.Hits != 6 || s.Computations != 7 {
		t.Errorf("the cache's stats %+v, want the sum of its views'", s)
	}
}

// Past 256 functions, new ones count together: the number of series stays
// bounded.
func TestFunctionStatsBounded(t *testing.T) {
	ctx := context.Background()
	c := corral.New(newMemory(t))
	for i := range 300 {
		f := corral.Memoize(c, fmt.Sprint("f", i), time.Minute, func(ctx context.Context, id int) (int, error) { return id, nil })
		_, _ = f(ctx, 1)
	}
	fs := c.FunctionStats()
	if len(fs) != 256 || fs[corral.OtherScope].Misses != 300-255 {
		t.Fatalf("%d functions counted apart, %+v under %q; want 255 and the other 45 together",
			len(fs), fs[corral.OtherScope], corral.OtherScope)
	}
}

type countingObserver struct{ n int }

func (o *countingObserver) ObserveStoreCall(corral.StoreOp, time.Duration, error) { o.n++ }

// An added observer does not replace the one SetObserver set.
func TestAddObserverKeepsTheApplicationsObserver(t *testing.T) {
	ctx := context.Background()
	c := corral.New(remoteStore{newMemory(t)})
	mine, added := &countingObserver{}, &countingObserver{}
	c.SetObserver(mine)
	c.AddObserver(added)
	_, _ = c.Get(ctx, "k", nil)
	if mine.n != 1 || added.n != 1 {
		t.Fatalf("observers saw %d and %d calls, want 1 each", mine.n, added.n)
	}
}

// remoteStore hides that its store is in process: the cache calls it
// through its guard, observed, as a remote one.
type remoteStore struct{ corral.Store }
