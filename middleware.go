package corral

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Cache-Status values (RFC 9211) the middleware sets.
const (
	cacheStatusHit       = "corral; hit"
	cacheStatusStale     = "corral; fwd=stale"
	cacheStatusStored    = "corral; fwd=miss; stored"
	cacheStatusMiss      = "corral; fwd=miss"
	cacheStatusCollapsed = "corral; fwd=miss; collapsed"
	cacheStatusMethod    = "corral; fwd=method"
	cacheStatusBypass    = "corral; fwd=bypass"
)

// Middleware returns net/http middleware that caches the responses of the
// handler it wraps, as Django's cache_page does; it is a gorilla/mux
// MiddlewareFunc (r.Use(c.Middleware())). See [Cache.Handler] for the rules.
func (c *Cache) Middleware(opts ...HTTPOption) func(http.Handler) http.Handler {
	cfg := newHTTPConfig(c, opts)
	return func(next http.Handler) http.Handler {
		return &cachedHandler{c: c, next: next, cfg: cfg}
	}
}

// Handler returns h with its responses cached:
//
//	http.Handle("GET /items/{id}", c.Handler(items, corral.TTL(time.Minute)))
//
// What is cached: GET and HEAD requests (HEAD is answered from the GET
// entry, without a body) that carry no body, and for which the key function
// gives a key (by default not those with Authorization or cookies: see
// [DefaultKey], [KeyCookies], [IgnoreCredentials]). A response is stored when
// its status is cacheable ([CacheStatuses], 200 by default), its body is at
// most [MaxBodySize] and was not flushed, the connection was not hijacked,
// it has no Set-Cookie, its Cache-Control has no private, no-store or
// no-cache, its Vary names only headers in the key ([VaryOn]), and it
// declares no trailers. Hop-by-hop headers are not stored.
//
// Concurrent misses for one key run the handler once; the other requests get
// its response when it carries nothing private (no Set-Cookie, private,
// no-store or unkeyed Vary), and run the handler themselves otherwise. The
// handler runs with a context detached from the first request's cancellation,
// bounded by [ComputeTimeout], so a client that goes away does not fail the
// others. A handler that panics re-panics in the request it ran for (net/http
// recovers it); the requests waiting for it get a 500.
//
// A replayed response has the original status, header and body, plus Age,
// Content-Length when it had none, and a Cache-Status header (RFC 9211):
// "corral; hit", "corral; fwd=miss; stored", "corral; fwd=stale",
// "corral; fwd=miss; collapsed", "corral; fwd=bypass; detail=...". A request
// whose If-None-Match matches the response's ETag gets 304 Not Modified.
//
// A successful POST, PUT, PATCH or DELETE drops the stored GET response of
// its URL (the entry its own VaryOn header values select), as RFC 9111
// section 4.4 asks. A store that fails or hangs costs at most one store
// timeout per request: the handler answers.
func (c *Cache) Handler(h http.Handler, opts ...HTTPOption) http.Handler {
	return c.Middleware(opts...)(h)
}

type cachedHandler struct {
	c    *Cache
	next http.Handler
	cfg  *httpConfig
}

func (m *cachedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		m.record(w, r, decPassed, r.Method, "")
		m.serveUnsafe(w, r)
		return
	default:
		m.record(w, r, decPassed, r.Method, "")
		w.Header().Set("Cache-Status", cacheStatusMethod)
		m.next.ServeHTTP(w, r)
		return
	}
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		m.bypass(w, r, "request-body", "")
		return
	}
	key, ok := m.cfg.keyFunc(r)
	if !ok {
		m.bypass(w, r, refusal(r), "")
		return
	}
	sk, err := m.c.key(key)
	if err != nil {
		m.bypass(w, r, "key", key)
		return
	}

	if resp, got, ok := sharedHit[*response](m.c, sk, responseCodec{}, true); ok {
		m.c.stats.hits.Add(1)
		m.record(w, r, decHit, "", key)
		m.replay(w, r, resp, got, got.at)
		return
	}

	target := &passTarget{w: w}
	defer target.detach() // the handler may still run for others: it must not write to w after we return
	run := func(ctx context.Context) (*response, error) { return m.run(ctx, r, target) }
	resp, got, err := load(r.Context(), m.c, sk, key, m.cfg.ttl, run, &m.cfg.memo)

	var b *bypassed
	var se *serverError
	switch {
	case err == nil:
		m.recordReplay(w, r, resp, got, key)
	case errors.As(err, &se):
		m.recordReplay(w, r, se.resp, got, key)
	case errors.As(err, &b) && got.how == howComputed:
		m.record(w, r, decNotStored, b.detail, key)
		if !b.streamed { // ours, not shareable: replay it to our client only
			m.replay(w, r, b.resp, got, time.Now())
		}
	case errors.As(err, &b):
		m.bypass(w, r, b.detail, key) // another request's private response: compute our own
	case errors.Is(err, ErrPanicked):
		m.record(w, r, decError, "panic", key)
		w.Header().Set("Cache-Status", cacheStatusMiss+"; detail=panic")
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	case r.Context().Err() != nil:
		m.record(w, r, decError, "client-gone", key) // the handler goes on for the others
	default:
		m.bypass(w, r, "error", key)
	}
}

// recordReplay counts how a shared or stored response was got, then replays
// it.
func (m *cachedHandler) recordReplay(w http.ResponseWriter, r *http.Request, resp *response, got loaded, key string) {
	d, detail := decStored, ""
	switch {
	case got.how == howHit:
		d = decHit
	case got.how == howStale:
		d = decStale
	case got.how == howCoalesced:
		d = decCollapsed
	case !resp.stored:
		d, detail = decNotStored, resp.detail
	}
	m.record(w, r, d, detail, key)
	m.replay(w, r, resp, got, time.Now())
}

// run runs the handler for a computation and returns its response: a
// *response to share (stored when ttlFor agrees), or a *bypassed error for
// one that only its own client may see.
func (m *cachedHandler) run(ctx context.Context, r *http.Request, target *passTarget) (*response, error) {
	rec := newRecorder(target, m.cfg.maxBody)
	m.next.ServeHTTP(rec, r.WithContext(ctx))
	if rec.passing {
		return nil, &bypassed{detail: rec.detail, streamed: true}
	}
	status := rec.status
	if !rec.wroteHeader {
		status = http.StatusOK
	}
	resp := &response{status: status, header: rec.header, body: rec.body}
	if reason := privateReason(rec.header, m.cfg.key.vary); reason != "" {
		resp.detail = reason
		return nil, &bypassed{resp: resp, detail: reason}
	}
	resp.header = endToEnd(rec.header)
	if resp.status >= 500 {
		resp.detail = "status"
		return nil, &serverError{resp} // an error for StaleIfError; shared otherwise
	}
	if m.cfg.etag && resp.header.Get("Etag") == "" {
		sum := sha256.Sum256(resp.body)
		resp.header.Set("Etag", `"`+base64.RawURLEncoding.EncodeToString(sum[:18])+`"`)
	}
	return resp, nil
}

// ttlFor decides whether a shared response is stored, and for how long.
func (cfg *httpConfig) ttlFor(v any, ttl time.Duration) (time.Duration, bool) {
	resp := v.(*response)
	if !slices.Contains(cfg.statuses, resp.status) {
		resp.detail = "status"
		return 0, false
	}
	cc := cacheControl(resp.header)
	if cc.has("no-cache") {
		resp.detail = "no-cache"
		return 0, false
	}
	if cfg.ttlFromResponse {
		if secs, ok := cc.seconds("s-maxage"); ok {
			ttl = time.Duration(secs) * time.Second
		} else if secs, ok := cc.seconds("max-age"); ok {
			ttl = time.Duration(secs) * time.Second
		}
		if ttl <= 0 && ttl != NoExpiration {
			resp.detail = "max-age"
			return 0, false
		}
	}
	return ttl, true
}

// markStored is how compute tells a response whether it was stored.
func (resp *response) markStored(stored bool) {
	if !stored && resp.detail == "" {
		resp.detail = "not-stored"
	}
	resp.stored = stored
}

// bypassed is a response that is not shared with other requests.
type bypassed struct {
	resp     *response // nil when streamed: its client already has it
	detail   string
	streamed bool
}

func (b *bypassed) Error() string { return "corral: response not shareable: " + b.detail }

// serverError is a shareable 5xx response: not stored, and a failure for
// StaleIfError, which serves the last good response instead.
type serverError struct{ resp *response }

func (e *serverError) Error() string {
	return "corral: handler answered " + strconv.Itoa(e.resp.status)
}

// replay writes a shared or stored response to w.
func (m *cachedHandler) replay(w http.ResponseWriter, r *http.Request, resp *response, got loaded, now time.Time) {
	status := cacheStatusHit
	switch got.how {
	case howStale:
		status = cacheStatusStale
	case howCoalesced:
		status = cacheStatusCollapsed
	case howComputed:
		status = cacheStatusStored
		if !resp.stored {
			status = cacheStatusMiss + "; detail=" + resp.detail
		}
	}
	h := w.Header()
	extra := [3]string{status}
	n := 1
	if got.how == howHit || got.how == howStale {
		extra[n] = strconv.FormatInt(max(int64(now.Sub(got.writtenAt)/time.Second), 0), 10)
		n++
	}
	_, hasLength := resp.header["Content-Length"]
	if !hasLength {
		extra[n] = strconv.Itoa(len(resp.body))
		n++
	}
	fields := resp.fields
	if fields == nil { // a response just recorded, replayed once per request
		fields = headerFields(resp.header)
	}
	all := copyHeader(h, fields, extra[:n])
	h["Cache-Status"] = all[0:1:1]
	i := 1
	if got.how == howHit || got.how == howStale {
		h["Age"] = all[i : i+1 : i+1]
		i++
	}
	if inm, ok := r.Header["If-None-Match"]; ok && notModified(inm, resp.header["Etag"]) {
		for _, k := range []string{"Content-Length", "Content-Type", "Content-Encoding", "Content-Range"} {
			delete(h, k)
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if !hasLength {
		h["Content-Length"] = all[i : i+1 : i+1]
	}
	w.WriteHeader(resp.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(resp.body)
	}
}

// copyHeader copies src into dst with one allocation for all the values,
// extra ones included (they come first in the returned block); every slice is
// capped so that a later Add in dst cannot write into a neighbour.
func copyHeader(dst http.Header, src []field, extra []string) []string {
	n := len(extra)
	for _, f := range src {
		n += len(f.values)
	}
	all := make([]string, len(extra), n)
	copy(all, extra)
	for _, f := range src {
		start := len(all)
		all = append(all, f.values...)
		dst[f.name] = all[start:len(all):len(all)]
	}
	return all
}

func (m *cachedHandler) bypass(w http.ResponseWriter, r *http.Request, detail, key string) {
	m.record(w, r, decBypassed, detail, key)
	w.Header().Set("Cache-Status", cacheStatusBypass+"; detail="+detail)
	m.next.ServeHTTP(w, r)
}

// refusal says why the key function refused a request, for Cache-Status.
func refusal(r *http.Request) string {
	switch {
	case len(r.Header["Authorization"]) > 0:
		return "authorization"
	case len(r.Header["Cookie"]) > 0:
		return "cookie"
	}
	return "key"
}

// serveUnsafe passes a POST, PUT, PATCH or DELETE through and, when it
// succeeds (2xx or 3xx), drops the stored GET of the same URL.
func (m *cachedHandler) serveUnsafe(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Status", cacheStatusMethod)
	sw := &statusWriter{ResponseWriter: w}
	m.next.ServeHTTP(sw, r)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	if sw.status < 200 || sw.status >= 400 {
		return
	}
	get := r.WithContext(r.Context())
	get.Method = http.MethodGet
	if key, ok := m.cfg.keyFunc(get); ok {
		_ = m.c.Delete(context.WithoutCancel(r.Context()), key) // a failure leaves the entry to its TTL
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

// privateReason says why a response may only go to its own client, or "".
func privateReason(h http.Header, keyed []string) string {
	if _, ok := h["Set-Cookie"]; ok {
		return "set-cookie"
	}
	cc := cacheControl(h)
	switch {
	case cc.has("private"):
		return "private"
	case cc.has("no-store"):
		return "no-store"
	}
	for _, v := range h.Values("Vary") {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if name == "*" || !slices.Contains(keyed, http.CanonicalHeaderKey(name)) {
				return "vary"
			}
		}
	}
	if _, ok := h["Trailer"]; ok {
		return "trailers"
	}
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return "trailers"
		}
	}
	return ""
}

// hopByHop are the headers that concern one connection, never stored.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// endToEnd returns a copy of h without hop-by-hop headers, nor those that
// Connection names.
func endToEnd(h http.Header) http.Header {
	out := h.Clone()
	for _, v := range h.Values("Connection") {
		for name := range strings.SplitSeq(v, ",") {
			delete(out, http.CanonicalHeaderKey(strings.TrimSpace(name)))
		}
	}
	for _, k := range hopByHop {
		delete(out, k)
	}
	return out
}

// cacheControl is a Cache-Control header's directives, lower-cased.
type cacheControl http.Header

func (cc cacheControl) directives() []string {
	var out []string
	for _, v := range http.Header(cc).Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			if d = strings.TrimSpace(d); d != "" {
				out = append(out, strings.ToLower(d))
			}
		}
	}
	return out
}

func (cc cacheControl) has(name string) bool {
	for _, d := range cc.directives() {
		if d == name || strings.HasPrefix(d, name+"=") {
			return true
		}
	}
	return false
}

func (cc cacheControl) seconds(name string) (int64, bool) {
	for _, d := range cc.directives() {
		if v, ok := strings.CutPrefix(d, name+"="); ok {
			n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
			return max(n, 0), err == nil
		}
	}
	return 0, false
}

// notModified reports whether an If-None-Match header matches the response's
// ETag (weak comparison, RFC 9110 section 13.1.2).
func notModified(ifNoneMatch, etags []string) bool {
	if len(ifNoneMatch) == 0 || len(etags) == 0 || etags[0] == "" {
		return false
	}
	etag := strings.TrimPrefix(etags[0], "W/")
	for _, inm := range ifNoneMatch {
		for tag := range strings.SplitSeq(inm, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}
