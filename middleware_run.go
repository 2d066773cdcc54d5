package corral

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
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
}

// run runs the handler for a computation, with r (the neutral request), and
// records its response. A response that starts streaming goes to target's
// client alone: run then lets the waiters go (release), and the handler's
// context ends with that client's instead of at the compute timeout. A
// background refresh has no target: its streaming response is dropped.
func (m *cachedHandler) run(ctx context.Context, r *http.Request, target *response.Target, release func()) *recorded {
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
			m.setCacheStatus(h, outcome{decision: decNotStored, detail: why}, nil)
		}
	}
	hctx, l := withLayerContext(hctx)
	rec := response.NewRecorder(target, m.cfg.maxBody, onPass)
	m.next.ServeHTTP(rec, r.WithContext(hctx))
	resp, passed := rec.Result()
	if l.claimed.Load() {
		return &recorded{resp: resp, passed: passed, inner: true}
	}
	if resp == nil {
		return &recorded{passed: passed}
	}
	private := httpcache.Unshareable(resp, m.cfg.key.vary)
	if private == "" && hctx.Err() != nil {
		private = "timeout" // the handler's context ended: its body may be cut short
	}
	header := httpcache.EndToEnd(resp.Header)
	if m.cfg.etag && len(header["Etag"]) == 0 {
		sum := sha256.Sum256(resp.Body)
		header["Etag"] = []string{`"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
	}
	return &recorded{resp: response.New(resp.Status, header, resp.Body), private: private}
}

// refresh runs the handler for a background refresh, which has no client:
// a response that would stream is dropped, and counted as not stored.
func (m *cachedHandler) refresh(ctx context.Context, r *http.Request, key string) *recorded {
	rec := m.run(ctx, r, nil, func() {})
	if rec.resp == nil {
		m.finish(r, outcome{decision: decNotStored, detail: "refresh-" + rec.passed}, key)
	}
	return rec
}

// verdict is the middleware's storage rule: whether a response is stored
// and shared, and for how long.
func (m *cachedHandler) verdict(rec *recorded, ttl time.Duration) verdict {
	switch {
	case rec.inner:
		return verdict{reason: "inner"}
	case rec.resp == nil:
		return verdict{reason: rec.passed}
	}
	if rec.private != "" {
		return verdict{reason: rec.private}
	}
	switch status := rec.resp.Status; {
	case status >= 500:
		return verdict{failed: true, reason: "status"} // stale-if-error serves the last good one
	case !slices.Contains(m.cfg.statuses, status):
		return verdict{reason: "status"}
	}
	cc := httpcache.CacheControl(rec.resp.Header)
	if cc.Has("no-cache") {
		return verdict{reason: "no-cache"}
	}
	if m.cfg.ttlFromResponse {
		if secs, ok := cc.Seconds("s-maxage"); ok {
			ttl = time.Duration(secs) * time.Second
		} else if secs, ok := cc.Seconds("max-age"); ok {
			ttl = time.Duration(secs) * time.Second
		}
		if ttl <= 0 && ttl != NoExpiration {
			return verdict{reason: "max-age"}
		}
	}
	return verdict{ttl: ttl, store: true}
}

// responseCodec is the Codec of stored responses.
type responseCodec struct{}

func (responseCodec) Marshal(v any) ([]byte, error) {
	rec, ok := v.(*recorded)
	if !ok || rec.resp == nil {
		return nil, fmt.Errorf("corral: the response codec cannot encode %T", v)
	}
	return response.Encode(rec.resp), nil
}

func (responseCodec) Unmarshal(data []byte, v any) error {
	dst, ok := v.(**recorded)
	if !ok {
		return fmt.Errorf("corral: the response codec cannot decode into %T", v)
	}
	resp, err := response.Decode(data)
	if err != nil {
		return err
	}
	*dst = &recorded{resp: resp}
	return nil
}
