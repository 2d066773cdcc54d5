//go:build go1.25

package corral_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
)

// A replay copies the stored header values: an outer middleware that edits
// a value in place changes its own response only, never the stored response
// or a later hit.
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

// A handler that sends 103 Early Hints before its 200 has the 200 stored and
// replayed: every client gets the 200 and its body, and the handler runs once.
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

// A GetOrSet waiter that computes for itself once its JoinTimeout has
// passed still returns when its own context ends, with the context's error,
// even though its computation goes on.
func TestSelfComputingWaiterHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newBubbleCache(t)
		block := make(chan struct{})
		go corral.GetOrSet(context.Background(), c, "k", time.Minute, func(context.Context) (string, error) {
			<-block
			return "leader", nil
		}, corral.JoinTimeout(20*time.Millisecond))
		synctest.Wait() // the leader's computation waits for block
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := corral.GetOrSet(ctx, c, "k", time.Minute, func(context.Context) (string, error) {
			time.Sleep(2 * time.Second) // a slow backend
			return "waiter", nil
		}, corral.JoinTimeout(20*time.Millisecond))
		if el := time.Since(start); el > 100*time.Millisecond || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a waiter whose context ended after 100ms returned after %v with %v, want context.DeadlineExceeded at 100ms", el, err)
		}
		close(block)
		time.Sleep(2 * time.Second) // the waiter's abandoned computation ends
		synctest.Wait()
	})
}

// Under stale-if-error, concurrent requests for an expired entry whose one
// computation fails with a 5xx all get the stale response; the waiters do
// not run the failing handler again.
func TestStaleIfError5xxWaitersServeStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
			if n > 1 {
				<-gate
				http.Error(w, "down", 503)
				return
			}
			fmt.Fprint(w, "good")
		}}
		srv := newBubbleCache(t).Handler(h, corral.TTL(50*time.Millisecond), corral.StaleIfError(time.Minute))
		do(srv, "GET", "/s")
		time.Sleep(80 * time.Millisecond) // expired, inside the stale-if-error window
		var reqs []*inFlight
		for range 10 {
			reqs = append(reqs, serveAsync(srv, request("GET", "/s")))
		}
		synctest.Wait() // one request runs the failing handler, the others wait for it
		close(gate)
		for i, f := range reqs {
			if w := f.result(); w.Code != 200 || w.Body.String() != "good" {
				t.Errorf("request %d got %d %q %q, want the stale %q", i, w.Code, w.Body, w.Header().Get("Cache-Status"), "good")
			}
		}
		wantCalls(t, h, 2, "the first request, then one failing computation for 10 collapsed requests")
	})
}

// When the handler starts to stream after the leader's client has gone,
// the waiters are released at once and run the handler for themselves;
// they do not wait for the stream or for JoinTimeout.
func TestStreamAfterLeaderGoneReleasesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flushNow := make(chan struct{})
		h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
			if n == 1 {
				<-flushNow
				fmt.Fprint(w, "part")
				w.(http.Flusher).Flush()
				time.Sleep(3 * time.Second) // a long stream
				return
			}
			fmt.Fprint(w, "own")
		}}
		srv := newBubbleCache(t).Handler(h, corral.JoinTimeout(5*time.Second))
		ctx, cancel := context.WithCancel(context.Background())
		leader := serveAsync(srv, request("GET", "/st").WithContext(ctx))
		synctest.Wait() // the leader's handler waits for flushNow
		start := time.Now()
		waiter := serveAsync(srv, request("GET", "/st"))
		synctest.Wait() // the waiter waits for the leader
		cancel()
		leader.result() // the leader's client has gone
		close(flushNow)
		w := waiter.result()
		if el := time.Since(start); el > 0 {
			t.Errorf("the leader's response streamed (to nobody) but the waiter was held %v", el)
		}
		if w.Body.String() != "own" {
			t.Errorf("the released waiter got %q %q, want its own %q", w.Body, w.Header().Get("Cache-Status"), "own")
		}
		wantCalls(t, h, 2, "a leader that streamed and its released waiter")
		time.Sleep(3 * time.Second) // the leader's stream ends
		synctest.Wait()
	})
}

// sliceCodec is a codec of a type that cannot be compared with ==.
type sliceCodec struct{ tags []string }

func (sliceCodec) Marshal(v any) ([]byte, error)   { return json.Marshal(v) }
func (sliceCodec) Unmarshal(d []byte, v any) error { return json.Unmarshal(d, v) }

// A codec whose type cannot be compared works as any other: repeated hits
// return the stored value and never panic.
func TestUncomparableCodec(t *testing.T) {
	c := corral.New(newMemory(t), corral.WithCodec(sliceCodec{tags: []string{"x"}}))
	ctx := context.Background()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panicked: %v", r)
		}
	}()
	var calls atomic.Int32
	for i := range 3 {
		v, err := corral.GetOrSet(ctx, c, "k", time.Minute, func(context.Context) (int, error) { return int(calls.Add(1)), nil })
		if v != 1 || err != nil {
			t.Fatalf("call %d: %v, %v, want the stored 1", i, v, err)
		}
	}
}
