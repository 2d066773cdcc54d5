package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// serve starts the dashboard on a free loopback port; every check goes
// through real HTTP.
func serve(t *testing.T, cfg config) string {
	t.Helper()
	d := newDashboard(cfg)
	srv := httptest.NewServer(d)
	t.Cleanup(func() { srv.Close(); d.Close() })
	return srv.URL
}

var quick = config{ttl: time.Minute, work: 300 * time.Millisecond, coolDown: 200 * time.Millisecond}

// do sends a request and returns the response, its body read.
func do(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// getJSON decodes a JSON answer of method url into a map.
func getJSON(t *testing.T, method, url string) map[string]any {
	t.Helper()
	resp, body := do(t, method, url)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%s %s: %v in %s", method, url, err, body)
	}
	return m
}

// wantCounts checks the named counters of a JSON answer.
func wantCounts(t *testing.T, m map[string]any, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
}

// page loads / and checks that it is answered 200 with Cache-Status status,
// said in the header and on the page.
func page(t *testing.T, base, status, badge string) *http.Response {
	t.Helper()
	resp, body := do(t, "GET", base+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Cache-Status"); got != status {
		t.Errorf("GET /: Cache-Status %q, want %q", got, status)
	}
	for _, want := range []string{`<span class="badge">` + badge + `</span>`, "<code>" + status + "</code>", "Orders, last 7 days"} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /: the page does not show %q", want)
		}
	}
	return resp
}

func TestMissThenHit(t *testing.T) {
	base := serve(t, quick)
	page(t, base, "corral; fwd=miss; stored", "miss")
	resp := page(t, base, "corral; hit", "hit")
	if resp.Header.Get("Age") == "" {
		t.Error("a hit has no Age")
	}
	stats := getJSON(t, "GET", base+"/stats")
	wantCounts(t, stats, map[string]float64{
		"page_requests": 2, "page_hits": 1, "page_misses_stored": 1, "page_collapsed": 0,
		"page_renders": 1, "aggregate_computations": 1, "page_answers_not_200": 0,
	})
	wantCounts(t, stats["window"].(map[string]any), map[string]float64{"requests": 2, "computations": 1, "hit_ratio": 0.5})
	// The aggregate's own numbers: one miss and one computation, inside the
	// page's miss; the page's hit never called it.
	wantCounts(t, stats["functions"].(map[string]any)["stats"].(map[string]any), map[string]float64{
		"hits": 0, "misses": 1, "computations": 1, "collapsed": 0})
	if stats["breaker"] != "closed" {
		t.Errorf("breaker %v, want closed (the store is not the memory store: it has a breaker)", stats["breaker"])
	}
}

func TestFiveHundredVisitors(t *testing.T) {
	base := serve(t, quick)
	page(t, base, "corral; fwd=miss; stored", "miss") // warm: the action starts from a cold key anyway
	r := getJSON(t, "POST", base+"/visitors")
	wantCounts(t, r, map[string]float64{"requests": 500, "answered_200": 500, "computations": 1})
	kinds := r["by_cache_status"].(map[string]any)
	if kinds["miss"] != 1.0 {
		t.Errorf("by Cache-Status %v, want exactly 1 miss", kinds)
	}
	wantCounts(t, getJSON(t, "GET", base+"/stats"), map[string]float64{
		"page_requests": 501, "page_renders": 2, "aggregate_computations": 2, "page_misses_stored": 2,
	})
}

func TestInvalidate(t *testing.T) {
	base := serve(t, quick)
	page(t, base, "corral; fwd=miss; stored", "miss")
	page(t, base, "corral; hit", "hit")
	getJSON(t, "POST", base+"/invalidate")
	page(t, base, "corral; fwd=miss; stored", "miss")
	page(t, base, "corral; hit", "hit")
	wantCounts(t, getJSON(t, "GET", base+"/stats"), map[string]float64{"page_renders": 2, "aggregate_computations": 2})
}

func TestStoreFailure(t *testing.T) {
	cfg := quick
	cfg.work = 20 * time.Millisecond
	base := serve(t, cfg)
	for _, mode := range []string{"fail", "hang"} {
		getJSON(t, "POST", base+"/store?mode="+mode)
		for range 6 {
			page(t, base, "corral; fwd=miss; detail=store-unavailable", "not stored")
		}
		if s := getJSON(t, "GET", base+"/stats"); s["breaker"] != "open" {
			t.Errorf("store %s: breaker %v, want open", mode, s["breaker"])
		}
		getJSON(t, "POST", base+"/store?mode=ok")
		time.Sleep(cfg.coolDown + 50*time.Millisecond)
		page(t, base, "corral; fwd=miss; stored", "miss")
		page(t, base, "corral; hit", "hit")
		if s := getJSON(t, "GET", base+"/stats"); s["breaker"] != "closed" {
			t.Errorf("store %s, then ok: breaker %v, want closed", mode, s["breaker"])
		}
		getJSON(t, "POST", base+"/invalidate")
	}
	s := getJSON(t, "GET", base+"/stats")
	wantCounts(t, s, map[string]float64{"page_requests": 16, "page_answers_not_200": 0})
	if s["store_calls_rejected"].(float64) == 0 {
		t.Error("the open breaker rejected no store call")
	}
	if resp, _ := do(t, "POST", base+"/store?mode=melt"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown store mode: %d, want 400", resp.StatusCode)
	}
}

func TestMetrics(t *testing.T) {
	base := serve(t, quick)
	page(t, base, "corral; fwd=miss; stored", "miss")
	resp, body := do(t, "GET", base+"/metrics")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "corral_") {
		t.Fatalf("/metrics: %d, no corral_ metric:\n%s", resp.StatusCode, body)
	}
}
