package corral

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/corralhq/corral/internal/response"
)

// responseCodec is the Codec of what the middleware stores: a response
// (response.Encode's form, whose first byte is its format version), a
// variant (variantForm, its selecting values, then the response), or a URL's
// variants record (variantsForm, the header names, then the nonce).
type responseCodec struct{}

const (
	variantForm  = 0xF1
	variantsForm = 0xF2
)

var errResponseForm = errors.New("corral: not a stored response")

func (responseCodec) Marshal(v any) ([]byte, error) {
	rec, ok := v.(*recorded)
	switch {
	case !ok:
		return nil, fmt.Errorf("corral: the response codec cannot encode %T", v)
	case rec.variants != nil:
		b := appendStrings([]byte{variantsForm}, rec.variants.names)
		return appendString(b, rec.variants.nonce), nil
	case rec.resp == nil:
		return nil, fmt.Errorf("corral: the response codec cannot encode a response that streamed")
	case rec.selecting != nil:
		return append(appendStrings([]byte{variantForm}, rec.selecting), response.Encode(rec.resp)...), nil
	}
	return response.Encode(rec.resp), nil
}

func (responseCodec) Unmarshal(data []byte, v any) error {
	dst, ok := v.(**recorded)
	if !ok {
		return fmt.Errorf("corral: the response codec cannot decode into %T", v)
	}
	rec := &recorded{}
	var err error
	switch {
	case len(data) > 0 && data[0] == variantsForm:
		vs := &variants{}
		if vs.names, data, err = readStrings(data[1:]); err != nil {
			return err
		}
		if vs.nonce, data, err = readString(data); err != nil || len(data) != 0 {
			return errResponseForm
		}
		*dst = &recorded{variants: vs}
		return nil
	case len(data) > 0 && data[0] == variantForm:
		if rec.selecting, data, err = readStrings(data[1:]); err != nil {
			return err
		}
	}
	if rec.resp, err = response.Decode(data); err != nil {
		return err
	}
	*dst = rec
	return nil
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// readStrings reads what appendStrings wrote, checking every length
// against what is left, and returns the rest.
func readStrings(b []byte) ([]string, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return nil, nil, errResponseForm
	}
	b = b[w:]
	out := make([]string, n)
	var err error
	for i := range out {
		if out[i], b, err = readString(b); err != nil {
			return nil, nil, err
		}
	}
	return out, b, nil
}

// readString reads what appendString wrote, and returns the rest.
func readString(b []byte) (string, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return "", nil, errResponseForm
	}
	return string(b[w : w+int(n)]), b[w+int(n):], nil
}
