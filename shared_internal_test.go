package corral

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestImmutableTypes(t *testing.T) {
	type inner struct {
		A int
		B string
	}
	type outer struct {
		I inner
		F [2]float64
	}
	type withSlice struct{ S []int }
	type withPtr struct{ P *int }
	tests := map[reflect.Type]bool{
		reflect.TypeFor[int]():            true,
		reflect.TypeFor[string]():         true,
		reflect.TypeFor[outer]():          true,
		reflect.TypeFor[[]int]():          false,
		reflect.TypeFor[withSlice]():      false,
		reflect.TypeFor[withPtr]():        false,
		reflect.TypeFor[map[string]int](): false,
		reflect.TypeFor[any]():            false,
	}
	for typ, want := range tests {
		if got := immutableType(typ); got != want {
			t.Errorf("immutableType(%v) = %v, want %v", typ, got, want)
		}
	}
}

// Hits of an immutable type come from the shared decoded value; hits of any
// other type are private copies that a caller may change freely.
func TestSharedDecodedValues(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore()
	defer store.Close()
	c := New(store)

	list := Memoize(c, "list", time.Minute, func(context.Context, int) ([]int, error) { return []int{1, 2, 3}, nil })
	a, _ := list(ctx, 1)
	b, _ := list(ctx, 1)
	b[0] = 99
	if c2, _ := list(ctx, 1); c2[0] != 1 || a[0] != 1 {
		t.Fatalf("a caller's change reached another: %v %v", a, c2)
	}

	type point struct{ X, Y int }
	p := Memoize(c, "point", time.Minute, func(context.Context, int) (point, error) { return point{1, 2}, nil })
	p(ctx, 1)
	sk, _ := c.key("point:1")
	item, _ := store.items.Get(sk)
	e := item.(*memItem)
	if v, _ := p(ctx, 1); v != (point{1, 2}) {
		t.Fatalf("hit = %v", v)
	}
	if d := e.decoded.Load(); d == nil || d.val.(point) != (point{1, 2}) {
		t.Fatal("the hit did not use the shared decoded value")
	}
	// A write replaces the entry, and with it the decoded value.
	if err := c.Set(ctx, "point:1", point{7, 8}, 0); err != nil {
		t.Fatal(err)
	}
	if v, _ := p(ctx, 1); v != (point{7, 8}) {
		t.Fatalf("after Set, hit = %v, want the new value", v)
	}
}
