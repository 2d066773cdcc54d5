//go:build go1.25

package corral

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
)

// A panic in a computation reaches onPanic even when the leader's caller
// has already left and nobody waits for the computation any more.
func TestPanicAfterLeaderLeftIsLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var logged []any
		f := flights{onPanic: func(val any, _ []byte) {
			mu.Lock()
			logged = append(logged, val)
			mu.Unlock()
		}}
		ctx, cancel := context.WithCancel(context.Background())
		started := make(chan struct{})
		gate := make(chan struct{})
		done := make(chan joined)
		go func() {
			done <- f.join(ctx, "k", 0, func(func()) (any, error) {
				close(started)
				<-gate
				panic("lost")
			})
		}()
		<-started
		cancel()
		<-done // the leader's caller has left
		close(gate)
		synctest.Wait() // the computation has panicked and ended
		mu.Lock()
		defer mu.Unlock()
		if len(logged) != 1 || logged[0] != "lost" {
			t.Fatalf("onPanic saw %v, want the one panic %q of a computation whose leader had gone", logged, "lost")
		}
	})
}
