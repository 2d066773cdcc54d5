package corral

import (
	"context"
	"errors"
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
		m.serveStored(w, r, key, f.rec.resp, o, time.Since(f.e.WrittenAt))
		return
	}
	if q.OnlyIfCached {
		o := outcome{decision: decBypassed, detail: "only-if-cached"}
		m.setCacheStatus(w.Header(), o, nil)
		http.Error(w, http.StatusText(http.StatusGatewayTimeout), http.StatusGatewayTimeout)
		m.finish(r, o, key)
		return
	}
	m.serveThrough(w, r, key, f.sk, through{sel: f.sel, revalidate: true, storeDown: f.down})
}

// found is what a peek found for a request: a stored response (nil: none)
// with its envelope, and the store key of the response (its variant's, when
// its URL's responses are variants).
type found struct {
	rec  *recorded
	e    envelope.Entry
	sk   string
	sel  *selection
	down bool // the store failed: it is not read again for the request
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
	rec, e, err := m.read(r.Context(), key, sk)
	if err != nil || rec.variants == nil {
		if err != nil || rec.resp == nil {
			rec = nil
		}
		return found{rec: rec, e: e, sk: sk, down: isDown(err)}
	}
	sel := &selection{vs: rec.variants, values: selectingValues(r, rec.variants.names)}
	vsk, kerr := m.c.key(variantKey(key, sel.vs, sel.values))
	if kerr != nil {
		return found{sk: sk}
	}
	rec, e, err = m.read(r.Context(), key, vsk)
	if err != nil || !sel.accepts(rec) || rec.resp == nil {
		rec = nil
	}
	return found{rec: rec, e: e, sk: vsk, sel: sel, down: isDown(err)}
}

// errUnusable is what read returns for what is no stored response.
var errUnusable = errors.New("no usable stored response")

// isDown reports whether err is a failure of the store, not an answer.
func isDown(err error) bool {
	return err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, errUnusable)
}

// read reads and decodes the stored response (or variants record) under
// sk, fresh or expired. A store failure is counted and logged, as the
// engine's lookup does.
func (m *cachedHandler) read(ctx context.Context, key, sk string) (*recorded, envelope.Entry, error) {
	data, err := m.c.get(ctx, sk)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			_ = m.c.failed(opGet, key, err)
		}
		return nil, envelope.Entry{}, err
	}
	e, state := envelope.Classify(data, time.Now())
	if state != envelope.Fresh && state != envelope.Expired {
		return nil, e, errUnusable
	}
	if hold, _, err := m.c.tagsHold(ctx, e.Tags, nil); err != nil || !hold {
		if err != nil {
			_ = m.c.failed(opGetMany, key, err)
			return nil, envelope.Entry{}, err
		}
		m.c.stats.invalidated.Add(1)
		return nil, e, errUnusable // invalidated by a tag (a request directive never serves it)
	}
	var rec *recorded
	if (responseCodec{}).Unmarshal(e.Payload, &rec) != nil {
		return nil, e, errUnusable
	}
	return rec, e, nil
}
