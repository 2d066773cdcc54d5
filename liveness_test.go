package corral_test

import (
	"context"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/envelope"
)

// What a reader does not get is no value for Has, Add and Touch either: an
// expired memoized value kept for its stale window, a cached "not found".
// And Touch gives a memoized value its new TTL, though the value carries its
// freshness inside.
func testLiveness(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	store := newStore(t)
	c := corral.New(store)
	now := time.Now()
	dead := map[string][]byte{
		"expired":   (&envelope.Entry{WrittenAt: now.Add(-time.Hour), FreshUntil: now.Add(-time.Minute), StaleUntil: now.Add(time.Hour), Payload: []byte(`"old"`)}).Encode(),
		"not-found": (&envelope.Entry{Negative: true, WrittenAt: now, FreshUntil: now.Add(time.Hour)}).Encode(),
	}
	for key, data := range dead {
		must(t, store.Set(ctx, ":1:"+key, data, time.Hour))
		if found, err := c.Has(ctx, key); found || err != nil {
			t.Errorf("%s: Has = %v, %v; want false like Get", key, found, err)
		}
		if found, err := c.Touch(ctx, key, time.Minute); found || err != nil {
			t.Errorf("%s: Touch = %v, %v; want false", key, found, err)
		}
		if added, err := c.Add(ctx, key, "new", 0); !added || err != nil {
			t.Errorf("%s: Add = %v, %v; want it stored over what no reader sees", key, added, err)
		}
		var s string
		if found, _ := c.Get(ctx, key, &s); !found || s != "new" {
			t.Errorf("%s: after Add, Get = %v %q", key, found, s)
		}
	}

	fresh := (&envelope.Entry{WrittenAt: now, FreshUntil: now.Add(time.Second), StaleUntil: now.Add(time.Minute + time.Second), Payload: []byte(`"v"`)}).Encode()
	must(t, store.Set(ctx, ":1:memo", fresh, time.Minute))
	if added, _ := c.Add(ctx, "memo", "other", 0); added {
		t.Error("Add stored over a fresh memoized value")
	}
	if found, err := c.Touch(ctx, "memo", time.Hour); !found || err != nil {
		t.Fatalf("Touch of a fresh memoized value = %v, %v", found, err)
	}
	data, err := store.Get(ctx, ":1:memo")
	must(t, err)
	e, ok := envelope.Parse(data)
	if !ok || string(e.Payload) != `"v"` || e.FreshUntil.Before(now.Add(50*time.Minute)) {
		t.Fatalf("after Touch(1h) the entry is fresh until %v (payload %q), want about an hour from now", e.FreshUntil, e.Payload)
	}
	if window := e.StaleUntil.Sub(e.FreshUntil); window != time.Minute {
		t.Errorf("Touch changed the stale window to %v, want 1m", window)
	}
}
