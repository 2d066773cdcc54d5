// Package storetest is a conformance suite for corral.Store implementations.
// corral's own stores pass it (the memory store, Redis on one node and on a
// Cluster); a third-party store shows it behaves the same by running it:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) corral.Store { return mystore.New(...) })
//	}
//
// Each subtest asks newStore for a store and uses keys under a random prefix
// of its own, so the stores may share one server. Subtests of an optional
// capability the store does not implement are skipped.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) corral.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s corral.Store, k keys)
	}{
		{"Miss", testMiss},
		{"SetGet", testSetGet},
		{"Overwrite", testOverwrite},
		{"TTLExpiry", testTTLExpiry},
		{"NoExpiry", testNoExpiry},
		{"AddConcurrent", testAddConcurrent},
		{"AddOverExpired", testAddOverExpired},
		{"DeleteSeveral", testDeleteSeveral},
		{"AllByteValues", testAllByteValues},
		{"EmptyValue", testEmptyValue},
		{"LargeValue", testLargeValue},
		{"CancelledContext", testCancelledContext},
		{"GetMany", testGetMany},
		{"SetMany", testSetMany},
		{"IncrMissing", testIncrMissing},
		{"Incr", testIncr},
		{"IncrCanonical", testIncrCanonical},
		{"SubMillisecondTTL", testSubMillisecondTTL},
		{"Touch", testTouch},
		{"ClearPrefix", testClearPrefix},
		{"LockOwner", testLockOwner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newStore(t), newKeys(t))
		})
	}
}

// keys makes the keys of one subtest: all under one random prefix.
type keys string

func newKeys(t *testing.T) keys {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return keys("storetest:" + hex.EncodeToString(b) + ":")
}

func (k keys) of(name string) string { return string(k) + name }

func get(t *testing.T, s corral.Store, key string) ([]byte, bool) {
	t.Helper()
	v, err := s.Get(context.Background(), key)
	if errors.Is(err, corral.ErrNotFound) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v, true
}

func set(t *testing.T, s corral.Store, key string, v []byte, ttl time.Duration) {
	t.Helper()
	if err := s.Set(context.Background(), key, v, ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// eventually polls until cond holds, for states that only the clock brings
// (an expiry); it fails after a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testMiss(t *testing.T, s corral.Store, k keys) {
	if _, err := s.Get(context.Background(), k.of("absent")); !errors.Is(err, corral.ErrNotFound) {
		t.Fatalf("Get(absent) = %v, want ErrNotFound", err)
	}
}

func testSetGet(t *testing.T, s corral.Store, k keys) {
	set(t, s, k.of("a"), []byte("value"), time.Minute)
	if v, ok := get(t, s, k.of("a")); !ok || string(v) != "value" {
		t.Fatalf("Get = %q, %v", v, ok)
	}
}

func testOverwrite(t *testing.T, s corral.Store, k keys) {
	set(t, s, k.of("a"), []byte("one"), time.Minute)
	set(t, s, k.of("a"), []byte("two"), time.Minute)
	if v, _ := get(t, s, k.of("a")); string(v) != "two" {
		t.Fatalf("Get after overwrite = %q", v)
	}
}

func testTTLExpiry(t *testing.T, s corral.Store, k keys) {
	set(t, s, k.of("short"), []byte("v"), 500*time.Millisecond) // room for a slow machine before the next read
	set(t, s, k.of("long"), []byte("v"), time.Hour)
	if _, ok := get(t, s, k.of("short")); !ok {
		t.Fatal("gone before its TTL")
	}
	eventually(t, "expired", func() bool { _, ok := get(t, s, k.of("short")); return !ok })
	if _, ok := get(t, s, k.of("long")); !ok {
		t.Fatal("a key with a long TTL expired with a short one")
	}
}

func testNoExpiry(t *testing.T, s corral.Store, k keys) {
	set(t, s, k.of("zero"), []byte("v"), 0)
	set(t, s, k.of("neg"), []byte("v"), -1)
	set(t, s, k.of("short"), []byte("v"), 50*time.Millisecond)
	eventually(t, "expired", func() bool { _, ok := get(t, s, k.of("short")); return !ok })
	for _, key := range []string{"zero", "neg"} {
		if _, ok := get(t, s, k.of(key)); !ok {
			t.Fatalf("a value set with ttl <= 0 (%s) expired", key)
		}
	}
}

func testAddConcurrent(t *testing.T, s corral.Store, k keys) {
	const n = 50
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := s.Add(context.Background(), k.of("once"), []byte(fmt.Sprint(i)), time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d of %d concurrent Adds stored, want exactly 1", wins.Load(), n)
	}
}

func testAddOverExpired(t *testing.T, s corral.Store, k keys) {
	set(t, s, k.of("a"), []byte("old"), 500*time.Millisecond)
	if ok, err := s.Add(context.Background(), k.of("a"), []byte("new"), time.Minute); ok || err != nil {
		t.Fatalf("Add over a live value = %v, %v", ok, err)
	}
	eventually(t, "expired", func() bool { _, ok := get(t, s, k.of("a")); return !ok })
	if ok, err := s.Add(context.Background(), k.of("a"), []byte("new"), time.Minute); !ok || err != nil {
		t.Fatalf("Add over an expired value = %v, %v", ok, err)
	}
}

func testDeleteSeveral(t *testing.T, s corral.Store, k keys) {
	for _, n := range []string{"a", "b", "c"} {
		set(t, s, k.of(n), []byte(n), time.Minute)
	}
	if err := s.Delete(context.Background(), k.of("a"), k.of("b"), k.of("never")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(context.Background()); err != nil {
		t.Fatalf("Delete of no keys: %v", err)
	}
	for n, want := range map[string]bool{"a": false, "b": false, "c": true} {
		if _, ok := get(t, s, k.of(n)); ok != want {
			t.Errorf("%s present = %v, want %v", n, ok, want)
		}
	}
}

func testAllByteValues(t *testing.T, s corral.Store, k keys) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	set(t, s, k.of("all"), all, time.Minute)
	if v, _ := get(t, s, k.of("all")); !bytes.Equal(v, all) {
		t.Fatalf("the 256 byte values came back as %x", v)
	}
	for i := range 256 { // each byte alone too, including 0, '\r', '\n'
		set(t, s, k.of(fmt.Sprint("b", i)), []byte{byte(i)}, time.Minute)
	}
	for i := range 256 {
		if v, _ := get(t, s, k.of(fmt.Sprint("b", i))); !bytes.Equal(v, []byte{byte(i)}) {
			t.Fatalf("byte %d came back as %x", i, v)
		}
	}
}

func testEmptyValue(t *testing.T, s corral.Store, k keys) {
	set(t, s, k.of("empty"), []byte{}, time.Minute)
	v, ok := get(t, s, k.of("empty"))
	if !ok || len(v) != 0 {
		t.Fatalf("empty value: Get = %q, %v; want present and empty", v, ok)
	}
}

func testLargeValue(t *testing.T, s corral.Store, k keys) {
	big := make([]byte, 8<<20)
	_, _ = rand.Read(big)
	if err := s.Set(context.Background(), k.of("big"), big, time.Minute); err != nil {
		t.Fatalf("Set of 8 MiB: %v", err)
	}
	if v, _ := get(t, s, k.of("big")); !bytes.Equal(v, big) {
		t.Fatalf("8 MiB value came back with %d bytes, or changed", len(v))
	}
}

func testCancelledContext(t *testing.T, s corral.Store, k keys) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 2)
	go func() { _, err := s.Get(ctx, k.of("a")); done <- err }()
	go func() { done <- s.Set(ctx, k.of("a"), []byte("v"), time.Minute) }()
	for range 2 {
		select {
		case err := <-done:
			if err == nil || errors.Is(err, corral.ErrNotFound) {
				t.Fatalf("a call with a cancelled context returned %v, want an error", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a call with a cancelled context hangs")
		}
	}
}

func testGetMany(t *testing.T, s corral.Store, k keys) {
	bg, ok := s.(corral.BatchGetter)
	if !ok {
		t.Skip("no BatchGetter")
	}
	var want []string
	for i := range 20 { // enough keys to span several Cluster slots
		key := k.of(fmt.Sprint("m", i))
		want = append(want, key)
		if i%3 != 0 {
			set(t, s, key, []byte(key), time.Minute)
		}
	}
	got, err := bg.GetMany(context.Background(), append(want, k.of("missing")))
	if err != nil {
		t.Fatal(err)
	}
	for i, key := range want {
		v, present := got[key]
		if present != (i%3 != 0) || (present && string(v) != key) {
			t.Fatalf("GetMany[%s] = %q, %v", key, v, present)
		}
	}
	if len(got) != 13 {
		t.Fatalf("GetMany returned %d values, want 13", len(got))
	}
}

func testSetMany(t *testing.T, s corral.Store, k keys) {
	bs, ok := s.(corral.BatchSetter)
	if !ok {
		t.Skip("no BatchSetter")
	}
	items := map[string][]byte{}
	for i := range 20 {
		items[k.of(fmt.Sprint("s", i))] = []byte(fmt.Sprint(i))
	}
	if err := bs.SetMany(context.Background(), items, time.Minute); err != nil {
		t.Fatal(err)
	}
	for key, want := range items {
		if v, _ := get(t, s, key); !bytes.Equal(v, want) {
			t.Fatalf("after SetMany, %s = %q, want %q", key, v, want)
		}
	}
}

func testIncrMissing(t *testing.T, s corral.Store, k keys) {
	inc, ok := s.(corral.Incrementer)
	if !ok {
		t.Skip("no Incrementer")
	}
	if _, err := inc.Incr(context.Background(), k.of("n"), 1); !errors.Is(err, corral.ErrNotFound) {
		t.Fatalf("Incr(missing) = %v, want ErrNotFound", err)
	}
	if _, ok := get(t, s, k.of("n")); ok {
		t.Fatal("Incr of a missing key created it")
	}
}

func testIncr(t *testing.T, s corral.Store, k keys) {
	inc, ok := s.(corral.Incrementer)
	if !ok {
		t.Skip("no Incrementer")
	}
	ctx := context.Background()
	set(t, s, k.of("n"), []byte("41"), 500*time.Millisecond)
	if n, err := inc.Incr(ctx, k.of("n"), 1); n != 42 || err != nil {
		t.Fatalf("Incr = %d, %v; want 42", n, err)
	}
	if n, err := inc.Incr(ctx, k.of("n"), -50); n != -8 || err != nil {
		t.Fatalf("Incr(-50) = %d, %v; want -8", n, err)
	}
	if v, _ := get(t, s, k.of("n")); string(v) != "-8" {
		t.Fatalf("stored %q, want the decimal -8", v)
	}
	eventually(t, "expired (Incr keeps the TTL)", func() bool { _, ok := get(t, s, k.of("n")); return !ok })
	set(t, s, k.of("text"), []byte("abc"), time.Minute)
	if _, err := inc.Incr(ctx, k.of("text"), 1); !errors.Is(err, corral.ErrNotInteger) {
		t.Fatalf("Incr(text) = %v, want ErrNotInteger", err)
	}
}

// testIncrCanonical holds every store to Redis's rule: Incr takes only the
// canonical decimal of an int64, and refuses a result that overflows.
func testIncrCanonical(t *testing.T, s corral.Store, k keys) {
	inc, ok := s.(corral.Incrementer)
	if !ok {
		t.Skip("no Incrementer")
	}
	ctx := context.Background()
	refused := []string{"05", "+5", "-0", "007", " 5", "5 ", "5\n", "0x5", "1e3", "5.0", "", "-",
		"9223372036854775808", "-9223372036854775809", "1_000"}
	for i, v := range refused {
		key := k.of(fmt.Sprint("bad", i))
		set(t, s, key, []byte(v), time.Minute)
		if n, err := inc.Incr(ctx, key, 1); !errors.Is(err, corral.ErrNotInteger) {
			t.Errorf("Incr of %q = %d, %v; want ErrNotInteger", v, n, err)
		}
		if got, _ := get(t, s, key); string(got) != v {
			t.Errorf("a refused Incr changed %q into %q", v, got)
		}
	}
	accepted := map[string]int64{"0": 1, "-5": -4, "9223372036854775806": 9223372036854775807,
		"-9223372036854775808": -9223372036854775807}
	for v, want := range accepted {
		set(t, s, k.of("ok"), []byte(v), time.Minute)
		if n, err := inc.Incr(ctx, k.of("ok"), 1); n != want || err != nil {
			t.Errorf("Incr of %q = %d, %v; want %d", v, n, err, want)
		}
	}
	for v, delta := range map[string]int64{"9223372036854775807": 1, "-9223372036854775808": -1, "-1": math.MinInt64} {
		set(t, s, k.of("edge"), []byte(v), time.Minute)
		if n, err := inc.Incr(ctx, k.of("edge"), delta); !errors.Is(err, corral.ErrNotInteger) {
			t.Errorf("Incr of %s by %d = %d, %v; want ErrNotInteger (overflow)", v, delta, n, err)
		}
		if got, _ := get(t, s, k.of("edge")); string(got) != v {
			t.Errorf("an overflowing Incr changed %s into %s", v, got)
		}
	}
}

// testSubMillisecondTTL holds every store to one rule: a ttl counts in whole
// milliseconds, so a positive ttl under 1 ms is already expired. Set and
// SetMany leave nothing, Add stores nothing and reports false, Touch drops
// the key and reports that it was there.
func testSubMillisecondTTL(t *testing.T, s corral.Store, k keys) {
	ctx := context.Background()
	for _, ttl := range []time.Duration{time.Nanosecond, 999 * time.Microsecond} {
		set(t, s, k.of("set"), []byte("v"), ttl)
		if v, ok := get(t, s, k.of("set")); ok {
			t.Errorf("Set with ttl %v left %q", ttl, v)
		}
		if added, err := s.Add(ctx, k.of("add"), []byte("v"), ttl); added || err != nil {
			t.Errorf("Add with ttl %v = %v, %v; want false, nil", ttl, added, err)
		}
		if v, ok := get(t, s, k.of("add")); ok {
			t.Errorf("Add with ttl %v left %q", ttl, v)
		}
		if bs, ok := s.(corral.BatchSetter); ok {
			if err := bs.SetMany(ctx, map[string][]byte{k.of("many"): []byte("v")}, ttl); err != nil {
				t.Fatal(err)
			}
			if v, ok := get(t, s, k.of("many")); ok {
				t.Errorf("SetMany with ttl %v left %q", ttl, v)
			}
		}
		if tc, ok := s.(corral.Toucher); ok {
			set(t, s, k.of("touch"), []byte("v"), time.Hour)
			if found, err := tc.Touch(ctx, k.of("touch"), ttl); !found || err != nil {
				t.Errorf("Touch with ttl %v = %v, %v; want true, nil", ttl, found, err)
			}
			if v, ok := get(t, s, k.of("touch")); ok {
				t.Errorf("Touch with ttl %v left %q", ttl, v)
			}
		}
	}
	set(t, s, k.of("ms"), []byte("v"), time.Hour+time.Nanosecond) // truncated, not refused
	if _, ok := get(t, s, k.of("ms")); !ok {
		t.Error("a ttl of 1h plus 1ns expired at once")
	}
}

func testTouch(t *testing.T, s corral.Store, k keys) {
	tc, ok := s.(corral.Toucher)
	if !ok {
		t.Skip("no Toucher")
	}
	ctx := context.Background()
	set(t, s, k.of("touched"), []byte("v"), 500*time.Millisecond)
	set(t, s, k.of("forever"), []byte("v"), 500*time.Millisecond)
	set(t, s, k.of("control"), []byte("v"), 500*time.Millisecond)
	for key, ttl := range map[string]time.Duration{"touched": time.Hour, "forever": 0} {
		if found, err := tc.Touch(ctx, k.of(key), ttl); !found || err != nil {
			t.Fatalf("Touch(%s) = %v, %v", key, found, err)
		}
	}
	if found, err := tc.Touch(ctx, k.of("absent"), time.Hour); found || err != nil {
		t.Fatalf("Touch(absent) = %v, %v", found, err)
	}
	eventually(t, "expired", func() bool { _, ok := get(t, s, k.of("control")); return !ok })
	for _, key := range []string{"touched", "forever"} {
		if v, ok := get(t, s, k.of(key)); !ok || string(v) != "v" {
			t.Fatalf("%s: Touch did not extend the TTL, or changed the value", key)
		}
	}
	set(t, s, k.of("noexp"), []byte("v"), 0)
	if found, err := tc.Touch(ctx, k.of("noexp"), 0); !found || err != nil {
		t.Fatalf("Touch(0) of a key without expiry = %v, %v; want found", found, err)
	}
}

func testClearPrefix(t *testing.T, s corral.Store, k keys) {
	cl, ok := s.(corral.Clearer)
	if !ok {
		t.Skip("no Clearer")
	}
	for i := range 30 {
		set(t, s, k.of(fmt.Sprint("gone:", i)), []byte("x"), time.Minute)
	}
	set(t, s, k.of("kept:1"), []byte("x"), time.Minute)
	set(t, s, k.of("gone*[?]\\"), []byte("x"), time.Minute) // glob characters are literal
	set(t, s, k.of("gonf*"), []byte("x"), time.Minute)
	if err := cl.Clear(context.Background(), k.of("gone")); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if _, ok := get(t, s, k.of(fmt.Sprint("gone:", i))); ok {
			t.Fatalf("Clear left gone:%d", i)
		}
	}
	if _, ok := get(t, s, k.of("gone*[?]\\")); ok {
		t.Fatal("Clear left a key with glob characters")
	}
	for _, key := range []string{"kept:1", "gonf*"} {
		if _, ok := get(t, s, k.of(key)); !ok {
			t.Fatalf("Clear removed %s, outside its prefix", key)
		}
	}
}

func testLockOwner(t *testing.T, s corral.Store, k keys) {
	l, ok := s.(corral.Locker)
	if !ok {
		t.Skip("no Locker")
	}
	ctx := context.Background()
	lock := k.of("lock")
	if ok, err := l.Lock(ctx, lock, "owner", time.Minute); !ok || err != nil {
		t.Fatalf("Lock = %v, %v", ok, err)
	}
	if ok, err := l.Lock(ctx, lock, "other", time.Minute); ok || err != nil {
		t.Fatalf("a second Lock = %v, %v; want refused", ok, err)
	}
	if ok, err := l.Unlock(ctx, lock, "other"); ok || err != nil {
		t.Fatalf("Unlock by a stranger = %v, %v; want refused", ok, err)
	}
	if ok, err := l.Unlock(ctx, lock, "owner"); !ok || err != nil {
		t.Fatalf("Unlock by the owner = %v, %v", ok, err)
	}
	if ok, err := l.Unlock(ctx, lock, "owner"); ok || err != nil {
		t.Fatalf("a second Unlock = %v, %v; want nothing to release", ok, err)
	}
	// An expired lock can be taken again, and its old owner cannot release
	// the new one.
	if ok, _ := l.Lock(ctx, lock, "first", 50*time.Millisecond); !ok {
		t.Fatal("Lock after release refused")
	}
	eventually(t, "free again", func() bool { ok, _ := l.Lock(ctx, lock, "second", time.Minute); return ok })
	if ok, _ := l.Unlock(ctx, lock, "first"); ok {
		t.Fatal("the expired owner released its successor's lock")
	}
}
