// Package httpcache holds the HTTP caching rules the middleware applies to a
// recorded response (RFC 9111): whether it may be shared and stored, which
// of its fields are stored, and its Cache-Control directives.
package httpcache

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/corralhq/corral/internal/response"
)

// Unshareable says why a response may only go to the client it was made
// for, or "": it sets a cookie, says Vary: * (it varies on more than the
// request), declares trailers, or its body is not as long as its
// Content-Length says (truncated). What its directives forbid (private,
// no-store) is its [Policy]'s Refusal; a Vary on headers the key does not
// hold is [Unkeyed].
func Unshareable(r *response.Response) string {
	h := r.Header
	if _, ok := h["Set-Cookie"]; ok {
		return "set-cookie"
	}
	if slices.Contains(varyNames(h), "*") {
		return "vary"
	}
	if _, ok := h["Trailer"]; ok {
		return "trailers"
	}
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return "trailers"
		}
	}
	if truncated(r) {
		return "truncated"
	}
	return ""
}

// varyNames returns the names h's Vary lists, canonical, sorted, once each.
func varyNames(h http.Header) []string {
	var names []string
	for _, v := range h["Vary"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				names = append(names, http.CanonicalHeaderKey(name))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Unkeyed returns the request headers h's Vary names that keyed (canonical
// names) does not hold: the response is one variant among those their
// values select (RFC 9111 4.1). Nil when there are none, or for Vary: *.
func Unkeyed(h http.Header, keyed []string) []string {
	var out []string
	for _, name := range varyNames(h) {
		if name == "*" {
			return nil
		}
		if !slices.Contains(keyed, name) {
			out = append(out, name)
		}
	}
	return out
}

// AddVary adds to h's Vary the names it lacks among names (canonical), so
// that a cache or browser in front keys on them too.
func AddVary(h http.Header, names []string) {
	have := varyNames(h)
	for _, name := range names {
		if !slices.Contains(have, name) && !slices.Contains(have, "*") {
			h["Vary"] = append(h["Vary"][:len(h["Vary"]):len(h["Vary"])], name)
		}
	}
}

// truncated reports whether the body's length differs from a declared
// Content-Length (a proxy whose upstream broke off, a handler that lied).
func truncated(r *response.Response) bool {
	cl, ok := r.Header["Content-Length"]
	if !ok || len(cl) == 0 || r.Status == http.StatusNoContent || r.Status == http.StatusNotModified {
		return false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(cl[0]), 10, 64)
	return err != nil || n != int64(len(r.Body))
}

// hopByHop are the fields that concern one connection, never stored.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// EndToEnd returns a copy of h without hop-by-hop fields, nor those that
// Connection names.
func EndToEnd(h http.Header) http.Header {
	out := h.Clone()
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			delete(out, http.CanonicalHeaderKey(strings.TrimSpace(name)))
		}
	}
	for _, k := range hopByHop {
		delete(out, k)
	}
	return out
}
