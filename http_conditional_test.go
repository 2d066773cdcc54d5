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

// A conditional or range request gets the answer its own header fields ask
// for (206, 304, 412, or else the full 200) on every path: as a waiter of a
// collapsed miss whose leader asked for a range, as a hit (GET and HEAD),
// and as a stale hit whose range request starts the refresh; the refresh
// stores the full response.
func TestConditionalOnEveryPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
			if n == 1 {
				<-gate
			}
			w.Header().Set("ETag", `"v1"`)
			w.Header().Set("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
			fmt.Fprint(w, "0123456789")
		}}
		srv := newBubbleCache(t).Handler(h, corral.TTL(80*time.Millisecond), corral.StaleWhileRevalidate(time.Minute))
		conds := []struct {
			header []string
			want   int
		}{
			{[]string{"Range", "bytes=0-1"}, 206},
			{[]string{"If-None-Match", `"v1"`}, 304},
			{[]string{"If-Modified-Since", "Tue, 02 Jan 2024 00:00:00 GMT"}, 304},
			{[]string{"If-Match", `"nope"`}, 412},
			{nil, 200},
		}

		// Collapsed: the leader asks for a range, its waiters for the rest.
		leader := serveAsync(srv, request("GET", "/c", "Range", "bytes=5-6"))
		synctest.Wait() // the leader's handler waits for gate
		var waiters []*inFlight
		for _, cnd := range conds {
			waiters = append(waiters, serveAsync(srv, request("GET", "/c", cnd.header...)))
		}
		synctest.Wait() // the waiters wait for the leader
		close(gate)
		for i, cnd := range conds {
			if w := waiters[i].result(); w.Code != cnd.want {
				t.Errorf("collapsed %v: %d %q, want %d", cnd.header, w.Code, w.Body, cnd.want)
			}
		}
		if w := leader.result(); w.Code != 206 || w.Body.String() != "56" {
			t.Errorf("the leader's range request got %d %q, want 206 %q", w.Code, w.Body, "56")
		}
		wantCalls(t, h, 1, "one leader and its waiters")

		// Hit.
		for _, cnd := range conds {
			if w := do(srv, "HEAD", "/c", cnd.header...); w.Code != cnd.want || w.Body.Len() != 0 {
				t.Errorf("hit HEAD %v: %d %q, want %d and no body", cnd.header, w.Code, w.Body, cnd.want)
			}
			if w := do(srv, "GET", "/c", cnd.header...); w.Code != cnd.want {
				t.Errorf("hit %v: %d %q, want %d", cnd.header, w.Code, w.Body, cnd.want)
			}
		}
		wantCalls(t, h, 1, "hits")

		// Stale, and the refresh that the first (range) request starts.
		time.Sleep(100 * time.Millisecond) // expired, inside the stale window
		for _, cnd := range conds {
			if w := do(srv, "GET", "/c", cnd.header...); w.Code != cnd.want {
				t.Errorf("stale %v: %d %q %q, want %d", cnd.header, w.Code, w.Body, w.Header().Get("Cache-Status"), cnd.want)
			}
		}
		synctest.Wait() // the refresh has stored its response
		wantCalls(t, h, 2, "stale hits and their one refresh")
		if w := do(srv, "GET", "/c"); w.Code != 200 || w.Body.String() != "0123456789" || w.Header().Get("Cache-Status") != "corral; hit" {
			t.Errorf("after the refresh: %d %q %q, want a hit of the full 200 %q", w.Code, w.Body, w.Header().Get("Cache-Status"), "0123456789")
		}
	})
}
