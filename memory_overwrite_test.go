package corral_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// Overwriting a key never makes it absent, even for an instant: a reader
// of a hot key that a refresh rewrites always finds a value.
func TestMemoryStoreOverwriteNeverMisses(t *testing.T) {
	s := corral.NewMemoryStore()
	defer s.Close()
	ctx := context.Background()
	must(t, s.Set(ctx, "k", []byte("v"), time.Minute))
	var stop atomic.Bool
	done := make(chan int)
	go func() {
		misses := 0
		for !stop.Load() {
			if _, err := s.Get(ctx, "k"); errors.Is(err, corral.ErrNotFound) {
				misses++
			}
		}
		done <- misses
	}()
	for range 20_000 {
		must(t, s.Set(ctx, "k", []byte("v"), time.Minute))
	}
	stop.Store(true)
	if misses := <-done; misses > 0 {
		t.Fatalf("a reader missed a key that was only ever overwritten, %d times", misses)
	}
	if s.Len() != 1 || s.Bytes() != corral.EntryOverhead+int64(len("k")+len("v")) {
		t.Fatalf("after overwrites the store counts %d entries, %d bytes", s.Len(), s.Bytes())
	}
}
