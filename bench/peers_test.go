package bench

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/go-chi/stampede"
	memcache "github.com/goware/cachestore-mem"
	httpcache "github.com/victorspringer/http-cache"
	httpcachemem "github.com/victorspringer/http-cache/adapter/memory"
)

// The HTTP peers, each on its in-memory store, as their READMEs set them up:
// go-chi/stampede v0.9.1 on goware/cachestore-mem v0.2.2, and
// victorspringer/http-cache (2024-05-23) on its memory adapter (LRU).
const peerEntries = 10_000 // the bound of each peer's store

// newStampede wraps next in go-chi/stampede's middleware.
func newStampede(tb testing.TB, next http.Handler) http.Handler {
	backend, err := memcache.NewBackend(peerEntries)
	if err != nil {
		tb.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	return stampede.Handler(logger, backend, time.Minute)(next)
}

// newHTTPCache wraps next in victorspringer/http-cache's middleware.
func newHTTPCache(tb testing.TB, next http.Handler) http.Handler {
	adapter, err := httpcachemem.NewAdapter(
		httpcachemem.AdapterWithAlgorithm(httpcachemem.LRU),
		httpcachemem.AdapterWithCapacity(peerEntries),
	)
	if err != nil {
		tb.Fatal(err)
	}
	client, err := httpcache.NewClient(httpcache.ClientWithAdapter(adapter), httpcache.ClientWithTTL(time.Minute))
	if err != nil {
		tb.Fatal(err)
	}
	return client.Middleware(next)
}

// newCorralMemory wraps next in corral's middleware on its memory store.
func newCorralMemory(tb testing.TB, next http.Handler, opts ...corral.HTTPOption) http.Handler {
	store := corral.NewMemoryStore()
	tb.Cleanup(func() { store.Close() })
	return corral.New(store).Handler(next, opts...)
}

// Verdicts of TestHitIsFaithful: what the second request got.
const (
	faithful  = "faithful"   // the origin's response for that request
	wrong     = "wrong"      // a response that differs from the origin's
	notStored = "not stored" // the origin answered a repeated request again
)

// TestHitIsFaithful checks, for corral and each HTTP peer, that a hit is the
// response the origin gives that request: a request whose query differs
// from a cached one's, a body written in two parts, a 301. It pins what
// each middleware does today; the expected verdicts were read from their
// source (stampede keys by lower-cased path only; http-cache keeps the last
// Write of a body and writes no status on a hit).
func TestHitIsFaithful(t *testing.T) {
	middlewares := []struct {
		name string
		wrap func(testing.TB, http.Handler) http.Handler
		want map[string]string // check -> verdict
	}{
		{"corral-memory", func(tb testing.TB, h http.Handler) http.Handler {
			return newCorralMemory(tb, h, corral.CacheStatuses(http.StatusOK, http.StatusMovedPermanently))
		}, map[string]string{"query": faithful, "two-writes": faithful, "status-301": faithful}},
		{"stampede", newStampede,
			map[string]string{"query": wrong, "two-writes": faithful, "status-301": faithful}},
		{"http-cache", newHTTPCache,
			map[string]string{"query": faithful, "two-writes": wrong, "status-301": wrong}},
	}
	checks := []struct {
		name          string
		first, second string // the request that fills the cache, the one checked
		origin        http.HandlerFunc
	}{
		{"query", "/search?q=1", "/search?q=2", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "results for "+r.URL.Query().Get("q"))
		}},
		{"two-writes", "/page", "/page", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "first part, ")
			io.WriteString(w, "second part")
		}},
		{"status-301", "/old", "/old", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "/new")
			w.WriteHeader(http.StatusMovedPermanently)
			io.WriteString(w, "moved")
		}},
	}
	for _, m := range middlewares {
		for _, c := range checks {
			t.Run(m.name+"/"+c.name, func(t *testing.T) {
				got := verdict(t, m.wrap, c.origin, c.first, c.second)
				if got != m.want[c.name] {
					t.Errorf("got %s, want %s", got, m.want[c.name])
				}
			})
		}
	}
}

// verdict sends first then second through wrap(origin) and compares the
// answer to second with what origin alone answers it. When first and second
// are one URL, the second must also be a hit (one origin call in all).
func verdict(t *testing.T, wrap func(testing.TB, http.Handler) http.Handler, origin http.HandlerFunc, first, second string) string {
	t.Helper()
	var calls atomic.Int64
	h := wrap(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		origin(w, r)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", first, nil))
	got := httptest.NewRecorder()
	h.ServeHTTP(got, httptest.NewRequest("GET", second, nil))
	want := httptest.NewRecorder()
	origin(want, httptest.NewRequest("GET", second, nil))
	switch {
	case got.Code != want.Code || got.Body.String() != want.Body.String():
		t.Logf("got %d %q, the origin answers %d %q", got.Code, got.Body, want.Code, want.Body)
		return wrong
	case first == second && calls.Load() > 1:
		return notStored
	}
	return faithful
}
