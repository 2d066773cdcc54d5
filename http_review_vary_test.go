package corral_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

func slotOf(values ...string) uint64 {
	h := uint64(14695981039346656037)
	for _, v := range values {
		for i := 0; i <= len(v); i++ {
			b := byte(0)
			if i < len(v) {
				b = v[i]
			}
			h = (h ^ uint64(b)) * 1099511628211
		}
	}
	return h % 16
}

// Values in one slot never get each other's
// variant, fresh, stale (SWR) or under concurrency.
func TestHTTPVarySlotCollisions(t *testing.T) {
	a := "aa"
	var b string
	for i := 0; ; i++ {
		if b = fmt.Sprintf("b%d", i); slotOf(b) == slotOf(a) {
			break
		}
	}
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=60")
		fmt.Fprintf(w, "%s|%d", r.Header.Get("Accept-Language"), n)
	}}
	srv := newHTTPCache(t).Handler(h, corral.StaleWhileRevalidate(time.Minute))
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				v := a
				if (g+i)%2 == 0 {
					v = b
				}
				if w := do(srv, "GET", "/c", "Accept-Language", v); !strings.HasPrefix(w.Body.String(), v+"|") {
					t.Errorf("%q got %q (%s)", v, w.Body, w.Header().Get("Cache-Status"))
					return
				}
				if i%50 == 0 {
					time.Sleep(1100 * time.Millisecond / 4)
				}
			}
		}()
	}
	wg.Wait()
}

// An unsafe write while the first varying
// response of a URL is being computed: after the write, the next request
// does not get the pre-write variant.
func TestHTTPWriteDuringFirstVaryingResponse(t *testing.T) {
	var mu sync.Mutex
	version := 1
	block := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			mu.Lock()
			version++
			mu.Unlock()
			return
		}
		mu.Lock()
		v := version
		mu.Unlock()
		select {
		case entered <- struct{}{}:
			<-block
		default:
		}
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "v%d", v)
	})
	srv := newHTTPCache(t).Handler(h)
	done := make(chan string)
	go func() { done <- do(srv, "GET", "/w", "Accept-Language", "en").Body.String() }()
	<-entered
	do(srv, "POST", "/w")
	close(block)
	<-done
	if w := do(srv, "GET", "/w", "Accept-Language", "en"); w.Body.String() != "v2" {
		t.Fatalf("after the write: %q (%s)", w.Body, w.Header().Get("Cache-Status"))
	}
}
