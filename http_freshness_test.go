//go:build go1.25

package corral_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// freshnessCase is one response and when it is asked for again: is it
// still served from the cache?
type freshnessCase struct {
	name   string
	opts   []corral.HTTPOption
	status int
	// header is the response's fields, name, value pairs; a value of
	// "now+60s" or "now-10h" becomes that HTTP date on the fake clock.
	header []string
	wait   time.Duration
	hit    bool
	check  func(t *testing.T, second *httptest.ResponseRecorder)
}

// TestHTTPFreshness checks how long a stored response is served (RFC 9111
// 4.2, RFC 9213, Surrogate-Control), in the default mode and with
// SharedCache. Each case fails without the rule it names: before, the TTL
// decided alone.
func TestHTTPFreshness(t *testing.T) {
	hour := corral.TTL(time.Hour)
	shared := corral.SharedCache()
	noHeader := func(name string) func(*testing.T, *httptest.ResponseRecorder) {
		return func(t *testing.T, w *httptest.ResponseRecorder) {
			if _, ok := w.Header()[name]; ok {
				t.Errorf("the client got %s: %q", name, w.Header()[name])
			}
		}
	}
	cases := []freshnessCase{
		{name: "max-age wins over the TTL: fresh", opts: opts(hour), header: []string{"Cache-Control", "max-age=60"}, wait: 30 * time.Second, hit: true},
		{name: "max-age wins over the TTL: expired", opts: opts(hour), header: []string{"Cache-Control", "max-age=60"}, wait: 90 * time.Second},
		{name: "the TTL when the response says nothing", opts: opts(corral.TTL(time.Minute)), wait: 50 * time.Second, hit: true},
		{name: "the TTL when the response says nothing: expired", opts: opts(corral.TTL(time.Minute)), wait: 70 * time.Second},
		{name: "s-maxage over max-age", opts: opts(hour), header: []string{"Cache-Control", "max-age=3600, s-maxage=10"}, wait: 20 * time.Second},
		{name: "Expires less Date: fresh", opts: opts(hour), header: []string{"Date", "now", "Expires", "now+60s"}, wait: 30 * time.Second, hit: true},
		{name: "Expires less Date: expired", opts: opts(hour), header: []string{"Date", "now", "Expires", "now+60s"}, wait: 90 * time.Second},
		{name: "max-age over Expires", opts: opts(hour), header: []string{"Cache-Control", "max-age=10", "Expires", "now+1h"}, wait: 20 * time.Second},
		{name: "Age counts against max-age", opts: opts(hour), header: []string{"Cache-Control", "max-age=100", "Age", "80"}, wait: 30 * time.Second},
		{name: "Age counts against the TTL", opts: opts(corral.TTL(100 * time.Second)), header: []string{"Age", "80"}, wait: 30 * time.Second},
		{name: "an invalid Age makes it stale", opts: opts(hour), header: []string{"Cache-Control", "max-age=3600", "Age", "1, 2"}},
		{name: "max-age=0 is not fresh", opts: opts(hour), header: []string{"Cache-Control", "max-age=0"}},
		{name: "a quoted max-age is invalid: not fresh", opts: opts(hour), header: []string{"Cache-Control", `max-age="3600"`}},
		{name: "a negative max-age is invalid: not fresh", opts: opts(hour), header: []string{"Cache-Control", "max-age=-1"}},
		{name: "a max-age inside a quoted string is not one", opts: opts(hour), header: []string{"Cache-Control", `ext="max-age=3600", max-age=1`}, wait: 5 * time.Second},
		{name: "an Expires in the past is not fresh", opts: opts(hour), header: []string{"Date", "now", "Expires", "now-60s"}},
		{name: "an invalid Expires is not fresh", opts: opts(hour), header: []string{"Expires", "0"}},
		{name: "FixedTTL keeps the TTL", opts: opts(hour, corral.FixedTTL()), header: []string{"Cache-Control", "max-age=10"}, wait: 30 * time.Second, hit: true},
		{name: "FixedTTL still revalidates no-cache", opts: opts(hour, corral.FixedTTL()), header: []string{"Cache-Control", "no-cache", "ETag", `"e"`}},
		{name: "CDN-Cache-Control over Cache-Control, and not sent on", opts: opts(hour), header: []string{"Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60"},
			wait: 30 * time.Second, hit: true, check: noHeader("Cdn-Cache-Control")},
		{name: "CDN-Cache-Control no-store over Cache-Control", opts: opts(hour), header: []string{"Cache-Control", "max-age=60", "CDN-Cache-Control", "no-store"}},
		{name: "Surrogate-Control for corral, and not sent on", opts: opts(hour), header: []string{"Cache-Control", "no-store", "Surrogate-Control", "max-age=60;corral"},
			wait: 30 * time.Second, hit: true, check: noHeader("Surrogate-Control")},
		{name: "Surrogate-Control for another device is ignored", opts: opts(hour), header: []string{"Cache-Control", "max-age=10", "Surrogate-Control", "max-age=3600;other"}, wait: 20 * time.Second},
		{name: "a qualified no-cache strips its fields", opts: opts(hour), header: []string{"Cache-Control", `max-age=60, no-cache="X-Secret"`, "X-Secret", "s"},
			wait: 10 * time.Second, hit: true, check: noHeader("X-Secret")},
		{name: "a qualified private strips its fields", opts: opts(hour), header: []string{"Cache-Control", `max-age=60, private="X-User"`, "X-User", "u"},
			wait: 10 * time.Second, hit: true, check: noHeader("X-User")},
		{name: "default mode: a 404 is not stored (CacheStatuses)", opts: opts(hour), status: 404, header: []string{"Cache-Control", "max-age=60"}},
		{name: "default mode: CacheStatuses(404) stores it", opts: opts(hour, corral.CacheStatuses(200, 404)), status: 404, header: []string{"Cache-Control", "max-age=60"}, hit: true},
		{name: "shared: a 404 with max-age is stored", opts: opts(shared), status: 404, header: []string{"Cache-Control", "max-age=60"}, hit: true},
		{name: "shared: heuristic freshness from Last-Modified", opts: opts(shared), header: []string{"Date", "now", "Last-Modified", "now-10h"}, wait: 30 * time.Minute, hit: true},
		{name: "shared: heuristic freshness ends", opts: opts(shared), header: []string{"Date", "now", "Last-Modified", "now-10h"}, wait: 61 * time.Minute},
		{name: "shared: no heuristic for a 302", opts: opts(shared), status: 302, header: []string{"Date", "now", "Last-Modified", "now-10h"}},
		{name: "shared: no freshness, not stored", opts: opts(shared)},
		{name: "shared: must-understand with an unknown status", opts: opts(shared), status: 599, header: []string{"Cache-Control", "max-age=60, must-understand"}},
		{name: "shared: must-understand overrides no-store for a known status", opts: opts(shared), header: []string{"Cache-Control", "max-age=60, must-understand, no-store"}, hit: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { synctest.Test(t, tc.run) })
	}
}

func opts(o ...corral.HTTPOption) []corral.HTTPOption { return o }

func (tc freshnessCase) run(t *testing.T) {
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		setFields(w.Header(), tc.header...)
		w.WriteHeader(max(tc.status, 200))
		_, _ = w.Write([]byte("call " + string('0'+rune(n))))
	}}
	srv := newBubbleCache(t).Handler(h, tc.opts...)
	do(srv, "GET", "/f")
	time.Sleep(tc.wait)
	second := do(srv, "GET", "/f")
	hit := strings.HasPrefix(second.Header().Get("Cache-Status"), "corral; hit")
	if hit != tc.hit || (hit && h.calls.Load() != 1) {
		t.Fatalf("second request after %v: Cache-Status %q, %d handler calls; want a hit: %v",
			tc.wait, second.Header().Get("Cache-Status"), h.calls.Load(), tc.hit)
	}
	if tc.check != nil {
		tc.check(t, second)
	}
}

// TestHTTPAgeCountsUpstreamAge checks that Age is the upstream Age plus the
// time in the cache (RFC 9111 4.2.3), on a hit and on the first response.
func TestHTTPAgeCountsUpstreamAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
			setFields(w.Header(), "Cache-Control", "max-age=600", "Age", "30")
			_, _ = w.Write([]byte("x"))
		}}
		srv := newBubbleCache(t).Handler(h)
		if first := do(srv, "GET", "/a"); first.Header().Get("Age") != "30" {
			t.Fatalf("first response: Age %q, want 30", first.Header().Get("Age"))
		}
		time.Sleep(10 * time.Second)
		if w := do(srv, "GET", "/a"); w.Header().Get("Age") != "40" || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
			t.Fatalf("hit 10 s later: Age %q (%s), want 40", w.Header().Get("Age"), w.Header().Get("Cache-Status"))
		}
	})
}
