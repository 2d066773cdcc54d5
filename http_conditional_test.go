package corral_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

func TestConditionalOnEveryPath(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
	gate := make(chan struct{})
	var once sync.Once
	var n int
	var mu sync.Mutex
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		if k == 1 {
			once.Do(func() { <-gate })
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
		fmt.Fprint(w, "0123456789")
	}), corral.TTL(80*time.Millisecond), corral.StaleWhileRevalidate(time.Minute))
	conds := [][]string{
		{"Range", "bytes=0-1"},
		{"If-None-Match", `"v1"`},
		{"If-Modified-Since", "Tue, 02 Jan 2024 00:00:00 GMT"},
		{"If-Match", `"nope"`},
		nil,
	}
	want := []int{206, 304, 304, 412, 200}
	// collapsed: leader plain, waiters conditional (and the reverse)
	var wg sync.WaitGroup
	codes := make([]int, len(conds))
	bodies := make([]string, len(conds))
	lead := make(chan struct{})
	go func() { defer close(lead); do(h, "GET", "/c", "Range", "bytes=5-6") }()
	time.Sleep(20 * time.Millisecond)
	for i, cnd := range conds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := do(h, "GET", "/c", cnd...)
			codes[i], bodies[i] = w.Code, w.Body.String()
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(gate)
	wg.Wait()
	<-lead
	for i := range conds {
		if codes[i] != want[i] {
			t.Errorf("collapsed %v: %d %q want %d", conds[i], codes[i], bodies[i], want[i])
		}
	}
	// hit
	for i, cnd := range conds {
		w := do(h, "HEAD", "/c", cnd...)
		if w.Code != want[i] || w.Body.Len() != 0 {
			t.Errorf("hit HEAD %v: %d %q", cnd, w.Code, w.Body)
		}
		w = do(h, "GET", "/c", cnd...)
		if w.Code != want[i] {
			t.Errorf("hit %v: %d %q", cnd, w.Code, w.Body)
		}
	}
	time.Sleep(100 * time.Millisecond)
	// stale (and the refresh it starts with a Range request)
	for i, cnd := range conds {
		w := do(h, "GET", "/c", cnd...)
		if w.Code != want[i] {
			t.Errorf("stale %v: %d %q %q", cnd, w.Code, w.Body, w.Header().Get("Cache-Status"))
		}
	}
	time.Sleep(20 * time.Millisecond)
	w := do(h, "GET", "/c")
	if w.Code != 200 || w.Body.String() != "0123456789" {
		t.Errorf("after refresh: %d %q", w.Code, w.Body)
	}
}
