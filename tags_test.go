package corral_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// The tag suite runs on the memory store, one redis-server and a
// three-node Redis Cluster: tags behave the same on each.
func TestTagsOnMemoryStore(t *testing.T) { runTagSuite(t, newMemory) }

func TestTagsOnRedisStore(t *testing.T) { runTagSuite(t, flushedRedis(t)) }

func TestTagsOnRedisCluster(t *testing.T) {
	redistest.ClusterWanted(t)
	client := redistest.StartCluster(t, 3).Client(t)
	runTagSuite(t, func(t *testing.T) corral.Store {
		if err := client.ForEachMaster(context.Background(), func(ctx context.Context, m *redis.Client) error {
			return m.FlushDB(ctx).Err()
		}); err != nil {
			t.Fatal(err)
		}
		return redisstore.New(client)
	})
}

func runTagSuite(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name string
		run  func(t *testing.T, c *corral.Cache)
	}{
		{"StaticTags", testStaticTags},
		{"TagInMemoize", testTagInMemoize},
		{"TagInMemoizeMany", testTagInMemoizeMany},
		{"TagInHandler", testTagInHandler},
		{"SurrogateKey", testSurrogateKey},
		{"RouteTag", testRouteTag},
		{"InvalidateURL", testInvalidateURL},
		{"InvalidateURLWithoutHost", testInvalidateURLWithoutHost},
		{"InvalidatedWhileComputing", testInvalidatedWhileComputing},
		{"SoftInvalidate", testSoftInvalidate},
		{"LowLevelGet", testTagsLowLevelGet},
		{"BadTags", testBadTags},
		{"NotFoundTagged", testNotFoundTagged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, corral.New(newStore(t))) })
	}
}

// counter returns a GetOrSet function that counts its runs and returns the
// run's number, tagged with tags by Tag.
func counter(runs *atomic.Int32, tags ...string) func(ctx context.Context) (int32, error) {
	return func(ctx context.Context) (int32, error) {
		corral.Tag(ctx, tags...)
		return runs.Add(1), nil
	}
}

// testStaticTags: InvalidateTags recomputes exactly the values that carry
// one of the tags, with GetOrSet and Memoize, and no other.
func testStaticTags(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	var a, ab, b, none atomic.Int32
	read := func() (int32, int32, int32, int32) {
		va, _ := corral.GetOrSet(ctx, c, "a", time.Minute, counter(&a), corral.Tags("t:a"))
		vab, _ := corral.GetOrSet(ctx, c, "ab", time.Minute, counter(&ab), corral.Tags("t:a", "t:b"))
		vb, _ := corral.GetOrSet(ctx, c, "b", time.Minute, counter(&b), corral.Tags("t:b"))
		vn, _ := corral.GetOrSet(ctx, c, "none", time.Minute, counter(&none))
		return va, vab, vb, vn
	}
	read()
	if va, vab, vb, vn := read(); va != 1 || vab != 1 || vb != 1 || vn != 1 {
		t.Fatalf("second read computed again: %d %d %d %d", va, vab, vb, vn)
	}
	if err := c.InvalidateTags(ctx, "t:a"); err != nil {
		t.Fatal(err)
	}
	if va, vab, vb, vn := read(); va != 2 || vab != 2 || vb != 1 || vn != 1 {
		t.Fatalf("after InvalidateTags(t:a): a=%d ab=%d b=%d none=%d; want 2 2 1 1", va, vab, vb, vn)
	}
	if va, vab, vb, vn := read(); va != 2 || vab != 2 || vb != 1 || vn != 1 {
		t.Fatalf("the recomputed values were not stored: %d %d %d %d", va, vab, vb, vn)
	}

	var runs atomic.Int32
	price := corral.Memoize(c, "price", time.Minute, func(_ context.Context, id int) (int32, error) {
		return runs.Add(1)*1000 + int32(id), nil
	}, corral.Tags("prices"))
	p1, _ := price(ctx, 1)
	p2, _ := price(ctx, 2)
	if again, _ := price(ctx, 1); again != p1 {
		t.Fatalf("price(1) = %d then %d: not cached", p1, again)
	}
	if err := c.InvalidateTags(ctx, "prices"); err != nil {
		t.Fatal(err)
	}
	if n1, _ := price(ctx, 1); n1 == p1 {
		t.Fatalf("price(1) = %d after InvalidateTags(prices): not recomputed", n1)
	}
	if n2, _ := price(ctx, 2); n2 == p2 {
		t.Fatalf("price(2) = %d after InvalidateTags(prices): not recomputed", n2)
	}
	if s := c.Stats(); s.TagInvalidations != 2 || s.Invalidated == 0 {
		t.Fatalf("Stats: TagInvalidations=%d Invalidated=%d", s.TagInvalidations, s.Invalidated)
	}
}

// testTagInMemoize: Tag(ctx) inside a memoized function tags that
// argument's value only.
func testTagInMemoize(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	var runs [3]atomic.Int32
	product := corral.Memoize(c, "product", time.Minute, func(ctx context.Context, id int) (string, error) {
		corral.Tag(ctx, fmt.Sprintf("product:%d", id), "catalog")
		return fmt.Sprintf("product %d v%d", id, runs[id].Add(1)), nil
	})
	for id := 1; id <= 2; id++ {
		product(ctx, id)
		product(ctx, id)
	}
	if err := c.InvalidateTags(ctx, "product:1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := product(ctx, 1); v != "product 1 v2" {
		t.Fatalf("product(1) = %q after InvalidateTags(product:1)", v)
	}
	if v, _ := product(ctx, 2); v != "product 2 v1" {
		t.Fatalf("product(2) = %q: invalidated by another product's tag", v)
	}
	if err := c.InvalidateTags(ctx, "catalog"); err != nil {
		t.Fatal(err)
	}
	if v1, _ := product(ctx, 1); v1 != "product 1 v3" {
		t.Fatalf("product(1) = %q after InvalidateTags(catalog)", v1)
	}
	if v2, _ := product(ctx, 2); v2 != "product 2 v2" {
		t.Fatalf("product(2) = %q after InvalidateTags(catalog)", v2)
	}
}

// testTagInMemoizeMany: Tag(ctx) inside a MemoizeMany function tags every
// value of the batch; static tags tag each.
func testTagInMemoizeMany(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	var runs atomic.Int32
	load := corral.MemoizeMany(c, "many", time.Minute, func(ctx context.Context, ids []int) (map[int]int32, error) {
		corral.Tag(ctx, "batch")
		n := runs.Add(1)
		out := make(map[int]int32, len(ids))
		for _, id := range ids {
			out[id] = n
		}
		return out, nil
	}, corral.Tags("many"))
	load(ctx, []int{1, 2})
	load(ctx, []int{1, 2})
	if runs.Load() != 1 {
		t.Fatalf("%d runs for a cached batch", runs.Load())
	}
	for i, tag := range []string{"batch", "many"} {
		if err := c.InvalidateTags(ctx, tag); err != nil {
			t.Fatal(err)
		}
		if got, _ := load(ctx, []int{1, 2}); got[1] != int32(i+2) || got[2] != int32(i+2) {
			t.Fatalf("after InvalidateTags(%s): %v", tag, got)
		}
	}
}

// testTagInHandler: Tag with a handler's request context tags its response.
func testTagInHandler(t *testing.T, c *corral.Cache) {
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		corral.Tag(r.Context(), "item:"+r.URL.Query().Get("id"))
		fmt.Fprintf(w, "%s call %d", r.URL.RawQuery, n)
	}}
	srv := c.Handler(h, corral.TTL(time.Minute))
	do(srv, "GET", "/item?id=1")
	do(srv, "GET", "/item?id=2")
	if w := do(srv, "GET", "/item?id=1"); !isHit(w) {
		t.Fatalf("second request: %s", w.Header().Get("Cache-Status"))
	}
	if err := c.InvalidateTags(context.Background(), "item:1"); err != nil {
		t.Fatal(err)
	}
	if w := do(srv, "GET", "/item?id=1"); isHit(w) || w.Body.String() != "id=1 call 3" {
		t.Fatalf("after InvalidateTags(item:1): %q, %s", w.Body, w.Header().Get("Cache-Status"))
	}
	if w := do(srv, "GET", "/item?id=2"); !isHit(w) {
		t.Fatalf("item 2 invalidated by item 1's tag: %s", w.Header().Get("Cache-Status"))
	}
	if w := do(srv, "GET", "/item?id=1"); !isHit(w) {
		t.Fatalf("the recomputed response was not stored: %s", w.Header().Get("Cache-Status"))
	}
}

// testSurrogateKey: a response's Surrogate-Key tags it, and no client sees
// the field: not the one whose request stored it, not a hit, not a request
// the cache passes by.
func testSurrogateKey(t *testing.T, c *corral.Cache) {
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		w.Header().Set("Surrogate-Key", "product-42  catalog")
		fmt.Fprintf(w, "call %d", n)
	}}
	srv := c.Handler(h, corral.TTL(time.Minute))
	for i, w := range []*httptest.ResponseRecorder{do(srv, "GET", "/p/42"), do(srv, "GET", "/p/42"), do(srv, "GET", "/p/42", "Authorization", "Bearer x")} {
		if v := w.Header().Values("Surrogate-Key"); len(v) != 0 {
			t.Fatalf("response %d carries Surrogate-Key %q", i, v)
		}
	}
	for i, tag := range []string{"catalog", "product-42"} {
		if w := do(srv, "GET", "/p/42"); !isHit(w) {
			t.Fatalf("before InvalidateTags(%s): %s", tag, w.Header().Get("Cache-Status"))
		}
		if err := c.InvalidateTags(context.Background(), tag); err != nil {
			t.Fatal(err)
		}
		if w := do(srv, "GET", "/p/42"); isHit(w) || w.Body.String() != fmt.Sprintf("call %d", i+3) { // calls 1 and 2: the miss and the pass
			t.Fatalf("after InvalidateTags(%s): %q, %s", tag, w.Body, w.Header().Get("Cache-Status"))
		}
	}
}

// testRouteTag: every stored response carries its route's tag; purging a
// route drops its responses and no other route's.
func testRouteTag(t *testing.T, c *corral.Cache) {
	mux := http.NewServeMux()
	items, users := &counting{}, &counting{}
	mux.Handle("GET /items/{id}", c.Handler(items, corral.TTL(time.Minute)))
	mux.Handle("GET /users/{id}", c.Handler(users, corral.TTL(time.Minute)))
	for _, p := range []string{"/items/1", "/items/2", "/users/1"} {
		do(mux, "GET", p)
	}
	if err := c.InvalidateTags(context.Background(), corral.RouteTag("GET /items/{id}")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/items/1", "/items/2"} {
		if w := do(mux, "GET", p); isHit(w) {
			t.Fatalf("%s is a hit after its route's purge", p)
		}
	}
	if w := do(mux, "GET", "/users/1"); !isHit(w) {
		t.Fatalf("/users/1 dropped by another route's purge: %s", w.Header().Get("Cache-Status"))
	}
}

// testInvalidateURL: InvalidateURL drops every stored response of one URL
// (GET and HEAD, every VaryOn value, every variant of a response's Vary) on
// its host, and nothing else.
func testInvalidateURL(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	byLang := c.Handler(&counting{}, corral.TTL(time.Minute), corral.VaryOn("Accept-Language"))
	varies := c.Handler(byLanguage("Accept-Encoding"), corral.TTL(time.Minute))
	mux := http.NewServeMux()
	mux.Handle("/lang/", byLang)
	mux.Handle("/vary/", varies)
	type req struct{ method, target, header, value string }
	mine := []req{
		{"GET", "http://a.example/lang/x", "Accept-Language", "en"},
		{"GET", "http://a.example/lang/x", "Accept-Language", "fr"},
		{"HEAD", "http://a.example/lang/x", "Accept-Language", "de"},
		{"GET", "http://a.example/vary/x", "Accept-Encoding", "gzip"},
		{"GET", "http://a.example/vary/x", "Accept-Encoding", "br"},
	}
	others := []req{
		{"GET", "http://a.example/lang/y", "Accept-Language", "en"},
		{"GET", "http://b.example/lang/x", "Accept-Language", "en"},
		{"GET", "http://a.example/vary/y", "Accept-Encoding", "gzip"},
	}
	serve := func(r req) *httptest.ResponseRecorder { return do(mux, r.method, r.target, r.header, r.value) }
	for _, r := range append(append([]req(nil), mine...), others...) {
		serve(r)
		if w := serve(r); !isHit(w) {
			t.Fatalf("%v not stored: %s", r, w.Header().Get("Cache-Status"))
		}
	}
	for _, u := range []string{"http://a.example/lang/x", "http://a.example/vary/x"} {
		if err := c.InvalidateURL(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range mine {
		if w := serve(r); isHit(w) {
			t.Fatalf("%v is a hit after InvalidateURL", r)
		}
	}
	for _, r := range others {
		if w := serve(r); !isHit(w) {
			t.Fatalf("%v dropped by another URL's InvalidateURL: %s", r, w.Header().Get("Cache-Status"))
		}
	}
	if err := c.InvalidateURL(ctx, "not a url"); err == nil {
		t.Fatal("InvalidateURL of a relative path without / returned no error")
	}
}

// testInvalidateURLWithoutHost: a URL without a host drops its path on
// every host, whatever the query and the route's query options, and no
// other path.
func testInvalidateURLWithoutHost(t *testing.T, c *corral.Cache) {
	mux := http.NewServeMux()
	mux.Handle("/all/", c.Handler(&counting{}, corral.TTL(time.Minute)))
	mux.Handle("/some/", c.Handler(&counting{}, corral.TTL(time.Minute), corral.QueryKeys("page")))
	targets := []string{"http://a.example/all/x?q=1", "http://b.example/all/x?q=1", "http://a.example/all/x?q=2",
		"http://a.example/some/x?page=2"}
	kept := []string{"http://a.example/all/y?q=1", "http://a.example/all/x/z", "http://a.example/some/y?page=2"}
	for _, u := range append(append([]string(nil), targets...), kept...) {
		do(mux, "GET", u)
	}
	for _, u := range []string{"/all/x?q=1", "/some/x"} {
		if err := c.InvalidateURL(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range targets {
		if w := do(mux, "GET", u); isHit(w) {
			t.Fatalf("%s is a hit after InvalidateURL of its path", u)
		}
	}
	for _, u := range kept {
		if w := do(mux, "GET", u); !isHit(w) {
			t.Fatalf("%s dropped by InvalidateURL of another path: %s", u, w.Header().Get("Cache-Status"))
		}
	}
}

// testInvalidatedWhileComputing: a value whose tag is invalidated while it
// is computed is returned but not stored: the next read computes again.
func testInvalidatedWhileComputing(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	for _, how := range []string{"static", "Tag"} {
		var runs atomic.Int32
		started, invalidated := make(chan struct{}), make(chan struct{})
		fn := func(ctx context.Context) (int32, error) {
			if how == "Tag" {
				corral.Tag(ctx, "live-"+how)
			}
			n := runs.Add(1)
			if n == 1 {
				close(started)
				<-invalidated
			}
			return n, nil
		}
		opts := []corral.MemoOption{}
		if how == "static" {
			opts = append(opts, corral.Tags("live-"+how))
		}
		done := make(chan int32)
		go func() {
			v, _ := corral.GetOrSet(ctx, c, "live-"+how, time.Minute, fn, opts...)
			done <- v
		}()
		<-started
		if err := c.InvalidateTags(ctx, "live-"+how); err != nil {
			t.Fatal(err)
		}
		close(invalidated)
		if v := <-done; v != 1 {
			t.Fatalf("%s: the caller got %d", how, v)
		}
		if v, _ := corral.GetOrSet(ctx, c, "live-"+how, time.Minute, fn, opts...); v != 2 {
			t.Fatalf("%s: a value invalidated while computed was stored: got %d", how, v)
		}
	}
}

// testSoftInvalidate: with SoftInvalidate and a stale window, an
// invalidated value is served stale at once while one refresh computes it;
// then the new value is served.
func testSoftInvalidate(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	var runs atomic.Int32
	release := make(chan struct{})
	fn := func(ctx context.Context) (int32, error) {
		n := runs.Add(1)
		if n > 1 {
			<-release
		}
		return n, nil
	}
	opts := []corral.MemoOption{corral.Tags("soft"), corral.SoftInvalidate(), corral.StaleWhileRevalidate(time.Minute)}
	corral.GetOrSet(ctx, c, "soft", time.Minute, fn, opts...)
	if err := c.InvalidateTags(ctx, "soft"); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if v, err := corral.GetOrSet(ctx, c, "soft", time.Minute, fn, opts...); v != 1 || err != nil {
			t.Fatalf("a soft-invalidated read got %d, %v; want the stale 1 at once", v, err)
		}
	}
	close(release)
	eventually(t, "the refreshed value served", func() bool {
		v, _ := corral.GetOrSet(ctx, c, "soft", time.Minute, fn, opts...)
		return v == 2
	})
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d computations; want the first and one refresh", n)
	}
	// Without SoftInvalidate the same invalidation is a miss.
	if err := c.InvalidateTags(ctx, "soft"); err != nil {
		t.Fatal(err)
	}
	if v, _ := corral.GetOrSet(ctx, c, "soft", time.Minute, fn, corral.Tags("soft"), corral.StaleWhileRevalidate(time.Minute)); v != 3 {
		t.Fatalf("a hard invalidation served %d", v)
	}
}

// testTagsLowLevelGet: a tagged value read with Get, Has and GetMany is
// gone once invalidated.
func testTagsLowLevelGet(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	var runs atomic.Int32
	corral.GetOrSet(ctx, c, "low", time.Minute, counter(&runs), corral.Tags("low"))
	var v int32
	if found, err := c.Get(ctx, "low", &v); !found || err != nil || v != 1 {
		t.Fatalf("Get = %v, %v, %d", found, err, v)
	}
	if err := c.InvalidateTags(ctx, "low"); err != nil {
		t.Fatal(err)
	}
	if found, err := c.Get(ctx, "low", &v); found || err != nil {
		t.Fatalf("Get after InvalidateTags = %v, %v", found, err)
	}
	if has, err := c.Has(ctx, "low"); has || err != nil {
		t.Fatalf("Has after InvalidateTags = %v, %v", has, err)
	}
	got := map[string]int32{}
	if err := c.GetMany(ctx, []string{"low"}, got); err != nil || len(got) != 0 {
		t.Fatalf("GetMany after InvalidateTags = %v, %v", got, err)
	}
}

// testBadTags: a computation with a bad tag returns its value, which is
// not stored; Tags panics on one; InvalidateTags refuses one.
func testBadTags(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	var runs atomic.Int32
	for _, bad := range []string{"", strings.Repeat("x", corral.MaxTagLen+1)} {
		runs.Store(0)
		for want := int32(1); want <= 2; want++ {
			if v, err := corral.GetOrSet(ctx, c, "bad", time.Minute, counter(&runs, "ok", bad)); v != want || err != nil {
				t.Fatalf("tag %.10q: got %d, %v; want %d (returned, never stored)", bad, v, err, want)
			}
		}
		if err := c.InvalidateTags(ctx, bad); err == nil {
			t.Fatalf("InvalidateTags(%.10q) returned no error", bad)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("Tags(%.10q) did not panic", bad)
				}
			}()
			corral.Tags(bad)
		}()
	}
}

// testNotFoundTagged: a cached "not found" is tagged too: creating the
// thing and invalidating its tag makes the next read find it.
func testNotFoundTagged(t *testing.T, c *corral.Cache) {
	ctx := context.Background()
	errMissing := fmt.Errorf("missing")
	var exists atomic.Bool
	fn := func(ctx context.Context) (string, error) {
		corral.Tag(ctx, "thing")
		if !exists.Load() {
			return "", errMissing
		}
		return "thing", nil
	}
	opts := []corral.MemoOption{corral.CacheNotFound(errMissing, time.Minute)}
	if _, err := corral.GetOrSet(ctx, c, "thing", time.Minute, fn, opts...); err != errMissing {
		t.Fatalf("err = %v", err)
	}
	exists.Store(true)
	if _, err := corral.GetOrSet(ctx, c, "thing", time.Minute, fn, opts...); err == nil {
		t.Fatal("the cached not found was not served")
	}
	if err := c.InvalidateTags(ctx, "thing"); err != nil {
		t.Fatal(err)
	}
	if v, err := corral.GetOrSet(ctx, c, "thing", time.Minute, fn, opts...); v != "thing" || err != nil {
		t.Fatalf("after InvalidateTags: %q, %v", v, err)
	}
}

// An invalidation on one instance is seen by another that shares the
// Redis: at once without a near cache; through the store's reports with one
// (the other instance holds the tag's token in its near cache).
func TestTagsAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	for _, near := range []bool{false, true} {
		t.Run(fmt.Sprintf("near=%v", near), func(t *testing.T) {
			ctx := context.Background()
			instance := func() *corral.Cache {
				opts := []corral.Option{corral.WithPrefix(fmt.Sprintf("across-%v", near))}
				if near {
					opts = append(opts, corral.WithNearCache(1<<20, time.Minute))
				}
				return corral.New(redisstore.New(srv.Client(t)), opts...)
			}
			a, b := instance(), instance()
			var runs atomic.Int32
			fn := func(ctx context.Context) (int32, error) {
				corral.Tag(ctx, "product:7")
				return runs.Add(1), nil
			}
			pageOf := func(c *corral.Cache) http.Handler {
				return c.Handler(&counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
					w.Header().Set("Surrogate-Key", "product:7")
					fmt.Fprintf(w, "page %d", runs.Add(1))
				}}, corral.TTL(time.Minute))
			}
			pa, pb := pageOf(a), pageOf(b)
			v, _ := corral.GetOrSet(ctx, a, "product", time.Minute, fn)
			do(pa, "GET", "/product/7")
			if got, _ := corral.GetOrSet(ctx, b, "product", time.Minute, fn); got != v {
				t.Fatalf("b computed its own value: %d, a's is %d", got, v)
			}
			if w := do(pb, "GET", "/product/7"); !isHit(w) {
				t.Fatalf("b missed a's page: %s", w.Header().Get("Cache-Status"))
			}
			if err := a.InvalidateTags(ctx, "product:7"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "b's value invalidated by a", func() bool {
				got, _ := corral.GetOrSet(ctx, b, "product", time.Minute, fn)
				return got != v
			})
			eventually(t, "b's page invalidated by a", func() bool { return !isHit(do(pb, "GET", "/product/7")) })
			// and the other way, by URL, without a host
			do(pa, "GET", "/product/7")
			if w := do(pa, "GET", "/product/7"); !isHit(w) {
				t.Fatalf("a's page not stored again: %s", w.Header().Get("Cache-Status"))
			}
			if err := b.InvalidateURL(ctx, "/product/7"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "a's page invalidated by b's InvalidateURL", func() bool { return !isHit(do(pa, "GET", "/product/7")) })
		})
	}
}

// A response that varies on a header its key does not hold is stored as
// one variant of its URL; its tags and its URL's tag drop it too.
func TestTagsOnVaryVariants(t *testing.T) {
	c := corral.New(newMemory(t))
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		lang := r.Header.Get("Accept-Language")
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("Surrogate-Key", "lang-"+lang)
		fmt.Fprintf(w, "%s call %d", lang, n)
	}}
	srv := c.Handler(h, corral.TTL(time.Minute))
	for _, lang := range []string{"en", "fr", "en", "fr"} {
		do(srv, "GET", "/v", "Accept-Language", lang)
	}
	for _, lang := range []string{"en", "fr"} {
		if w := do(srv, "GET", "/v", "Accept-Language", lang); !isHit(w) {
			t.Fatalf("%s not stored: %s", lang, w.Header().Get("Cache-Status"))
		}
	}
	if err := c.InvalidateTags(context.Background(), "lang-fr"); err != nil {
		t.Fatal(err)
	}
	if w := do(srv, "GET", "/v", "Accept-Language", "fr"); isHit(w) {
		t.Fatal("the fr variant is a hit after InvalidateTags of its Surrogate-Key")
	}
	if err := c.InvalidateURL(context.Background(), "/v"); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "fr"} {
		if w := do(srv, "GET", "/v", "Accept-Language", lang); isHit(w) {
			t.Fatalf("%s is a hit after InvalidateURL of its path on every host", lang)
		}
	}
}

// On a store across the network, tags cost no round trip on a hit of the
// tags the call knows (Tags, the route's and URL's), and none on a miss
// but the writes of the tokens created with the entry, at the same time.
func TestTagRoundTrips(t *testing.T) {
	store := &countingStore{Store: newMemory(t)}
	c := corral.New(store)
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", c.Handler(&counting{}, corral.TTL(time.Minute), corral.Tags("items")))
	check := func(what string, reads, writes int32) {
		t.Helper()
		if r, w := store.gets.Swap(0), store.sets.Swap(0); r != reads || w != writes {
			t.Fatalf("%s: %d reads and %d writes; want %d and %d", what, r, w, reads, writes)
		}
	}
	do(mux, "GET", "/items/1")
	check("the first miss", 1, 4) // the entry with its three new tokens (route, URL, items)
	do(mux, "GET", "/items/1")
	check("a hit", 1, 0)
	do(mux, "GET", "/items/2")
	check("a miss of another URL of the route", 1, 2) // the entry and its URL's token
	if err := c.InvalidateTags(context.Background(), "items"); err != nil {
		t.Fatal(err)
	}
	check("an invalidation", 0, 1)
	do(mux, "GET", "/items/2")
	check("a miss after it", 1, 1)
}

// On a store across the network, a batch read of tagged entries (MemoizeMany,
// GetMany) reads the tokens of their tags in one more round trip, not one
// per entry.
func TestTagRoundTripsOfBatches(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{Store: newMemory(t)}
	c := corral.New(store)
	ids := make([]int, 50)
	keys := make([]string, len(ids))
	for i := range ids {
		ids[i], keys[i] = i, fmt.Sprint("user:", i)
	}
	name := func(_ context.Context, id int) string { return fmt.Sprint("user ", id) }
	load := corral.MemoizeMany(c, "users", time.Minute, func(ctx context.Context, ids []int) (map[int]string, error) {
		out := make(map[int]string, len(ids))
		for _, id := range ids {
			out[id] = name(ctx, id)
		}
		return out, nil
	}, corral.Tags("users", "people"))
	if _, err := load(ctx, ids); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if _, err := corral.GetOrSet(ctx, c, k, time.Minute, func(ctx context.Context) (string, error) {
			return name(ctx, ids[i]), nil
		}, corral.Tags("users")); err != nil {
			t.Fatal(err)
		}
	}
	store.gets.Store(0)
	if got, err := load(ctx, ids); err != nil || len(got) != len(ids) {
		t.Fatalf("MemoizeMany hit: %d values, %v", len(got), err)
	}
	if r := store.gets.Swap(0); r != 2 {
		t.Fatalf("a MemoizeMany hit of %d tagged ids made %d reads; want 2 (the entries, then their tags)", len(ids), r)
	}
	var got map[string]string
	if err := c.GetMany(ctx, keys, &got); err != nil || len(got) != len(keys) {
		t.Fatalf("GetMany: %d values, %v", len(got), err)
	}
	if r := store.gets.Swap(0); r != 2 {
		t.Fatalf("a GetMany of %d tagged keys made %d reads; want 2 (the entries, then their tags)", len(keys), r)
	}
}
