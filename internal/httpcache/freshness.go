package httpcache

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// Policy is what a response says of its own caching (RFC 9111 section 4.2
// and 5.2, RFC 9213, RFC 5861), read once when the response is recorded so
// that no hit parses a header.
type Policy struct {
	// Lifetime is the freshness lifetime: from s-maxage, max-age or Expires
	// (Explicit), else heuristic (Heuristic, shared caches only), else
	// unknown (neither: the caller's TTL decides).
	Lifetime  time.Duration
	Explicit  bool
	Heuristic bool
	// Age is the response's corrected initial age (4.2.3): how old it
	// already was when it arrived.
	Age time.Duration
	// Refusal says why the response may not be stored at all ("no-store",
	// "private"), or "".
	Refusal string
	// MustUnderstand: it may be stored only when the cache knows the
	// caching rules of its status (RFC 9111 5.2.2.3).
	MustUnderstand bool
	// NoCache: it may be stored, but never reused without revalidation.
	NoCache bool
	// MustRevalidate: once stale, it is never served without revalidation
	// (must-revalidate, proxy-revalidate, s-maxage), whatever stale windows
	// the cache allows.
	MustRevalidate bool
	// SWR and SIE are the response's own stale-while-revalidate and
	// stale-if-error windows (RFC 5861).
	SWR, SIE time.Duration
	// Strip are the fields that must not be stored: those named by a
	// qualified no-cache or private, and the targeted fields
	// (CDN-Cache-Control, Surrogate-Control), which clients are not sent.
	Strip []string
}

// Fresh is how long the response is fresh after it arrived: its lifetime
// less its age, at most zero when it arrived stale.
func (p *Policy) Fresh() time.Duration { return max(p.Lifetime-p.Age, 0) }

// Validated reports whether h holds a validator (ETag, Last-Modified) with
// which a stale copy can be revalidated.
func Validated(h http.Header) bool {
	return len(h["Etag"]) > 0 || len(h["Last-Modified"]) > 0
}

// Target is the name by which corral reads Surrogate-Control directives
// targeted at a device (max-age=60;corral), and announces itself in
// Surrogate-Capability.
const Target = "corral"

// ReadPolicy reads h, the header of a response with the given status that
// was asked for at sent and arrived at received. A shared cache (shared)
// also gets heuristic freshness; a private one would not apply s-maxage.
func ReadPolicy(h http.Header, status int, sent, received time.Time, shared bool) Policy {
	ds, targeted := Governing(h)
	p := Policy{Strip: targeted}
	p.readDirectives(ds)
	if cc := CacheControl(h); p.Refusal == "" && cc.private() {
		p.Refusal = "private" // whatever a targeted field says: never store what is private
	}
	date, dated := headerTime(h, "Date")
	if !dated {
		date = received
	}
	p.Age = initialAge(h, date, sent, received)
	p.Lifetime, p.Explicit = explicitLifetime(ds, h, date)
	if !p.Explicit && shared && HeuristicStatus(status) {
		if lm, ok := headerTime(h, "Last-Modified"); ok && lm.Before(date) {
			p.Lifetime, p.Heuristic = min(date.Sub(lm)/10, 24*time.Hour), true
		}
	}
	return p
}

// Governing returns the directives that govern corral's caching of a
// response: CDN-Cache-Control when it holds a caching directive (RFC 9213),
// else the Surrogate-Control directives meant for every device or for
// corral when they hold one, else Cache-Control; and the targeted fields
// present, which clients are not sent.
func Governing(h http.Header) (Directives, []string) {
	var targeted []string
	for _, name := range []string{"Cdn-Cache-Control", "Surrogate-Control"} {
		if _, ok := h[name]; ok {
			targeted = append(targeted, name)
		}
	}
	if ds := ParseDirectives(h["Cdn-Cache-Control"]); ds.caching() {
		return ds, targeted
	}
	if ds := surrogate(ParseDirectives(h["Surrogate-Control"])); ds.caching() {
		return ds, targeted
	}
	return CacheControl(h), targeted
}

// surrogate keeps the Surrogate-Control directives that apply to corral:
// untargeted ones, and those targeted at it (max-age=60;corral).
func surrogate(ds Directives) Directives {
	out := ds[:0:0]
	for _, d := range ds {
		if d.Target == "" || d.Target == Target {
			out = append(out, d)
		}
	}
	return out
}

// cachingDirectives are the directives that say something of storing or
// freshness: a targeted field without one of them (ESI's content="...")
// leaves Cache-Control in charge.
var cachingDirectives = []string{"max-age", "s-maxage", "no-store", "no-cache", "private", "public",
	"must-revalidate", "proxy-revalidate", "stale-while-revalidate", "stale-if-error"}

func (ds Directives) caching() bool {
	for _, d := range ds {
		if slices.Contains(cachingDirectives, d.Name) {
			return true
		}
	}
	return false
}

// readDirectives reads the storage and stale directives of ds into p. A
// private response is refused whatever else it says; must-understand lifts
// no-store (for a status corral knows: see Storable).
func (p *Policy) readDirectives(ds Directives) {
	var private, noStore bool
	defer func() {
		switch {
		case private:
			p.Refusal = "private"
		case noStore && !p.MustUnderstand:
			p.Refusal = "no-store"
		}
	}()
	for _, d := range ds {
		switch d.Name {
		case "no-store":
			noStore = true
		case "must-understand":
			p.MustUnderstand = true
		case "private", "no-cache":
			if d.Value != "" { // qualified: those fields only
				p.Strip = append(p.Strip, fieldNames(d.Value)...)
			} else if d.Name == "private" {
				private = true
			} else {
				p.NoCache = true
			}
		case "must-revalidate", "proxy-revalidate", "s-maxage":
			p.MustRevalidate = true
		case "stale-while-revalidate", "stale-if-error":
			if n, ok := DeltaSeconds(d.Value); ok && !d.Quoted {
				w := time.Duration(n) * time.Second
				if d.Name == "stale-if-error" {
					p.SIE = w
				} else {
					p.SWR = w
				}
			}
		}
	}
}

// private reports whether ds holds an unqualified private.
func (ds Directives) private() bool {
	for _, d := range ds {
		if d.Name == "private" && d.Value == "" {
			return true
		}
	}
	return false
}

// fieldNames splits a list of field names, canonical.
func fieldNames(list string) []string {
	var out []string
	for name := range strings.SplitSeq(list, ",") {
		if name = strings.TrimSpace(name); name != "" {
			out = append(out, http.CanonicalHeaderKey(name))
		}
	}
	return out
}

// explicitLifetime is the freshness lifetime a response states (4.2.1):
// s-maxage, else max-age, else Expires less Date. An invalid value of any
// of them states a lifetime of zero.
func explicitLifetime(ds Directives, h http.Header, date time.Time) (time.Duration, bool) {
	for _, name := range []string{"s-maxage", "max-age"} {
		if secs, ok, valid := ds.Seconds(name); ok {
			if !valid {
				return 0, true
			}
			return time.Duration(secs) * time.Second, true
		}
	}
	if _, ok := h["Expires"]; !ok {
		return 0, false
	}
	expires, ok := headerTime(h, "Expires")
	if !ok {
		return 0, true
	}
	return max(expires.Sub(date), 0), true
}

// initialAge is the corrected initial age (4.2.3). An Age that is not a
// single non-negative integer makes the response stale: it is taken as the
// largest age.
func initialAge(h http.Header, date, sent, received time.Time) time.Duration {
	apparent := max(received.Sub(date), 0)
	ages, ok := h["Age"]
	if !ok {
		return apparent
	}
	secs, valid := int64(maxDelta), false
	if len(ages) == 1 {
		secs, valid = DeltaSeconds(strings.TrimSpace(ages[0]))
	}
	if !valid {
		secs = maxDelta
	}
	corrected := time.Duration(secs)*time.Second + max(received.Sub(sent), 0)
	return max(apparent, corrected)
}

// headerTime parses the first value of a date field.
func headerTime(h http.Header, name string) (time.Time, bool) {
	vs := h[name]
	if len(vs) == 0 {
		return time.Time{}, false
	}
	t, err := http.ParseTime(strings.TrimSpace(vs[0]))
	return t, err == nil
}

// heuristicStatuses are the statuses cacheable by default (RFC 9110 15.1).
var heuristicStatuses = []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}

// HeuristicStatus reports whether a response of this status may be given a
// heuristic freshness lifetime.
func HeuristicStatus(status int) bool { return slices.Contains(heuristicStatuses, status) }

// Storable reports whether a response of this status may be stored under
// p: a final status, not 206 (corral does not combine parts) nor 304, and
// one whose rules corral knows when the response says must-understand.
func (p *Policy) Storable(status int) bool {
	if p.MustUnderstand && http.StatusText(status) == "" {
		return false
	}
	return status >= 200 && status != http.StatusPartialContent && status != http.StatusNotModified
}
