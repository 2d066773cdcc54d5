package corral_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/corralhq/corral"
)

func keyOf(t *testing.T, kf corral.KeyFunc, method, target string, headers ...string) string {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	k, ok := kf(r)
	if !ok {
		t.Fatalf("%s %s: not cacheable", method, target)
	}
	return k
}

func TestDefaultKey(t *testing.T) {
	kf := corral.DefaultKey(corral.VaryOn("Accept-Language"))
	same := [][2]string{
		{"/items/1?b=2&a=1", "/items/1?a=1&b=2"},
		{"/items/1?a=1&b=2&a=3", "/items/1?b=2&a=1&a=3"}, // repeated a keeps its order
	}
	for _, p := range same {
		if keyOf(t, kf, "GET", p[0]) != keyOf(t, kf, "GET", p[1]) {
			t.Errorf("%s and %s have different keys", p[0], p[1])
		}
	}
	if keyOf(t, kf, "GET", "/x") != keyOf(t, kf, "HEAD", "/x") {
		t.Error("HEAD and GET have different keys")
	}
	distinct := []struct {
		target  string
		headers []string
	}{
		{"/items/1", nil},
		{"/items/2", nil},
		{"/items/1?a=1&a=2", nil},
		{"/items/1?a=2&a=1", nil}, // handlers see a different first value
		{"/items/1?a=1", nil},
		{"/items/1?a=1%26b=2", nil},
		{"/items/1?a=1&b=2", nil},
		{"/items/1|", nil},
		{"/items%2F1", nil},
		{"/items/1", []string{"Accept-Language", "fr"}},
		{"/items/1", []string{"Accept-Language", ""}},
		{"/items/1", []string{"Accept-Language", "fr", "Accept-Language", "de"}},
		{"/items/1", []string{"Accept-Language", "fr,de"}},
		{"http://other.example/items/1", nil},
	}
	seen := map[string]string{}
	for _, d := range distinct {
		k := keyOf(t, kf, "GET", d.target, d.headers...)
		if prev, dup := seen[k]; dup {
			t.Errorf("%s %v and %s share key %q", d.target, d.headers, prev, k)
		}
		seen[k] = d.target + strings.Join(d.headers, ",")
	}
	allow := corral.DefaultKey(corral.QueryKeys("page"))
	if keyOf(t, allow, "GET", "/l?page=2&utm_source=x") != keyOf(t, allow, "GET", "/l?utm_source=y&page=2") {
		t.Error("QueryKeys kept a parameter outside the allow-list")
	}
	none := corral.DefaultKey(corral.NoQuery())
	if keyOf(t, none, "GET", "/l?page=2") != keyOf(t, none, "GET", "/l") {
		t.Error("NoQuery kept the query")
	}
	cookies := corral.DefaultKey(corral.KeyCookies("lang"))
	if keyOf(t, cookies, "GET", "/", "Cookie", "lang=fr; _ga=1") != keyOf(t, cookies, "GET", "/", "Cookie", "_ga=2; lang=fr") {
		t.Error("an unnamed cookie changed the key")
	}
	if keyOf(t, cookies, "GET", "/", "Cookie", "lang=fr") == keyOf(t, cookies, "GET", "/", "Cookie", "lang=de") {
		t.Error("a named cookie is not in the key")
	}
}

// FuzzDefaultKey feeds random hosts, paths, queries and header values to the
// default key function and checks that two requests share a key only when a
// model of what a handler can see of them (host, escaped path, the query's
// parameters sorted stably by name, the VaryOn header's values) is the same.
func FuzzDefaultKey(f *testing.F) {
	f.Add("a.example", "/items/1", "b=2&a=1", "fr", true, "a.example", "/items/1", "a=1&b=2", "fr", true)
	f.Add("h", "/p", "a=1&a=2", "", false, "h", "/p", "a=2&a=1", "", false)
	f.Add("h", "/p|q", "", "x", true, "h", "/p", "|q", "x", true)
	f.Add("h", "/p", "a=%26", "x,y", true, "h", "/p", "a=&", "x", true)
	f.Add("h", "/p", "", "", true, "h", "/p", "", "", false)
	kf := corral.DefaultKey(corral.VaryOn("X-V"))
	f.Fuzz(func(t *testing.T, h1, p1, q1, v1 string, has1 bool, h2, p2, q2, v2 string, has2 bool) {
		r1, r2 := fuzzRequest(h1, p1, q1, v1, has1), fuzzRequest(h2, p2, q2, v2, has2)
		k1, ok1 := kf(r1)
		k2, ok2 := kf(r2)
		if !ok1 || !ok2 || k1 != k2 {
			return
		}
		if m1, m2 := keyModel(r1), keyModel(r2); !slices.Equal(m1, m2) {
			t.Fatalf("distinct requests share key %q:\n%q\n%q", k1, m1, m2)
		}
	})
}

func fuzzRequest(host, path, query, v string, hasV bool) *http.Request {
	r := &http.Request{Method: "GET", Host: host, URL: &url.URL{Path: path, RawQuery: query}, Header: http.Header{}}
	if hasV {
		r.Header["X-V"] = []string{v}
	}
	return r
}

func keyModel(r *http.Request) []string {
	type param struct{ name, raw string }
	var params []param
	for _, pair := range strings.Split(r.URL.RawQuery, "&") {
		if pair == "" {
			continue
		}
		name, _, _ := strings.Cut(pair, "=")
		if dec, err := url.QueryUnescape(name); err == nil {
			name = dec
		}
		params = append(params, param{name, pair})
	}
	slices.SortStableFunc(params, func(a, b param) int { return strings.Compare(a.name, b.name) })
	m := []string{r.Host, r.URL.EscapedPath(), "query"}
	for _, p := range params {
		m = append(m, p.raw)
	}
	m = append(m, "vary")
	return append(m, r.Header["X-V"]...)
}
