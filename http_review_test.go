package corral_test

// Regression tests from the review of the RFC 9111 middleware: each failed before its fix.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// perUser answers with the X-User request header (set by an auth proxy in
// front, not in the key) and the given response fields.
func perUser(fields ...string) *counting {
	return &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		for i := 0; i+1 < len(fields); i += 2 {
			w.Header().Add(fields[i], fields[i+1])
		}
		fmt.Fprintf(w, "account of %s (call %d)", r.Header.Get("X-User"), n)
	}}
}

// Finding 1 of the review: "private, no-store, must-understand": Policy.Refusal keeps only the
// last of private/no-store, and must-understand then cancels "no-store", so
// the private response is stored and served to the next user.
func TestHTTPPrivateWinsOverMustUnderstand(t *testing.T) {
	for _, cc := range []string{
		"private, no-store, must-understand", // leaks
		"no-store, private, must-understand", // refused (order-dependent)
	} {
		t.Run(cc, func(t *testing.T) {
			h := perUser("Cache-Control", cc)
			srv := newHTTPCache(t).Handler(h, corral.TTL(time.Hour))
			do(srv, "GET", "/me", "X-User", "alice")
			bob := do(srv, "GET", "/me", "X-User", "bob")
			if strings.Contains(bob.Body.String(), "alice") {
				t.Fatalf("bob got %q (%s): a private response was stored and shared", bob.Body, bob.Header().Get("Cache-Status"))
			}
		})
	}
}

// Finding 2 of the review: a Surrogate-Control that carries no caching directive for corral
// (only ESI's content=, or a quoted directive targeted at another device)
// replaces Cache-Control entirely: Cache-Control: private is ignored and the
// response is stored for the TTL. Before 814d6bd..HEAD private always won.
func TestHTTPTargetedFieldsNeverUnlockPrivate(t *testing.T) {
	for _, sc := range []string{
		`content="ESI/1.0"`,
		`content="ESI/1.0";akamai`,
	} {
		t.Run(sc, func(t *testing.T) {
			h := perUser("Cache-Control", "private", "Surrogate-Control", sc)
			srv := newHTTPCache(t).Handler(h, corral.TTL(time.Hour))
			do(srv, "GET", "/me", "X-User", "alice")
			bob := do(srv, "GET", "/me", "X-User", "bob")
			if strings.Contains(bob.Body.String(), "alice") {
				t.Fatalf("bob got %q (%s): Cache-Control: private ignored", bob.Body, bob.Header().Get("Cache-Status"))
			}
		})
	}
}

// Finding 3 of the review: a revalidation's 304 that streams (the handler flushes) goes to the
// client, which asked for the page without any validator.
func TestHTTPRevalidation304NeverStreams(t *testing.T) {
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Cache-Control", "no-cache") // store, revalidate every reuse
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			w.(http.Flusher).Flush() // e.g. a middleware that flushes at the end
			return
		}
		fmt.Fprintf(w, "page (call %d)", n)
	}}
	srv := newHTTPCache(t).Handler(h, corral.TTL(time.Hour))
	do(srv, "GET", "/p")
	w := do(srv, "GET", "/p") // no If-None-Match: wants the page
	if w.Code != http.StatusOK || w.Body.Len() == 0 {
		t.Fatalf("plain GET got %d %q (%s): the revalidation's 304", w.Code, w.Body, w.Header().Get("Cache-Status"))
	}
}

// recStore is a map store that keeps every value written, to look for
// secrets at rest.
type recStore struct {
	mu     sync.Mutex
	m      map[string][]byte
	writes [][]byte
}

func (s *recStore) Get(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[k]; ok {
		return v, nil
	}
	return nil, corral.ErrNotFound
}
func (s *recStore) Set(_ context.Context, k string, v []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[k] = v
	s.writes = append(s.writes, append([]byte(k+"="), v...))
	return nil
}
func (s *recStore) Add(ctx context.Context, k string, v []byte, ttl time.Duration) (bool, error) {
	if _, err := s.Get(ctx, k); err == nil {
		return false, nil
	}
	return true, s.Set(ctx, k, v, ttl)
}
func (s *recStore) Delete(_ context.Context, ks ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range ks {
		delete(s.m, k)
	}
	return nil
}
func (s *recStore) contains(secret string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.writes {
		if strings.Contains(string(w), secret) {
			return true
		}
	}
	return false
}

// Finding 4 of the review: a response that varies on a credential header is stored as a variant
// whose selecting values (the whole Cookie or Authorization) are written to
// the store in clear; the docs promise credentials are only ever hashed.
func TestHTTPVaryCredentialsHashed(t *testing.T) {
	cases := []struct {
		name, vary, header, value, secret string
		opt                               corral.HTTPOption
	}{
		{"cookie", "Cookie", "Cookie", "lang=en; session=S3CRET-SESSION", "S3CRET-SESSION", corral.KeyCookies("lang")},
		{"authorization", "Authorization", "Authorization", "Bearer S3CRET-TOKEN", "S3CRET-TOKEN", corral.IgnoreCredentials()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &recStore{}
			h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
				w.Header().Set("Vary", tc.vary)
				w.Header().Set("Cache-Control", "max-age=60")
				fmt.Fprintf(w, "call %d", n)
			}}
			srv := corral.New(st).Handler(h, tc.opt)
			do(srv, "GET", "/v", tc.header, tc.value)
			if w := do(srv, "GET", "/v", tc.header, tc.value); !isHit(w) {
				t.Fatalf("not stored: %s", w.Header().Get("Cache-Status"))
			}
			if st.contains(tc.secret) {
				t.Fatalf("the store holds %q in clear", tc.secret)
			}
		})
	}
}

// Finding 5 of the review: with WithDefaultTTL(NoExpiration) and a route without TTL, a response
// that arrived with any age (an upstream Age, or a Date a second old, as
// httputil.ReverseProxy copies it) gets ttl = -1 - Age: "not-fresh", never
// stored. Before the change it was stored forever.
func TestHTTPForeverTTLWithAge(t *testing.T) {
	for _, fields := range [][]string{
		{"Age", "5"},
		{"Date", time.Now().Add(-3 * time.Second).UTC().Format(http.TimeFormat)},
	} {
		t.Run(fields[0], func(t *testing.T) {
			h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
				w.Header().Set(fields[0], fields[1])
				fmt.Fprintf(w, "call %d", n)
			}}
			srv := corral.New(newMemory(t), corral.WithDefaultTTL(corral.NoExpiration)).Handler(h)
			do(srv, "GET", "/a")
			if w := do(srv, "GET", "/a"); !isHit(w) {
				t.Fatalf("second request: %s, %d calls; want a hit (forever TTL)", w.Header().Get("Cache-Status"), h.calls.Load())
			}
		})
	}
}

// R5b: same root: revalidationKeep is defaultTTL (NoExpiration = -1) when
// the route has no TTL, so a no-cache response with an ETag is never kept
// to be revalidated: every request renders in full, none gets a 304 path.
func TestHTTPForeverTTLKeepsNoCache(t *testing.T) {
	var inm []string
	h := &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		inm = append(inm, r.Header.Get("If-None-Match"))
		w.Header().Set("ETag", `"e"`)
		w.Header().Set("Cache-Control", "no-cache")
		fmt.Fprintf(w, "call %d", n)
	}}
	srv := corral.New(newMemory(t), corral.WithDefaultTTL(corral.NoExpiration)).Handler(h)
	do(srv, "GET", "/n")
	do(srv, "GET", "/n")
	if len(inm) != 2 || inm[1] != `"e"` {
		t.Fatalf("second handler call had If-None-Match %q: the no-cache response was not kept to be revalidated", inm)
	}
}
