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

func TestMiddlewareStaleWhileRevalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
			if n > 1 {
				<-release
			}
			fmt.Fprintf(w, "version %d", n)
		}}
		srv := newBubbleCache(t).Handler(h, corral.TTL(10*time.Second), corral.StaleWhileRevalidate(time.Minute))
		do(srv, "GET", "/")
		time.Sleep(15 * time.Second)
		for range 5 {
			w := do(srv, "GET", "/")
			if w.Body.String() != "version 1" || w.Header().Get("Cache-Status") != "corral; fwd=stale" {
				t.Fatalf("stale request: %q %q", w.Body, w.Header().Get("Cache-Status"))
			}
			if w.Header().Get("Age") != "15" {
				t.Fatalf("Age = %q, want 15", w.Header().Get("Age"))
			}
		}
		synctest.Wait()
		if h.calls.Load() != 2 {
			t.Fatalf("%d handler calls, want the first and one refresh", h.calls.Load())
		}
		close(release)
		synctest.Wait()
		if w := do(srv, "GET", "/"); w.Body.String() != "version 2" || w.Header().Get("Cache-Status") != "corral; hit" {
			t.Fatalf("after the refresh: %q %q", w.Body, w.Header().Get("Cache-Status"))
		}
	})
}

func TestMiddlewareStaleIfError(t *testing.T) {
	failures := map[string]func(w http.ResponseWriter){
		"5xx":   func(w http.ResponseWriter) { http.Error(w, "db down", http.StatusServiceUnavailable) },
		"panic": func(w http.ResponseWriter) { panic("db down") },
	}
	for name, fail := range failures {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				failing := false
				h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
					if failing {
						fail(w)
						return
					}
					fmt.Fprint(w, "good")
				}}
				srv := newBubbleCache(t).Handler(h, corral.TTL(10*time.Second), corral.StaleIfError(time.Minute))
				do(srv, "GET", "/")
				failing = true
				time.Sleep(20 * time.Second)
				w := do(srv, "GET", "/")
				if w.Code != 200 || w.Body.String() != "good" || w.Header().Get("Cache-Status") != "corral; fwd=stale" {
					t.Fatalf("inside the window: %d %q %q", w.Code, w.Body, w.Header().Get("Cache-Status"))
				}
				time.Sleep(time.Minute)
				if name == "panic" {
					defer func() {
						if recover() == nil {
							t.Fatal("past the window, the panic did not reach the request")
						}
					}()
				}
				if w := do(srv, "GET", "/"); w.Code != 503 {
					t.Fatalf("past the window: %d %q", w.Code, w.Body)
				}
			})
		})
	}
}

// A request waiting for another's computation stops after JoinTimeout and
// runs the handler itself; the slow computation still finishes and stores.
func TestJoinTimeoutBoundsWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
			if n == 1 {
				<-release
			}
			fmt.Fprintf(w, "call %d", n)
		}}
		srv := newBubbleCache(t).Handler(h, corral.TTL(time.Minute), corral.JoinTimeout(time.Second))
		leader := make(chan string)
		go func() { leader <- do(srv, "GET", "/slow").Body.String() }()
		synctest.Wait()
		waiter := make(chan string)
		go func() { waiter <- do(srv, "GET", "/slow").Body.String() }()
		synctest.Wait()
		if n := h.calls.Load(); n != 1 {
			t.Fatalf("the waiter ran the handler before its JoinTimeout: %d calls", n)
		}
		time.Sleep(time.Second)
		if body := <-waiter; body != "call 2" || h.calls.Load() != 2 {
			t.Fatalf("after JoinTimeout the waiter got %q after %d calls, want its own call 2", body, h.calls.Load())
		}
		close(release)
		if body := <-leader; body != "call 1" {
			t.Fatalf("leader got %q", body)
		}
		if w := do(srv, "GET", "/slow"); w.Header().Get("Cache-Status") != "corral; hit" {
			t.Fatalf("after both: %q %q, want a hit", w.Body, w.Header().Get("Cache-Status"))
		}
	})
}
