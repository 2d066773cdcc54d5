//go:build go1.25

package corral_test

// One test per HTTP-correctness finding in the middleware (see the README).
// Each test states the behaviour that net/http and RFC 9110/9111 ask for, and
// says above it how it fails before the fix.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
	"github.com/gorilla/mux"
)

// inFlight is a request served on a goroutine of its own, inside a synctest
// bubble.
type inFlight struct {
	rec  *httptest.ResponseRecorder
	done chan struct{}
}

// serveAsync serves r through h on a new goroutine.
func serveAsync(h http.Handler, r *http.Request) *inFlight {
	f := &inFlight{rec: httptest.NewRecorder(), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		h.ServeHTTP(f.rec, r)
	}()
	return f
}

// result waits for the request to be answered and returns its recorder.
func (f *inFlight) result() *httptest.ResponseRecorder {
	<-f.done
	return f.rec
}

// request makes a request; headers are name, value pairs.
func request(method, target string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

// wantCalls fails the test unless the handler ran want times.
func wantCalls(t *testing.T, h *counting, want int32, what string) {
	t.Helper()
	if got := h.calls.Load(); got != want {
		t.Fatalf("%s: the handler ran %d times, want %d", what, got, want)
	}
}

const rangeBody = "0123456789abcdef"

var rangeModTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// Fails before the fix: the leader's request-specific answer (206 "01234",
// 304, 412, 416, or the 405 a HEAD got) is handed to the plain GETs that
// waited for it, e.g. `waiter 0 got 206 "01234", want 200 "0123456789abcdef"`.
func TestHTTPRule01RequestSpecificLeader(t *testing.T) {
	leaders := []struct {
		name     string
		method   string
		headers  []string
		leaderOK []int // what the leader itself may get
	}{
		{"Range", "GET", []string{"Range", "bytes=0-4"}, []int{206, 200}},
		{"If-None-Match", "GET", []string{"If-None-Match", `"v1"`}, []int{304, 200}},
		{"If-Modified-Since", "GET", []string{"If-Modified-Since", rangeModTime.Format(http.TimeFormat)}, []int{304, 200}},
		{"If-Match", "GET", []string{"If-Match", `"other"`}, []int{412, 200}},
		{"unsatisfiable Range", "GET", []string{"Range", "bytes=100-200"}, []int{416, 200}},
		{"HEAD to a GET-only handler", "HEAD", nil, []int{405, 200}},
	}
	for _, tt := range leaders {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
					if n == 1 {
						<-release
					}
					if r.Method != http.MethodGet {
						w.Header().Set("Allow", "GET")
						http.Error(w, "GET only", http.StatusMethodNotAllowed)
						return
					}
					w.Header().Set("ETag", `"v1"`)
					http.ServeContent(w, r, "f.txt", rangeModTime, strings.NewReader(rangeBody))
				}}
				srv := newBubbleCache(t).Handler(h)
				leader := serveAsync(srv, request(tt.method, "/f.txt", tt.headers...))
				synctest.Wait()
				var waiters []*inFlight
				for range 3 {
					waiters = append(waiters, serveAsync(srv, request("GET", "/f.txt")))
				}
				synctest.Wait()
				close(release)
				for i, w := range waiters {
					if rec := w.result(); rec.Code != 200 || rec.Body.String() != rangeBody {
						t.Errorf("waiter %d got %d %q, want 200 %q", i, rec.Code, rec.Body, rangeBody)
					}
				}
				if rec := leader.result(); !containsInt(tt.leaderOK, rec.Code) {
					t.Errorf("the leader got %d, want one of %v", rec.Code, tt.leaderOK)
				}
			})
		})
	}
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Fails before the fix: a response that may not be stored (no-cache, a status
// not in CacheStatuses) is still handed to the requests that waited for it:
// `no-cache: 4 concurrent requests: the handler ran 1 times, want 4`. The
// Set-Cookie case passes today; it guards the rule.
func TestHTTPRule01UnshareableNotHandedOn(t *testing.T) {
	const n = 4
	answers := []struct {
		name   string
		status int
		header []string
	}{
		{"no-cache", 200, []string{"Cache-Control", "no-cache"}},
		{"Set-Cookie", 200, []string{"Set-Cookie", "sid=1"}},
		{"404 when only 200 is cacheable", 404, nil},
	}
	for _, tt := range answers {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				h := &counting{serve: func(w http.ResponseWriter, r *http.Request, call int32) {
					if call == 1 {
						<-release
					}
					for i := 0; i+1 < len(tt.header); i += 2 {
						w.Header().Add(tt.header[i], tt.header[i+1])
					}
					w.WriteHeader(tt.status)
					fmt.Fprintf(w, "call %d", call)
				}}
				srv := newBubbleCache(t).Handler(h)
				reqs := []*inFlight{serveAsync(srv, request("GET", "/p"))}
				synctest.Wait()
				for range n - 1 {
					reqs = append(reqs, serveAsync(srv, request("GET", "/p")))
				}
				synctest.Wait()
				close(release)
				seen := map[string]bool{}
				for _, f := range reqs {
					body := f.result().Body.String()
					if seen[body] {
						t.Errorf("two clients got the one response %q", body)
					}
					seen[body] = true
				}
				wantCalls(t, h, n, fmt.Sprintf("%s: %d concurrent requests", tt.name, n))
			})
		})
	}
}

// Fails before the fix: the privacy rules look up canonical names only, so
// `set-cookie`, `cache-control` and `vary` set as map keys are missed and the
// response is stored: `the second request: the handler ran 1 times, want 2`.
func TestHTTPRule02NonCanonicalHeaderNames(t *testing.T) {
	headers := map[string][]string{
		"set-cookie":    {"sid=1"},
		"cache-control": {"private, no-store"},
		"vary":          {"*"},
	}
	for name, values := range headers {
		t.Run(name, func(t *testing.T) {
			h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
				w.Header()[name] = values
				fmt.Fprintf(w, "call %d", n)
			}}
			srv := newHTTPCache(t).Handler(h)
			do(srv, "GET", "/p")
			if w := do(srv, "GET", "/p"); strings.Contains(w.Header().Get("Cache-Status"), "hit") {
				t.Errorf("the second request was a hit: %q", w.Body)
			}
			wantCalls(t, h, 2, "the second request")
		})
	}
}

// Fails before the fix: the HEAD's empty body is stored as the GET entry, so
// the GET that follows gets `200 "" with Content-Length "16"`.
func TestHTTPRule03HEADDoesNotStoreEmptyBody(t *testing.T) {
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		http.ServeContent(w, r, "f.txt", rangeModTime, strings.NewReader(rangeBody))
	}}
	srv := newHTTPCache(t).Handler(h)
	if w := do(srv, "HEAD", "/f.txt"); w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("HEAD: %d %q", w.Code, w.Body)
	}
	w := do(srv, "GET", "/f.txt")
	if w.Code != 200 || w.Body.String() != rangeBody || w.Header().Get("Content-Length") != fmt.Sprint(len(rangeBody)) {
		t.Fatalf("GET after HEAD: %d %q with Content-Length %q, want 200 %q with %d",
			w.Code, w.Body, w.Header().Get("Content-Length"), rangeBody, len(rangeBody))
	}
}

// gatedWriter is a stale client's ResponseWriter. Its first Write (the
// cache's stale answer) marks that the client is being answered, then waits
// until the refresh's handler has run, so that a refresh that writes to the
// client's ResponseWriter does so while the client is still being served.
type gatedWriter struct {
	*httptest.ResponseRecorder
	once      sync.Once
	writing   chan struct{} // closed on the first Write
	refreshed chan struct{} // closed by the refresh's handler when it is done
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	first := false
	g.once.Do(func() { first = true; close(g.writing) })
	if first {
		select {
		case <-g.refreshed:
		case <-time.After(time.Second): // fake time: only when nothing else can run
		}
	}
	return g.ResponseRecorder.Write(p)
}

// Fails before the fix: the background refresh runs the handler with the
// stale client's ResponseWriter as its streaming target, so what it streams
// reaches that client: `the stale client got "streamed 1;streamed 2;v1"
// (flushed true), want "v1"`.
func TestHTTPRule04RefreshNeverWritesToClient(t *testing.T) {
	refreshes := map[string]struct {
		opts  []corral.HTTPOption
		write func(w http.ResponseWriter)
	}{
		"flush": {nil, func(w http.ResponseWriter) {
			fmt.Fprint(w, "streamed 1;")
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
			fmt.Fprint(w, "streamed 2;")
		}},
		"too large": {[]corral.HTTPOption{corral.MaxBodySize(64)}, func(w http.ResponseWriter) {
			fmt.Fprint(w, "streamed "+strings.Repeat("x", 100))
		}},
	}
	for name, tt := range refreshes {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := &gatedWriter{ResponseRecorder: httptest.NewRecorder(),
					writing: make(chan struct{}), refreshed: make(chan struct{})}
				h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
					if n != 2 {
						fmt.Fprintf(w, "v%d", n)
						return
					}
					defer close(client.refreshed)
					<-client.writing
					tt.write(w)
				}}
				opts := append([]corral.HTTPOption{corral.TTL(10 * time.Second), corral.StaleWhileRevalidate(time.Minute)}, tt.opts...)
				c := newBubbleCache(t)
				srv := c.Handler(h, opts...)
				do(srv, "GET", "/p")
				time.Sleep(15 * time.Second)
				srv.ServeHTTP(client, request("GET", "/p"))
				synctest.Wait()
				wantCalls(t, h, 2, "the stale request")
				if client.Body.String() != "v1" || client.Flushed {
					t.Errorf("the stale client got %q (flushed %v), want %q", client.Body, client.Flushed, "v1")
				}
				if w := do(srv, "GET", "/p"); strings.Contains(w.Body.String(), "streamed") {
					t.Errorf("the streamed refresh was stored: a later request got %q", w.Body)
				}
				synctest.Wait()
				if st := c.HTTPStats()["unrouted"]; st.NotStored != 1 {
					t.Errorf("HTTPStats = %+v, want the dropped refresh counted as not stored", st)
				}
			})
		})
	}
}

// Fails before the fix: a body shorter than its Content-Length is stored, and
// the next request gets the truncated body from the cache: `the second
// request: the handler ran 1 times, want 2`.
func TestHTTPRule05TruncatedBodyNotStored(t *testing.T) {
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		w.Header().Set("Content-Length", "100")
		w.Write(bytes.Repeat([]byte{'x'}, 40))
	}}
	srv := newHTTPCache(t).Handler(h)
	do(srv, "GET", "/p")
	do(srv, "GET", "/p")
	wantCalls(t, h, 2, "the second request")
}

// Fails before the fix: the stored header is the handler's header map when
// it returned, not what net/http sent: (a) X-Late, set after the first
// Write, is replayed; (b) the Link header that only the 103 carried is left
// on the final 200 of the first client: `first response: Link = "</a.css>;
// rel=preload", want none`. Case (b)'s hit passes today; its first response
// fails. Both run over a real server, so that net/http decides what is sent.
func TestHTTPRule06StoredIsWhatWasSent(t *testing.T) {
	handlers := map[string]struct {
		header string
		serve  func(w http.ResponseWriter, r *http.Request, n int32)
	}{
		"header set after the first Write": {"X-Late", func(w http.ResponseWriter, r *http.Request, n int32) {
			fmt.Fprintf(w, "call %d", n)
			w.Header().Set("X-Late", "1")
		}},
		"header of a 103 only": {"Link", func(w http.ResponseWriter, r *http.Request, n int32) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			w.WriteHeader(200)
			fmt.Fprintf(w, "call %d", n)
		}},
	}
	for name, tt := range handlers {
		t.Run(name, func(t *testing.T) {
			h := &counting{serve: tt.serve}
			srv := httptest.NewServer(newHTTPCache(t).Handler(h))
			defer srv.Close()
			for _, which := range []string{"first response", "second response"} {
				resp, err := http.Get(srv.URL + "/p")
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if v := resp.Header.Get(tt.header); resp.StatusCode != 200 || v != "" {
					t.Errorf("%s: %d, %s = %q, want 200 and none", which, resp.StatusCode, tt.header, v)
				}
			}
		})
	}
}

// Fails before the fix: (a) a second request for a URL that is streaming
// waits for the stream to end instead of running its own handler: `while the
// first streams: the handler ran 1 times, want 2`; (b) the handler's context
// is detached from the streaming client's, so it never learns the client
// left: `the handler's context did not end with its client's`; (c)
// ComputeTimeout cuts a stream whose client is still there: `the stream was
// cut after 1s: "tick 0\ntick 1\n"`.
func TestHTTPRule07StreamsBelongToTheirClient(t *testing.T) {
	t.Run("a concurrent request runs its own handler", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprintf(w, "data: stream %d\n\n", n)
				http.NewResponseController(w).Flush()
				<-release
			}}
			srv := newBubbleCache(t).Handler(h)
			first := serveAsync(srv, request("GET", "/events"))
			synctest.Wait()
			second := serveAsync(srv, request("GET", "/events"))
			synctest.Wait()
			calls := h.calls.Load()
			close(release)
			first.result()
			second.result()
			if calls != 2 {
				t.Fatalf("while the first streams: the handler ran %d times, want 2", calls)
			}
		})
	})
	t.Run("the handler sees its client leave", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			var ended atomic.Bool
			h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
				fmt.Fprint(w, "data: hello\n\n")
				http.NewResponseController(w).Flush()
				select {
				case <-r.Context().Done():
					ended.Store(true)
				case <-release:
				}
			}}
			srv := newBubbleCache(t).Handler(h)
			ctx, cancel := context.WithCancel(context.Background())
			f := serveAsync(srv, request("GET", "/events").WithContext(ctx))
			synctest.Wait()
			cancel()
			synctest.Wait()
			got := ended.Load()
			close(release)
			f.result()
			if !got {
				t.Fatal("the handler's context did not end with its client's")
			}
		})
	})
	t.Run("ComputeTimeout does not cut a live stream", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var cut atomic.Bool
			h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
				rc := http.NewResponseController(w)
				fmt.Fprint(w, "tick 0\n")
				rc.Flush()
				for i := 1; i <= 4; i++ { // 3 s in all
					select {
					case <-r.Context().Done():
						cut.Store(true)
						return
					case <-time.After(750 * time.Millisecond):
					}
					fmt.Fprintf(w, "tick %d\n", i)
					rc.Flush()
				}
			}}
			srv := newBubbleCache(t).Handler(h, corral.ComputeTimeout(time.Second))
			w := do(srv, "GET", "/events")
			const want = "tick 0\ntick 1\ntick 2\ntick 3\ntick 4\n"
			if cut.Load() || w.Body.String() != want {
				t.Fatalf("the stream was cut (context done: %v): got %q, want %q", cut.Load(), w.Body, want)
			}
		})
	})
}

// Fails before the fix: the write only drops the GET entry whose key its own
// request selects, so (a) a ServeMux PUT pattern, (b) a gorilla/mux PUT route
// template, (c) the write's credentials and (d) its VaryOn header values all
// miss the stored GET: `GET after PUT: the handler ran 1 times, want 2`.
func TestHTTPRule08WritesInvalidateEveryVariant(t *testing.T) {
	noContent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	put := func(t *testing.T, srv http.Handler, target string, headers ...string) {
		t.Helper()
		if w := do(srv, "PUT", target, headers...); w.Code != http.StatusNoContent {
			t.Fatalf("PUT: %d %q", w.Code, w.Body)
		}
	}
	t.Run("ServeMux method patterns", func(t *testing.T) {
		c := newHTTPCache(t)
		get := &counting{}
		m := http.NewServeMux()
		m.Handle("GET /items/{id}", c.Handler(get))
		m.Handle("PUT /items/{id}", c.Handler(noContent))
		do(m, "GET", "/items/1")
		put(t, m, "/items/1")
		do(m, "GET", "/items/1")
		wantCalls(t, get, 2, "GET after PUT")
	})
	t.Run("gorilla/mux route templates", func(t *testing.T) {
		c := newHTTPCache(t)
		get := &counting{}
		r := mux.NewRouter()
		r.Use(c.Middleware())
		r.Handle("/products/{id}", get).Methods("GET")
		r.Handle("/products/{id:[0-9]+}", noContent).Methods("PUT")
		do(r, "GET", "/products/7")
		put(t, r, "/products/7")
		do(r, "GET", "/products/7")
		wantCalls(t, get, 2, "GET after PUT")
	})
	for _, cred := range [][]string{{"Authorization", "Bearer x"}, {"Cookie", "sid=1"}} {
		t.Run("PUT with "+cred[0], func(t *testing.T) {
			h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
				if r.Method == "PUT" {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				fmt.Fprintf(w, "call %d", n)
			}}
			srv := newHTTPCache(t).Handler(h)
			do(srv, "GET", "/items/1")
			put(t, srv, "/items/1", cred...)
			do(srv, "GET", "/items/1")
			wantCalls(t, h, 3, "GET, PUT, GET")
		})
	}
	t.Run("VaryOn variants", func(t *testing.T) {
		h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
			if r.Method == "PUT" {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			w.Header().Set("Vary", "Accept-Language")
			fmt.Fprintf(w, "%s call %d", r.Header.Get("Accept-Language"), n)
		}}
		srv := newHTTPCache(t).Handler(h, corral.VaryOn("Accept-Language"))
		for range 2 {
			do(srv, "GET", "/items/1", "Accept-Language", "en")
			do(srv, "GET", "/items/1", "Accept-Language", "fr")
		}
		wantCalls(t, h, 2, "two variants, each asked twice")
		put(t, srv, "/items/1", "Accept-Language", "de")
		do(srv, "GET", "/items/1", "Accept-Language", "en")
		do(srv, "GET", "/items/1", "Accept-Language", "fr")
		wantCalls(t, h, 5, "en and fr after a PUT in de")
	})
}

// Fails before the fix: the key has no scheme, so an https request gets the
// http response: `https request got "http"`.
func TestHTTPRule09SchemeInKey(t *testing.T) {
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		if r.TLS != nil {
			fmt.Fprint(w, "https")
			return
		}
		fmt.Fprint(w, "http")
	}}
	srv := newHTTPCache(t).Handler(h)
	if w := do(srv, "GET", "http://example.com/p"); w.Body.String() != "http" {
		t.Fatalf("http request got %q", w.Body)
	}
	if w := do(srv, "GET", "https://example.com/p"); w.Body.String() != "https" {
		t.Fatalf("https request got %q", w.Body)
	}
}

// keyRecordingStore is a Store that records every key it is given.
type keyRecordingStore struct {
	corral.Store
	mu   sync.Mutex
	keys []string
}

func (s *keyRecordingStore) note(keys ...string) {
	s.mu.Lock()
	s.keys = append(s.keys, keys...)
	s.mu.Unlock()
}

func (s *keyRecordingStore) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

func (s *keyRecordingStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.note(key)
	return s.Store.Get(ctx, key)
}

func (s *keyRecordingStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.note(key)
	return s.Store.Set(ctx, key, value, ttl)
}

func (s *keyRecordingStore) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	s.note(key)
	return s.Store.Add(ctx, key, value, ttl)
}

func (s *keyRecordingStore) Delete(ctx context.Context, keys ...string) error {
	s.note(keys...)
	return s.Store.Delete(ctx, keys...)
}

// lockedBuffer is a bytes.Buffer safe for a logger and a test to share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Fails before the fix: credential values go into the key in clear, so they
// reach the debug log (every case) and the store keys (the cookie cases, whose
// keys are short enough to be used as they are): `log line holds
// "sekrit-token-123"`.
func TestHTTPRule10CredentialsNotInKeysOrLogs(t *testing.T) {
	cases := []struct {
		name          string
		opt           corral.HTTPOption
		header, value string
		secret        string
	}{
		{"VaryOn Authorization", corral.VaryOn("Authorization"), "Authorization", "Bearer sekrit-token-123", "sekrit-token-123"},
		{"KeyCookies", corral.KeyCookies("session"), "Cookie", "session=sekrit-session-456", "sekrit-session-456"},
		{"VaryOn Cookie", corral.VaryOn("Cookie"), "Cookie", "session=sekrit-session-456", "sekrit-session-456"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			store := &keyRecordingStore{Store: newMemory(t)}
			var logs lockedBuffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			h := &counting{}
			srv := corral.New(store, corral.WithLogger(logger)).Handler(h, tt.opt)
			do(srv, "GET", "/me", tt.header, tt.value)
			second := do(srv, "GET", "/me", tt.header, tt.value)
			if !strings.Contains(second.Header().Get("Cache-Status"), "hit") {
				t.Errorf("the second request was not a hit: %q", second.Header().Get("Cache-Status"))
			}
			wantCalls(t, h, 1, "two identical requests")
			for _, k := range store.seen() {
				if strings.Contains(k, tt.secret) {
					t.Errorf("store key holds %q: %s", tt.secret, k)
				}
			}
			for line := range strings.Lines(logs.String()) {
				if strings.Contains(line, tt.secret) {
					t.Errorf("log line holds %q: %s", tt.secret, strings.TrimSpace(line))
				}
			}
		})
	}
}

// Fails before the fix: the inner handler's computation of the same key is
// refused as a recursion and bypassed, so the outer middleware stores the
// response for its minute and the inner 2 s TTL never applies: `after the
// inner TTL: the handler ran 1 times, want 2`; and both layers count the
// first request: `3 decisions for 2 requests`.
func TestHTTPRule11NestedCaching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newBubbleCache(t)
		h := &counting{}
		r := mux.NewRouter()
		r.Use(c.Middleware(corral.TTL(time.Minute)))
		r.Handle("/x", c.Handler(h, corral.TTL(2*time.Second)))
		for i := range 2 {
			if w := do(r, "GET", "/x"); w.Code != 200 {
				t.Fatalf("request %d: %d %q", i, w.Code, w.Body)
			}
			time.Sleep(3 * time.Second)
		}
		synctest.Wait()
		if got := h.calls.Load(); got != 2 {
			t.Errorf("after the inner TTL: the handler ran %d times, want 2", got)
		}
		var sum uint64
		for _, s := range c.HTTPStats() {
			sum += s.Hits + s.Stale + s.Collapsed + s.Stored + s.NotStored + s.Bypassed + s.Passed + s.Errors
		}
		if sum != 2 {
			t.Errorf("%d decisions for 2 requests: %+v", sum, c.HTTPStats())
		}
	})
}
