//go:build go1.25

package corral_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// The lock fails open whatever the compute timeout: a wait for the lock
// longer than ComputeTimeout ends with this instance computing, with a
// context of its own, instead of a deadline already passed.
func TestLockWaitLongerThanComputeTimeoutFailsOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := corral.NewMemoryStore(corral.CleanupInterval(0))
		a, b := corral.New(&instanceStore{s}), corral.New(&instanceStore{s})
		release := make(chan struct{})
		defer synctest.Wait()
		defer close(release)
		go corral.GetOrSet(ctx, a, "k", time.Minute, func(context.Context) (string, error) {
			<-release
			return "from a", nil
		}, corral.DistributedLock(time.Minute))
		synctest.Wait() // a holds the lock and computes

		start := time.Now()
		v, err := corral.GetOrSet(ctx, b, "k", time.Minute, func(ctx context.Context) (string, error) {
			if err := ctx.Err(); err != nil {
				return "", err
			}
			return "computed by b", nil
		}, corral.DistributedLock(time.Second), corral.ComputeTimeout(100*time.Millisecond))
		if v != "computed by b" || err != nil {
			t.Fatalf("waiter = %q, %v; want its own value once the 1s wait ended", v, err)
		}
		if took := time.Since(start); took < time.Second || took > 2*time.Second {
			t.Fatalf("the waiter took %v, want the 1s lock wait", took)
		}
	})
}
