package corral

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. They are wrapped with context before they reach a caller:
// test them with [errors.Is], never by comparing strings.
var (
	// ErrNotFound is a Store's answer for a key it does not hold (or holds
	// expired). Cache methods that read return found=false instead; Incr, Decr
	// and IncrVersion wrap it for a missing key.
	ErrNotFound = errors.New("corral: not found")

	// ErrUnavailable wraps every failure of the store: an error it returned, a
	// timeout from WithTimeout, a call the circuit breaker refused, or the
	// caller's context ending during the call. The original error stays
	// reachable through errors.Is and errors.As.
	ErrUnavailable = errors.New("corral: store unavailable")

	// ErrPanicked is what the callers waiting on a shared computation get when
	// that computation panicked. The goroutine that ran it panics with the
	// original value.
	ErrPanicked = errors.New("corral: computation panicked")

	// ErrInvalidKey is returned for a key the cache cannot use: the empty key,
	// or one longer than [MaxKeySize].
	ErrInvalidKey = errors.New("corral: invalid key")

	// ErrNotInteger is returned by Incr and Decr when the stored value is not a
	// decimal integer, or when the result would overflow int64. Stores that
	// implement [Incrementer] return it too.
	ErrNotInteger = errors.New("corral: value is not an integer")

	// ErrTooLarge is returned when a value is larger than the store accepts
	// (for the memory store, larger than its byte bound). Nothing is stored.
	ErrTooLarge = errors.New("corral: value too large")

	// ErrDeclined marks a store's answer that refuses one call while the
	// store itself works: for Redis, a write refused when memory is full
	// under noeviction (OOM), a write to a read-only replica (READONLY), a
	// command the user may not run (NOPERM), a missing script (NOSCRIPT).
	// The Cache wraps it in [ErrUnavailable] like any failure of the store
	// (a read is a miss, a write is skipped) and counts it in
	// Stats().Errors, but it is no outage: it counts toward no circuit
	// breaker and logs no change of the store's health, so other calls go
	// on. A Store returns it wrapped around its own error.
	ErrDeclined = errors.New("corral: store declined the call")

	// ErrDecode wraps a stored value that does not decode into the caller's
	// type (Get, GetMany, GetOrSet, Memoize). The value stays stored: it is
	// the caller's type that does not fit, and another caller's data is not
	// thrown away for it. The message names the destination type and the
	// codec's error.
	ErrDecode = errors.New("corral: value does not decode")
)

// keyError is a failed operation on one key. Its message says what failed
// once, with the caller's key (never the store key): corral: get "k": store
// unavailable: dial tcp ...: connection refused. It matches both kind (a
// sentinel) and cause with errors.Is.
type keyError struct {
	op, key string
	kind    error // a sentinel of this file
	cause   error // nil, or what went wrong underneath
}

func (e *keyError) Error() string {
	var b strings.Builder
	b.WriteString("corral: ")
	b.WriteString(e.op)
	if e.key != "" {
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(e.key))
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.kind.Error(), "corral: "))
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.cause.Error(), "corral: "))
	}
	return b.String()
}

func (e *keyError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// failure returns the error of op on key: kind, caused by cause (nil: none).
// A cause that already carries kind stands for both, said once.
func failure(op, key string, kind, cause error) error {
	if cause != nil && errors.Is(cause, kind) {
		kind, cause = cause, nil
	}
	return &keyError{op: op, key: key, kind: kind, cause: cause}
}

// cachedError is a "not found" that [CacheNotFound] cached, as later
// callers get it from the store: with the message of the error the
// computation returned, and matching the target of CacheNotFound
// (errors.Is). Errors that the original wrapped besides the target are not
// kept.
type cachedError struct {
	msg    string
	target error
}

func (e *cachedError) Error() string { return e.msg }
func (e *cachedError) Unwrap() error { return e.target }

// maxErrorMessage bounds the message kept with a cached "not found".
const maxErrorMessage = 1024

// errorMessage is the message of err as a negative entry keeps it: at most
// maxErrorMessage bytes, valid UTF-8.
func errorMessage(err error) []byte {
	msg := err.Error()
	if len(msg) > maxErrorMessage {
		msg = strings.ToValidUTF8(msg[:maxErrorMessage], "")
	}
	return []byte(msg)
}

// cachedError is the error a cached "not found" answers with: the target of
// CacheNotFound, with the message that was stored with it, if any.
func (cfg *memoConfig) cachedError(msg []byte) error {
	if len(msg) == 0 {
		return cfg.notFound
	}
	return &cachedError{msg: string(msg), target: cfg.notFound}
}
