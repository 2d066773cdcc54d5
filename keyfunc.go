package corral

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
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
// the scheme (https when the request came over TLS, else http); r.Host; the
// escaped path; the query with its parameters sorted by name (the order of
// repeated parameters is kept, as handlers see it); the values of the VaryOn
// headers; and the named cookies. Values taken from credentials
// (Authorization, Proxy-Authorization, Cookie, the KeyCookies) are hashed
// (SHA-256), never held in clear. The route template is not in the key: two
// requests for one URL share their entry whatever route matched them. The
// cache's prefix, version and build id are added to every key.
//
// It reports ok=false for a request with an Authorization header, unless
// IgnoreCredentials is set or VaryOn names Authorization, and for one with a
// Cookie header, unless IgnoreCredentials or KeyCookies is set or VaryOn names
// Cookie.
//
// WARNING: the key holds nothing else of the request. A handler whose
// response depends on another input shares one response between requests
// that differ in it, and a client can poison the entry for everyone: for
// example X-Forwarded-Host, X-Forwarded-Proto or Forwarded (absolute links),
// Origin (CORS headers), Accept-Language or Accept-Encoding (content
// negotiation), an API key in a custom header, or the client's address. Add
// such inputs with VaryOn, or compose a [Key], or do not cache the route.
func DefaultKey(opts ...HTTPOption) KeyFunc {
	var cfg httpConfig
	for _, o := range opts {
		o.applyHTTP(&cfg)
	}
	return cfg.key.keyFunc()
}

func (k keyConfig) keyFunc() KeyFunc {
	return func(r *http.Request) (string, bool) {
		if k.refusal(r) != "" {
			return "", false
		}
		var b keyBuf
		k.writeURL(&b, r)
		k.writeVariant(&b, r)
		return b.String(), true
	}
}

// keyOf returns r's key and store key, or why r is not cached. With the
// default key function both are built in kb and are views of it (see
// keyBuf.view): valid until kb changes, cloned by whatever keeps them.
func (m *cachedHandler) keyOf(r *http.Request, kb *keyBuf) (key, sk, refusal string) {
	if m.cfg.keyFunc != nil {
		k, ok := m.cfg.keyFunc(r)
		if !ok {
			return "", "", "key"
		}
		return m.storeKey(k)
	}
	if refusal = m.cfg.key.refusal(r); refusal != "" {
		return "", "", refusal
	}
	kb.reset(m.c.ns.front)
	start := len(kb.b)
	m.defaultKey(kb, r)
	key = kb.view(start)
	if len(key) > MaxKeyLen || !kb.plain(start) { // hashed, as Cache.key does
		return m.storeKey(strings.Clone(key))
	}
	return key, kb.view(0), ""
}

// storeKey returns the store key of key, or "key" when it has none.
func (m *cachedHandler) storeKey(key string) (string, string, string) {
	sk, err := m.c.key(key)
	if err != nil {
		return key, "", "key"
	}
	return key, sk, ""
}

// defaultKey writes the default key of r: its URL, then, when the route has
// variants, the URL's generation (which a write moves on) and r's variant.
func (m *cachedHandler) defaultKey(kb *keyBuf, r *http.Request) {
	start := len(kb.b)
	m.cfg.key.writeURL(kb, r)
	if m.cfg.key.variants() {
		gen := m.c.generation(r.Context(), kb.view(start))
		kb.put("|g=")
		kb.put(gen)
		m.cfg.key.writeVariant(kb, r)
	}
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
	err = c.call(ctx, opAdd, sk, func(ctx context.Context) (err error) {
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

// refusal says why a request is not cached by the default key function
// ("authorization", "cookie"), or "".
func (k keyConfig) refusal(r *http.Request) string {
	if k.ignoreCredentials {
		return ""
	}
	if len(r.Header["Authorization"]) > 0 && !slices.Contains(k.vary, "Authorization") {
		return "authorization"
	}
	if len(r.Header["Cookie"]) > 0 && k.cookies == nil && !slices.Contains(k.vary, "Cookie") {
		return "cookie"
	}
	return ""
}

// variants reports whether one URL can have several entries: the key holds
// request header or cookie values.
func (k keyConfig) variants() bool { return len(k.vary) > 0 || len(k.cookies) > 0 }

// writeURL writes the parts of the key that name the resource: method (HEAD
// as GET), scheme, host, path and query, separated by '|', each escaped so
// that it holds no '|'.
func (k keyConfig) writeURL(b *keyBuf, r *http.Request) {
	b.grow(64 + len(r.Host) + len(r.URL.Path) + len(r.URL.RawQuery))
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	b.putPlain("h|")
	escapeTo(b, method, "")
	if r.TLS != nil {
		b.putPlain("|https|")
	} else {
		b.putPlain("|http|")
	}
	escapeTo(b, r.Host, "")
	b.putByte('|')
	writePath(b, r.URL)
	b.putByte('|')
	if !k.noQuery {
		k.writeQuery(b, r.URL.RawQuery)
	}
}

// writeVariant writes the VaryOn header values and the named cookies, with
// credentials hashed.
func (k keyConfig) writeVariant(b *keyBuf, r *http.Request) {
	if !k.variants() {
		return
	}
	b.putByte('|')
	for i, name := range k.vary {
		if i > 0 {
			b.putByte(';')
		}
		values, present := r.Header[name]
		if !present {
			b.putByte('-') // absent differs from present and empty
			continue
		}
		b.putByte('=')
		for j, v := range values {
			if j > 0 {
				b.putByte(',')
			}
			if credentialHeaders[name] {
				v = hashCredential(v)
			}
			escapeTo(b, v, ";,")
		}
	}
	if len(k.cookies) > 0 {
		b.putByte('|')
		for i, name := range k.cookies {
			if i > 0 {
				b.putByte(';')
			}
			for j, ck := range r.CookiesNamed(name) {
				if j > 0 {
					b.putByte(',')
				}
				b.putByte('=')
				b.put(hashCredential(ck.Value))
			}
		}
	}
}

// credentialHeaders are the request headers whose values are hashed in keys.
var credentialHeaders = map[string]bool{"Authorization": true, "Proxy-Authorization": true, "Cookie": true}

// hashCredential returns "#" and the SHA-256 of v in base64url: a credential
// is keyed, never stored or logged in clear.
func hashCredential(v string) string {
	sum := sha256.Sum256([]byte(v))
	return "#" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// writeQuery writes the raw query's parameters sorted by their decoded name,
// keeping the order of parameters with one name (handlers see that order),
// or only the allowed ones.
func (k keyConfig) writeQuery(b *keyBuf, raw string) {
	if raw == "" {
		return
	}
	if k.query == nil && writeSorted(b, raw) { // already in key order: no need to split
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
			b.putByte('&')
		}
		escapeTo(b, p.raw, "")
	}
}

// escapeTo writes s with '%', '|' and the bytes in extra percent-encoded,
// noting in b whether s holds a byte that makes the key need plainKey's scan.
func escapeTo(b *keyBuf, s, extra string) {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		t := keyBytes[c]
		if t&(keyEscape|keyScan) == 0 && extra == "" {
			continue
		}
		if t&keyScan != 0 {
			b.scan = true
		}
		if t&keyEscape == 0 && strings.IndexByte(extra, c) < 0 {
			continue
		}
		b.b = append(b.b, s[start:i]...)
		b.putEscaped(c)
		start = i + 1
	}
	b.b = append(b.b, s[start:]...)
}

// writeSorted writes a raw query as escapeTo would when its parameter names
// need no decoding and are already in order (the common case: then it is its
// own key part), and reports whether it did; else it writes nothing.
func writeSorted(b *keyBuf, raw string) bool {
	mark, scan := len(b.b), b.scan
	prev := ""              // the previous parameter's name
	start, nameEnd := 0, -1 // the pair being read starts at start; its name ends at nameEnd (-1: not yet)
	from := 0               // raw[from:] is not written yet
	for i := 0; i <= len(raw); i++ {
		if i < len(raw) {
			c := raw[i]
			t := keyBytes[c]
			if t&(keyEscape|keyScan|keyQuery) == 0 {
				continue
			}
			if nameEnd < 0 && (c == '%' || c == '+') { // a name to decode
				b.b, b.scan = b.b[:mark], scan
				return false
			}
			if nameEnd < 0 && c == '=' {
				nameEnd = i
			}
			if t&keyScan != 0 {
				b.scan = true
			}
			if t&keyEscape != 0 {
				b.b = append(b.b, raw[from:i]...)
				b.putEscaped(c)
				from = i + 1
			}
			if c != '&' {
				continue
			}
		}
		if nameEnd < 0 { // raw[start:i] is a pair without a value
			nameEnd = i
		}
		name := raw[start:nameEnd]
		if i == start || (start > 0 && name < prev) { // an empty pair, or out of order
			b.b, b.scan = b.b[:mark], scan
			return false
		}
		prev, start, nameEnd = name, i+1, -1
	}
	b.b = append(b.b, raw[from:]...)
	return true
}
