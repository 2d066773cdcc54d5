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

	// Fields is Header as a list, plus Content-Length when it had none and
	// without Age: what a replay copies. Its slices are shared by every
	// replay: copy them out.
	Fields []Field
	Values int // how many values Fields holds in all
	// Age is the Age the response had when it was stored (its corrected
	// initial age), in seconds: a replay adds the time since.
	Age int64
}

// Field is one header field, for replay.
type Field struct {
	Name   string
	Values []string
}

// New returns a response, with its Fields made.
func New(status int, header http.Header, body []byte) *Response {
	r := &Response{Status: status, Header: header, Body: body}
	r.Fields = make([]Field, 0, len(header)+1)
	for k, vs := range header {
		if k == "Age" {
			if len(vs) == 1 {
				r.Age, _ = strconv.ParseInt(vs[0], 10, 64)
			}
			continue
		}
		r.Fields = append(r.Fields, Field{k, vs[:len(vs):len(vs)]})
		r.Values += len(vs)
	}
	if _, ok := header["Content-Length"]; !ok {
		r.Fields = append(r.Fields, Field{"Content-Length", []string{strconv.Itoa(len(body))}})
		r.Values++
	}
	return r
}
