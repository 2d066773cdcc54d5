//go:build go1.25

package corral_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// Every goroutine the middleware starts for a request returns once its work
// is done, whether the handler streamed, panicked, was slow, or its client
// left early: none outlives the requests by more than their TTLs and bounds.
func TestGoroutinesReturn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		before := runtime.NumGoroutine()
		c := newBubbleCache(t)
		h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Query().Get("m") {
			case "stream":
				fmt.Fprint(w, "x")
				w.(http.Flusher).Flush()
			case "panic":
				panic("p")
			case "slow":
				time.Sleep(30 * time.Millisecond) // a slow backend
			}
			fmt.Fprint(w, "ok")
		}), corral.TTL(5*time.Millisecond), corral.StaleWhileRevalidate(5*time.Millisecond), corral.JoinTimeout(10*time.Millisecond))
		var wg sync.WaitGroup
		for i := range 400 {
			wg.Go(func() {
				defer func() { _ = recover() }() // the "panic" requests
				m := []string{"stream", "panic", "slow", ""}[i%4]
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%20)*time.Millisecond)
				defer cancel()
				r := httptest.NewRequest("GET", "/g?m="+m, nil).WithContext(ctx)
				h.ServeHTTP(httptest.NewRecorder(), r)
			})
		}
		wg.Wait()
		// Far past every TTL, stale window, join bound and slow handler.
		time.Sleep(time.Minute)
		synctest.Wait()
		// NumGoroutine counts the goroutines outside the bubble too, which
		// may come and go: a little slack. The bubble's end fails the test
		// for a single goroutine left in it.
		if after := runtime.NumGoroutine(); after > before+2 {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines %d -> %d a minute after the last request\n%s", before, after, buf[:n])
		}
	})
}
