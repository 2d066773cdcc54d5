package corral

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// The leader's caller leaves, then its computation panics: nobody reports it.
func TestPanicAfterLeaderLeftIsLogged(t *testing.T) {
	var logged atomic.Int32
	f := flights{onPanic: func(any, []byte) { logged.Add(1) }}
	ctx, cancel := context.WithCancel(context.Background())
	gate := make(chan struct{})
	done := make(chan joined)
	go func() { done <- f.join(ctx, "k", 0, func(func()) (any, error) { <-gate; panic("lost") }) }()
	time.Sleep(5 * time.Millisecond)
	cancel()
	<-done
	close(gate)
	time.Sleep(20 * time.Millisecond)
	if logged.Load() == 0 {
		t.Fatal("a panic in a computation whose leader had gone was never reported to onPanic")
	}
}
