package corral

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// serveUnsafe passes an unsafe request through and, when it succeeds (2xx
// or 3xx), drops every stored variant of its URL, and of the URLs its
// response's Location and Content-Location name on the same host.
func (m *cachedHandler) serveUnsafe(w http.ResponseWriter, r *http.Request) {
	o := outcome{decision: decPassed, detail: r.Method}
	m.setCacheStatus(w.Header(), o, nil)
	lr, l := withLayer(r)
	sw := &statusWriter{ResponseWriter: w}
	m.next.ServeHTTP(sw, lr)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	if sw.status >= 200 && sw.status < 400 { // a failure leaves the entries to their TTL
		ctx := context.WithoutCancel(r.Context())
		m.invalidate(ctx, r)
		for _, related := range relatedURLs(r, w.Header()) {
			m.invalidate(ctx, related)
		}
	}
	if !l.claimed.Load() {
		m.finish(r, o, "")
	}
}

// invalidate drops what is stored for r's URL, as InvalidateURL does.
func (m *cachedHandler) invalidate(ctx context.Context, r *http.Request) {
	_ = m.c.invalidateURL(ctx, r)
}

// InvalidateURL drops every stored response of a URL, on every instance
// sharing the store: GET and HEAD alike, every [VaryOn] and [KeyCookies]
// value, and every variant of a response's Vary.
//
// With a host ("https://shop.example/items?page=2"), it drops that URL on
// that host, by deleting its keys, at no cost to hits; it is what a
// successful POST, PUT, PATCH or DELETE through the middleware does to its
// own URL. The URL is taken in every form the cache's routes key it: with
// the query options of each route made by [Cache.Middleware] or
// [Cache.Handler] in this process ([QueryKeys], [NoQuery]), with its whole
// query, and without it; for a route with a custom [Key], the key that
// function gives a GET of the URL (a custom key holding more than the URL
// is reached by tags instead: see [Tags]). A URL without a scheme is taken
// with both.
//
// Without a host ("/items"), it drops that path on every host, whatever the
// query, through a tag every stored response carries for its path (one
// token per path, however many queries clients make up).
//
// It returns an error wrapping [ErrUnavailable] when the store could not be
// written, and one wrapping [ErrInvalidKey] for a URL that does not parse.
func (c *Cache) InvalidateURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Host == "" && !strings.HasPrefix(u.Path, "/")) {
		if err == nil {
			err = errors.New("want an absolute URL or a path starting with /")
		}
		return failure("invalidate", rawURL, ErrInvalidKey, err)
	}
	r := &http.Request{Method: http.MethodGet, Host: u.Host, Header: http.Header{},
		URL: &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}}
	r = r.WithContext(ctx)
	if u.Scheme == "https" {
		r.TLS = &tls.ConnectionState{}
	}
	if u.Host == "" {
		return c.InvalidateTags(ctx, pathTag(r))
	}
	if u.Scheme == "" {
		r2 := r.Clone(ctx) // both schemes
		r2.TLS = &tls.ConnectionState{}
		return errors.Join(c.invalidateURL(ctx, r), c.invalidateURL(ctx, r2))
	}
	return c.invalidateURL(ctx, r)
}

// invalidateURL drops what is stored for r's URL on r's host. The GET
// routes of the URL may be configured otherwise than the one r came
// through, so with the default key it drops the URL's entry and moves its
// generation on (every variant of a route with VaryOn or KeyCookies) for
// every form of the URL that a route of the cache keys; with a custom key,
// it drops the key of r as a GET.
func (c *Cache) invalidateURL(ctx context.Context, r *http.Request) error {
	get := r.WithContext(ctx)
	get.Method = http.MethodGet
	var keys []string
	for _, kf := range c.urls.keyFuncs() {
		if key, ok := kf(get); ok && !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	var urls []string
	for _, k := range c.urls.forms() {
		var b keyBuf
		k.writeURL(&b, get)
		if u := b.String(); !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	err := c.Delete(ctx, append(keys, urls...)...)
	for _, u := range urls {
		err = errors.Join(err, c.newGeneration(ctx, u))
	}
	return err
}

// pathTag is the tag of the responses stored for r's path, whatever their
// host and query: one token per path, however many queries a client makes
// up.
func pathTag(r *http.Request) string {
	var b keyBuf
	b.putPlain("path:")
	writePath(&b, r.URL)
	return b.String()
}

// urlRegistry holds the forms in which the cache's routes key a URL, for
// invalidation: their query options, and their custom key functions.
type urlRegistry struct {
	mu    sync.Mutex
	qs    []keyConfig // query options only, each once
	funcs []KeyFunc
}

// register notes the key of a route.
func (u *urlRegistry) register(cfg *httpConfig) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if cfg.keyFunc != nil {
		u.funcs = append(u.funcs, cfg.keyFunc)
		return
	}
	q := keyConfig{query: cfg.key.query, noQuery: cfg.key.noQuery}
	if !slices.ContainsFunc(u.qs, func(k keyConfig) bool { return k.noQuery == q.noQuery && slices.Equal(k.query, q.query) }) {
		u.qs = append(u.qs, q)
	}
}

// forms returns the query options to invalidate a URL with: the whole
// query, none, and every route's.
func (u *urlRegistry) forms() []keyConfig {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]keyConfig{{}, {noQuery: true}}, u.qs...)
}

func (u *urlRegistry) keyFuncs() []KeyFunc {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.funcs)
}

// relatedURLs returns requests for the URLs that a response to r names in
// Location and Content-Location, when they are on r's host (RFC 9111 4.4:
// another host's entries are not r's to drop).
func relatedURLs(r *http.Request, h http.Header) []*http.Request {
	base := &url.URL{Scheme: schemeOf(r), Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	var out []*http.Request
	for _, field := range []string{"Location", "Content-Location"} {
		vs := h[field]
		if len(vs) == 0 {
			continue
		}
		ref, err := url.Parse(strings.TrimSpace(vs[0]))
		if err != nil {
			continue
		}
		u := base.ResolveReference(ref)
		if !strings.EqualFold(u.Host, r.Host) || u.Scheme != base.Scheme {
			continue
		}
		related := r.Clone(r.Context())
		related.URL = &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
		out = append(out, related)
	}
	return out
}

// newGeneration replaces a URL's generation, dropping all its variants.
func (c *Cache) newGeneration(ctx context.Context, urlKey string) error {
	sk, err := c.key("g" + urlKey)
	if err != nil {
		return err
	}
	gen := []byte(rand.Text())
	err = c.call(ctx, opSet, sk, func(ctx context.Context) error { return c.store.Set(ctx, sk, gen, generationTTL) })
	if err != nil {
		return c.failed(opSet, "g"+urlKey, err)
	}
	return nil
}

// statusWriter notes the status a handler sends, and passes everything on
// but the Surrogate-Key field, which is the caches' (see Tags).
type statusWriter struct {
	http.ResponseWriter
	status int
}

var (
	_ http.Flusher  = (*statusWriter)(nil)
	_ http.Hijacker = (*statusWriter)(nil)
)

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	delete(s.Header(), surrogateKey)
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) Flush() { _ = http.NewResponseController(s.ResponseWriter).Flush() }

func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// schemeOf is the scheme r came over, as the key holds it.
func schemeOf(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
