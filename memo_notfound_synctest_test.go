//go:build go1.25

package corral_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// A "not found" that CacheNotFound caches is an answer, not a failure: under
// StaleIfError too, the caller whose computation returned it gets it, and
// so do the callers after it, from the negative entry.
func TestStaleIfErrorReturnsCachedNotFound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newBubbleCache(t)
		errGone := errors.New("gone")
		opts := []corral.MemoOption{corral.CacheNotFound(errGone, time.Minute), corral.StaleIfError(time.Hour)}
		gone := false
		fn := func(context.Context) (string, error) {
			if gone {
				return "", errGone
			}
			return "old", nil
		}
		must(t, errOf(corral.GetOrSet(ctx, c, "k", 10*time.Second, fn, opts...)))
		gone = true
		time.Sleep(30 * time.Second) // expired, inside the stale-if-error window
		for i, who := range []string{"the caller that computed", "the next caller"} {
			if v, err := corral.GetOrSet(ctx, c, "k", 10*time.Second, fn, opts...); !errors.Is(err, errGone) {
				t.Fatalf("%s (call %d) = %q, %v; want %v", who, i, v, err, errGone)
			}
		}
		if s := c.Stats(); s.Computations != 2 || s.StaleServed != 0 {
			t.Fatalf("stats = %+v, want 2 computations, no stale served", s)
		}
	})
}

func errOf[T any](_ T, err error) error { return err }
