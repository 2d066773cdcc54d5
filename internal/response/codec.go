package response

import (
	"encoding/binary"
	"errors"
	"net/http"
)

// The stored form of a response (inside the envelope, which holds the times):
//
//	[0]    format version (1)
//	[1:3]  status, big-endian
//	uvarint  number of header fields
//	  uvarint len, name; uvarint number of values; each: uvarint len, value
//	uvarint len, body
//
// Decoding checks every length against what is left, so a corrupt or foreign
// entry is an error, never a panic.
const formatVersion = 1

// ErrFormat is what Decode returns for bytes that are not a stored response.
var ErrFormat = errors.New("not a stored response")

// Encode returns the stored form of r.
func Encode(r *Response) []byte {
	n := 3 + binary.MaxVarintLen64*2 + len(r.Body)
	for k, vs := range r.Header {
		n += 2*binary.MaxVarintLen64 + len(k)
		for _, v := range vs {
			n += binary.MaxVarintLen64 + len(v)
		}
	}
	b := make([]byte, 3, n)
	b[0] = formatVersion
	binary.BigEndian.PutUint16(b[1:], uint16(r.Status))
	b = binary.AppendUvarint(b, uint64(len(r.Header)))
	for k, vs := range r.Header {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	return appendString(b, string(r.Body))
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// Decode reads a stored response. Its body shares data, which must not
// change afterwards.
func Decode(data []byte) (*Response, error) {
	if len(data) < 3 || data[0] != formatVersion {
		return nil, ErrFormat
	}
	status := int(binary.BigEndian.Uint16(data[1:]))
	if status < 100 || status > 999 {
		return nil, ErrFormat
	}
	d := decoder{data: data[3:]}
	nh := d.count()
	header := make(http.Header, nh)
	for range nh {
		name := string(d.bytes())
		values := make([]string, d.count())
		for i := range values {
			values[i] = string(d.bytes())
		}
		header[name] = values
	}
	body := d.bytes()
	if d.err != nil || len(d.data) != 0 {
		return nil, ErrFormat
	}
	return New(status, header, body), nil
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
		d.err, d.data = ErrFormat, nil
		return 0
	}
	d.data = d.data[w:]
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.count()
	if n > len(d.data) {
		d.err, d.data = ErrFormat, nil
		return nil
	}
	b := d.data[:n:n]
	d.data = d.data[n:]
	return b
}
