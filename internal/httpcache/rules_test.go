package httpcache

import (
	"net/http"
	"testing"

	"github.com/corralhq/corral/internal/response"
)

func TestUnshareable(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   string
	}{
		{"plain", http.Header{"Content-Type": {"text/plain"}}, "x", ""},
		{"set-cookie", http.Header{"Set-Cookie": {"a=1"}}, "x", "set-cookie"},
		{"vary", http.Header{"Vary": {"accept-language, Origin"}}, "x", ""},
		{"vary star", http.Header{"Vary": {"*"}}, "x", "vary"},
		{"trailers", http.Header{"Trailer": {"X-Sum"}}, "x", "trailers"},
		{"length matches", http.Header{"Content-Length": {"1"}}, "x", ""},
		{"truncated", http.Header{"Content-Length": {"100"}}, "x", "truncated"},
		{"bad length", http.Header{"Content-Length": {"x"}}, "x", "truncated"},
	}
	for _, tt := range tests {
		r := response.New(200, tt.header, []byte(tt.body))
		if got := Unshareable(r); got != tt.want {
			t.Errorf("%s: Unshareable = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestNeutral(t *testing.T) {
	r, _ := http.NewRequest("HEAD", "http://example.com/p", nil)
	r.Header.Set("Range", "bytes=0-4")
	r.Header.Set("If-None-Match", `"v1"`)
	r.Header.Set("Accept", "text/html")
	n := Neutral(r)
	if n.Method != "GET" || Conditional(n) || n.Header.Get("Accept") != "text/html" {
		t.Fatalf("Neutral = %s %v", n.Method, n.Header)
	}
	if r.Method != "HEAD" || !Conditional(r) {
		t.Fatal("Neutral changed the original request")
	}
}
