//go:build go1.25

package corral_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// TestMiddlewareRefreshAhead: with RefreshAhead, a route read steadily is
// refreshed before it expires, on the memory store too, so that no request
// after the first waits for the handler.
func TestMiddlewareRefreshAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
			time.Sleep(30 * time.Millisecond)
			fmt.Fprintf(w, "render %d", n)
		}}
		srv := newBubbleCache(t).Handler(h, corral.TTL(300*time.Millisecond), corral.RefreshAhead(1))
		do(srv, "GET", "/r")
		for i := range 1500 {
			time.Sleep(time.Millisecond)
			if w := do(srv, "GET", "/r"); strings.Contains(w.Header().Get("Cache-Status"), "fwd=miss") {
				t.Fatalf("request %d waited for the handler: %s", i, w.Header().Get("Cache-Status"))
			}
		}
		time.Sleep(time.Second) // the bubble's clock: a refresh still running at the last request ends
		synctest.Wait()
		if n := h.calls.Load(); n < 4 {
			t.Fatalf("%d renders in 1.5 s of a 300 ms TTL: not refreshed ahead", n)
		}
	})
}
