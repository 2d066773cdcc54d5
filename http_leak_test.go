package corral_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

func TestGoroutinesReturn(t *testing.T) {
	before := runtime.NumGoroutine()
	c := corral.New(corral.NewMemoryStore())
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("m") {
		case "stream":
			fmt.Fprint(w, "x")
			w.(http.Flusher).Flush()
		case "panic":
			panic("p")
		case "slow":
			time.Sleep(30 * time.Millisecond)
		}
		fmt.Fprint(w, "ok")
	}), corral.TTL(5*time.Millisecond), corral.StaleWhileRevalidate(5*time.Millisecond), corral.JoinTimeout(10*time.Millisecond))
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { recover() }()
			m := []string{"stream", "panic", "slow", ""}[i%4]
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%20)*time.Millisecond)
			defer cancel()
			r := httptest.NewRequest("GET", "/g?m="+m, nil).WithContext(ctx)
			h.ServeHTTP(httptest.NewRecorder(), r)
		}()
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond)
	after := runtime.NumGoroutine()
	if after > before+2 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutines %d -> %d\n%s", before, after, buf[:n])
	}
}
