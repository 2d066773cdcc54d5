package corral_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// Two call sites with different T on one key, concurrently: the waiter's
// type assertion on the leader's computed[T] value.
func TestJoinOfAnotherType(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
	ctx := context.Background()
	started := make(chan struct{})
	releaseLeader := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = corral.GetOrSet(ctx, c, "k", time.Minute, func(context.Context) (string, error) {
			close(started)
			<-releaseLeader
			return "hello", nil
		})
	}()
	<-started
	var got int
	var err error
	var panicked any
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { panicked = recover() }()
		got, err = corral.GetOrSet(ctx, c, "k", time.Minute, func(context.Context) (int, error) { return 42, nil })
	}()
	time.Sleep(50 * time.Millisecond)
	close(releaseLeader)
	<-done
	wg.Wait()
	if panicked != nil {
		t.Fatalf("waiter of another type panicked: %v", panicked)
	}
	t.Logf("got %v err %v", got, err)
}

// A store whose Get fails: the leader computes with storeDown; the waiter
// must not get the leader's map itself.
type failGetStore struct{ corral.Store }

func (failGetStore) Get(context.Context, string) ([]byte, error) { return nil, errors.New("boom") }

func TestSharedMapStoreDown(t *testing.T) {
	c := corral.New(failGetStore{corral.NewMemoryStore()})
	ctx := context.Background()
	started := make(chan struct{})
	releaseLeader := make(chan struct{})
	var leaderVal map[string]int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		leaderVal, _ = corral.GetOrSet(ctx, c, "m", time.Minute, func(context.Context) (map[string]int, error) {
			close(started)
			<-releaseLeader
			return map[string]int{"a": 1}, nil
		})
	}()
	<-started
	var waiterVal map[string]int
	done := make(chan struct{})
	go func() {
		defer close(done)
		waiterVal, _ = corral.GetOrSet(ctx, c, "m", time.Minute, func(context.Context) (map[string]int, error) {
			return map[string]int{"a": 1}, nil
		})
	}()
	time.Sleep(50 * time.Millisecond)
	close(releaseLeader)
	<-done
	wg.Wait()
	waiterVal["a"] = 999
	if leaderVal["a"] != 1 {
		t.Fatalf("leader and waiter share one map: leader sees %v after waiter's write", leaderVal)
	}
}

// Negative TTL (already expired: nothing stored): payload nil, verdict.store true.
func TestSharedSliceNegativeTTL(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
	ctx := context.Background()
	started := make(chan struct{})
	releaseLeader := make(chan struct{})
	var leaderVal []int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		leaderVal, _ = corral.GetOrSet(ctx, c, "s", -5*time.Second, func(context.Context) ([]int, error) {
			close(started)
			<-releaseLeader
			return []int{1}, nil
		})
	}()
	<-started
	var waiterVal []int
	done := make(chan struct{})
	go func() {
		defer close(done)
		waiterVal, _ = corral.GetOrSet(ctx, c, "s", -5*time.Second, func(context.Context) ([]int, error) { return []int{1}, nil })
	}()
	time.Sleep(50 * time.Millisecond)
	close(releaseLeader)
	<-done
	wg.Wait()
	waiterVal[0] = 999
	if leaderVal[0] != 1 {
		t.Fatalf("leader and waiter share one slice: %v", leaderVal)
	}
}
