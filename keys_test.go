package corral

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// storeKey is the whole key a store sees for (prefix, version, build, key).
func storeKey(prefix string, version int, build, key string) (string, error) {
	part, err := keyPart(key)
	return namespace{prefix: prefix, version: version, build: build}.make() + part, err
}

// FuzzStoreKey looks for two distinct (prefix, version, build, key) tuples
// with one store key. Both tuples either set a build or not (see WithBuild).
// It also checks the shape of every key: used as it is, or hashed after a
// readable start with the SHA-256 of the whole key; never with a space or a
// control byte or brace (a Redis Cluster hash tag), never longer than the
// namespace plus 136 bytes.
func FuzzStoreKey(f *testing.F) {
	f.Add("p", 1, "", "k", "p", 1, "", "k2")
	f.Add("a:b", 1, "", "c", "a", 1, "", "b:1:c")
	f.Add("a", 1, "b", "k", "a", 1, "b:k", "")
	f.Add("a%3Ab", 1, "", "k", "a:b", 1, "", "k")
	f.Add("", 1, "", strings.Repeat("x", 201), "", 1, "", strings.Repeat("x", 200))
	f.Add("", 1, "", "a b", "", 1, "", "a#sha256=")
	f.Add("", 1, "", "a\x00", "", 1, "", "a\x01")
	f.Add("", 12, "", "k", "", 1, "", "2:k")
	f.Add("{p}", 1, "", "{k}", "%7Bp%7D", 1, "", "#sha256=")
	f.Add("", 1, "", "a{b}", "", 1, "", "a%7Bb%7D")
	f.Fuzz(func(t *testing.T, p1 string, v1 int, b1, k1, p2 string, v2 int, b2, k2 string) {
		if (b1 == "") != (b2 == "") || len(p1) > 30 || len(p2) > 30 || len(b1) > 30 || len(b2) > 30 {
			return // out of the domain this property covers
		}
		s1, err1 := storeKey(p1, v1, b1, k1)
		s2, err2 := storeKey(p2, v2, b2, k2)
		if err1 != nil || err2 != nil {
			return
		}
		for _, c := range []struct{ k, s string }{{k1, s1}, {k2, s2}} {
			part, _ := keyPart(c.k)
			if len(c.s) > 512 {
				t.Fatalf("store key of %d bytes, over the 512 the Store doc promises", len(c.s))
			}
			for i := 0; i < len(c.s); i++ {
				if !safeByte(c.s[i]) {
					t.Fatalf("store key %q holds byte %#x", c.s, c.s[i])
				}
			}
			if part != c.k {
				sum := sha256.Sum256([]byte(c.k))
				if !strings.HasSuffix(part, hashMarker+hex.EncodeToString(sum[:])) || len(part) > readableLen+len(hashMarker)+64 {
					t.Fatalf("hashed key %q has the wrong shape", part)
				}
			} else if strings.Contains(part, hashMarker) || len(part) > MaxKeyLen {
				t.Fatalf("key %q used as it is, but it is long or holds the marker", part)
			}
		}
		same := p1 == p2 && v1 == v2 && b1 == b2 && k1 == k2
		if s1 == s2 && !same {
			t.Fatalf("(%q,%d,%q,%q) and (%q,%d,%q,%q) share store key %q", p1, v1, b1, k1, p2, v2, b2, k2, s1)
		}
	})
}
