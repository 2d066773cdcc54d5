package corral

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits of the keys a Cache accepts.
const (
	// MaxKeyLen is the longest key used as it is; longer keys are hashed.
	MaxKeyLen = 200
	// MaxKeySize is the longest key accepted at all: longer is ErrInvalidKey.
	MaxKeySize = 64 << 10

	maxNamespacePart = 100 // bytes of an escaped prefix or build id
	readableLen      = 64  // bytes of a hashed key kept readable in front
	hashMarker       = "#sha256="
)

// key returns the store key for a caller's key: the namespace, then the
// key's part.
func (c *Cache) key(key string) (string, error) {
	part, err := keyPart(key)
	if err != nil {
		return "", err
	}
	return c.ns.front + part, nil
}

// make returns "prefix:version:" or "prefix:version:build:", with prefix and
// build escaped so that neither holds a ':'.
func (ns namespace) make() string {
	var b strings.Builder
	b.WriteString(escapePart(ns.prefix))
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(ns.version))
	b.WriteByte(':')
	if ns.build != "" {
		b.WriteString(escapePart(ns.build))
		b.WriteByte(':')
	}
	return b.String()
}

// escapePart is escapeName for a prefix or build id, and panics when the
// result is too long: prefixes and builds are configuration.
func escapePart(s string) string {
	e := escapeName(s)
	if len(e) > maxNamespacePart {
		panic(fmt.Sprintf("corral: prefix or build %q is longer than %d bytes", s, maxNamespacePart))
	}
	return e
}

// escapeName percent-encodes '%', ':' and the bytes unsafe in a key, so that
// a name followed by ':' never meets another name: Memoize("a:b")("c") and
// Memoize("a")("b:c") are "a%3Ab:c" and "a:b:c"; and "{t}" is "%7Bt%7D",
// no Redis Cluster hash tag.
func escapeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || c == ':' || !safeByte(c) {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// safeByte reports whether c may stand in a store key as it is: no space, no
// control byte, and no brace, which would make a Redis Cluster hash tag of
// what it encloses (every key with one tag lives in one slot, on one node).
// Bytes of UTF-8 sequences are safe.
func safeByte(c byte) bool { return c > ' ' && c != 0x7f && c != '{' && c != '}' }

// keyPart returns the part of the store key that stands for key: key itself
// when it is short and safe, else a readable start (up to the first unsafe
// byte, so no brace) and the SHA-256 of the whole key. Keys used as they are never contain hashMarker, so the two forms
// cannot meet.
func keyPart(key string) (string, error) {
	switch {
	case key == "":
		return "", failure("key", "", ErrInvalidKey, errors.New("empty key"))
	case len(key) > MaxKeySize:
		return "", failure("key", key[:readableLen]+"...", ErrInvalidKey, fmt.Errorf("%d bytes, the limit is %d", len(key), MaxKeySize))
	case len(key) <= MaxKeyLen && plainKey(key):
		return key, nil
	}
	return hashKey(key), nil
}

func plainKey(key string) bool {
	for i := 0; i < len(key); i++ {
		if !safeByte(key[i]) {
			return false
		}
	}
	return !strings.Contains(key, hashMarker)
}

func hashKey(key string) string {
	n := 0
	for n < len(key) && n < readableLen && key[n] < 0x7f && safeByte(key[n]) && key[n] != '#' {
		n++
	}
	sum := sha256.Sum256([]byte(key))
	return key[:n] + hashMarker + hex.EncodeToString(sum[:])
}
