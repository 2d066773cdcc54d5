//go:build go1.25

package corral_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// TestHTTPRequestDirectives: with SharedCache, a request's Cache-Control is
// honoured as RFC 9111 5.2.1 asks of a shared cache; in the default mode it
// is ignored, so that clients cannot make the handler run.
func TestHTTPRequestDirectives(t *testing.T) {
	cases := []struct {
		name       string
		shared     bool
		cc         string        // the second request's Cache-Control
		wait       time.Duration // between the two requests
		wantStatus int
		wantFrom   string // "cache", "revalidated" (a 304 from the handler), "handler"
	}{
		{"default mode ignores no-cache", false, "no-cache", 0, 200, "cache"},
		{"default mode ignores max-age=0", false, "max-age=0", time.Second, 200, "cache"},
		{"no-cache revalidates", true, "no-cache", 0, 200, "revalidated"},
		{"max-age=0 revalidates", true, "max-age=0", time.Second, 200, "revalidated"},
		{"max-age within the age: cached", true, "max-age=30", 10 * time.Second, 200, "cache"},
		{"max-age under the age: revalidates", true, "max-age=5", 10 * time.Second, 200, "revalidated"},
		{"min-fresh beyond what is left: revalidates", true, "min-fresh=100", 10 * time.Second, 200, "revalidated"},
		{"max-stale accepts a stale one", true, "max-stale=100", 70 * time.Second, 200, "cache"},
		{"max-stale, too stale: revalidates", true, "max-stale=5", 70 * time.Second, 200, "revalidated"},
		{"without max-stale, stale: revalidates", true, "max-age=1000", 70 * time.Second, 200, "revalidated"},
		{"no-store goes to the handler", true, "no-store", 0, 200, "handler"},
		{"only-if-cached with a fresh one", true, "only-if-cached", 0, 200, "cache"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &versioned{version: 1, header: []string{"Cache-Control", "max-age=60"}}
				var o []corral.HTTPOption
				if tc.shared {
					o = append(o, corral.SharedCache())
				}
				srv := newBubbleCache(t).Handler(h, o...)
				do(srv, "GET", "/r")
				time.Sleep(tc.wait)
				w := do(srv, "GET", "/r", "Cache-Control", tc.cc)
				renders, asked := h.calls()
				from := "cache"
				switch {
				case renders == 2:
					from = "handler"
				case len(asked) == 2:
					from = "revalidated"
				}
				if w.Code != tc.wantStatus || from != tc.wantFrom {
					t.Fatalf("got %d from the %s (%s), want %d from the %s", w.Code, from, w.Header().Get("Cache-Status"), tc.wantStatus, tc.wantFrom)
				}
			})
		})
	}
}

// TestHTTPOnlyIfCachedMiss: only-if-cached with nothing stored gets a 504,
// and the handler does not run.
func TestHTTPOnlyIfCachedMiss(t *testing.T) {
	h := &counting{}
	srv := newHTTPCache(t).Handler(h, corral.SharedCache())
	if w := do(srv, "GET", "/o", "Cache-Control", "only-if-cached"); w.Code != http.StatusGatewayTimeout || h.calls.Load() != 0 {
		t.Fatalf("got %d after %d handler calls, want 504 and none", w.Code, h.calls.Load())
	}
}

// TestHTTPRequestNoStoreNotStored: a response to a no-store request is not
// stored.
func TestHTTPRequestNoStoreNotStored(t *testing.T) {
	h := &versioned{version: 1, header: []string{"Cache-Control", "max-age=60"}}
	srv := newHTTPCache(t).Handler(h, corral.SharedCache())
	do(srv, "GET", "/n", "Cache-Control", "no-store")
	do(srv, "GET", "/n")
	if renders, _ := h.calls(); renders != 2 {
		t.Fatalf("%d renders: the no-store request's response was stored", renders)
	}
}
