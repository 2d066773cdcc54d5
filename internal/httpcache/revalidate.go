package httpcache

import (
	"maps"
	"net/http"
	"slices"
)

// Revalidation returns the request that revalidates a stored response
// (RFC 9111 4.3.1): n, a neutral request, with If-None-Match and
// If-Modified-Since taken from the stored response's validators, never from
// a client. n is not changed.
func Revalidation(n *http.Request, stored http.Header) *http.Request {
	r := n.Clone(n.Context())
	if etags := stored["Etag"]; len(etags) > 0 {
		r.Header["If-None-Match"] = append([]string(nil), etags...)
	}
	if lm := stored["Last-Modified"]; len(lm) > 0 {
		r.Header["If-Modified-Since"] = []string{lm[0]}
	}
	return r
}

// Updated returns the header of a stored response freshened by a 304
// (RFC 9111 3.2 and 4.3.4): the stored fields, each replaced by the 304's
// field of that name, but for those that describe the stored body, which
// the 304 does not carry (see representation). The stored Age goes: the
// 304 says how old the response is now. Neither header is changed; both
// must hold end-to-end fields only.
func Updated(stored, notModified http.Header) http.Header {
	h := maps.Clone(stored)
	delete(h, "Age")
	for name, values := range notModified {
		if !slices.Contains(representation, name) {
			h[name] = values
		}
	}
	return h
}

// representation are the fields that describe a stored body (its length,
// coding, digest, range and entity tag): a 304 does not change them.
var representation = []string{"Content-Length", "Content-Encoding", "Content-Md5", "Content-Range", "Etag"}
