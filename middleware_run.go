package corral

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/corralhq/corral/internal/httpcache"
	"github.com/corralhq/corral/internal/response"
)

// recorded is what one run of the handler gave: a response, or why there is
// none to share.
type recorded struct {
	resp    *response.Response // end-to-end fields only; nil when it streamed to its client
	passed  string             // why it went straight to its client: "streamed", "hijacked", "too-large"...
	private string             // why it may go to its own client only (read before hop-by-hop fields go)
	inner   bool               // a caching layer inside this one answered: pass its response on
	policy  httpcache.Policy   // what the response says of its caching

	// vary names the request headers the response varies on that its key
	// does not hold; selecting holds a variant's values of the headers its
	// URL varies on; variants, at a URL's own key, says that its responses
	// are variants (see variants.go).
	vary      []string
	selecting []string
	variants  *variants
}

// take is a handler's response as it was recorded, before it is prepared
// for storing.
type take struct {
	resp           *response.Response // nil: it streamed, see passed
	passed         string
	inner          bool // a caching layer inside this one answered
	cut            bool // the handler's context ended: its body may be cut short
	sent, received time.Time
}

// computation is how the middleware runs the handler for one key: with the
// neutral request, streaming to target when it must (nil: a background
// refresh, which has no client).
type computation struct {
	m      *cachedHandler
	r      *http.Request
	target *response.Target
	key    string
	keyed  []string // the request headers the key holds: VaryOn, and a variant's
	// learn: at a URL's own key, a response that varies on other request
	// headers makes the URL's responses variants; at a variant's key,
	// selecting are its values of those headers.
	learn     bool
	selecting []string
}

// run runs the handler, and prepares its response for storing.
func (c *computation) run(ctx context.Context, release func()) *recorded {
	return c.learned(ctx, c.prepare(c.record(ctx, c.r, release)))
}

// revalidate asks the handler whether a stale stored response still holds,
// with the stored validators (RFC 9111 4.3): a 304 freshens the stored
// response's header, and that response is the answer; any other answer
// replaces it. A stored response without validators is computed again.
func (c *computation) revalidate(ctx context.Context, release func(), stale *recorded) *recorded {
	if stale.resp == nil || !httpcache.Validated(stale.resp.Header) {
		return c.run(ctx, release)
	}
	t := c.record(ctx, httpcache.Revalidation(c.r, stale.resp.Header), release)
	if t.resp == nil || t.inner || t.resp.Status != http.StatusNotModified {
		return c.learned(ctx, c.prepare(t))
	}
	header := httpcache.Updated(stale.resp.Header, httpcache.EndToEnd(t.resp.Header))
	t.resp = response.New(stale.resp.Status, header, stale.resp.Body)
	c.m.c.stats.revalidated.Add(1)
	return c.learned(ctx, c.prepare(t))
}

// refresh runs the handler for a background refresh, which has no client:
// a response that would stream is dropped, and counted as not stored. A
// stale response with validators is revalidated.
func (c *computation) refresh(ctx context.Context, stale *recorded) *recorded {
	bg := *c
	bg.target = nil
	var rec *recorded
	if stale != nil {
		rec = bg.revalidate(ctx, func() {}, stale)
	} else {
		rec = bg.run(ctx, func() {})
	}
	if rec.resp == nil {
		c.m.finish(c.r, outcome{decision: decNotStored, detail: "refresh-" + rec.passed}, c.key)
	}
	return rec
}

// record runs the handler for r and records its response. A response that
// starts streaming goes to the target's client alone: record then lets the
// waiters go (release), and the handler's context ends with that client's
// instead of at the compute timeout. Without a target, a streaming response
// is dropped.
func (c *computation) record(ctx context.Context, r *http.Request, release func()) take {
	m := c.m
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, cancel) // until it streams, the compute timeout bounds it
	client := r.Context()
	onPass := func(h http.Header, why string) {
		release()
		if stop() {
			context.AfterFunc(client, cancel)
		}
		if h != nil {
			delete(h, surrogateKey)
			m.setCacheStatus(h, outcome{decision: decNotStored, detail: why}, nil)
		}
	}
	hctx, l := withLayerContext(hctx)
	rec := response.NewRecorder(c.target, m.cfg.maxBody, onPass)
	t := take{sent: time.Now()}
	m.next.ServeHTTP(rec, r.WithContext(hctx))
	t.received = time.Now()
	t.resp, t.passed = rec.Result()
	t.inner, t.cut = l.claimed.Load(), hctx.Err() != nil
	if t.resp != nil && !t.inner {
		for _, v := range t.resp.Header[surrogateKey] {
			Tag(ctx, strings.Fields(v)...)
		}
	}
	return t
}

// surrogateKey is the response field whose space-separated tags tag a
// stored response (as Fastly's and Souin's); clients never see it.
const surrogateKey = "Surrogate-Key"

// prepare makes a recorded response what is stored and replayed: its
// caching policy read once, end-to-end fields only, without the fields its
// directives keep from storage, with its corrected initial Age, the VaryOn
// headers in its Vary, and an ETag when ETags asks for one.
func (c *computation) prepare(t take) *recorded {
	switch {
	case t.inner:
		return &recorded{resp: t.resp, passed: t.passed, inner: true}
	case t.resp == nil:
		return &recorded{passed: t.passed}
	}
	resp, cfg := t.resp, c.m.cfg
	rec := &recorded{private: httpcache.Unshareable(resp), selecting: c.selecting}
	rec.vary = httpcache.Unkeyed(resp.Header, c.keyed)
	if rec.private == "" && t.cut {
		rec.private = "timeout" // the handler's context ended: its body may be cut short
	}
	if len(rec.vary) > 0 && !c.learn {
		rec.private = "vary" // a variant that varies on more than its URL's others
	}
	rec.policy = httpcache.ReadPolicy(resp.Header, resp.Status, t.sent, t.received, cfg.shared)
	header := httpcache.EndToEnd(resp.Header)
	for _, name := range rec.policy.Strip {
		delete(header, name)
	}
	delete(header, surrogateKey)
	delete(header, "Age")
	if age := int64(rec.policy.Age / time.Second); age > 0 {
		header["Age"] = []string{strconv.FormatInt(age, 10)}
	}
	httpcache.AddVary(header, cfg.key.vary)
	if cfg.etag && resp.Status == http.StatusOK && len(header["Etag"]) == 0 {
		sum := sha256.Sum256(resp.Body)
		header["Etag"] = []string{`"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
	}
	rec.resp = response.New(resp.Status, header, resp.Body)
	return rec
}

// verdict is the middleware's storage rule: whether a response is stored
// and shared, and for how long. At a URL whose responses are variants, what
// is stored at its own key is the variants' record, for variantsTTL; the
// waiters it is handed to look their own variant up.
func (m *cachedHandler) verdict(rec *recorded, ttl time.Duration) verdict {
	if rec.variants != nil {
		return verdict{store: true, ttl: variantsTTL}
	}
	vd := m.storable(rec, ttl)
	if vd.store && len(rec.vary) > 0 {
		return verdict{reason: "vary"} // a variant whose own entry could not be stored
	}
	return vd
}

// storable is the storage rule of one response.
func (m *cachedHandler) storable(rec *recorded, ttl time.Duration) verdict {
	switch {
	case rec.inner:
		return verdict{reason: "inner"}
	case rec.resp == nil:
		return verdict{reason: rec.passed}
	case rec.private != "":
		return verdict{reason: rec.private}
	}
	p := &rec.policy
	switch status := rec.resp.Status; {
	case status >= 500 && !(m.cfg.shared && p.Explicit):
		return verdict{failed: true, reason: "status"} // stale-if-error serves the last good one
	case !p.Storable(status), !m.cfg.shared && !slices.Contains(m.cfg.statuses, status):
		return verdict{reason: "status"}
	case p.Refusal != "":
		return verdict{reason: p.Refusal}
	}
	return m.lifetime(rec, ttl)
}

// lifetime is how long a storable response is fresh: not at all with
// no-cache; else FixedTTL's TTL; else what the response says, less its age;
// else, in the default mode, the TTL less its age. One that is not fresh is stored, already expired, only when
// it can be revalidated.
func (m *cachedHandler) lifetime(rec *recorded, ttl time.Duration) verdict {
	p := &rec.policy
	vd := verdict{store: true, ttl: ttl, keep: m.revalidationKeep(ttl),
		mustRevalidate: p.MustRevalidate || p.NoCache, swr: p.SWR, sie: p.SIE}
	switch {
	case p.NoCache:
		vd.expired = true
	case m.cfg.fixedTTL:
		return vd
	case p.Explicit || p.Heuristic:
		vd.ttl, vd.expired = p.Fresh(), p.Fresh() <= 0
	case m.cfg.shared:
		return verdict{reason: "no-freshness"}
	case p.Age > 0:
		if d, _ := m.c.ttl(ttl); d > 0 { // 0: forever, whatever its age
			vd.ttl, vd.expired = d-p.Age, d <= p.Age
		}
	}
	if vd.expired && !httpcache.Validated(rec.resp.Header) {
		if p.NoCache {
			return verdict{reason: "no-cache"}
		}
		return verdict{reason: "not-fresh"}
	}
	return vd
}

// revalidationKeep is how long a response stays stored past its freshness
// so that it can be revalidated: the route's TTL, else the cache's default
// (maxTTL, kept forever, when that is NoExpiration).
func (m *cachedHandler) revalidationKeep(ttl time.Duration) time.Duration {
	if d, _ := m.c.ttl(ttl); d > 0 {
		return d
	}
	return maxTTL
}
