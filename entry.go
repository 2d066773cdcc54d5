package corral

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
)

// response is a recorded response: what the middleware stores and replays.
// Once made it is never modified: replays copy what they hand out.
type response struct {
	status int
	header http.Header
	body   []byte
	fields []field // header as a list, for replay; nil until first replayed

	// Set while it is computed, not stored:
	stored bool   // the computation stored it
	detail string // why it was not stored, for Cache-Status
}

// field is one header field of a response, for replay.
type field struct {
	name   string
	values []string
}

// headerFields returns the header as a list, made once per response (a
// response is immutable once shared; this runs before it is shared or on the
// decoding goroutine).
func headerFields(h http.Header) []field {
	fields := make([]field, 0, len(h))
	for k, vs := range h {
		fields = append(fields, field{k, vs})
	}
	return fields
}

// The stored form of a response, inside the envelope (which holds the times):
//
//	[0]    entry format version (1)
//	[1:3]  status, big-endian
//	uvarint  number of header fields
//	  uvarint len, name; uvarint number of values; each: uvarint len, value
//	uvarint len, body
//
// Decoding checks every length against what is left, so a corrupt or foreign
// entry is an error (the middleware's miss), never a panic.
const entryVersion = 1

// responseCodec is the Codec of stored responses.
type responseCodec struct{}

var errBadEntry = errors.New("corral: not a stored response")

func (responseCodec) Marshal(v any) ([]byte, error) {
	r, ok := v.(*response)
	if !ok {
		return nil, fmt.Errorf("corral: responseCodec cannot encode %T", v)
	}
	n := 3 + binary.MaxVarintLen64*2 + len(r.body)
	for k, vs := range r.header {
		n += 2*binary.MaxVarintLen64 + len(k)
		for _, v := range vs {
			n += binary.MaxVarintLen64 + len(v)
		}
	}
	b := make([]byte, 3, n)
	b[0] = entryVersion
	binary.BigEndian.PutUint16(b[1:], uint16(r.status))
	b = binary.AppendUvarint(b, uint64(len(r.header)))
	for k, vs := range r.header {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	return appendString(b, string(r.body)), nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func (responseCodec) Unmarshal(data []byte, v any) error {
	dst, ok := v.(**response)
	if !ok {
		return fmt.Errorf("corral: responseCodec cannot decode into %T", v)
	}
	if len(data) < 3 || data[0] != entryVersion {
		return errBadEntry
	}
	r := &response{status: int(binary.BigEndian.Uint16(data[1:]))}
	if r.status < 100 || r.status > 999 {
		return errBadEntry
	}
	d := decoder{data: data[3:]}
	nh := d.count()
	r.header = make(http.Header, nh)
	for range nh {
		name := string(d.bytes())
		nv := d.count()
		values := make([]string, nv)
		for i := range values {
			values[i] = string(d.bytes())
		}
		r.header[name] = values
	}
	r.body = d.bytes() // shares data: stored bytes are never modified
	if d.err != nil || len(d.data) != 0 {
		return errBadEntry
	}
	r.fields = headerFields(r.header)
	*dst = r
	return nil
}

// decoder reads uvarint-prefixed fields, remembering the first error.
type decoder struct {
	data []byte
	err  error
}

// count reads a number of items, each of which takes at least one byte.
func (d *decoder) count() int {
	n, w := binary.Uvarint(d.data)
	if w <= 0 || n > uint64(len(d.data)) {
		d.err, d.data = errBadEntry, nil
		return 0
	}
	d.data = d.data[w:]
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.count()
	if n > len(d.data) {
		d.err, d.data = errBadEntry, nil
		return nil
	}
	b := d.data[:n:n]
	d.data = d.data[n:]
	return b
}
