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
// for, or "": it sets a cookie, varies on a header the key does not hold
// (keyed: canonical names), declares trailers, or its body is not as long
// as its Content-Length says (truncated). What its directives forbid
// (private, no-store) is its [Policy]'s Refusal.
func Unshareable(r *response.Response, keyed []string) string {
	h := r.Header
	if _, ok := h["Set-Cookie"]; ok {
		return "set-cookie"
	}
	if varies(h, keyed) {
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

// varies reports whether the Vary header names * or a header not keyed.
func varies(h http.Header, keyed []string) bool {
	for _, v := range h["Vary"] {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if name == "*" || !slices.Contains(keyed, http.CanonicalHeaderKey(name)) {
				return true
			}
		}
	}
	return false
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
