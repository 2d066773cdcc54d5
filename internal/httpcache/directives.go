package httpcache

import (
	"math"
	"net/http"
	"strings"
)

// Directive is one Cache-Control directive: a lower-cased name and its
// argument, unquoted when it was a quoted string, and the device it is
// meant for when a ";target" follows it (Surrogate-Control's syntax).
type Directive struct {
	Name   string
	Value  string
	Quoted bool
	Target string
}

// Directives is a cache directive list (Cache-Control, CDN-Cache-Control,
// Surrogate-Control), in order.
type Directives []Directive

// CacheControl returns h's Cache-Control directives.
func CacheControl(h http.Header) Directives { return ParseDirectives(h["Cache-Control"]) }

// ParseDirectives reads directive lists from field values: comma-separated
// name[=value] items, where a value is a token or a quoted string (a comma
// inside quotes separates nothing). Names are case-insensitive.
func ParseDirectives(values []string) Directives {
	var out Directives
	for _, v := range values {
		for v != "" {
			var d Directive
			var ok bool
			d, v, ok = nextDirective(v)
			if ok {
				out = append(out, d)
			}
		}
	}
	return out
}

// nextDirective reads the directive at the start of s and returns the rest
// of s after its comma.
func nextDirective(s string) (Directive, string, bool) {
	end := strings.IndexAny(s, ",=")
	if end < 0 {
		end = len(s)
	}
	d := Directive{Name: strings.ToLower(strings.TrimSpace(s[:end]))}
	d.Name, d.Target, _ = strings.Cut(d.Name, ";")
	s = s[end:]
	if strings.HasPrefix(s, "=") {
		d.Value, d.Quoted, s = argument(s[1:])
	}
	rest := ""
	if i := strings.IndexByte(s, ','); i >= 0 {
		s, rest = s[:i], s[i+1:]
	}
	if !d.Quoted {
		d.Value, d.Target, _ = strings.Cut(d.Value, ";")
	} else if _, target, ok := strings.Cut(s, ";"); ok { // after the closing quote
		d.Target = target
	}
	d.Name, d.Target = strings.TrimSpace(d.Name), strings.ToLower(strings.TrimSpace(d.Target))
	return d, rest, d.Name != ""
}

// argument reads a directive's argument at the start of s: a quoted string
// (with its escapes undone) or a token up to the next comma.
func argument(s string) (value string, quoted bool, rest string) {
	s = strings.TrimLeft(s, " \t")
	if !strings.HasPrefix(s, `"`) {
		end := strings.IndexByte(s, ',')
		if end < 0 {
			end = len(s)
		}
		return strings.TrimSpace(s[:end]), false, s[end:]
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '"':
			return b.String(), true, s[i+1:]
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true, "" // unterminated: the rest is the value
}

// Has reports whether the directive name is present, with or without an
// argument.
func (ds Directives) Has(name string) bool {
	_, ok := ds.find(name)
	return ok
}

func (ds Directives) find(name string) (Directive, bool) {
	for _, d := range ds {
		if d.Name == name {
			return d, true
		}
	}
	return Directive{}, false
}

// maxDelta is the largest delta-seconds kept as it is (RFC 9111 1.2.2): a
// larger value means this many seconds.
const maxDelta = math.MaxInt32 + 1

// Seconds returns a delta-seconds directive's value (max-age=60), and
// whether the directive is there. A value that is not one or more digits
// (quoted, negative, empty, a fraction) is invalid: ok with valid false.
func (ds Directives) Seconds(name string) (secs int64, ok, valid bool) {
	d, ok := ds.find(name)
	if !ok {
		return 0, false, false
	}
	if d.Quoted || d.Value == "" {
		return 0, true, false
	}
	n, valid := DeltaSeconds(d.Value)
	return n, true, valid
}

// DeltaSeconds parses a non-negative decimal integer, capped at 2^31
// seconds; anything else is invalid.
func DeltaSeconds(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = min(n*10+int64(c-'0'), maxDelta)
	}
	return n, true
}
