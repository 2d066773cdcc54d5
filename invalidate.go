package corral

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
)

// serveUnsafe passes a POST, PUT, PATCH or DELETE through and, when it
// succeeds (2xx or 3xx), drops every stored variant of its URL.
func (m *cachedHandler) serveUnsafe(w http.ResponseWriter, r *http.Request) {
	o := outcome{decision: decPassed, detail: r.Method}
	m.setCacheStatus(w.Header(), o)
	lr, l := withLayer(r)
	sw := &statusWriter{ResponseWriter: w}
	m.next.ServeHTTP(sw, lr)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	if sw.status >= 200 && sw.status < 400 {
		m.invalidate(context.WithoutCancel(r.Context()), r) // a failure leaves the entries to their TTL
	}
	if !l.claimed.Load() {
		m.finish(r, o, "")
	}
}

// invalidate drops what is stored for r's URL: with the default key, every
// variant (the URL's generation moves on when it has variants); with a
// custom key, the key of r as a GET.
func (m *cachedHandler) invalidate(ctx context.Context, r *http.Request) {
	get := r.WithContext(ctx)
	get.Method = http.MethodGet
	if m.cfg.keyFunc != nil {
		if key, ok := m.cfg.keyFunc(get); ok {
			_ = m.c.Delete(ctx, key)
		}
		return
	}
	var b strings.Builder
	m.cfg.key.writeURL(&b, get)
	if m.cfg.key.variants() {
		m.c.newGeneration(ctx, b.String())
		return
	}
	_ = m.c.Delete(ctx, b.String())
}

// generationTTL is how long a URL's generation lives. When it is gone the
// next request makes a new one, which only costs a miss.
const generationTTL = 24 * time.Hour

// generation returns the current generation of a URL whose responses have
// variants: a random token in the key of every variant, which a write
// replaces so that all of them are dropped at once. When the store cannot
// say, it returns a new token: a miss, never an old variant.
func (c *Cache) generation(ctx context.Context, urlKey string) string {
	sk, err := c.key("g" + urlKey)
	if err != nil {
		return rand.Text()
	}
	data, err := c.get(ctx, sk)
	switch {
	case err == nil:
		return string(data)
	case !errors.Is(err, ErrNotFound):
		return rand.Text()
	}
	gen := rand.Text()
	var added bool
	err = c.call(ctx, opAdd, func(ctx context.Context) (err error) {
		added, err = c.store.Add(ctx, sk, []byte(gen), generationTTL)
		return err
	})
	if err == nil && !added { // another request made it first
		if data, err := c.get(ctx, sk); err == nil {
			return string(data)
		}
	}
	return gen
}

// newGeneration replaces a URL's generation, dropping all its variants.
func (c *Cache) newGeneration(ctx context.Context, urlKey string) {
	sk, err := c.key("g" + urlKey)
	if err != nil {
		return
	}
	gen := []byte(rand.Text())
	err = c.call(ctx, opSet, func(ctx context.Context) error { return c.store.Set(ctx, sk, gen, generationTTL) })
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
