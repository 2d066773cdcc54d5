package corral

import (
	"context"
	"net/http"
	"time"

	"github.com/corralhq/corral/internal/envelope"
	"github.com/corralhq/corral/internal/httpcache"
)

// serveDirected serves a GET or HEAD whose Cache-Control asks something of
// the cache, in SharedCache mode (RFC 9111 5.2.1): a stored response that
// the request accepts as it is, else a 504 for only-if-cached, else the
// handler's answer, revalidating what is stored. A request with no-store
// is passed through, and its response is not stored.
func (m *cachedHandler) serveDirected(w http.ResponseWriter, r *http.Request, key, sk string, q httpcache.Request) {
	if q.NoStore {
		m.pass(w, r, outcome{decision: decBypassed, detail: "no-store"}, key)
		return
	}
	f := m.peek(r, key, sk)
	if f.rec != nil && q.Accepts(f.age(time.Now()), f.left(time.Now()), f.e.FreshUntil.IsZero(), f.e.MustRevalidate) {
		o := outcome{decision: decHit}
		if !f.e.Fresh(time.Now()) {
			o.decision = decStale
		}
		m.c.stats.hits.Add(1)
		m.replay(w, r, f.rec.resp, o, f.e.WrittenAt)
		m.finish(r, o, key)
		return
	}
	if q.OnlyIfCached {
		o := outcome{decision: decBypassed, detail: "only-if-cached"}
		m.setCacheStatus(w.Header(), o, nil)
		http.Error(w, http.StatusText(http.StatusGatewayTimeout), http.StatusGatewayTimeout)
		m.finish(r, o, key)
		return
	}
	m.serveThrough(w, r, key, f.sk, f.sel, true)
}

// found is what a peek found for a request: a stored response (nil: none)
// with its envelope, and the store key of the response (its variant's, when
// its URL's responses are variants).
type found struct {
	rec *recorded
	e   envelope.Entry
	sk  string
	sel *selection
}

// age is how old the response is at now (RFC 9111 4.2.3).
func (f *found) age(now time.Time) time.Duration {
	return time.Duration(f.rec.resp.Age)*time.Second + now.Sub(f.e.WrittenAt)
}

// left is how long the response stays fresh after now: negative when it is
// stale.
func (f *found) left(now time.Time) time.Duration { return f.e.FreshUntil.Sub(now) }

// peek reads what is stored for r, fresh or stale, without computing.
func (m *cachedHandler) peek(r *http.Request, key, sk string) found {
	rec, e, ok := m.read(r.Context(), sk)
	if !ok || rec.variants == nil {
		if !ok || rec.resp == nil {
			rec = nil
		}
		return found{rec: rec, e: e, sk: sk}
	}
	sel := &selection{vs: rec.variants, values: selectingValues(r, rec.variants.names)}
	vsk, err := m.c.key(variantKey(key, sel.vs, sel.values))
	if err != nil {
		return found{sk: sk}
	}
	rec, e, ok = m.read(r.Context(), vsk)
	if !ok || !sel.accepts(rec) || rec.resp == nil {
		rec = nil
	}
	return found{rec: rec, e: e, sk: vsk, sel: sel}
}

// read reads and decodes the stored response (or variants record) under
// sk, fresh or expired.
func (m *cachedHandler) read(ctx context.Context, sk string) (*recorded, envelope.Entry, bool) {
	data, err := m.c.get(ctx, sk)
	if err != nil {
		return nil, envelope.Entry{}, false
	}
	e, state := envelope.Classify(data, time.Now())
	if state != envelope.Fresh && state != envelope.Expired {
		return nil, e, false
	}
	var rec *recorded
	if (responseCodec{}).Unmarshal(e.Payload, &rec) != nil {
		return nil, e, false
	}
	return rec, e, true
}
