package corral

import (
	"encoding/binary"
	"time"
)

// An envelope is how GetOrSet and Memoize store a value: a header, then the
// codec's bytes.
//
//	[0:3]   magic "\xC0RL" (no JSON text starts with 0xC0)
//	[3]     format version
//	[4]     flags: 1 = a cached "not found" (negative caching), no payload
//	[5:13]  written at, Unix nanoseconds, big-endian
//	[13:21] fresh until, Unix nanoseconds (0: forever)
//	[21:29] stale until, Unix nanoseconds (0: forever): how long an expired
//	        value may still be served (stale-while-revalidate, stale-if-error)
//	[29:]   the codec's bytes
//
// Anything else under a key (a value written by Set, an entry of another
// format version, garbage) is not an envelope: GetOrSet treats it as a miss
// and overwrites it. Cache.Get reads envelopes too, as hits while fresh.
type envelope struct {
	negative   bool
	writtenAt  time.Time
	freshUntil time.Time // zero: forever
	staleUntil time.Time // zero: forever
	payload    []byte
}

const (
	envelopeMagic   = "\xC0RL"
	envelopeVersion = 1
	envelopeHeader  = 29
	flagNegative    = 1
)

func (e *envelope) encode() []byte {
	b := make([]byte, envelopeHeader, envelopeHeader+len(e.payload))
	copy(b, envelopeMagic)
	b[3] = envelopeVersion
	if e.negative {
		b[4] = flagNegative
	}
	binary.BigEndian.PutUint64(b[5:], uint64(unixNano(e.writtenAt)))
	binary.BigEndian.PutUint64(b[13:], uint64(unixNano(e.freshUntil)))
	binary.BigEndian.PutUint64(b[21:], uint64(unixNano(e.staleUntil)))
	return append(b, e.payload...)
}

// parseEnvelope reads an envelope of this format version, and reports false
// for anything else. The payload shares data.
func parseEnvelope(data []byte) (envelope, bool) {
	if len(data) < envelopeHeader || string(data[:3]) != envelopeMagic || data[3] != envelopeVersion || data[4]&^flagNegative != 0 {
		return envelope{}, false
	}
	e := envelope{
		negative:   data[4]&flagNegative != 0,
		writtenAt:  fromUnixNano(int64(binary.BigEndian.Uint64(data[5:]))),
		freshUntil: fromUnixNano(int64(binary.BigEndian.Uint64(data[13:]))),
		staleUntil: fromUnixNano(int64(binary.BigEndian.Uint64(data[21:]))),
		payload:    data[envelopeHeader:],
	}
	if e.writtenAt.IsZero() || (e.negative && len(e.payload) > 0) ||
		(!e.staleUntil.IsZero() && (e.freshUntil.IsZero() || e.staleUntil.Before(e.freshUntil))) {
		return envelope{}, false // inconsistent: not one of ours
	}
	return e, true
}

// fresh reports whether the value may be served as it is at now.
func (e *envelope) fresh(now time.Time) bool {
	return e.freshUntil.IsZero() || now.Before(e.freshUntil)
}

// usableStale reports whether an expired value may still be served at now,
// within window after it expired and while the entry says so.
func (e *envelope) usableStale(now time.Time, window time.Duration) bool {
	if window <= 0 || e.negative || e.freshUntil.IsZero() {
		return false
	}
	return now.Before(e.freshUntil.Add(window)) && (e.staleUntil.IsZero() || now.Before(e.staleUntil))
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
