package corral

import (
	"encoding/json"
	"fmt"
)

// Codec turns values into the bytes a [Store] keeps, and back. Replace it
// with [WithCodec] (for example with a msgpack or protobuf codec).
//
// Unmarshal must not modify or keep data: the slice may be shared with the
// store and with other callers. Marshal must return a slice it will not reuse:
// the store may keep it.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSON is the default [Codec]: encoding/json, except that a []byte value is
// stored as it is and read back into a *[]byte as a copy, so that pre-rendered
// bytes cost no encoding. As json.Unmarshal does for slices, decoding into a
// *[]byte reuses the capacity it already has. Integers are stored as their decimal text, which is
// what [Cache.Incr] and Redis INCRBY work on.
var JSON Codec = jsonCodec{}

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case []byte:
		return append([]byte(nil), v...), nil // the caller may reuse v; the store keeps ours
	case json.RawMessage:
		return append([]byte(nil), v...), nil
	}
	return json.Marshal(v)
}

func (jsonCodec) Unmarshal(data []byte, v any) error {
	switch v := v.(type) {
	case *[]byte:
		if v == nil {
			return fmt.Errorf("corral: decode into a nil %T", v)
		}
		if *v == nil || cap(*v) < len(data) {
			*v = make([]byte, len(data))
		}
		*v = (*v)[:len(data)]
		copy(*v, data)
		return nil
	case *json.RawMessage:
		if v == nil {
			return fmt.Errorf("corral: decode into a nil %T", v)
		}
		*v = make(json.RawMessage, len(data))
		copy(*v, data)
		return nil
	case nil:
		return fmt.Errorf("corral: decode into nil")
	}
	return json.Unmarshal(data, v)
}
