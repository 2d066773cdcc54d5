package corral

import "errors"

// Sentinel errors. They are wrapped with context before they reach a caller:
// test them with [errors.Is], never by comparing strings.
var (
	// ErrNotFound is a Store's answer for a key it does not hold (or holds
	// expired). Cache methods that read return found=false instead; Incr, Decr,
	// Touch-less fallbacks and IncrVersion wrap it for a missing key.
	ErrNotFound = errors.New("corral: not found")

	// ErrUnavailable wraps every failure of the store: an error it returned, a
	// timeout from WithTimeout, or the caller's context ending during the call.
	// The original error stays reachable through errors.Is and errors.As.
	ErrUnavailable = errors.New("corral: store unavailable")

	// ErrPanicked is what the callers waiting on a shared computation get when
	// that computation panicked. The goroutine that ran it panics with the
	// original value.
	ErrPanicked = errors.New("corral: computation panicked")

	// ErrInvalidKey is returned for a key the cache cannot use: the empty key.
	ErrInvalidKey = errors.New("corral: invalid key")

	// ErrNotInteger is returned by Incr and Decr when the stored value is not a
	// decimal integer. Stores that implement [Incrementer] return it too.
	ErrNotInteger = errors.New("corral: value is not an integer")

	// ErrTooLarge is returned when a value is larger than the store accepts
	// (for the memory store, larger than its byte bound). Nothing is stored.
	ErrTooLarge = errors.New("corral: value too large")

	// ErrDecode wraps a stored value that the codec could not decode into the
	// destination. Get treats such a value as a miss and deletes it, so callers
	// only see ErrDecode from methods that cannot: IncrVersion and Incr.
	ErrDecode = errors.New("corral: value does not decode")
)
