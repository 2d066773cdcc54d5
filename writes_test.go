package corral_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// A computation that starts after a Delete is stored, even while an older,
// overtaken computation of the key still runs; the older one, when it ends,
// does not overwrite it.
func TestPostWriteComputationStored(t *testing.T) {
	c := corral.New(newMemory(t))
	ctx := context.Background()
	started := make(chan struct{})
	releaseOld := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = corral.GetOrSet(ctx, c, "k", time.Minute, func(context.Context) (string, error) {
			close(started)
			<-releaseOld
			return "old", nil
		})
	}()
	<-started
	if err := c.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	v, err := corral.GetOrSet(ctx, c, "k", time.Minute, func(context.Context) (string, error) { return "new", nil })
	if err != nil || v != "new" {
		t.Fatalf("got %q %v", v, err)
	}
	var s string
	found, _ := c.Get(ctx, "k", &s)
	close(releaseOld)
	wg.Wait()
	if !found || s != "new" {
		t.Fatalf("the computation started after the Delete was not stored: found %v %q; stats %+v", found, s, c.Stats())
	}
	if found, _ := c.Get(ctx, "k", &s); !found || s != "new" {
		t.Fatalf("after the overtaken computation ended: found %v %q, want the later %q", found, s, "new")
	}
}
