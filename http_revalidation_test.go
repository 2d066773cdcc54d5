//go:build go1.25

package corral_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// versioned is a handler that renders a page of a version and answers a
// conditional request for the current version with a cheap 304, as a
// handler that keeps a version number does. It records the validators it
// was asked with.
type versioned struct {
	mu      sync.Mutex
	version int
	header  []string // more fields on every answer, 304s included
	renders int
	asked   []string // If-None-Match of each call
	fail    bool     // answer 503
}

func (v *versioned) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.asked = append(v.asked, r.Header.Get("If-None-Match"))
	if v.fail {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	etag := fmt.Sprintf(`"v%d"`, v.version)
	setFields(w.Header(), v.header...)
	w.Header().Set("Etag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	v.renders++
	fmt.Fprintf(w, "page version %d", v.version)
}

func (v *versioned) set(f func(v *versioned)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	f(v)
}

func (v *versioned) calls() (renders int, asked []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.renders, append([]string(nil), v.asked...)
}

// TestHTTPRevalidation: a stale stored response with an ETag is revalidated
// with the handler, with the stored validator (not the client's); the 304
// freshens the stored header (RFC 9111 4.3.4) and the client gets the full
// stored response. Before, it was rendered again in full.
func TestHTTPRevalidation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &versioned{version: 1, header: []string{"Cache-Control", "max-age=10", "X-Checked", "1"}}
		c := newBubbleCache(t)
		srv := c.Handler(h, corral.TTL(time.Hour))
		do(srv, "GET", "/page")
		time.Sleep(20 * time.Second)
		h.set(func(v *versioned) { v.header = []string{"Cache-Control", "max-age=10", "X-Checked", "2"} })

		w := do(srv, "GET", "/page", "If-None-Match", `"someone-else"`)
		renders, asked := h.calls()
		if w.Code != 200 || w.Body.String() != "page version 1" || w.Header().Get("X-Checked") != "2" {
			t.Fatalf("revalidated response: %d %q X-Checked %q", w.Code, w.Body, w.Header().Get("X-Checked"))
		}
		if renders != 1 || len(asked) != 2 || asked[1] != `"v1"` {
			t.Fatalf("renders %d, validators asked %q; want 1 render and the stored \"v1\"", renders, asked)
		}
		if got := w.Header().Get("Content-Length"); got != fmt.Sprint(len("page version 1")) {
			t.Fatalf("Content-Length %q after a 304", got)
		}
		if c.Stats().Revalidated != 1 {
			t.Fatalf("Stats().Revalidated = %d, want 1", c.Stats().Revalidated)
		}
		time.Sleep(5 * time.Second) // the 304 made it fresh for 10 s more
		if w := do(srv, "GET", "/page"); !strings.Contains(w.Header().Get("Cache-Status"), "hit") || w.Header().Get("X-Checked") != "2" {
			t.Fatalf("after revalidation: %q X-Checked %q", w.Header().Get("Cache-Status"), w.Header().Get("X-Checked"))
		}
		if w := do(srv, "GET", "/page", "If-None-Match", `"v1"`); w.Code != http.StatusNotModified {
			t.Fatalf("a client with the current validator got %d, want its own 304", w.Code)
		}

		time.Sleep(20 * time.Second)
		h.set(func(v *versioned) { v.version = 2 })
		if w := do(srv, "GET", "/page"); w.Body.String() != "page version 2" {
			t.Fatalf("a changed page after revalidation: %q", w.Body)
		}
	})
}

// TestHTTPRevalidationCollapses: concurrent requests for a stale entry
// wait for one revalidation and all get the full response.
func TestHTTPRevalidationCollapses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		h := &versioned{version: 1, header: []string{"Cache-Control", "max-age=10"}}
		slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("If-None-Match") != "" {
				<-gate
			}
			h.ServeHTTP(w, r)
		})
		srv := newBubbleCache(t).Handler(slow)
		do(srv, "GET", "/page")
		time.Sleep(20 * time.Second)
		var flights []*inFlight
		for range 10 {
			flights = append(flights, serveAsync(srv, request("GET", "/page")))
		}
		synctest.Wait()
		close(gate)
		for _, f := range flights {
			if w := f.result(); w.Code != 200 || w.Body.String() != "page version 1" {
				t.Fatalf("a waiter got %d %q", w.Code, w.Body)
			}
		}
		if _, asked := h.calls(); len(asked) != 2 {
			t.Fatalf("%d handler calls, want the first and one revalidation", len(asked))
		}
	})
}

// TestHTTPStaleRules: must-revalidate and no-cache keep a stale response
// from being served without revalidation, even under StaleIfError; the
// response's own stale-while-revalidate and stale-if-error open windows
// the route does not set (RFC 5861).
func TestHTTPStaleRules(t *testing.T) {
	cases := []struct {
		name      string
		cc        string
		opts      []corral.HTTPOption
		fail      bool // the handler answers 503 when asked again
		wantBody  string
		wantCalls int // handler calls, the first included
	}{
		{"stale-if-error serves the stored one", "max-age=10", opts(corral.StaleIfError(time.Hour)), true, "page version 1", 2},
		{"must-revalidate: never stale", "max-age=10, must-revalidate", opts(corral.StaleIfError(time.Hour)), true, "down\n", 2},
		{"proxy-revalidate: never stale", "max-age=10, proxy-revalidate", opts(corral.StaleIfError(time.Hour)), true, "down\n", 2},
		{"s-maxage: never stale", "s-maxage=10", opts(corral.StaleIfError(time.Hour)), true, "down\n", 2},
		{"the response's stale-if-error", "max-age=10, stale-if-error=60", nil, true, "page version 1", 2},
		{"the response's stale-while-revalidate", "max-age=10, stale-while-revalidate=60", nil, false, "page version 1", 2},
		{"without either, a 503 goes through", "max-age=10", nil, true, "down\n", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &versioned{version: 1, header: []string{"Cache-Control", tc.cc}}
				srv := newBubbleCache(t).Handler(h, tc.opts...)
				do(srv, "GET", "/s")
				time.Sleep(20 * time.Second)
				h.set(func(v *versioned) { v.fail, v.version = tc.fail, 2 })
				w := do(srv, "GET", "/s")
				synctest.Wait() // a background refresh, if any
				if _, asked := h.calls(); w.Body.String() != tc.wantBody || len(asked) != tc.wantCalls {
					t.Fatalf("got %d %q after %d calls; want %q after %d", w.Code, w.Body, len(asked), tc.wantBody, tc.wantCalls)
				}
			})
		})
	}
}

// TestHTTPNoCacheResponseRevalidatesEveryTime: a response with no-cache and
// an ETag is stored and revalidated before every reuse; without a
// validator it is not stored at all.
func TestHTTPNoCacheResponseRevalidatesEveryTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &versioned{version: 1, header: []string{"Cache-Control", "no-cache"}}
		srv := newBubbleCache(t).Handler(h, corral.TTL(time.Hour))
		for range 3 {
			if w := do(srv, "GET", "/n"); w.Body.String() != "page version 1" {
				t.Fatalf("got %q", w.Body)
			}
		}
		renders, asked := h.calls()
		if renders != 1 || len(asked) != 3 || asked[2] != `"v1"` {
			t.Fatalf("renders %d, asked %q: want 1 render and two revalidations", renders, asked)
		}
	})
}
