package corral_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/gorilla/mux"
)

// A route's own Handler that streams, under a router's Middleware: the
// client gets the stream once, with the inner layer's Cache-Status, and the
// request is counted once.
func TestNestedStreamCountedOnce(t *testing.T) {
	c := corral.New(newMemory(t))
	r := mux.NewRouter()
	r.Use(c.Middleware(corral.TTL(time.Minute)))
	r.Handle("/sse", c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "data: 1\n\n")
		http.NewResponseController(w).Flush()
		fmt.Fprint(w, "data: 2\n\n")
	})))
	w := do(r, "GET", "/sse")
	if w.Body.String() != "data: 1\n\ndata: 2\n\n" || w.Header().Get("Cache-Status") != "corral; fwd=miss; detail=streamed" {
		t.Fatalf("got %q with Cache-Status %q", w.Body, w.Header().Get("Cache-Status"))
	}
	var n uint64
	for _, s := range c.HTTPStats() {
		n += s.Hits + s.Stale + s.Collapsed + s.Stored + s.NotStored + s.Bypassed + s.Passed + s.Errors
	}
	if n != 1 {
		t.Fatalf("%d decisions counted for one request: %+v", n, c.HTTPStats())
	}
}
