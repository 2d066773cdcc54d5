package corral

import (
	"net/url"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// keyBuf is a key being built, in bytes that a request borrows from
// keyBufs, so that a hit builds its key without allocating. It notes, as the
// bytes are written, whether they may need plainKey's scan: escapeTo and
// the separators need none unless they met an unsafe byte or a '#'.
type keyBuf struct {
	b    []byte
	scan bool // a byte written since reset may be unsafe or start hashMarker
}

var keyBufs = sync.Pool{New: func() any { return &keyBuf{b: make([]byte, 0, 256)} }}

// put writes s, which may hold anything: the key will be scanned.
func (k *keyBuf) put(s string) { k.b = append(k.b, s...); k.scan = true }

// putPlain writes s, a constant known to be plain (safe bytes, no '#').
func (k *keyBuf) putPlain(s string) { k.b = append(k.b, s...) }

// putByte writes c, a separator: a safe byte other than '#'.
func (k *keyBuf) putByte(c byte) { k.b = append(k.b, c) }

// putEscaped writes c percent-encoded.
func (k *keyBuf) putEscaped(c byte) {
	const hex = "0123456789ABCDEF"
	k.b = append(k.b, '%', hex[c>>4], hex[c&15])
}

func (k *keyBuf) grow(n int)     { k.b = slices.Grow(k.b, n) }
func (k *keyBuf) String() string { return string(k.b) }

// reset empties the buffer and writes head, which plain does not look at.
func (k *keyBuf) reset(head string) { k.b, k.scan = append(k.b[:0], head...), false }

// view returns the bytes from from on as a string without copying them: it
// is valid until the buffer changes or goes back to the pool, so it must
// not be kept (strings.Clone it for that).
func (k *keyBuf) view(from int) string {
	if from >= len(k.b) {
		return ""
	}
	return unsafe.String(&k.b[from], len(k.b)-from)
}

// plain reports whether the bytes from from on (written after reset's
// head) are a plain key (plainKey), scanning them only when a write could
// not tell.
func (k *keyBuf) plain(from int) bool { return !k.scan || plainKey(k.view(from)) }

// keyBytes classifies bytes for escapeTo, writePath and writeSorted.
var keyBytes = func() (t [256]uint8) {
	for c := range 256 {
		if c == '%' || c == '|' {
			t[c] |= keyEscape
		}
		if !safeByte(byte(c)) || c == '#' {
			t[c] |= keyScan
		}
		if c == '&' || c == '=' || c == '%' || c == '+' {
			t[c] |= keyQuery
		}
		if !pathAsIs(byte(c)) {
			t[c] |= keyPathEscape
		}
	}
	return t
}()

const (
	keyEscape     = 1 << iota // percent-encoded in every key part
	keyScan                   // unsafe, or '#': the key needs plainKey's scan
	keyPathEscape             // changed by URL.EscapedPath (RFC 3986 3.3)
	keyQuery                  // a query's separators, and what a name to decode holds
)

// pathAsIs reports whether URL.EscapedPath leaves c as it is in a path: an
// unreserved byte, or a reserved one allowed in a path segment.
func pathAsIs(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("-_.~$&+,/:;=@", c) >= 0
}

// writePath writes u.EscapedPath() as escapeTo would, in one pass over the
// path when it has nothing to escape (the common case).
func writePath(b *keyBuf, u *url.URL) {
	if u.RawPath == "" {
		p := u.Path
		i := 0
		for i < len(p) && keyBytes[p[i]]&keyPathEscape == 0 {
			i++
		}
		if i == len(p) { // EscapedPath is the path itself, and plain
			b.putPlain(p)
			return
		}
	}
	escapeTo(b, u.EscapedPath(), "")
}
