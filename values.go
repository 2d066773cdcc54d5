package corral

import (
	"fmt"
	"reflect"
	"time"

	"github.com/corralhq/corral/internal/envelope"
)

// storable returns the bytes Set, Add and SetMany store for data, the
// codec's encoding of a value: data as it is, unless it begins as corral's
// entry header does (a []byte value may), in which case it goes inside an
// envelope that is fresh forever, so that every reader unwraps exactly data
// instead of taking it for an entry of its own. The store's TTL still
// applies. JSON text never begins that way: it costs nothing there.
func storable(data []byte) []byte {
	if !envelope.Is(data) {
		return data
	}
	e := envelope.Entry{WrittenAt: time.Now(), Payload: data}
	return e.Encode()
}

// checkDst refuses a destination that no value can be decoded into: one that
// is not a pointer, or a nil pointer. nil itself is fine (Get then only
// reports presence). It is the caller's mistake, reported hit or miss,
// before the store is read, and no decode error is counted against a value.
func checkDst(key string, dst any) error {
	if dst == nil {
		return nil
	}
	if t := reflect.TypeOf(dst); t.Kind() != reflect.Pointer || reflect.ValueOf(dst).IsNil() {
		return failure("get", key, ErrDecode, fmt.Errorf("into %T: dst must be a non-nil pointer", dst))
	}
	return nil
}

// live reports whether stored bytes hold a value a reader gets: a raw value,
// or a fresh envelope (not an expired one kept for its stale window, nor a
// cached "not found").
func live(data []byte) bool {
	_, ok := readable(data)
	return ok
}
