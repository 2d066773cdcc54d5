// Package response is a recorded HTTP response: the type the middleware
// stores and replays, its binary codec, and the ResponseWriter that records
// it (streaming to the client instead when the response cannot be kept).
package response

import (
	"net/http"
	"strconv"
)

// Response is a recorded response. Once made it is never modified: it is
// shared by every request that replays it, and so are its header's slices.
type Response struct {
	Status int
	Header http.Header // canonical names, end-to-end fields only once stored
	Body   []byte

	fields []Field // Header as a list, plus Content-Length when it had none
}

// Field is one header field, for replay. Values is capped (len == cap), so
// that an append by a later writer copies instead of writing into it.
type Field struct {
	Name   string
	Values []string
}

// New returns a response, with its replay list made.
func New(status int, header http.Header, body []byte) *Response {
	r := &Response{Status: status, Header: header, Body: body}
	r.fields = make([]Field, 0, len(header)+1)
	for k, vs := range header {
		r.fields = append(r.fields, Field{k, vs[:len(vs):len(vs)]})
	}
	if _, ok := header["Content-Length"]; !ok {
		r.fields = append(r.fields, Field{"Content-Length", []string{strconv.Itoa(len(body))}})
	}
	return r
}

// Fields returns the header to replay, Content-Length included. The slices
// are shared: a replay assigns them, and nobody may modify them in place.
func (r *Response) Fields() []Field { return r.fields }
