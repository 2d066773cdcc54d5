package corral_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// GET route cached per Accept-Language; the PUT route goes through a cached
// handler too (so that writes invalidate), without VaryOn: its invalidation
// deletes the plain URL key, not the GET route's generation, so the GET
// variants computed before the write are still served.
func TestWriteThroughOtherRouteDropsVariants(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
	var version atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "item v%d %s", version.Load(), r.Header.Get("Accept-Language"))
	}), corral.VaryOn("Accept-Language"), corral.TTL(time.Hour)))
	mux.Handle("PUT /items/{id}", c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		version.Add(1)
		w.WriteHeader(204)
	})))
	before := do(mux, "GET", "/items/1", "Accept-Language", "en")
	if w := do(mux, "PUT", "/items/1"); w.Code != 204 {
		t.Fatal(w.Code)
	}
	after := do(mux, "GET", "/items/1", "Accept-Language", "en")
	t.Logf("before %q, after %q (%s)", before.Body, after.Body, after.Header().Get("Cache-Status"))
	if after.Body.String() == before.Body.String() {
		t.Fatalf("after a successful PUT of the URL, the GET still gets the response computed before it: %q", after.Body)
	}
}
