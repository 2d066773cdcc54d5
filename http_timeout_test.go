package corral_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// A handler that writes part of a page and stops when its context ends
// (the compute timeout): the cut-short body is stored and served to all.
func TestPartialBodyAfterComputeTimeoutNotStored(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<html><body>row1 ")
		for i := 2; i <= 5; i++ {
			select {
			case <-r.Context().Done():
				return // gave up: what was written is all there is
			case <-time.After(40 * time.Millisecond):
				fmt.Fprintf(w, "row%d ", i)
			}
		}
		fmt.Fprint(w, "</body></html>")
	}), corral.TTL(time.Minute), corral.ComputeTimeout(100*time.Millisecond))
	first := do(h, "GET", "/t")
	second := do(h, "GET", "/t")
	t.Logf("first %q %q", first.Body, first.Header().Get("Cache-Status"))
	t.Logf("second %q %q", second.Body, second.Header().Get("Cache-Status"))
	if second.Header().Get("Cache-Status") == "corral; hit" {
		t.Fatalf("a body cut short by the compute timeout was stored and replayed: %q", second.Body)
	}
}

func TestPartialBodyAfterComputeTimeoutNotShared(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<html><body>row1 ")
		for i := 2; i <= 5; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(40 * time.Millisecond):
				fmt.Fprintf(w, "row%d ", i)
			}
		}
		fmt.Fprint(w, "</body></html>")
	}), corral.TTL(time.Minute), corral.ComputeTimeout(100*time.Millisecond))
	lead := make(chan struct{})
	go func() { defer close(lead); do(h, "GET", "/t") }()
	time.Sleep(10 * time.Millisecond)
	w := do(h, "GET", "/t")
	<-lead
	t.Logf("waiter %q %q", w.Body, w.Header().Get("Cache-Status"))
	if w.Header().Get("Cache-Status") == "corral; fwd=miss; collapsed" {
		t.Fatalf("the leader's cut-short, unstored body was handed to a waiter: %q", w.Body)
	}
}
