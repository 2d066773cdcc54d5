package corral

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestPathAsIs checks the key's table of path bytes against URL.EscapedPath.
func TestPathAsIs(t *testing.T) {
	for c := range 256 {
		s := "/a" + string([]byte{byte(c)}) + "b"
		asIs := (&url.URL{Path: s}).EscapedPath() == s
		if got := keyBytes[c]&keyPathEscape == 0; got != asIs {
			t.Errorf("byte %#x: table says as-is %v, EscapedPath %v", c, got, asIs)
		}
	}
}

// FuzzKeyBuf checks escapeTo and writePath against their plain definitions,
// and that keyBuf.plain says what plainKey says of the key written.
func FuzzKeyBuf(f *testing.F) {
	f.Add("a.example", "/items/1", "", "b=2&a=1", "fr")
	f.Add("h", "/p q", "", "a=%26", "x;y,z")
	f.Add("h{", "/a%2Fb", "/a%2Fb", "q=#sha256=", "#sha256=")
	f.Add("h", "*", "", "a=|", "\x00")
	f.Add("h", "/é", "", "a+b=1", "")
	f.Add("h", "/", "", "a=1&&b=2", "")
	f.Add("h", "/", "", "b=1&a=2|", "")
	f.Add("h", "/", "", "a=1&b=%7C&b&c=+%", "")
	f.Add("h", "/", "", "a%41=1", "")
	k := keyConfig{vary: []string{"X-V"}}
	f.Fuzz(func(t *testing.T, host, path, rawPath, query, v string) {
		for _, extra := range []string{"", ";,"} {
			var b keyBuf
			escapeTo(&b, v, extra)
			if want := escapeRef(v, extra); b.String() != want {
				t.Fatalf("escapeTo(%q, %q) = %q, want %q", v, extra, b.String(), want)
			}
		}
		var q keyBuf
		q.putPlain("x")
		if ok := writeSorted(&q, query); ok != plainSortedRef(query) {
			t.Fatalf("writeSorted(%q) = %v, want %v", query, ok, !ok)
		} else if want := "x" + escapeRef(query, ""); ok && q.String() != want {
			t.Fatalf("writeSorted(%q) wrote %q, want %q", query, q.String(), want)
		} else if !ok && (q.String() != "x" || q.scan) {
			t.Fatalf("writeSorted(%q) failed, leaving %q (scan %v)", query, q.String(), q.scan)
		}
		u := &url.URL{Path: path, RawPath: rawPath, RawQuery: query}
		var p, want keyBuf
		writePath(&p, u)
		escapeTo(&want, u.EscapedPath(), "")
		if p.String() != want.String() {
			t.Fatalf("writePath(%q, %q) = %q, want %q", path, rawPath, p.String(), want.String())
		}
		r := &http.Request{Method: "GET", Host: host, URL: u, Header: http.Header{"X-V": {v}}}
		var b keyBuf
		b.reset("p:1:")
		k.writeURL(&b, r)
		k.writeVariant(&b, r)
		if key := b.view(4); b.plain(4) != plainKey(key) {
			t.Fatalf("plain(%q) = %v, plainKey %v", key, b.plain(4), plainKey(key))
		}
	})
}

// escapeRef is escapeTo's definition: '%', '|' and extra percent-encoded.
func escapeRef(s, extra string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '%' || c == '|' || strings.IndexByte(extra, c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// plainSortedRef is writeSorted's condition: every pair has a name that
// needs no decoding, and the names are in order.
func plainSortedRef(raw string) bool {
	prev := ""
	for i, pair := range strings.Split(raw, "&") {
		name, _, _ := strings.Cut(pair, "=")
		if pair == "" || strings.ContainsAny(name, "%+") || (i > 0 && name < prev) {
			return false
		}
		prev = name
	}
	return true
}
