package httpcache

import (
	"bytes"
	"net/http"
	"time"

	"github.com/corralhq/corral/internal/response"
)

// ConditionalFields are the request fields that make an answer specific to
// one client: a shared computation runs without them, and each client's own
// are answered from the full response. Do not modify.
var ConditionalFields = []string{"Range", "If-Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"}

// Conditional reports whether r asks for a part of the response or sets a
// precondition.
func Conditional(r *http.Request) bool {
	for _, k := range ConditionalFields {
		if _, ok := r.Header[k]; ok {
			return true
		}
	}
	return false
}

// Neutral returns the request a shared computation runs with: a copy of r
// as a GET without its conditional and range fields, so that its answer is
// the full response every client of the key may get. It is a deep copy: the
// handler may run on after r's own ServeHTTP returns, and nothing it or r's
// owner does to one reaches the other.
func Neutral(r *http.Request) *http.Request {
	n := r.Clone(r.Context())
	n.Method = http.MethodGet
	for _, k := range ConditionalFields {
		delete(n.Header, k)
	}
	return n
}

// ServeConditional answers r's conditional or range fields from a stored
// 200 response, with net/http's own rules (http.ServeContent): 304 when its
// validators match, 412 when a precondition fails, 206 for satisfiable
// ranges, else the full response. The header fields of resp must already be
// in w.Header(); Content-Length is set by ServeContent.
func ServeConditional(w http.ResponseWriter, r *http.Request, resp *response.Response) {
	delete(w.Header(), "Content-Length")
	var modtime time.Time
	if lm := resp.Header["Last-Modified"]; len(lm) > 0 {
		modtime, _ = http.ParseTime(lm[0])
	}
	if _, ok := resp.Header["Content-Type"]; !ok {
		w.Header()["Content-Type"] = nil // no sniffing: replay what was sent
	}
	http.ServeContent(w, r, "", modtime, bytes.NewReader(resp.Body))
}
