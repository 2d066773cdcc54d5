//go:build go1.25

package corral_test

import (
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// cutShortHandler writes a page a row every 40ms, and stops where it is
// when its context ends: under ComputeTimeout(100ms) its body is cut short.
func cutShortHandler() *counting {
	return &counting{serve: func(w http.ResponseWriter, r *http.Request, _ int32) {
		fmt.Fprint(w, "<html><body>row1 ")
		for i := 2; i <= 5; i++ {
			select {
			case <-r.Context().Done():
				return // gave up: what was written is all there is
			case <-time.After(40 * time.Millisecond):
				fmt.Fprintf(w, "row%d ", i)
			}
		}
		fmt.Fprint(w, "</body></html>")
	}}
}

// A body cut short because the compute timeout ended the handler's context
// is not stored: the next request runs the handler again.
func TestPartialBodyAfterComputeTimeoutNotStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := cutShortHandler()
		srv := newBubbleCache(t).Handler(h, corral.TTL(time.Minute), corral.ComputeTimeout(100*time.Millisecond))
		do(srv, "GET", "/t")
		second := do(srv, "GET", "/t")
		if second.Header().Get("Cache-Status") == "corral; hit" {
			t.Fatalf("a body cut short by the compute timeout was stored and replayed: %q", second.Body)
		}
		wantCalls(t, h, 2, "two requests for a body cut short")
	})
}

// A body cut short by the compute timeout is not handed to the requests
// that waited for it: each runs the handler for itself.
func TestPartialBodyAfterComputeTimeoutNotShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := cutShortHandler()
		srv := newBubbleCache(t).Handler(h, corral.TTL(time.Minute), corral.ComputeTimeout(100*time.Millisecond))
		leader := serveAsync(srv, request("GET", "/t"))
		synctest.Wait() // the leader's handler is writing its rows
		w := do(srv, "GET", "/t")
		leader.result()
		if w.Header().Get("Cache-Status") == "corral; fwd=miss; collapsed" {
			t.Fatalf("the leader's cut-short, unstored body was handed to a waiter: %q", w.Body)
		}
		wantCalls(t, h, 2, "a leader and a waiter, both cut short")
	})
}
