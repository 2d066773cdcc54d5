package httpcache

import (
	"net/http"
	"time"
)

// Request is what a request's Cache-Control asks of a shared cache (RFC
// 9111 5.2.1). Pragma is not read: RFC 9111 deprecates it.
type Request struct {
	NoCache      bool // no stored response without revalidation
	NoStore      bool // do not store the response to it
	OnlyIfCached bool // a stored response, or 504
	// MaxAge, MinFresh and MaxStale bound the age, the remaining freshness
	// and the staleness of a stored response the client accepts; each with
	// Has set when the request says it. MaxStale without a value accepts
	// any staleness.
	MaxAge, MinFresh, MaxStale          time.Duration
	HasMaxAge, HasMinFresh, HasMaxStale bool
}

// ReadRequest reads r's cache directives, and reports whether any of them
// asks something of a cache (no-transform, say, does not).
func ReadRequest(r *http.Request) (Request, bool) {
	cc, ok := r.Header["Cache-Control"]
	if !ok {
		return Request{}, false
	}
	var q Request
	for _, d := range ParseDirectives(cc) {
		q.read(d)
	}
	return q, q != Request{}
}

func (q *Request) read(d Directive) {
	secs, valid := DeltaSeconds(d.Value)
	delta := time.Duration(secs) * time.Second
	switch d.Name {
	case "no-cache":
		q.NoCache = true
	case "no-store":
		q.NoStore = true
	case "only-if-cached":
		q.OnlyIfCached = true
	case "max-age":
		q.MaxAge, q.HasMaxAge = delta, valid
	case "min-fresh":
		q.MinFresh, q.HasMinFresh = delta, valid
	case "max-stale":
		q.HasMaxStale = true
		q.MaxStale = delta
		if !valid {
			q.MaxStale = time.Duration(maxDelta) * time.Second
		}
	}
}

// Accepts reports whether a stored response may answer the request without
// revalidation: age is how old it is, left how long it stays fresh
// (negative: how long it has been stale), forever that it never expires,
// mustRevalidate that it may never be served stale.
func (q *Request) Accepts(age, left time.Duration, forever, mustRevalidate bool) bool {
	switch {
	case q.NoCache, q.HasMaxAge && age > q.MaxAge:
		return false
	case forever:
		return true
	case q.HasMinFresh && left < q.MinFresh:
		return false
	case left > 0:
		return true
	}
	return q.HasMaxStale && !mustRevalidate && -left <= q.MaxStale
}
