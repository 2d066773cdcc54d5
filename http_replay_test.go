package corral_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// A later (outer) middleware that edits a header value in place: the slices
// a replay assigns belong to the stored response, so the edit reaches every
// later hit.
func TestReplayCopiesHeaderValues(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Owner", "public")
		fmt.Fprint(w, "hello")
	}), corral.TTL(time.Minute))
	// outer middleware: tags the response for one user in place
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := &tagWriter{ResponseWriter: w, user: r.Header.Get("X-User")}
		h.ServeHTTP(ww, r)
	})
	do(outer, "GET", "/p")                    // stores
	do(outer, "GET", "/p", "X-User", "alice") // a hit, tagged in place
	w := do(outer, "GET", "/p")               // another hit
	if got := w.Header().Get("X-Owner"); got != "public" {
		t.Fatalf("third request got X-Owner %q: the previous request's in-place edit reached it", got)
	}
	if got := w.Header().Get("Cache-Status"); got != "corral; hit" {
		t.Fatalf("Cache-Status %q", got)
	}
}

type tagWriter struct {
	http.ResponseWriter
	user string
}

func (t *tagWriter) WriteHeader(code int) {
	if t.user != "" {
		if v := t.ResponseWriter.Header()["X-Owner"]; len(v) > 0 {
			v[0] = "user=" + t.user
		}
		if v := t.ResponseWriter.Header()["Cache-Status"]; len(v) > 0 {
			v[0] = v[0] + "; user=" + t.user
		}
	}
	t.ResponseWriter.WriteHeader(code)
}

// 103 Early Hints then 200: stored and replayed as the 200.
func TestEarlyHintsThen200(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
	var calls atomic.Int32
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Link", "</s.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(200)
		fmt.Fprint(w, "body")
	}), corral.TTL(time.Minute))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for i := range 3 {
		resp, err := http.Get(srv.URL + "/e")
		if err != nil {
			t.Fatal(err)
		}
		var b [16]byte
		n, _ := resp.Body.Read(b[:])
		resp.Body.Close()
		t.Logf("req %d: %d %q %q", i, resp.StatusCode, b[:n], resp.Header["Cache-Status"])
		if resp.StatusCode != 200 || string(b[:n]) != "body" {
			t.Fatalf("req %d: %d %q", i, resp.StatusCode, b[:n])
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("calls %d", calls.Load())
	}
}

// GetOrSet waiter past JoinTimeout computes for itself: does it still
// return when its own context ends?
func TestSelfComputingWaiterHonoursContext(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
	started := make(chan struct{})
	block := make(chan struct{})
	defer close(block)
	go corral.GetOrSet(context.Background(), c, "k", time.Minute, func(context.Context) (string, error) {
		close(started)
		<-block
		return "leader", nil
	}, corral.JoinTimeout(20*time.Millisecond))
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := corral.GetOrSet(ctx, c, "k", time.Minute, func(fctx context.Context) (string, error) {
		time.Sleep(2 * time.Second) // a slow backend
		return "waiter", nil
	}, corral.JoinTimeout(20*time.Millisecond))
	el := time.Since(start)
	t.Logf("waiter returned after %v: %v", el, err)
	if el > time.Second {
		t.Fatalf("a waiter whose context ended after 100ms returned only after %v (err %v)", el, err)
	}
}

// Stale-if-error with a 5xx: how many times does the handler run for N
// concurrent requests?
func TestStaleIfError5xxWaitersServeStale(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
	var fail atomic.Bool
	var calls atomic.Int32
	gate := make(chan struct{})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if fail.Load() {
			<-gate
			http.Error(w, "down", 503)
			return
		}
		fmt.Fprint(w, "good")
	}), corral.TTL(50*time.Millisecond), corral.StaleIfError(time.Minute))
	do(h, "GET", "/s")
	time.Sleep(80 * time.Millisecond)
	fail.Store(true)
	calls.Store(0)
	var wg sync.WaitGroup
	bodies := make([]string, 10)
	for i := range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); bodies[i] = do(h, "GET", "/s").Body.String() }()
	}
	time.Sleep(100 * time.Millisecond)
	close(gate)
	wg.Wait()
	t.Logf("bodies %q, handler ran %d times for 10 concurrent requests", bodies, calls.Load())
	if calls.Load() > 1 {
		t.Errorf("failing backend hit %d times by 10 collapsed requests (the waiters re-ran the handler)", calls.Load())
	}
}

// Leader's client has gone, then the handler flushes: the waiters are not
// released and wait for the whole JoinTimeout.
func TestStreamAfterLeaderGoneReleasesWaiters(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
	leaderIn := make(chan struct{})
	flushNow := make(chan struct{})
	var n atomic.Int32
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			close(leaderIn)
			<-flushNow
			fmt.Fprint(w, "part")
			w.(http.Flusher).Flush()
			time.Sleep(3 * time.Second) // a long stream
			return
		}
		fmt.Fprint(w, "own")
	}), corral.JoinTimeout(5*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	lr := httptest.NewRequest("GET", "/st", nil).WithContext(ctx)
	ldone := make(chan struct{})
	go func() { defer close(ldone); h.ServeHTTP(httptest.NewRecorder(), lr) }()
	<-leaderIn
	wdone := make(chan time.Duration)
	go func() {
		s := time.Now()
		do(h, "GET", "/st")
		wdone <- time.Since(s)
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-ldone
	close(flushNow)
	el := <-wdone
	t.Logf("waiter answered after %v", el)
	if el > time.Second {
		t.Errorf("the leader's response streamed (to nobody) but the waiter was held %v", el)
	}
}

// GetOrSet with an uncomparable codec: the second shared hit compares codecs.
type sliceCodec struct{ tags []string }

func (sliceCodec) Marshal(v any) ([]byte, error)   { return json.Marshal(v) }
func (sliceCodec) Unmarshal(d []byte, v any) error { return json.Unmarshal(d, v) }

func TestUncomparableCodec(t *testing.T) {
	c := corral.New(corral.NewMemoryStore(), corral.WithCodec(sliceCodec{tags: []string{"x"}}))
	ctx := context.Background()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panicked: %v", r)
		}
	}()
	for range 3 {
		if _, err := corral.GetOrSet(ctx, c, "k", time.Minute, func(context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
	}
	_ = errors.New
}
