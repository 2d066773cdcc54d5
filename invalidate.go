package corral

import (
	"bufio"
	"context"
	"crypto/rand"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
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

// invalidate drops what is stored for r's URL. The GET routes of the URL
// may be configured otherwise than this one, so with the default key it
// drops the URL's entry and moves its generation on (every variant of a
// route with VaryOn or KeyCookies) for three forms of the URL: with this
// route's query options, with the whole query, and without it (NoQuery).
// With a custom key, it drops the key of r as a GET.
func (m *cachedHandler) invalidate(ctx context.Context, r *http.Request) {
	get := r.WithContext(ctx)
	get.Method = http.MethodGet
	if m.cfg.keyFunc != nil {
		if key, ok := m.cfg.keyFunc(get); ok {
			_ = m.c.Delete(ctx, key)
		}
		return
	}
	forms := []keyConfig{m.cfg.key, {}, {noQuery: true}}
	var urls []string
	for _, k := range forms {
		var b keyBuf
		k.writeURL(&b, get)
		if u := b.String(); !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	_ = m.c.Delete(ctx, urls...)
	for _, u := range urls {
		m.c.newGeneration(ctx, u)
	}
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
func (c *Cache) newGeneration(ctx context.Context, urlKey string) {
	sk, err := c.key("g" + urlKey)
	if err != nil {
		return
	}
	gen := []byte(rand.Text())
	err = c.call(ctx, opSet, sk, func(ctx context.Context) error { return c.store.Set(ctx, sk, gen, generationTTL) })
	if err != nil {
		_ = c.failed(opSet, "g"+urlKey, err)
	}
}

// statusWriter notes the status a handler sends, and passes everything on.
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
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
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
