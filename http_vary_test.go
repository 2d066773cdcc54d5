//go:build go1.25

package corral_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/corralhq/corral"
)

// TestHTTPVaryVariants: a response whose Vary names a header the key does
// not hold is stored as one variant of its URL (RFC 9111 4.1), selected by
// the request's value of it; before, it was not stored at all.
func TestHTTPVaryVariants(t *testing.T) {
	h := byLanguage("Accept-Language")
	srv := newHTTPCache(t).Handler(h)
	en := do(srv, "GET", "/v", "Accept-Language", "en")
	if w := do(srv, "GET", "/v", "Accept-Language", "en"); !isHit(w) || !sameBody(w, en) {
		t.Fatalf("second en request: %q %q", w.Header().Get("Cache-Status"), w.Body)
	}
	fr := do(srv, "GET", "/v", "Accept-Language", "fr")
	if isHit(fr) || !strings.HasPrefix(fr.Body.String(), "fr ") {
		t.Fatalf("the fr request got %q (%s): another variant", fr.Body, fr.Header().Get("Cache-Status"))
	}
	for lang, first := range map[string]string{"en": en.Body.String(), "fr": fr.Body.String()} {
		if w := do(srv, "GET", "/v", "Accept-Language", lang); !isHit(w) || w.Body.String() != first {
			t.Fatalf("%s again: %q (%s), want %q", lang, w.Body, w.Header().Get("Cache-Status"), first)
		}
	}
	if w := do(srv, "GET", "/v"); strings.HasPrefix(w.Body.String(), "en ") || strings.HasPrefix(w.Body.String(), "fr ") {
		t.Fatalf("a request without Accept-Language got %q", w.Body)
	}
	if h.calls.Load() != 3 {
		t.Fatalf("%d handler calls, want one per variant (3)", h.calls.Load())
	}
}

// TestHTTPVaryStarNeverReused: Vary: * is never answered from the cache.
func TestHTTPVaryStarNeverReused(t *testing.T) {
	h := byLanguage("*")
	srv := newHTTPCache(t).Handler(h)
	do(srv, "GET", "/v", "Accept-Language", "en")
	if w := do(srv, "GET", "/v", "Accept-Language", "en"); isHit(w) || h.calls.Load() != 2 {
		t.Fatalf("Vary: * reused: %q after %d calls", w.Header().Get("Cache-Status"), h.calls.Load())
	}
}

// TestHTTPVaryVariantsBounded: however many values a request header takes,
// one URL holds at most a bounded number of variants; each request still
// gets its own.
func TestHTTPVaryVariantsBounded(t *testing.T) {
	mem := corral.NewMemoryStore()
	t.Cleanup(func() { _ = mem.Close() })
	h := byLanguage("Accept-Language")
	srv := corral.New(mem).Handler(h)
	for i := range 200 {
		lang := fmt.Sprintf("x-%d", i)
		if w := do(srv, "GET", "/v", "Accept-Language", lang); !strings.HasPrefix(w.Body.String(), lang+" ") {
			t.Fatalf("request %d got %q", i, w.Body)
		}
	}
	if n := mem.Len(); n > 18 { // the URL's variants record, 16 variants, and the URL's tag
		t.Fatalf("one URL holds %d entries after 200 values of its Vary header", n)
	}
}

// TestHTTPVaryOnAddsVary: a route keyed on a header says so in the Vary of
// its responses, so that a cache or browser in front keys on it too.
func TestHTTPVaryOnAddsVary(t *testing.T) {
	srv := newHTTPCache(t).Handler(&counting{}, corral.VaryOn("Accept-Language"))
	for range 2 {
		if w := do(srv, "GET", "/p", "Accept-Language", "en"); w.Header().Get("Vary") != "Accept-Language" {
			t.Fatalf("Vary = %q (%s), want Accept-Language", w.Header().Get("Vary"), w.Header().Get("Cache-Status"))
		}
	}
}

// TestHTTPVaryInvalidation: a write to a URL drops every variant of it.
func TestHTTPVaryInvalidation(t *testing.T) {
	h := byLanguage("Accept-Language")
	srv := newHTTPCache(t).Handler(h)
	do(srv, "GET", "/v", "Accept-Language", "en")
	do(srv, "GET", "/v", "Accept-Language", "fr")
	do(srv, "POST", "/v")
	for _, lang := range []string{"en", "fr"} {
		if w := do(srv, "GET", "/v", "Accept-Language", lang); isHit(w) {
			t.Fatalf("%s after a POST: %q, a hit", lang, w.Body)
		}
	}
}

// TestHTTPInvalidatesLocations: a successful unsafe request, of any method
// but the safe ones, drops its URL and the Location and Content-Location
// URLs of its response on the same host, never another host's (RFC 9111
// 4.4).
func TestHTTPInvalidatesLocations(t *testing.T) {
	cases := []struct {
		name             string
		method           string
		location, contLo string
		dropped, kept    []string
	}{
		{"POST with a relative Location", "POST", "/items/7", "", []string{"/items", "/items/7"}, []string{"/other"}},
		{"PUT with an absolute Location on this host", "PUT", "http://example.com/items/7", "", []string{"/items", "/items/7"}, []string{"/other"}},
		{"a Location on another host is not ours", "POST", "http://other.example/items/7", "", []string{"/items"}, []string{"/items/7"}},
		{"Content-Location", "PATCH", "", "/cl?a=1", []string{"/items", "/cl?a=1"}, []string{"/items/7"}},
		{"a method of unknown safety invalidates", "M-SEARCH", "", "", []string{"/items"}, []string{"/items/7"}},
		{"OPTIONS does not", "OPTIONS", "", "", nil, []string{"/items"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
				if r.Method != "GET" {
					setFields(w.Header(), "Location", tc.location, "Content-Location", tc.contLo)
					w.WriteHeader(http.StatusCreated)
					return
				}
				fmt.Fprintf(w, "%s call %d", r.URL, n)
			}}
			srv := newHTTPCache(t).Handler(h, corral.TTL(60e9))
			for _, u := range []string{"/items", "/items/7", "/cl?a=1", "/other"} {
				do(srv, "GET", u)
			}
			do(srv, tc.method, "/items")
			for _, u := range tc.dropped {
				if w := do(srv, "GET", u); isHit(w) {
					t.Errorf("%s after %s: still a hit", u, tc.method)
				}
			}
			for _, u := range tc.kept {
				if w := do(srv, "GET", u); !isHit(w) {
					t.Errorf("%s after %s: dropped (%s)", u, tc.method, w.Header().Get("Cache-Status"))
				}
			}
		})
	}
}

// TestHTTPVaryColdCollapses: concurrent requests on a cold URL whose
// responses vary run the handler once per variant: the waiters look up
// their own variant once the first response is stored, and a waiter of
// another variant is never handed the first one.
func TestHTTPVaryColdCollapses(t *testing.T) {
	gate := make(chan struct{})
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		if n == 1 {
			<-gate
		}
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprintf(w, "%s call %d", r.Header.Get("Accept-Language"), n)
	}}
	srv := newHTTPCache(t).Handler(h, corral.TTL(60e9))
	first := serveAsync(srv, request("GET", "/v", "Accept-Language", "en"))
	for h.calls.Load() < 1 {
		runtime.Gosched()
	}
	var flights []*inFlight
	for i := range 20 {
		lang := []string{"en", "fr"}[i%2]
		flights = append(flights, serveAsync(srv, request("GET", "/v", "Accept-Language", lang)))
	}
	close(gate)
	if w := first.result(); w.Body.String() != "en call 1" {
		t.Fatalf("first: %q", w.Body)
	}
	for i, f := range flights {
		lang := []string{"en", "fr"}[i%2]
		if w := f.result(); !strings.HasPrefix(w.Body.String(), lang+" ") {
			t.Fatalf("a %s request got %q", lang, w.Body)
		}
	}
	if n := h.calls.Load(); n > 3 { // en once; fr once (twice if it raced the record)
		t.Fatalf("%d handler calls for 2 variants", n)
	}
}
