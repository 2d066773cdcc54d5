package corral_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// newStoreFunc makes a fresh, empty store for one test.
type newStoreFunc func(t *testing.T) corral.Store

func newMemory(t *testing.T) corral.Store {
	s := corral.NewMemoryStore()
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCacheOnMemoryStore(t *testing.T) { runCacheSuite(t, newMemory) }

type point struct {
	X, Y int
	Tag  string
}

// runCacheSuite runs every Cache behaviour against stores from newStore. The
// Redis store's tests run it too.
func runCacheSuite(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name string
		run  func(t *testing.T, newStore newStoreFunc)
	}{
		{"RoundTrip", testRoundTrip},
		{"Miss", testMiss},
		{"TTL", testTTL},
		{"Add", testAdd},
		{"Delete", testDelete},
		{"Has", testHas},
		{"GetManySetMany", testGetManySetMany},
		{"Touch", testTouch},
		{"IncrDecr", testIncrDecr},
		{"Versions", testVersions},
		{"Prefixes", testPrefixes},
		{"Builds", testBuilds},
		{"Keys", testKeys},
		{"BadKeys", testBadKeys},
		{"Undecodable", testUndecodable},
		{"Stats", testStats},
		{"EnvelopeLikeBytes", testEnvelopeLikeBytes},
		{"Liveness", testLiveness},
		{"BadDestination", testBadDestination},
		{"IncrVersionZero", testIncrVersionZero},
		{"IncrOverflow", testIncrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore) })
	}
}

func testRoundTrip(t *testing.T, newStore newStoreFunc) {
	c := corral.New(newStore(t), corral.WithPrefix("rt"))
	ctx := context.Background()
	tests := []struct {
		name  string
		value any
		dst   func() any // a pointer to decode into
		deref func(any) any
	}{
		{"struct", point{1, 2, "a b"}, func() any { return new(point) }, func(p any) any { return *p.(*point) }},
		{"int", 42, func() any { return new(int) }, func(p any) any { return *p.(*int) }},
		{"string", "héllo\x00", func() any { return new(string) }, func(p any) any { return *p.(*string) }},
		{"bytes", []byte{0, 1, 255}, func() any { return new([]byte) }, func(p any) any { return string(*p.(*[]byte)) }},
		{"empty bytes", []byte{}, func() any { return new([]byte) }, func(p any) any { return string(*p.(*[]byte)) }},
		{"map", map[string]int{"a": 1}, func() any { return new(map[string]int) }, func(p any) any { return (*p.(*map[string]int))["a"] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.Set(ctx, tt.name, tt.value, 0); err != nil {
				t.Fatalf("Set: %v", err)
			}
			dst := tt.dst()
			found, err := c.Get(ctx, tt.name, dst)
			if err != nil || !found {
				t.Fatalf("Get = %v, %v; want found", found, err)
			}
			want := tt.value
			if b, ok := want.([]byte); ok {
				want = string(b)
			}
			if m, ok := want.(map[string]int); ok {
				want = m["a"]
			}
			if got := tt.deref(dst); got != want {
				t.Fatalf("Get decoded %v, want %v", got, want)
			}
		})
	}

	t.Run("caller may reuse its slice", func(t *testing.T) {
		buf := []byte("first")
		if err := c.Set(ctx, "reuse", buf, 0); err != nil {
			t.Fatal(err)
		}
		copy(buf, "XXXXX")
		var got []byte
		if _, err := c.Get(ctx, "reuse", &got); err != nil || string(got) != "first" {
			t.Fatalf("Get = %q, %v; want first", got, err)
		}
		copy(got, "YYYYY") // the caller's copy, not the store's
		var again []byte
		if _, _ = c.Get(ctx, "reuse", &again); string(again) != "first" {
			t.Fatalf("store changed through a returned slice: %q", again)
		}
	})
}

func testMiss(t *testing.T, newStore newStoreFunc) {
	c := corral.New(newStore(t))
	var p point
	found, err := c.Get(context.Background(), "absent", &p)
	if found || err != nil {
		t.Fatalf("Get(absent) = %v, %v; want false, nil", found, err)
	}
	if found, err := c.Get(context.Background(), "absent", nil); found || err != nil {
		t.Fatalf("Get(absent, nil) = %v, %v", found, err)
	}
}

// eventually polls cond until it holds or a generous deadline passes. It
// waits for an observable state (a key expired), not for a guessed duration.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func present(t *testing.T, c *corral.Cache, key string) bool {
	t.Helper()
	found, err := c.Has(context.Background(), key)
	if err != nil {
		t.Fatalf("Has(%q): %v", key, err)
	}
	return found
}

func testTTL(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	// TTLs leave room for a slow machine between a write and the next read.
	c := corral.New(newStore(t), corral.WithDefaultTTL(700*time.Millisecond))
	must(t, c.Set(ctx, "default", 1, 0))
	must(t, c.Set(ctx, "forever", 1, corral.NoExpiration))
	must(t, c.Set(ctx, "long", 1, time.Hour))
	must(t, c.Set(ctx, "short", 1, 400*time.Millisecond))
	if !present(t, c, "default") || !present(t, c, "short") {
		t.Fatal("values gone before their TTL")
	}
	eventually(t, "expired (explicit TTL)", func() bool { return !present(t, c, "short") })
	eventually(t, "expired (default TTL)", func() bool { return !present(t, c, "default") })
	if !present(t, c, "forever") || !present(t, c, "long") {
		t.Fatal("NoExpiration or a long TTL expired with the default TTL")
	}

	// A negative TTL other than NoExpiration is already expired: Set deletes.
	must(t, c.Set(ctx, "forever", 2, -time.Second))
	if present(t, c, "forever") {
		t.Fatal("Set with a negative TTL left the old value")
	}
	if added, err := c.Add(ctx, "neg", 1, -time.Second); added || err != nil || present(t, c, "neg") {
		t.Fatalf("Add with a negative TTL = %v, %v", added, err)
	}
}

func testAdd(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	c := corral.New(newStore(t))
	tests := []struct {
		value     string
		wantAdded bool
		wantValue string
	}{
		{"first", true, "first"},
		{"second", false, "first"},
	}
	for _, tt := range tests {
		added, err := c.Add(ctx, "k", tt.value, 0)
		if err != nil || added != tt.wantAdded {
			t.Fatalf("Add(%q) = %v, %v; want %v", tt.value, added, err, tt.wantAdded)
		}
		var got string
		if _, err := c.Get(ctx, "k", &got); err != nil || got != tt.wantValue {
			t.Fatalf("after Add(%q) Get = %q, %v; want %q", tt.value, got, err, tt.wantValue)
		}
	}
	// An expired value does not block Add.
	must(t, c.Set(ctx, "exp", "old", 300*time.Millisecond))
	eventually(t, "expired", func() bool { return !present(t, c, "exp") })
	if added, err := c.Add(ctx, "exp", "new", 0); !added || err != nil {
		t.Fatalf("Add over an expired value = %v, %v", added, err)
	}
}

func testDelete(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	c := corral.New(newStore(t))
	for _, k := range []string{"a", "b", "c"} {
		must(t, c.Set(ctx, k, k, 0))
	}
	must(t, c.Delete(ctx, "a", "b", "never-set"))
	must(t, c.Delete(ctx)) // no keys: nothing to do
	for k, want := range map[string]bool{"a": false, "b": false, "c": true} {
		if got := present(t, c, k); got != want {
			t.Errorf("after Delete, %q present = %v, want %v", k, got, want)
		}
	}
}

func testHas(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	c := corral.New(newStore(t))
	must(t, c.Set(ctx, "k", []byte{}, 0))
	if !present(t, c, "k") || present(t, c, "other") {
		t.Fatal("Has is wrong")
	}
	if s := c.Stats(); s.Hits != 0 || s.Misses != 0 {
		t.Fatalf("Has counted as hit/miss: %+v", s)
	}
}

func testGetManySetMany(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	c := corral.New(newStore(t))
	must(t, c.SetMany(ctx, map[string]point{"p1": {X: 1}, "p2": {X: 2}}, 0))
	must(t, c.SetMany(ctx, map[string]any{"n": 3, "s": "x"}, 0))

	var got map[string]point // nil: GetMany makes it
	must(t, c.GetMany(ctx, []string{"p1", "missing", "p2"}, &got))
	if len(got) != 2 || got["p1"].X != 1 || got["p2"].X != 2 {
		t.Fatalf("GetMany = %v", got)
	}
	anyMap := map[string]any{}
	must(t, c.GetMany(ctx, []string{"n", "s"}, anyMap))
	if anyMap["n"] != float64(3) || anyMap["s"] != "x" {
		t.Fatalf("GetMany into map[string]any = %v", anyMap)
	}
	// A value that does not decode into T is left out, and an error.
	ints := map[string]int{}
	if err := c.GetMany(ctx, []string{"n", "s"}, ints); !errors.Is(err, corral.ErrDecode) {
		t.Fatalf("GetMany of a string into map[string]int: err = %v, want ErrDecode", err)
	}
	if len(ints) != 1 || ints["n"] != 3 {
		t.Fatalf("GetMany into map[string]int = %v", ints)
	}
	for _, bad := range []any{nil, 3, map[int]int{}, (map[string]int)(nil)} {
		if err := c.GetMany(ctx, []string{"n"}, bad); err == nil {
			t.Errorf("GetMany into %T (%v) accepted", bad, bad)
		}
	}
	for _, bad := range []any{nil, 3, map[int]int{}} {
		if err := c.SetMany(ctx, bad, 0); err == nil {
			t.Errorf("SetMany(%T) accepted", bad)
		}
	}
	must(t, c.SetMany(ctx, (map[string]int)(nil), 0)) // nothing to store
}

func testTouch(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	c := corral.New(newStore(t))
	must(t, c.Set(ctx, "touched", 1, 500*time.Millisecond))
	must(t, c.Set(ctx, "control", 1, 500*time.Millisecond))
	if found, err := c.Touch(ctx, "touched", time.Hour); !found || err != nil {
		t.Fatalf("Touch = %v, %v", found, err)
	}
	if found, err := c.Touch(ctx, "absent", time.Hour); found || err != nil {
		t.Fatalf("Touch(absent) = %v, %v", found, err)
	}
	eventually(t, "expired", func() bool { return !present(t, c, "control") })
	var v int
	if found, _ := c.Get(ctx, "touched", &v); !found || v != 1 {
		t.Fatal("Touch did not extend the TTL, or changed the value")
	}
	if found, err := c.Touch(ctx, "touched", -time.Second); !found || err != nil || present(t, c, "touched") {
		t.Fatalf("Touch with a negative TTL = %v, %v; want the key dropped", found, err)
	}
}

func testIncrDecr(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	c := corral.New(newStore(t))
	if _, err := c.Incr(ctx, "n", 1); !errors.Is(err, corral.ErrNotFound) {
		t.Fatalf("Incr(missing) = %v, want ErrNotFound", err)
	}
	must(t, c.Set(ctx, "n", 10, 0))
	steps := []struct {
		op    func() (int64, error)
		want  int64
		label string
	}{
		{func() (int64, error) { return c.Incr(ctx, "n", 1) }, 11, "Incr 1"},
		{func() (int64, error) { return c.Incr(ctx, "n", 5) }, 16, "Incr 5"},
		{func() (int64, error) { return c.Decr(ctx, "n", 20) }, -4, "Decr 20"},
	}
	for _, s := range steps {
		if got, err := s.op(); err != nil || got != s.want {
			t.Fatalf("%s = %d, %v; want %d", s.label, got, err, s.want)
		}
	}
	var n int
	if _, err := c.Get(ctx, "n", &n); err != nil || n != -4 {
		t.Fatalf("Get after Incr = %d, %v", n, err)
	}
	must(t, c.Set(ctx, "s", "text", 0))
	if _, err := c.Incr(ctx, "s", 1); !errors.Is(err, corral.ErrNotInteger) {
		t.Fatalf("Incr(text) = %v, want ErrNotInteger", err)
	}
}

func testVersions(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	v1 := corral.New(newStore(t), corral.WithPrefix("ver"))
	v2 := v1.WithVersion(2)
	must(t, v1.Set(ctx, "k", "one", 0))
	if present(t, v2, "k") {
		t.Fatal("a key set at version 1 is visible at version 2")
	}
	must(t, v2.Set(ctx, "k2", "two", 0))
	if present(t, v1, "k2") {
		t.Fatal("a key set at version 2 is visible at version 1")
	}

	next, err := v1.IncrVersion(ctx, "k", 1)
	if err != nil || next != 2 {
		t.Fatalf("IncrVersion = %d, %v; want 2", next, err)
	}
	var got string
	if found, _ := v2.Get(ctx, "k", &got); !found || got != "one" {
		t.Fatalf("after IncrVersion, version 2 has %q, %v", got, found)
	}
	if present(t, v1, "k") {
		t.Fatal("IncrVersion left the value at version 1")
	}
	if _, err := v1.IncrVersion(ctx, "absent", 1); !errors.Is(err, corral.ErrNotFound) {
		t.Fatalf("IncrVersion(absent) = %v, want ErrNotFound", err)
	}
	// Versions through the option and through the view are the same.
	opt := corral.New(v1.Store(), corral.WithPrefix("ver"), corral.WithVersion(2))
	if !present(t, opt, "k") {
		t.Fatal("WithVersion(2) option and c.WithVersion(2) view disagree")
	}
}

func testPrefixes(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	store := newStore(t)
	a := corral.New(store, corral.WithPrefix("a"))
	b := corral.New(store, corral.WithPrefix("b"))
	ab := corral.New(store, corral.WithPrefix("a:b")) // escaped: not under "a:"
	must(t, a.Set(ctx, "k", "from a", 0))
	must(t, a.WithVersion(7).Set(ctx, "k", "from a v7", 0))
	must(t, b.Set(ctx, "k", "from b", 0))
	must(t, ab.Set(ctx, "k", "from a:b", 0))
	for c, want := range map[*corral.Cache]string{a: "from a", b: "from b", ab: "from a:b"} {
		var got string
		if _, err := c.Get(ctx, "k", &got); err != nil || got != want {
			t.Fatalf("Get = %q, %v; want %q", got, err, want)
		}
	}
	if err := a.Clear(ctx); errors.Is(err, errors.ErrUnsupported) {
		t.Skip("store has no Clear")
	} else if err != nil {
		t.Fatal(err)
	}
	if present(t, a, "k") || present(t, a.WithVersion(7), "k") {
		t.Fatal("Clear left a key of its own prefix")
	}
	if !present(t, b, "k") || !present(t, ab, "k") {
		t.Fatal("Clear of prefix a removed another prefix's key")
	}
	if !present(t, a.WithPrefix("b"), "k") {
		t.Fatal("the WithPrefix view does not share the store")
	}
}

func testBuilds(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	c := corral.New(newStore(t), corral.WithBuild("41"))
	must(t, c.Set(ctx, "api_data", "from 41", 0))
	if present(t, c.WithBuild("42"), "api_data") {
		t.Fatal("build 42 reads what build 41 wrote")
	}
	if !present(t, corral.New(c.Store(), corral.WithBuild("41")), "api_data") {
		t.Fatal("the same build on the same store does not read its value")
	}
}

func testKeys(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	c := corral.New(newStore(t))
	long := strings.Repeat("k", 10<<10)
	keys := []string{
		long, long[:len(long)-1] + "j", // 10 kB keys, hashed, differing in the last byte
		"with space", "with\x00nul", "with\nnewline", "tab\there",
		"ünïcode", "a:b:c", "#sha256=", "x" + strings.Repeat("y", corral.MaxKeyLen-1),
		"x" + strings.Repeat("y", corral.MaxKeyLen),
	}
	for i, k := range keys {
		must(t, c.Set(ctx, k, i, 0))
	}
	for i, k := range keys {
		var got int
		if found, err := c.Get(ctx, k, &got); !found || err != nil || got != i {
			t.Fatalf("key %d (%.20q...): Get = %d, %v, %v; want %d", i, k, got, found, err, i)
		}
	}
}

func testBadKeys(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	c := corral.New(newStore(t))
	huge := strings.Repeat("h", corral.MaxKeySize+1)
	for _, k := range []string{"", huge} {
		var v int
		checks := map[string]error{}
		_, checks["Get"] = c.Get(ctx, k, &v)
		_, checks["Has"] = c.Has(ctx, k)
		checks["Set"] = c.Set(ctx, k, 1, 0)
		_, checks["Add"] = c.Add(ctx, k, 1, 0)
		checks["Delete"] = c.Delete(ctx, "ok", k)
		_, checks["Touch"] = c.Touch(ctx, k, 0)
		_, checks["Incr"] = c.Incr(ctx, k, 1)
		_, checks["IncrVersion"] = c.IncrVersion(ctx, k, 1)
		checks["GetMany"] = c.GetMany(ctx, []string{"ok", k}, map[string]int{})
		checks["SetMany"] = c.SetMany(ctx, map[string]int{k: 1}, 0)
		for name, err := range checks {
			if !errors.Is(err, corral.ErrInvalidKey) {
				t.Errorf("%s with a key of %d bytes: %v, want ErrInvalidKey", name, len(k), err)
			}
		}
	}
}

func testUndecodable(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	c := corral.New(newStore(t))
	must(t, c.Set(ctx, "k", "not a number", 0))
	var n int
	found, err := c.Get(ctx, "k", &n)
	if found || !errors.Is(err, corral.ErrDecode) {
		t.Fatalf("Get of a string into an int = %v, %v; want an error wrapping ErrDecode", found, err)
	}
	for _, want := range []string{`"k"`, "*int", "cannot unmarshal string"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not say %s", err, want)
		}
	}
	if strings.Count(err.Error(), "corral:") != 1 {
		t.Errorf("the error %q repeats itself", err)
	}
	var s string
	if found, err := c.Get(ctx, "k", &s); !found || err != nil || s != "not a number" {
		t.Fatalf("the caller's mistake cost the value: Get into a string = %v, %v, %q", found, err, s)
	}
	if st := c.Stats(); st.DecodeErrors != 1 || st.Hits != 1 {
		t.Fatalf("stats = %+v, want 1 decode error and 1 hit", st)
	}
}

func testStats(t *testing.T, newStore newStoreFunc) {
	ctx := context.Background()
	c := corral.New(newStore(t))
	must(t, c.Set(ctx, "k", 1, 0))
	var v int
	for range 3 {
		c.Get(ctx, "k", &v)
	}
	c.Get(ctx, "absent", &v)
	view := c.WithVersion(9)
	view.Get(ctx, "k", &v)
	s := c.Stats()
	if s.Hits != 3 || s.Misses != 2 || s.Errors != 0 {
		t.Fatalf("stats = %+v, want 3 hits, 2 misses (one through a view)", s)
	}
	if vs := view.Stats(); vs.Hits != s.Hits || vs.Misses != s.Misses {
		t.Fatal("a view does not share its cache's stats")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
