package corral_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/faultstore"
	"github.com/gorilla/mux"
)

// counting is a handler that counts its calls and answers with what it saw,
// so that a test can tell a replay (same call number) from a fresh answer.
type counting struct {
	calls atomic.Int32
	serve func(w http.ResponseWriter, r *http.Request, call int32)
}

func (h *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := h.calls.Add(1)
	if h.serve != nil {
		h.serve(w, r, n)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "%s %s call %d", r.Method, r.URL.Path, n)
}

// do serves one request through h; headers are name, value pairs.
func do(h http.Handler, method, target string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func newHTTPCache(t *testing.T, opts ...corral.Option) *corral.Cache {
	return corral.New(newMemory(t), opts...)
}

// sameBody reports whether two responses are one replay: the handler's call
// number is in the body.
func sameBody(a, b *httptest.ResponseRecorder) bool { return a.Body.String() == b.Body.String() }

func TestMiddlewareOnGorillaMuxAndServeMux(t *testing.T) {
	routers := map[string]func(c *corral.Cache, h http.Handler) http.Handler{
		"gorilla/mux": func(c *corral.Cache, h http.Handler) http.Handler {
			r := mux.NewRouter()
			r.Use(c.Middleware(corral.VaryOn("Accept-Language")))
			r.Handle("/items/{id}", h).Methods("GET", "HEAD", "POST")
			return r
		},
		"ServeMux": func(c *corral.Cache, h http.Handler) http.Handler {
			m := http.NewServeMux()
			m.Handle("/items/{id}", c.Handler(h, corral.VaryOn("Accept-Language")))
			return m
		},
	}
	for name, route := range routers {
		t.Run(name, func(t *testing.T) {
			c := newHTTPCache(t)
			h := &counting{}
			srv := route(c, h)
			first := do(srv, "GET", "/items/1?b=2&a=1")
			if first.Code != 200 || first.Header().Get("Cache-Status") != "corral; fwd=miss; stored" {
				t.Fatalf("first: %d %q", first.Code, first.Header().Get("Cache-Status"))
			}
			same := do(srv, "GET", "/items/1?a=1&b=2")
			if !sameBody(first, same) || same.Header().Get("Cache-Status") != "corral; hit" {
				t.Fatalf("reordered query was not a hit: %q %q", same.Body, same.Header().Get("Cache-Status"))
			}
			others := []*httptest.ResponseRecorder{
				do(srv, "GET", "/items/2?a=1&b=2"),
				do(srv, "POST", "/items/1?a=1&b=2"),
				do(srv, "GET", "/items/1?a=1&b=2", "Accept-Language", "fr"),
				do(corral.New(c.Store(), corral.WithBuild("42")).Handler(h), "GET", "/items/1?a=1&b=2"),
			}
			for i, o := range others {
				if sameBody(first, o) {
					t.Fatalf("request %d shared the entry of /items/1: %q", i, o.Body)
				}
			}
		})
	}
}

// TestRules has one case per storing rule: each fails if the rule is
// dropped.
func TestRules(t *testing.T) {
	write := func(status int, header ...string) func(w http.ResponseWriter, r *http.Request, n int32) {
		return func(w http.ResponseWriter, r *http.Request, n int32) {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Add(header[i], header[i+1])
			}
			w.WriteHeader(status)
			fmt.Fprintf(w, "call %d", n)
		}
	}
	tests := []struct {
		name       string
		serve      func(w http.ResponseWriter, r *http.Request, n int32)
		opts       []corral.HTTPOption
		method     string
		headers    []string
		wantShared bool   // does a second identical request get the first response?
		wantStatus string // Cache-Status of the first response (prefix)
	}{
		{"200 stored", write(200), nil, "GET", nil, true, "corral; fwd=miss; stored"},
		{"POST not cached", write(200), nil, "POST", nil, false, "corral; fwd=method"},
		{"500 not stored", write(500), nil, "GET", nil, false, "corral; fwd=miss; detail=status"},
		{"404 stored when asked", write(404), []corral.HTTPOption{corral.CacheStatuses(200, 404)}, "GET", nil, true, "corral; fwd=miss; stored"},
		{"Set-Cookie not stored", write(200, "Set-Cookie", "session=1"), nil, "GET", nil, false, "corral; fwd=miss; detail=set-cookie"},
		{"private not stored", write(200, "Cache-Control", "max-age=60, Private"), nil, "GET", nil, false, "corral; fwd=miss; detail=private"},
		{"no-store not stored", write(200, "Cache-Control", "no-store"), nil, "GET", nil, false, "corral; fwd=miss; detail=no-store"},
		{"no-cache not stored", write(200, "Cache-Control", "no-cache"), nil, "GET", nil, false, "corral; fwd=miss; detail=no-cache"},
		{"unkeyed Vary stored as a variant", write(200, "Vary", "Accept-Encoding"), nil, "GET", nil, true, "corral; fwd=miss; stored"},
		{"keyed Vary stored", write(200, "Vary", "accept-encoding"), []corral.HTTPOption{corral.VaryOn("Accept-Encoding")}, "GET", nil, true, "corral; fwd=miss; stored"},
		{"Vary * not stored", write(200, "Vary", "*"), nil, "GET", nil, false, "corral; fwd=miss; detail=vary"},
		{"trailers not stored", write(200, "Trailer", "X-Sum"), nil, "GET", nil, false, "corral; fwd=miss; detail=trailers"},
		{"Authorization not cached", write(200), nil, "GET", []string{"Authorization", "Bearer a"}, false, "corral; fwd=bypass; detail=authorization"},
		{"Cookie not cached", write(200), nil, "GET", []string{"Cookie", "sid=1"}, false, "corral; fwd=bypass; detail=cookie"},
		{"Cookie cached when the route ignores cookies", write(200), []corral.HTTPOption{corral.KeyCookies()}, "GET", []string{"Cookie", "_ga=1"}, true, "corral; fwd=miss; stored"},
		{"Authorization cached when declared irrelevant", write(200), []corral.HTTPOption{corral.IgnoreCredentials()}, "GET", []string{"Authorization", "Bearer a"}, true, "corral; fwd=miss; stored"},
		{"max-age=0 is not fresh", write(200, "Cache-Control", "max-age=0"), nil, "GET", nil, false, "corral; fwd=miss; detail=not-fresh"},
		{"OPTIONS passes", write(200), nil, "OPTIONS", nil, false, "corral; fwd=method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &counting{serve: tt.serve}
			srv := newHTTPCache(t).Handler(h, tt.opts...)
			first := do(srv, tt.method, "/x", tt.headers...)
			second := do(srv, tt.method, "/x", tt.headers...)
			if got := first.Header().Get("Cache-Status"); !strings.HasPrefix(got, tt.wantStatus) {
				t.Errorf("Cache-Status = %q, want %q", got, tt.wantStatus)
			}
			if shared := sameBody(first, second); shared != tt.wantShared {
				t.Fatalf("second request shared the first response: %v, want %v (bodies %q, %q)", shared, tt.wantShared, first.Body, second.Body)
			}
			if first.Body.String() != "call 1" {
				t.Fatalf("the first client got %q, want its own response", first.Body)
			}
		})
	}
}

func TestGETWithBodyBypasses(t *testing.T) {
	h := &counting{}
	srv := newHTTPCache(t).Handler(h)
	for range 2 {
		r := httptest.NewRequest("GET", "/x", strings.NewReader("query body"))
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if got := w.Header().Get("Cache-Status"); got != "corral; fwd=bypass; detail=request-body" {
			t.Fatalf("Cache-Status = %q", got)
		}
	}
	if h.calls.Load() != 2 {
		t.Fatal("a GET with a body was served from the cache")
	}
}

func TestHEADFromGET(t *testing.T) {
	h := &counting{}
	srv := newHTTPCache(t).Handler(h)
	get := do(srv, "GET", "/x")
	head := do(srv, "HEAD", "/x")
	if h.calls.Load() != 1 {
		t.Fatalf("HEAD ran the handler: %d calls", h.calls.Load())
	}
	if head.Body.Len() != 0 || head.Header().Get("Content-Length") != fmt.Sprint(get.Body.Len()) {
		t.Fatalf("HEAD: body %q, Content-Length %q", head.Body, head.Header().Get("Content-Length"))
	}
	// A HEAD first stores the GET entry too.
	h2 := &counting{}
	srv2 := newHTTPCache(t).Handler(h2)
	do(srv2, "HEAD", "/y")
	if g := do(srv2, "GET", "/y"); h2.calls.Load() != 1 || g.Body.Len() == 0 {
		t.Fatalf("GET after HEAD: %d calls, body %q", h2.calls.Load(), g.Body)
	}
}

func TestETagAnd304(t *testing.T) {
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, "body")
	}}
	srv := newHTTPCache(t).Handler(h)
	do(srv, "GET", "/x")
	for _, inm := range []string{`"v1"`, `W/"v1"`, `"other", "v1"`, `*`} {
		w := do(srv, "GET", "/x", "If-None-Match", inm)
		if w.Code != 304 || w.Body.Len() != 0 || w.Header().Get("Etag") != `"v1"` {
			t.Fatalf("If-None-Match %s: %d %q", inm, w.Code, w.Body)
		}
	}
	if w := do(srv, "GET", "/x", "If-None-Match", `"v2"`); w.Code != 200 {
		t.Fatalf("a stale If-None-Match got %d", w.Code)
	}
	// Computed ETags when asked.
	plain := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) { fmt.Fprint(w, "same body") }}
	srv2 := newHTTPCache(t).Handler(plain, corral.ETags())
	etag := do(srv2, "GET", "/x").Header().Get("Etag")
	if etag == "" {
		t.Fatal("ETags() computed no ETag")
	}
	if w := do(srv2, "GET", "/x", "If-None-Match", etag); w.Code != 304 {
		t.Fatalf("computed ETag: %d", w.Code)
	}
}

func TestStreamingAndHijackPassThrough(t *testing.T) {
	tests := map[string]func(w http.ResponseWriter, r *http.Request, n int32){
		"flush": func(w http.ResponseWriter, r *http.Request, n int32) {
			fmt.Fprintf(w, "part 1 of call %d;", n)
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
			fmt.Fprint(w, "part 2")
		},
		"http.Flusher": func(w http.ResponseWriter, r *http.Request, n int32) {
			fmt.Fprintf(w, "part 1 of call %d;", n)
			w.(http.Flusher).Flush()
			fmt.Fprint(w, "part 2")
		},
		"hijack": func(w http.ResponseWriter, r *http.Request, n int32) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			defer conn.Close()
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\ncall %d", n)
			buf.Flush()
		},
		"too large": func(w http.ResponseWriter, r *http.Request, n int32) {
			fmt.Fprintf(w, "call %d;", n)
			w.Write(bytes.Repeat([]byte("x"), 2000))
		},
	}
	for name, serve := range tests {
		t.Run(name, func(t *testing.T) {
			h := &counting{serve: serve}
			srv := httptest.NewServer(newHTTPCache(t).Handler(h, corral.MaxBodySize(1000)))
			defer srv.Close()
			var bodies []string
			for range 2 {
				resp, err := http.Get(srv.URL + "/x")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				bodies = append(bodies, string(b))
			}
			if h.calls.Load() != 2 {
				t.Fatalf("the handler ran %d times: a streamed response was stored", h.calls.Load())
			}
			if !strings.Contains(bodies[0], "call 1") || !strings.Contains(bodies[1], "call 2") {
				t.Fatalf("bodies %q", bodies)
			}
			if name == "too large" && len(bodies[0]) != len("call 1;")+2000 {
				t.Fatalf("the large body was cut: %d bytes", len(bodies[0]))
			}
		})
	}
}

func TestReplayIsByteIdentical(t *testing.T) {
	body := bytes.Repeat([]byte{0, 1, 2, 255, '\n'}, 1000)
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header()["X-Multi"] = []string{"a", "b"}
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "hop-by-hop")
		w.WriteHeader(200)
		w.Write(body[:100])
		w.Write(body[100:])
	}}
	srv := newHTTPCache(t).Handler(h)
	miss := do(srv, "GET", "/bin")
	hit := do(srv, "GET", "/bin")
	if h.calls.Load() != 1 {
		t.Fatal("not a hit")
	}
	if hit.Code != miss.Code || !bytes.Equal(hit.Body.Bytes(), body) || !bytes.Equal(miss.Body.Bytes(), body) {
		t.Fatal("bodies differ from the handler's")
	}
	strip := func(h http.Header) http.Header {
		h = h.Clone()
		for _, k := range []string{"Age", "Cache-Status", "Content-Length", "Connection", "X-Hop"} {
			delete(h, k)
		}
		return h
	}
	if !maps.EqualFunc(strip(miss.Header()), strip(hit.Header()), func(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }) {
		t.Fatalf("headers differ:\nmiss %v\nhit  %v", miss.Header(), hit.Header())
	}
	if hit.Header().Get("X-Hop") != "" || hit.Header().Get("Connection") != "" {
		t.Fatal("hop-by-hop headers were stored")
	}
	if hit.Header().Get("Age") == "" {
		t.Fatal("no Age on a hit")
	}
}

func TestConcurrentColdRequestsRunHandlerOnce(t *testing.T) {
	const n = 500
	release := make(chan struct{})
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, call int32) {
		<-release
		fmt.Fprintf(w, "call %d", call)
	}}
	c := newHTTPCache(t)
	srv := httptest.NewServer(c.Handler(h))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0}}
	var wg sync.WaitGroup
	bodies := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(srv.URL + "/cold")
			if err != nil {
				bodies <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			bodies <- fmt.Sprint(resp.StatusCode, " ", string(b))
		}()
	}
	waitFor(t, "requests that missed", func() uint64 { return c.Stats().Misses }, n)
	close(release)
	wg.Wait()
	close(bodies)
	for b := range bodies {
		if b != "200 call 1" {
			t.Fatalf("a client got %q", b)
		}
	}
	if h.calls.Load() != 1 {
		t.Fatalf("the handler ran %d times for %d concurrent cold requests", h.calls.Load(), n)
	}
}

func TestPoisoningAndLeaks(t *testing.T) {
	reflectHost := func(vary bool) *counting {
		return &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
			if vary {
				w.Header().Set("Vary", "X-Forwarded-Host")
			}
			fmt.Fprintf(w, "<script src=//%s/app.js>", r.Header.Get("X-Forwarded-Host"))
		}}
	}
	t.Run("unkeyed header with Vary is not stored", func(t *testing.T) {
		srv := newHTTPCache(t).Handler(reflectHost(true))
		do(srv, "GET", "/", "X-Forwarded-Host", "evil.example")
		if w := do(srv, "GET", "/"); strings.Contains(w.Body.String(), "evil") {
			t.Fatalf("a poisoned response reached another client: %q", w.Body)
		}
	})
	t.Run("keyed header gets its own entries", func(t *testing.T) {
		srv := newHTTPCache(t).Handler(reflectHost(true), corral.VaryOn("X-Forwarded-Host"))
		do(srv, "GET", "/", "X-Forwarded-Host", "evil.example")
		w := do(srv, "GET", "/", "X-Forwarded-Host", "good.example")
		if strings.Contains(w.Body.String(), "evil") {
			t.Fatalf("another X-Forwarded-Host got the evil entry: %q", w.Body)
		}
		if w := do(srv, "GET", "/"); strings.Contains(w.Body.String(), "evil") {
			t.Fatalf("no X-Forwarded-Host got the evil entry: %q", w.Body)
		}
	})
	t.Run("hosts", func(t *testing.T) {
		h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) { fmt.Fprint(w, r.Host) }}
		srv := newHTTPCache(t).Handler(h)
		a := httptest.NewRequest("GET", "http://a.example/p", nil)
		b := httptest.NewRequest("GET", "http://b.example/p", nil)
		wa, wb := httptest.NewRecorder(), httptest.NewRecorder()
		srv.ServeHTTP(wa, a)
		srv.ServeHTTP(wb, b)
		if wb.Body.String() != "b.example" {
			t.Fatalf("host b got %q", wb.Body)
		}
	})
	t.Run("credentials", func(t *testing.T) {
		who := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
			fmt.Fprintf(w, "hello %s %s", r.Header.Get("Authorization"), r.Header.Get("Cookie"))
		}}
		for _, opts := range [][]corral.HTTPOption{nil, {corral.VaryOn("Authorization", "Cookie")}, {corral.KeyCookies("sid")}} {
			srv := newHTTPCache(t).Handler(who, opts...)
			do(srv, "GET", "/me", "Authorization", "alice", "Cookie", "sid=alice")
			if w := do(srv, "GET", "/me", "Authorization", "bob", "Cookie", "sid=bob"); strings.Contains(w.Body.String(), "alice") {
				t.Fatalf("with %d options, bob got alice's response: %q", len(opts), w.Body)
			}
			if w := do(srv, "GET", "/me"); strings.Contains(w.Body.String(), "alice") {
				t.Fatalf("with %d options, an anonymous client got alice's response", len(opts))
			}
		}
	})
	t.Run("PUT makes the next GET fresh", func(t *testing.T) {
		h := &counting{}
		srv := newHTTPCache(t).Handler(h)
		first := do(srv, "GET", "/items/1")
		if w := do(srv, "PUT", "/items/1"); w.Code != 200 {
			t.Fatal(w.Code)
		}
		if w := do(srv, "GET", "/items/1"); sameBody(first, w) {
			t.Fatal("the GET after a PUT was served from the cache")
		}
		failing := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
			if r.Method == "DELETE" {
				w.WriteHeader(500)
			}
			fmt.Fprintf(w, "call %d", n)
		}}
		srv = newHTTPCache(t).Handler(failing)
		first = do(srv, "GET", "/items/2")
		do(srv, "DELETE", "/items/2")
		if w := do(srv, "GET", "/items/2"); !sameBody(first, w) {
			t.Fatal("a failed DELETE dropped the entry")
		}
	})
	t.Run("handlers after the cache share nothing", func(t *testing.T) {
		c := newHTTPCache(t)
		h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
			w.Header().Set("X-Origin", "o")
			fmt.Fprint(w, "shared")
		}}
		cached := c.Handler(h)
		outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cached.ServeHTTP(&addAfter{ResponseWriter: w}, r)
		})
		do(outer, "GET", "/s")
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := do(outer, "GET", "/s")
				if got := w.Header().Values("X-Origin"); len(got) != 2 || got[1] != "added" {
					t.Errorf("request %d: X-Origin = %v", i, got)
				}
			}()
		}
		wg.Wait()
	})
}

// addAfter adds to the replayed header, as a middleware outside the cache
// might, after the cache set it and before it is sent.
type addAfter struct{ http.ResponseWriter }

func (a *addAfter) WriteHeader(code int) {
	a.Header().Add("X-Origin", "added")
	a.ResponseWriter.WriteHeader(code)
}

func TestLeaderDisconnectStillRecords(t *testing.T) {
	c := newHTTPCache(t)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		started <- struct{}{}
		<-release
		if r.Context().Err() != nil {
			return // the handler's context must not end with the leader's client
		}
		fmt.Fprintf(w, "call %d", n)
	}}
	srv := c.Handler(h)
	ctx, cancel := context.WithCancel(context.Background())
	leader := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("GET", "/slow", nil).WithContext(ctx))
		leader <- w
	}()
	<-started
	waiter := make(chan *httptest.ResponseRecorder, 1)
	go func() { waiter <- do(srv, "GET", "/slow") }()
	waitFor(t, "requests that missed", func() uint64 { return c.Stats().Misses }, 2)
	cancel()
	<-leader // returns without waiting for the handler
	close(release)
	if w := <-waiter; w.Code != 200 || w.Body.String() != "call 1" {
		t.Fatalf("the waiter got %d %q", w.Code, w.Body)
	}
	if w := do(srv, "GET", "/slow"); w.Header().Get("Cache-Status") != "corral; hit" {
		t.Fatal("the recording was not stored after the leader's client left")
	}
}

func TestHandlerPanic(t *testing.T) {
	c := newHTTPCache(t)
	release := make(chan struct{})
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-release
		panic("handler bug")
	})
	srv := c.Handler(h)
	leader := make(chan any, 1)
	go func() {
		defer func() { leader <- recover() }()
		do(srv, "GET", "/p")
	}()
	const waiters = 10
	codes := make(chan int, waiters)
	waitFor(t, "leader missed", func() uint64 { return c.Stats().Misses }, 1)
	for range waiters {
		go func() { codes <- do(srv, "GET", "/p").Code }()
	}
	waitFor(t, "waiters missed", func() uint64 { return c.Stats().Misses }, waiters+1)
	close(release)
	if v := <-leader; v != "handler bug" {
		t.Fatalf("the leader's panic was %v, want it re-panicked", v)
	}
	for range waiters {
		if code := <-codes; code != 500 {
			t.Fatalf("a waiter got %d, want 500", code)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls", calls.Load())
	}
	// Nothing was cached: the next request runs the handler again.
	go func() {
		defer func() { recover() }()
		do(srv, "GET", "/p")
	}()
	waitFor(t, "handler ran again", func() uint64 { return uint64(calls.Load()) }, 2)
}

func TestBrokenStoreServesOrigin(t *testing.T) {
	const budget = 20 * time.Millisecond
	stores := map[string]corral.Store{
		"failing": new(faultstore.Failing),
		"hanging": new(faultstore.Hanging),
		"garbage": &faultstore.Garbage{Value: []byte("\xC0RL\x01 corrupt entry")},
	}
	for name, s := range stores {
		t.Run(name, func(t *testing.T) {
			h := &counting{}
			srv := corral.New(s, corral.WithTimeout(budget)).Handler(h)
			for i := range 3 {
				start := time.Now()
				w := do(srv, "GET", "/items/1")
				took := time.Since(start)
				if w.Code != 200 || w.Body.String() != fmt.Sprintf("GET /items/1 call %d", i+1) {
					t.Fatalf("got %d %q", w.Code, w.Body)
				}
				if took > budget+500*time.Millisecond {
					t.Fatalf("request took %v with a %v store budget", took, budget)
				}
			}
		})
	}
}
