package corral_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/gorilla/mux"
)

// r.Use(c.Middleware()) + route c.Handler with the same key options: the
// outer and inner layers compute one store key, so the inner joins the
// outer's flight, i.e. waits for itself until JoinTimeout.
func TestNestedSelfJoin(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
	h := &counting{}
	r := mux.NewRouter()
	r.Use(c.Middleware(corral.TTL(time.Minute)))
	r.Handle("/x", c.Handler(h, corral.TTL(2*time.Second)))
	start := time.Now()
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	el := time.Since(start)
	t.Logf("first miss: %v %q Cache-Status=%q", el, w.Body, w.Header()["Cache-Status"])
	if el > time.Second {
		t.Fatalf("a nested cold miss took %v (the inner layer waited on the outer's flight for JoinTimeout)", el)
	}
	_ = http.StatusOK
}

// Inner route Handler with stale-while-revalidate under a router Middleware:
// the inner's background refresh finds the outer's flight on the same store
// key and never starts, so the stale response is served for the whole SWR
// window.
func TestNestedSWRRefreshes(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
	h := &counting{}
	r := mux.NewRouter()
	r.Use(c.Middleware())
	r.Handle("/x", c.Handler(h, corral.TTL(100*time.Millisecond), corral.StaleWhileRevalidate(time.Hour), corral.JoinTimeout(50*time.Millisecond)))
	do(r, "GET", "/x")
	time.Sleep(150 * time.Millisecond)
	for i := range 5 {
		w := do(r, "GET", "/x")
		t.Logf("%d: %q %q", i, w.Body, w.Header()["Cache-Status"])
		time.Sleep(50 * time.Millisecond)
	}
	if got := h.calls.Load(); got < 2 {
		t.Fatalf("handler ran %d times: the expired entry was never refreshed", got)
	}
}
