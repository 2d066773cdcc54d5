package corral_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/envelope"
)

// envelopeLike returns []byte values that begin as corral's entry header
// does: a fresh, an expired and a negative envelope, one with a payload that
// is itself an envelope, and a header followed by garbage.
func envelopeLike() map[string][]byte {
	now := time.Now()
	fresh := envelope.Entry{WrittenAt: now, FreshUntil: now.Add(time.Hour), Payload: []byte("inner")}
	expired := envelope.Entry{WrittenAt: now.Add(-time.Hour), FreshUntil: now.Add(-time.Minute), Payload: []byte("old")}
	negative := envelope.Entry{WrittenAt: now, Negative: true}
	nested := envelope.Entry{WrittenAt: now, Payload: fresh.Encode()}
	return map[string][]byte{
		"fresh":    fresh.Encode(),
		"expired":  expired.Encode(),
		"negative": negative.Encode(),
		"nested":   nested.Encode(),
		"garbage":  append([]byte("\xC0RL\x01"), bytes.Repeat([]byte{0xff}, 40)...),
	}
}

// Binary values are stored as they are: one that happens to begin like
// corral's entry header comes back whole through Get, GetMany and GetOrSet,
// whether written by Set, Add or SetMany.
func testEnvelopeLikeBytes(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	c := corral.New(newStore(t))
	values := envelopeLike()
	for name, v := range values {
		must(t, c.Set(ctx, "set:"+name, v, time.Minute))
		if added, err := c.Add(ctx, "add:"+name, v, time.Minute); !added || err != nil {
			t.Fatalf("Add(%s) = %v, %v", name, added, err)
		}
	}
	many := map[string][]byte{}
	for name, v := range values {
		many["many:"+name] = v
	}
	must(t, c.SetMany(ctx, many, time.Minute))
	for name, want := range values {
		for _, k := range []string{"set:" + name, "add:" + name, "many:" + name} {
			var got []byte
			if found, err := c.Get(ctx, k, &got); !found || err != nil || !bytes.Equal(got, want) {
				t.Errorf("Get(%s) = %v, %v, %d bytes; want the %d bytes set", k, found, err, len(got), len(want))
			}
			m := map[string][]byte{}
			if err := c.GetMany(ctx, []string{k}, m); err != nil || !bytes.Equal(m[k], want) {
				t.Errorf("GetMany(%s) = %d bytes, %v; want the %d bytes set", k, len(m[k]), err, len(want))
			}
			got, err := corral.GetOrSet(ctx, c, k, time.Minute, func(context.Context) ([]byte, error) {
				return []byte("computed"), nil
			})
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("GetOrSet(%s) = %q, %v; want the %d bytes set", k, got, err, len(want))
			}
		}
	}
}

// A destination that is not a non-nil pointer is the caller's mistake: an
// error that says so, hit or miss, and the stored value stays.
func testBadDestination(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	c := corral.New(newStore(t))
	must(t, c.Set(ctx, "p", point{1, 2, "a"}, 0))
	must(t, c.Set(ctx, "b", []byte("raw"), 0))
	bad := []any{point{}, 3, "s", []byte(nil), (*point)(nil), (*[]byte)(nil), (*json.RawMessage)(nil), (*any)(nil)}
	for _, dst := range bad {
		for _, k := range []string{"p", "b", "absent"} {
			found, err := c.Get(ctx, k, dst)
			if found || err == nil || !bytes.Contains([]byte(err.Error()), []byte("pointer")) {
				t.Errorf("Get(%s) into %T = %v, %v; want an error that asks for a pointer", k, dst, found, err)
			}
		}
	}
	var p point
	if found, err := c.Get(ctx, "p", &p); !found || err != nil || p.X != 1 {
		t.Fatalf("after the bad calls, Get = %v, %v, %+v: the value was lost", found, err, p)
	}
	var raw []byte
	if found, err := c.Get(ctx, "b", &raw); !found || err != nil || string(raw) != "raw" {
		t.Fatalf("after the bad calls, Get = %v, %v, %q: the value was lost", found, err, raw)
	}
	if s := c.Stats(); s.DecodeErrors != 0 {
		t.Fatalf("a bad destination counted %d decode errors, the value's fault", s.DecodeErrors)
	}
	for _, dst := range []any{(*map[string]int)(nil), map[string]int(nil), point{}, (*point)(nil)} {
		if err := c.GetMany(ctx, []string{"p"}, dst); err == nil {
			t.Errorf("GetMany into %T accepted", dst)
		}
	}
}

// IncrVersion by 0 keeps the value where it is, and returns its version.
func testIncrVersionZero(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	c := corral.New(newStore(t)).WithVersion(3)
	must(t, c.Set(ctx, "k", "v", 0))
	if v, err := c.IncrVersion(ctx, "k", 0); v != 3 || err != nil {
		t.Fatalf("IncrVersion(k, 0) = %d, %v; want 3, nil", v, err)
	}
	var got string
	if found, err := c.Get(ctx, "k", &got); !found || err != nil || got != "v" {
		t.Fatalf("after IncrVersion(k, 0), Get = %v, %v, %q: the value was lost", found, err, got)
	}
	if _, err := c.IncrVersion(ctx, "absent", 0); !errors.Is(err, corral.ErrNotFound) {
		t.Fatalf("IncrVersion(absent, 0) = %v, want ErrNotFound", err)
	}
}

// Incr and Decr whose result is no int64 are errors wrapping ErrNotInteger,
// and leave the value as it was.
func testIncrOverflow(t *testing.T, newStore newStoreFunc) {
	checkIncrOverflow(t, corral.New(newStore(t)))
	// Without an Incrementer (another codec): read, add, write back.
	checkIncrOverflow(t, corral.New(newStore(t), corral.WithCodec(otherJSON{}), corral.WithPrefix("codec")))
}

func checkIncrOverflow(t *testing.T, c *corral.Cache) {
	t.Helper()
	ctx := context.Background()
	cases := []struct {
		name  string
		start int64
		op    func() (int64, error)
	}{
		{"Incr past max", math.MaxInt64, func() (int64, error) { return c.Incr(ctx, "n", 1) }},
		{"Incr past min", math.MinInt64, func() (int64, error) { return c.Incr(ctx, "n", -1) }},
		{"Decr past min", math.MinInt64, func() (int64, error) { return c.Decr(ctx, "n", 1) }},
		{"Decr by MinInt64 from 0", 0, func() (int64, error) { return c.Decr(ctx, "n", math.MinInt64) }},
		{"Decr by MinInt64 from 1", 1, func() (int64, error) { return c.Decr(ctx, "n", math.MinInt64) }},
	}
	for _, tt := range cases {
		must(t, c.Set(ctx, "n", tt.start, 0))
		if n, err := tt.op(); !errors.Is(err, corral.ErrNotInteger) {
			t.Errorf("%s = %d, %v; want an error wrapping ErrNotInteger", tt.name, n, err)
		}
		var got int64
		if _, err := c.Get(ctx, "n", &got); err != nil || got != tt.start {
			t.Errorf("%s: the value became %d, %v; want %d", tt.name, got, err, tt.start)
		}
	}
}

// otherJSON is JSON under another codec value, so that Incr takes its
// read-add-write path.
type otherJSON struct{}

func (otherJSON) Marshal(v any) ([]byte, error)      { return corral.JSON.Marshal(v) }
func (otherJSON) Unmarshal(data []byte, v any) error { return corral.JSON.Unmarshal(data, v) }
