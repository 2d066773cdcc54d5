package corral

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/mux"
)

// KeyFunc makes the cache key of a request. Requests with one key share one
// cached response. ok=false means the request is not cached.
type KeyFunc func(r *http.Request) (key string, ok bool)

// DefaultKey returns the key function the middleware uses when no [Key] is
// given, configured by the key options among opts ([VaryOn], [QueryKeys],
// [NoQuery], [KeyCookies], [IgnoreCredentials]); extend it to compose a key:
//
//	def := corral.DefaultKey(corral.VaryOn("Accept-Language"))
//	byTenant := func(r *http.Request) (string, bool) {
//		k, ok := def(r)
//		return k + "|tenant=" + url.QueryEscape(tenantOf(r)), ok
//	}
//	mw := c.Middleware(corral.Key(byTenant))
//
// The key holds, each part escaped so that no two different requests share a
// key: the method (HEAD as GET, since HEAD is answered from the GET entry);
// r.Host; the route template when gorilla/mux matched the request, or the
// ServeMux pattern (r.Pattern); the escaped path, always, since a template
// such as a path prefix matches many paths; the query with its parameters
// sorted by name (the order of repeated parameters is kept, as handlers see
// it); the values of the VaryOn headers; and the named cookies. The cache's
// prefix, version and build id are added to every key.
//
// It reports ok=false for a request with an Authorization header, unless
// IgnoreCredentials is set or VaryOn names Authorization, and for one with a
// Cookie header, unless IgnoreCredentials or KeyCookies is set or VaryOn names
// Cookie.
func DefaultKey(opts ...HTTPOption) KeyFunc {
	var cfg httpConfig
	for _, o := range opts {
		o.applyHTTP(&cfg)
	}
	return cfg.key.keyFunc()
}

func (k keyConfig) keyFunc() KeyFunc {
	authInKey := slices.Contains(k.vary, "Authorization")
	cookieInKey := slices.Contains(k.vary, "Cookie")
	return func(r *http.Request) (string, bool) {
		if !k.ignoreCredentials {
			if !authInKey && len(r.Header["Authorization"]) > 0 {
				return "", false
			}
			if !cookieInKey && k.cookies == nil && len(r.Header["Cookie"]) > 0 {
				return "", false
			}
		}
		return k.build(r), true
	}
}

// build writes the key's parts separated by '|', each escaped so that it
// holds no '|' (nor the separators used inside it).
func (k keyConfig) build(r *http.Request) string {
	var b strings.Builder
	b.Grow(64 + len(r.Host) + len(r.URL.Path) + len(r.URL.RawQuery))
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	b.WriteString("h|")
	escapeTo(&b, method, "")
	b.WriteByte('|')
	escapeTo(&b, r.Host, "")
	b.WriteByte('|')
	escapeTo(&b, routeOf(r), "")
	b.WriteByte('|')
	escapeTo(&b, r.URL.EscapedPath(), "")
	b.WriteByte('|')
	if !k.noQuery {
		k.writeQuery(&b, r.URL.RawQuery)
	}
	b.WriteByte('|')
	for i, name := range k.vary {
		if i > 0 {
			b.WriteByte(';')
		}
		values, present := r.Header[name]
		if !present {
			b.WriteByte('-') // absent differs from present and empty
			continue
		}
		b.WriteByte('=')
		for j, v := range values {
			if j > 0 {
				b.WriteByte(',')
			}
			escapeTo(&b, v, ";,")
		}
	}
	if len(k.cookies) > 0 {
		b.WriteByte('|')
		for i, name := range k.cookies {
			if i > 0 {
				b.WriteByte(';')
			}
			first := true
			for _, ck := range r.CookiesNamed(name) {
				if !first {
					b.WriteByte(',')
				}
				first = false
				b.WriteByte('=')
				escapeTo(&b, ck.Value, ";,=")
			}
		}
	}
	return b.String()
}

// routeOf returns the route template gorilla/mux matched, or the ServeMux
// pattern, or "".
func routeOf(r *http.Request) string {
	if route := mux.CurrentRoute(r); route != nil {
		if t, err := route.GetPathTemplate(); err == nil {
			return t
		}
	}
	return r.Pattern
}

// writeQuery writes the raw query's parameters sorted by their decoded name,
// keeping the order of parameters with one name (handlers see that order),
// or only the allowed ones.
func (k keyConfig) writeQuery(b *strings.Builder, raw string) {
	if raw == "" {
		return
	}
	if k.query == nil && plainSorted(raw) {
		escapeTo(b, raw, "") // already in key order: no need to split
		return
	}
	type param struct{ name, raw string }
	var params []param
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		name, _, _ := strings.Cut(pair, "=")
		if dec, err := url.QueryUnescape(name); err == nil {
			name = dec
		}
		if k.query != nil && !slices.Contains(k.query, name) {
			continue
		}
		params = append(params, param{name, pair})
	}
	slices.SortStableFunc(params, func(a, b param) int { return strings.Compare(a.name, b.name) })
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		escapeTo(b, p.raw, "")
	}
}

// escapeTo writes s with '%', '|' and the bytes in extra percent-encoded.
func escapeTo(b *strings.Builder, s, extra string) {
	const hex = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' && c != '|' && (extra == "" || strings.IndexByte(extra, c) < 0) {
			continue
		}
		b.WriteString(s[start:i])
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
		start = i + 1
	}
	b.WriteString(s[start:])
}

// plainSorted reports whether a raw query's parameter names need no decoding
// and are already in order (the common case), so that it is its own key part.
func plainSorted(raw string) bool {
	prevStart, prevEnd := 0, 0 // the previous name is raw[prevStart:prevEnd]
	start := 0
	inName := true
	nameEnd := -1
	for i := 0; i <= len(raw); i++ {
		if i == len(raw) || raw[i] == '&' {
			if nameEnd < 0 {
				nameEnd = i
			}
			if i == start || (start > 0 && raw[start:nameEnd] < raw[prevStart:prevEnd]) {
				return false // an empty pair, or out of order
			}
			prevStart, prevEnd = start, nameEnd
			start, inName, nameEnd = i+1, true, -1
			continue
		}
		switch c := raw[i]; {
		case inName && c == '=':
			inName, nameEnd = false, i
		case inName && (c == '%' || c == '+'):
			return false
		}
	}
	return true
}
