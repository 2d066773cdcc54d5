package corral

import (
	"context"
	"crypto/rand"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A response whose Vary names request headers that its key does not hold
// (not in VaryOn) is one variant of its URL (RFC 9111 4.1): the request's
// values of those headers select it. The URL's own key then holds the
// variants' record (the names, and a nonce), and each variant is stored
// under the URL's key plus the nonce and one of maxVariants slots, picked by
// a hash of its values, with those values: a request whose values differ
// from the stored ones is a miss, never another's variant. A new record
// (after an invalidation dropped the old one) has a new nonce, so old
// variants are never reached again.

// variants is the record of a URL whose responses are variants.
type variants struct {
	names []string // canonical, sorted
	nonce string
}

const (
	// maxVariants bounds the variants stored per URL.
	maxVariants = 16
	// variantsTTL is how long a URL's variants record lives; when it is
	// gone the next response makes a new one, which costs misses only.
	variantsTTL = 24 * time.Hour
)

// selectingValues returns r's values of the named headers, each as one
// string, in order; those of credentials (a response with Vary: Cookie)
// hashed, as in keys: they are stored with the variant.
func selectingValues(r *http.Request, names []string) []string {
	out := make([]string, len(names))
	for i, name := range names {
		out[i] = strings.Join(r.Header[name], ", ")
		if credentialHeaders[name] {
			out[i] = hashCredential(out[i])
		}
	}
	return out
}

// variantKey is the key of the variant that values select, among vs.
func variantKey(key string, vs *variants, values []string) string {
	h := uint64(14695981039346656037) // FNV-1a: the same slot on every instance
	for _, v := range values {
		for i := 0; i <= len(v); i++ {
			b := byte(0) // each value ends with a zero byte
			if i < len(v) {
				b = v[i]
			}
			h = (h ^ uint64(b)) * 1099511628211
		}
	}
	return key + "|v=" + vs.nonce + "/" + strconv.FormatUint(h%maxVariants, 10)
}

// learned stores, at a URL's own key, a response that varies on headers
// its key does not hold as the first of the URL's variants, and marks rec
// so that the URL's key holds the variants' record. Other responses are
// returned as they are.
func (c *computation) learned(ctx context.Context, rec *recorded) *recorded {
	if !c.learn || len(rec.vary) == 0 || rec.private != "" || rec.resp == nil {
		return rec
	}
	m := c.m
	vd := m.storable(rec, m.cfg.ttl)
	if !vd.store {
		return rec
	}
	if ts, _ := ctx.Value(tagSetKey{}).(*tagSet); ts != nil {
		var why string
		if vd.tags, why = ts.stamp(ctx); why != "" {
			return rec // not stored: neither is the record
		}
	}
	vs := &variants{names: rec.vary, nonce: rand.Text()}
	values := selectingValues(c.r, vs.names)
	vsk, err := m.c.key(variantKey(c.key, vs, values))
	if err != nil {
		return rec
	}
	variant := *rec
	variant.vary, variant.selecting = nil, values
	j := job[*recorded]{c: m.c, sk: vsk, key: c.key, codec: responseCodec{}, cfg: &m.cfg.memo}
	p := m.c.writes.begin(vsk)
	stored, _ := j.store(context.WithoutCancel(ctx), p, &variant, vd)
	m.c.writes.end(vsk, p)
	if stored {
		rec.variants = vs
	}
	return rec
}

// serveVariant serves r from its URL's variants: the stored variant its
// values select, or the one computation of it.
func (m *cachedHandler) serveVariant(w http.ResponseWriter, r *http.Request, key string, vs *variants) {
	values := selectingValues(r, vs.names)
	vsk, err := m.c.key(variantKey(key, vs, values))
	if err != nil {
		m.pass(w, r, outcome{decision: decBypassed, detail: "key"}, key)
		return
	}
	now := time.Now()
	if v, writtenAt, ok := sharedHit[*recorded](m.c, vsk, responseCodec{}, now); ok && slices.Equal(v.selecting, values) {
		m.serveStored(w, r, key, v.resp, outcome{decision: decHit}, now.Sub(writtenAt))
		return
	}
	m.serveThrough(w, r, key, vsk, through{sel: &selection{vs: vs, values: values}})
}

// selection is the variant a request selects.
type selection struct {
	vs     *variants
	values []string
}

// accepts reports whether a stored response is the selected variant.
func (s *selection) accepts(v *recorded) bool {
	return v.variants == nil && slices.Equal(v.selecting, s.values)
}

// flight is the flight of the selected variant: slots are shared, values
// are not.
func (s *selection) flight(vsk string, depth int) string {
	return layerFlight(vsk, depth) + "\x00v" + strings.Join(s.values, "\x00")
}
