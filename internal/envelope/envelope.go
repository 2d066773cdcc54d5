// Package envelope is the format in which corral stores a value computed by
// GetOrSet, Memoize or the HTTP middleware: a fixed header that holds when
// the value was written and how long it may be served, then the codec's
// bytes. It also classifies what a store holds, in one place for every
// reader.
package envelope

import (
	"encoding/binary"
	"time"
)

// The layout:
//
//	[0:3]   magic "\xC0RL" (no JSON text starts with 0xC0)
//	[3]     format version
//	[4]     flags: 1 = a cached "not found" (negative caching), no payload;
//	        2 = must revalidate: never served stale; 4 = windows follow
//	[5:13]  written at, Unix nanoseconds, big-endian
//	[13:21] fresh until, Unix nanoseconds (0: forever)
//	[21:29] stale until, Unix nanoseconds (0: forever): how long an expired
//	        value may still be served (stale-while-revalidate, stale-if-error)
//	[29:37] with flag 4 only: the value's own stale-while-revalidate and
//	        stale-if-error windows, seconds, big-endian uint32 each
//	[29:] or [37:]   the codec's bytes
//
// Anything else under a key (a value written by Set, an entry of another
// format version, garbage) is not an envelope: [Classify] calls it Foreign.
const (
	magic      = "\xC0RL"
	version    = 1
	HeaderSize = 29
	flagNeg    = 1
	flagMustRe = 2
	flagWindow = 4
	flags      = flagNeg | flagMustRe | flagWindow
	windowSize = 8
)

// Entry is a parsed envelope. Its Payload shares the bytes it was parsed from.
type Entry struct {
	Negative   bool      // a cached "not found": no payload
	WrittenAt  time.Time // never zero
	FreshUntil time.Time // zero: forever
	StaleUntil time.Time // zero: forever
	// MustRevalidate: once expired it is never served stale, whatever
	// window a caller allows (HTTP must-revalidate, no-cache).
	MustRevalidate bool
	// SWR and SIE are the value's own stale windows, which widen a
	// caller's (HTTP stale-while-revalidate, stale-if-error); whole seconds.
	SWR, SIE time.Duration
	Payload  []byte
}

// State is what a store's bytes are, at one moment.
type State uint8

const (
	Foreign  State = iota // not an envelope of this format: a raw value, or garbage
	Fresh                 // a value that may be served as it is
	Negative              // a fresh cached "not found"
	Expired               // a value past its freshness: maybe usable stale, see [Entry.UsableStale]
	Dead                  // an expired "not found": nothing to serve
)

// Classify parses data and says what it is at now. It is the one place that
// decides whether stored bytes are fresh, negative, expired or foreign.
func Classify(data []byte, now time.Time) (Entry, State) {
	e, ok := Parse(data)
	switch {
	case !ok:
		return Entry{}, Foreign
	case e.Fresh(now) && e.Negative:
		return e, Negative
	case e.Fresh(now):
		return e, Fresh
	case e.Negative:
		return e, Dead
	}
	return e, Expired
}

// Encode returns the stored form of e.
func (e *Entry) Encode() []byte {
	b := make([]byte, HeaderSize, HeaderSize+windowSize+len(e.Payload))
	copy(b, magic)
	b[3] = version
	if e.Negative {
		b[4] |= flagNeg
	}
	if e.MustRevalidate {
		b[4] |= flagMustRe
	}
	binary.BigEndian.PutUint64(b[5:], uint64(unixNano(e.WrittenAt)))
	binary.BigEndian.PutUint64(b[13:], uint64(unixNano(e.FreshUntil)))
	binary.BigEndian.PutUint64(b[21:], uint64(unixNano(e.StaleUntil)))
	if e.SWR > 0 || e.SIE > 0 {
		b[4] |= flagWindow
		b = binary.BigEndian.AppendUint32(b, seconds(e.SWR))
		b = binary.BigEndian.AppendUint32(b, seconds(e.SIE))
	}
	return append(b, e.Payload...)
}

// Is reports whether data starts like an envelope, cheaply: a reader that
// finds false has a raw value.
func Is(data []byte) bool { return len(data) >= HeaderSize && data[0] == magic[0] }

// Parse reads an envelope of this format version, and reports false for
// anything else, an inconsistent header included.
func Parse(data []byte) (Entry, bool) {
	if len(data) < HeaderSize || string(data[:3]) != magic || data[3] != version || data[4]&^flags != 0 {
		return Entry{}, false
	}
	e := Entry{
		Negative:       data[4]&flagNeg != 0,
		MustRevalidate: data[4]&flagMustRe != 0,
		WrittenAt:      fromUnixNano(int64(binary.BigEndian.Uint64(data[5:]))),
		FreshUntil:     fromUnixNano(int64(binary.BigEndian.Uint64(data[13:]))),
		StaleUntil:     fromUnixNano(int64(binary.BigEndian.Uint64(data[21:]))),
		Payload:        data[HeaderSize:],
	}
	if data[4]&flagWindow != 0 {
		if len(e.Payload) < windowSize {
			return Entry{}, false
		}
		e.SWR = time.Duration(binary.BigEndian.Uint32(e.Payload)) * time.Second
		e.SIE = time.Duration(binary.BigEndian.Uint32(e.Payload[4:])) * time.Second
		e.Payload = e.Payload[windowSize:]
		if e.SWR == 0 && e.SIE == 0 {
			return Entry{}, false // Encode writes no empty windows: not one of ours
		}
	}
	if e.WrittenAt.IsZero() || (e.Negative && len(e.Payload) > 0) ||
		(!e.StaleUntil.IsZero() && (e.FreshUntil.IsZero() || e.StaleUntil.Before(e.FreshUntil))) {
		return Entry{}, false // inconsistent: not one of ours
	}
	return e, true
}

// Fresh reports whether the value may be served as it is at now.
func (e *Entry) Fresh(now time.Time) bool {
	return e.FreshUntil.IsZero() || now.Before(e.FreshUntil)
}

// UsableStale reports whether an expired value may still be served at now,
// within window after it expired and while the entry says so. Callers pass
// their window widened by the entry's own (SWR or SIE).
func (e *Entry) UsableStale(now time.Time, window time.Duration) bool {
	if window <= 0 || e.Negative || e.MustRevalidate || e.FreshUntil.IsZero() {
		return false
	}
	return now.Before(e.FreshUntil.Add(window)) && (e.StaleUntil.IsZero() || now.Before(e.StaleUntil))
}

// seconds is d in whole seconds, as a uint32 (capped).
func seconds(d time.Duration) uint32 {
	return uint32(min(max(d/time.Second, 0), 1<<32-1))
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
