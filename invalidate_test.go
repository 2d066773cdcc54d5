package corral_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// A successful write through one route's cached handler drops every variant
// that another route with other options (here VaryOn) stored for the URL:
// the next GET is computed anew.
func TestWriteThroughOtherRouteDropsVariants(t *testing.T) {
	c := corral.New(newMemory(t))
	var version atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "item v%d %s", version.Load(), r.Header.Get("Accept-Language"))
	}), corral.VaryOn("Accept-Language"), corral.TTL(time.Hour)))
	mux.Handle("PUT /items/{id}", c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		version.Add(1)
		w.WriteHeader(204)
	})))
	if w := do(mux, "GET", "/items/1", "Accept-Language", "en"); w.Body.String() != "item v0 en" {
		t.Fatalf("first GET: %q", w.Body)
	}
	if w := do(mux, "GET", "/items/1", "Accept-Language", "en"); w.Header().Get("Cache-Status") != "corral; hit" {
		t.Fatalf("second GET: %q %q, want a hit", w.Body, w.Header().Get("Cache-Status"))
	}
	if w := do(mux, "PUT", "/items/1"); w.Code != 204 {
		t.Fatalf("PUT: %d", w.Code)
	}
	if w := do(mux, "GET", "/items/1", "Accept-Language", "en"); w.Body.String() != "item v1 en" {
		t.Fatalf("after a successful PUT of the URL, the GET got %q %q, want the new %q", w.Body, w.Header().Get("Cache-Status"), "item v1 en")
	}
}
