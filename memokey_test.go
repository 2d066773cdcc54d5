package corral_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// A Memoize result is invalidated by deleting MemoizeKey(name, k): "name:k"
// for a plain name, the name escaped when it holds ':', '%' or unsafe bytes,
// however long it is; two functions never share a key.
func TestMemoizeKeyIsNameColonArgument(t *testing.T) {
	c := corral.New(newMemory(t))
	for _, name := range []string{"user", "users:v2", "a%3Ab", "with space", strings.Repeat("n", 150)} {
		t.Run(name[:min(len(name), 10)], func(t *testing.T) { checkMemoizeKey(t, c, name) })
	}
	if k, _ := corral.MemoizeKey("user", 42); k != "user:42" {
		t.Errorf(`MemoizeKey("user", 42) = %q, want "user:42"`, k)
	}
	ab, _ := corral.MemoizeKey("a:b", "c")
	a, _ := corral.MemoizeKey("a", "b:c")
	if ab == a {
		t.Errorf(`Memoize "a:b"("c") and "a"("b:c") share the key %q`, a)
	}
}

func checkMemoizeKey(t *testing.T, c *corral.Cache, name string) {
	t.Helper()
	ctx := context.Background()
	var runs atomic.Int32
	load := corral.Memoize(c, name, time.Minute, func(ctx context.Context, id int) (int, error) {
		runs.Add(1)
		return id, nil
	})
	load(ctx, 42)
	load(ctx, 42)
	if runs.Load() != 1 {
		t.Fatalf("%d runs for one key, want 1", runs.Load())
	}
	key, err := corral.MemoizeKey(name, 42)
	must(t, err)
	if found, _ := c.Has(ctx, key); !found {
		t.Fatalf("nothing under %.30q", key)
	}
	must(t, c.Delete(ctx, key))
	load(ctx, 42)
	if runs.Load() != 2 {
		t.Fatal("Delete of MemoizeKey(name, 42) did not invalidate the result")
	}
}

// NaN never equals itself: a NaN key would share one entry between keys
// that Go holds distinct, so it is refused.
func TestMemoizeRefusesNaNKeys(t *testing.T) {
	ctx := context.Background()
	c := corral.New(newMemory(t))
	var runs atomic.Int32
	f := corral.Memoize(c, "f", time.Minute, func(ctx context.Context, x float64) (float64, error) {
		runs.Add(1)
		return x, nil
	})
	type pair struct{ A, B float64 }
	p := corral.Memoize(c, "p", time.Minute, func(ctx context.Context, x pair) (float64, error) { return x.A, nil })
	z := corral.Memoize(c, "z", time.Minute, func(ctx context.Context, x complex128) (complex128, error) { return x, nil })
	nan2 := math.Float64frombits(math.Float64bits(math.NaN()) ^ 1)
	for _, x := range []float64{math.NaN(), nan2} {
		if _, err := f(ctx, x); !errors.Is(err, corral.ErrInvalidKey) || !strings.Contains(err.Error(), "NaN") {
			t.Errorf("f(NaN %x) = %v; want an error wrapping ErrInvalidKey that names NaN", math.Float64bits(x), err)
		}
		if _, err := p(ctx, pair{1, x}); !errors.Is(err, corral.ErrInvalidKey) {
			t.Errorf("p({1, NaN}) = %v; want ErrInvalidKey", err)
		}
		if _, err := z(ctx, complex(0, x)); !errors.Is(err, corral.ErrInvalidKey) {
			t.Errorf("z(NaN i) = %v; want ErrInvalidKey", err)
		}
	}
	if runs.Load() != 0 {
		t.Fatalf("a NaN key ran the function %d times", runs.Load())
	}
	if v, err := f(ctx, math.Inf(1)); err != nil || !math.IsInf(v, 1) {
		t.Fatalf("f(+Inf) = %v, %v", v, err)
	}
}

// MemoizeKey is the key Memoize stores under, for every kind of argument.
func TestMemoizeKey(t *testing.T) {
	ctx := context.Background()
	c := corral.New(newMemory(t))
	if k, err := corral.MemoizeKey("users:v2", 42); k != "users%3Av2:42" || err != nil {
		t.Fatalf(`MemoizeKey("users:v2", 42) = %q, %v`, k, err)
	}
	type point struct {
		X   float64
		Tag string
	}
	var runs atomic.Int32
	f := corral.Memoize(c, "pts", time.Minute, func(ctx context.Context, p point) (string, error) {
		runs.Add(1)
		return p.Tag, nil
	})
	p := point{1.5, "a:b"}
	f(ctx, p)
	key, err := corral.MemoizeKey("pts", p)
	if err != nil {
		t.Fatal(err)
	}
	must(t, c.Delete(ctx, key))
	f(ctx, p)
	if runs.Load() != 2 {
		t.Fatalf("Delete of MemoizeKey %q did not invalidate the result", key)
	}
	for name, err := range map[string]error{
		"empty name": func() error { _, err := corral.MemoizeKey("", 1); return err }(),
		"NaN":        func() error { _, err := corral.MemoizeKey("f", math.NaN()); return err }(),
		"pointer":    func() error { _, err := corral.MemoizeKey("p", new(int)); return err }(),
	} {
		if !errors.Is(err, corral.ErrInvalidKey) {
			t.Errorf("MemoizeKey with %s = %v, want ErrInvalidKey", name, err)
		}
	}
}
