package corral

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// A tag whose token is gone (evicted, cleared, overwritten with garbage)
// answers no value: a value it dropped never comes back, and the values
// that carried it are computed again.
func TestTagTokenGoneIsAMiss(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore()
	t.Cleanup(func() { _ = store.Close() })
	c := New(store)
	var runs atomic.Int32
	fn := func(context.Context) (int32, error) { return runs.Add(1), nil }
	read := func(key string) int32 {
		v, err := GetOrSet(ctx, c, key, time.Minute, fn, Tags("x"))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	old := read("k2") // stored with the tag's first token
	read("k1")
	if err := c.InvalidateTags(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	fresh := read("k1") // stored with the new token
	sk, _ := c.tagKey("x")
	for _, gone := range []func(){
		func() { _ = store.Delete(ctx, sk) },
		func() { _ = store.Set(ctx, sk, []byte("garbage"), 0) },
	} {
		gone()
		if v := read("k2"); v == old {
			t.Fatal("a value invalidated before its tag's token went is served again")
		}
		gone()
		if v := read("k1"); v == fresh {
			t.Fatal("a value whose tag has no token is served")
		}
		old, fresh = read("k2"), read("k1")
	}
}
