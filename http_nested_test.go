//go:build go1.25

package corral_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
	"github.com/gorilla/mux"
)

// A route's Handler under a router's Middleware, both with one store key
// for a request: the inner layer does not wait for the outer layer's
// computation (which waits for it), so a cold miss is answered at once,
// not after JoinTimeout.
func TestNestedSelfJoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newBubbleCache(t)
		h := &counting{}
		r := mux.NewRouter()
		r.Use(c.Middleware(corral.TTL(time.Minute)))
		r.Handle("/x", c.Handler(h, corral.TTL(2*time.Second)))
		start := time.Now()
		w := do(r, "GET", "/x")
		if el := time.Since(start); el >= time.Second {
			t.Fatalf("a nested cold miss took %v, want no wait (JoinTimeout is %v): %q %q", el, corral.DefaultJoinTimeout, w.Body, w.Header()["Cache-Status"])
		}
		if w.Code != 200 || w.Body.String() != "GET /x call 1" {
			t.Fatalf("a nested cold miss got %d %q, want the handler's first answer", w.Code, w.Body)
		}
		wantCalls(t, h, 1, "a nested cold miss")
	})
}

// A route's Handler with stale-while-revalidate under a router's
// Middleware: a request for the expired entry is served stale and starts a
// background refresh of the inner layer, and the next request gets the
// refreshed response.
func TestNestedSWRRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newBubbleCache(t)
		h := &counting{}
		r := mux.NewRouter()
		r.Use(c.Middleware())
		r.Handle("/x", c.Handler(h, corral.TTL(100*time.Millisecond), corral.StaleWhileRevalidate(time.Hour), corral.JoinTimeout(50*time.Millisecond)))
		do(r, "GET", "/x")
		time.Sleep(150 * time.Millisecond) // expired, inside the stale window
		if w := do(r, "GET", "/x"); w.Body.String() != "GET /x call 1" {
			t.Fatalf("a request for the expired entry got %q %q, want the stale %q", w.Body, w.Header()["Cache-Status"], "GET /x call 1")
		}
		synctest.Wait() // the refresh has run
		wantCalls(t, h, 2, "the first request and the refresh")
		if w := do(r, "GET", "/x"); w.Body.String() != "GET /x call 2" {
			t.Fatalf("after the refresh: %q %q, want the refreshed %q", w.Body, w.Header()["Cache-Status"], "GET /x call 2")
		}
	})
}
