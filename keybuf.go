package corral

import (
	"slices"
	"sync"
	"unsafe"
)

// keyBuf is a key being built, in bytes that a request borrows from
// keyBufs, so that a hit builds its key without allocating.
type keyBuf struct{ b []byte }

var keyBufs = sync.Pool{New: func() any { return &keyBuf{b: make([]byte, 0, 256)} }}

func (k *keyBuf) put(s string)      { k.b = append(k.b, s...) }
func (k *keyBuf) putByte(c byte)    { k.b = append(k.b, c) }
func (k *keyBuf) grow(n int)        { k.b = slices.Grow(k.b, n) }
func (k *keyBuf) String() string    { return string(k.b) }
func (k *keyBuf) reset(head string) { k.b = append(k.b[:0], head...) }

// view returns the bytes from from on as a string without copying them: it
// is valid until the buffer changes or goes back to the pool, so it must
// not be kept (strings.Clone it for that).
func (k *keyBuf) view(from int) string {
	if from >= len(k.b) {
		return ""
	}
	return unsafe.String(&k.b[from], len(k.b)-from)
}
