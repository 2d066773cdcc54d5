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
//	[4]     flags: 1 = a cached "not found" (negative caching), whose
//	        payload is the error's message; 2 = must revalidate: never
//	        served stale; 4 = windows follow; 8 = the computation's time
//	        follows; 16 = tags follow
//	[5:13]  written at, Unix nanoseconds, big-endian
//	[13:21] fresh until, Unix nanoseconds (0: forever)
//	[21:29] stale until, Unix nanoseconds (0: forever): how long an expired
//	        value may still be served (stale-while-revalidate, stale-if-error)
//	[29:37] with flag 4 only: the value's own stale-while-revalidate and
//	        stale-if-error windows, seconds, big-endian uint32 each
//	then, with flag 8 only: how long the computation of the value took,
//	        microseconds, big-endian uint32 (at least 1)
//	then, with flag 16 only: the value's tags: their number (uvarint, at
//	        least 1), then for each its name's length (uvarint, at least 1)
//	        and name, and the tag's token when the value was computed
//	        (TokenSize bytes)
//	then    the codec's bytes (a negative entry: the error's message)
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
	flagTook   = 8
	flagTags   = 16
	flags      = flagNeg | flagMustRe | flagWindow | flagTook | flagTags
	windowSize = 8
	tookSize   = 4

	// TokenSize is the size of a tag's token.
	TokenSize = 16
	// MaxTags is the most tags one entry holds, and MaxTagLen the longest
	// tag name.
	MaxTags   = 256
	MaxTagLen = 512
)

// Token is a tag's token: what the store held under the tag when a value
// was computed. An invalidation replaces it; a value whose tokens are not
// all current is invalidated.
type Token [TokenSize]byte

// Tag is one tag of an entry, and its token when the value was computed.
type Tag struct {
	Name  string
	Token Token
}

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
	// Took is how long the computation of the value took (whole
	// microseconds, at most about 71 minutes; 0: unknown), which
	// refresh-ahead weighs (XFetch).
	Took time.Duration
	// Tags are the value's tags, each with its token (see Token).
	Tags []Tag
	// Payload is the codec's bytes; for a negative entry, the message of
	// the error that was cached (empty for entries written before it was
	// kept).
	Payload []byte
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
	b := make([]byte, HeaderSize, HeaderSize+windowSize+tookSize+tagsSize(e.Tags)+len(e.Payload))
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
	if e.Took > 0 {
		b[4] |= flagTook
		b = binary.BigEndian.AppendUint32(b, micros(e.Took))
	}
	if len(e.Tags) > 0 {
		b[4] |= flagTags
		b = binary.AppendUvarint(b, uint64(len(e.Tags)))
		for _, t := range e.Tags {
			b = binary.AppendUvarint(b, uint64(len(t.Name)))
			b = append(b, t.Name...)
			b = append(b, t.Token[:]...)
		}
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
	var ok bool
	if e, ok = e.parseExtras(data[4]); !ok {
		return Entry{}, false
	}
	if e.WrittenAt.IsZero() ||
		(!e.StaleUntil.IsZero() && (e.FreshUntil.IsZero() || e.StaleUntil.Before(e.FreshUntil))) {
		return Entry{}, false // inconsistent: not one of ours
	}
	return e, true
}

// parseExtras reads the optional fields that the flags announce from the
// front of e.Payload. Encode writes none that are zero: one that is, is not
// one of ours.
func (e Entry) parseExtras(flag byte) (Entry, bool) {
	if flag&flagWindow != 0 {
		if len(e.Payload) < windowSize {
			return Entry{}, false
		}
		e.SWR = time.Duration(binary.BigEndian.Uint32(e.Payload)) * time.Second
		e.SIE = time.Duration(binary.BigEndian.Uint32(e.Payload[4:])) * time.Second
		e.Payload = e.Payload[windowSize:]
		if e.SWR == 0 && e.SIE == 0 {
			return Entry{}, false
		}
	}
	if flag&flagTook != 0 {
		if len(e.Payload) < tookSize {
			return Entry{}, false
		}
		e.Took = time.Duration(binary.BigEndian.Uint32(e.Payload)) * time.Microsecond
		e.Payload = e.Payload[tookSize:]
		if e.Took == 0 {
			return Entry{}, false
		}
	}
	if flag&flagTags != 0 {
		return e.parseTags()
	}
	return e, true
}

// parseTags reads the tags from the front of e.Payload. Encode writes them
// only when there are some, each named, at most MaxTags of names of at
// most MaxTagLen bytes, and its varints minimal: anything else is not one
// of ours.
func (e Entry) parseTags() (Entry, bool) {
	n, p, ok := uvarint(e.Payload, MaxTags)
	if !ok || n == 0 {
		return Entry{}, false
	}
	e.Tags = make([]Tag, n)
	for i := range e.Tags {
		var l uint64
		if l, p, ok = uvarint(p, MaxTagLen); !ok || l == 0 || uint64(len(p)) < l+TokenSize {
			return Entry{}, false
		}
		e.Tags[i].Name = string(p[:l])
		copy(e.Tags[i].Token[:], p[l:])
		p = p[l+TokenSize:]
	}
	e.Payload = p
	return e, true
}

// uvarint reads a minimally encoded uvarint of at most limit from the front
// of p, and returns it with the rest of p.
func uvarint(p []byte, limit uint64) (uint64, []byte, bool) {
	v, n := binary.Uvarint(p)
	if n <= 0 || v > limit || n > 1 && p[n-1] == 0 { // a last byte of 0 after others: not minimal

		return 0, nil, false
	}
	return v, p[n:], true
}

// tagsSize is the size of the encoded tags.
func tagsSize(tags []Tag) int {
	if len(tags) == 0 {
		return 0
	}
	n := binary.MaxVarintLen64
	for _, t := range tags {
		n += binary.MaxVarintLen64 + len(t.Name) + TokenSize
	}
	return n
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

// micros is d in whole microseconds, as a uint32: at least 1, capped.
func micros(d time.Duration) uint32 {
	return uint32(min(max(d/time.Microsecond, 1), 1<<32-1))
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
