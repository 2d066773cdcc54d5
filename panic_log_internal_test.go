//go:build go1.25

package corral

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// A panic in a computation is logged, with its stack, to the logger of the
// Cache that ran it, even when the leader's caller has already left and
// nobody waits any more; another Cache on the same store (which shares the
// flights) logs nothing.
func TestPanicAfterLeaderLeftIsLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewMemoryStore(CleanupInterval(0))
		var logA, logB lockedBuffer
		a := New(s, WithLogger(slog.New(slog.NewTextHandler(&logA, nil))))
		_ = New(s, WithLogger(slog.New(slog.NewTextHandler(&logB, nil))))
		ctx, cancel := context.WithCancel(context.Background())
		started := make(chan struct{})
		gate := make(chan struct{})
		done := make(chan error)
		go func() {
			_, err := GetOrSet(ctx, a, "k", time.Minute, func(context.Context) (int, error) {
				close(started)
				<-gate
				panic("lost")
			})
			done <- err
		}()
		<-started
		cancel()
		<-done // the leader's caller has left
		close(gate)
		synctest.Wait() // the computation has panicked and ended
		if got := logA.String(); strings.Count(got, "computation panicked") != 1 || !strings.Contains(got, "lost") ||
			!strings.Contains(got, "panic_log_internal_test.go") {
			t.Fatalf("the Cache's log = %q, want the one panic %q, with its stack", got, "lost")
		}
		if got := logB.String(); got != "" {
			t.Fatalf("another Cache on the store logged %q", got)
		}
	})
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
