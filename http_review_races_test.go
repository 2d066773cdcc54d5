package corral_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// An unsafe write while a stale entry (plain or a
// variant) is being revalidated: the 304-freshened pre-write entry is not
// what the next request gets.
func TestHTTPWriteDuringRevalidation(t *testing.T) {
	for _, vary := range []string{"", "Accept-Language"} {
		t.Run("vary="+vary, func(t *testing.T) {
			var mu sync.Mutex
			version := 1
			var block chan struct{}
			entered := make(chan struct{}, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				if r.Method == http.MethodPost {
					version++
					mu.Unlock()
					return
				}
				v, b := version, block
				mu.Unlock()
				etag := fmt.Sprintf(`"v%d"`, v)
				if vary != "" {
					w.Header().Set("Vary", vary)
				}
				w.Header().Set("Cache-Control", "no-cache")
				w.Header().Set("ETag", etag)
				if r.Header.Get("If-None-Match") != "" {
					if b != nil {
						entered <- struct{}{}
						<-b
					}
					w.WriteHeader(http.StatusNotModified) // decided before the write
					return
				}
				fmt.Fprintf(w, "v%d", v)
			})
			srv := newHTTPCache(t).Handler(h)
			do(srv, "GET", "/r", "Accept-Language", "en")
			mu.Lock()
			block = make(chan struct{})
			mu.Unlock()
			done := make(chan struct{})
			go func() { do(srv, "GET", "/r", "Accept-Language", "en"); close(done) }()
			<-entered
			mu.Lock()
			b := block
			block = nil
			mu.Unlock()
			do(srv, "POST", "/r")
			close(b)
			<-done
			if w := do(srv, "GET", "/r", "Accept-Language", "en"); w.Body.String() != "v2" {
				t.Fatalf("after the write: %q (%s)", w.Body, w.Header().Get("Cache-Status"))
			}
		})
	}
}
