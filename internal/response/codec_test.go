package response

import (
	"bytes"
	"net/http"
	"testing"
)

// FuzzResponseCodec decodes arbitrary bytes (never a panic; an error or a
// response that encodes back to one that decodes the same) and round-trips
// responses built from the input.
func FuzzResponseCodec(f *testing.F) {
	seed := Encode(New(200, http.Header{"Content-Type": {"text/plain"}, "X": {"a", "b"}}, []byte("hello")))
	f.Add(seed, 200, "X-Name", "value", []byte("body"))
	f.Add([]byte{1, 0, 200, 0, 0}, 404, "", "", []byte{})
	f.Add([]byte{1, 0, 200, 255, 255, 255, 255, 15}, 500, "A", "\x00\xff", []byte{0})
	f.Add([]byte("\xC0RL\x01garbage"), 999, "Set-Cookie", "", []byte(nil))
	f.Fuzz(func(t *testing.T, data []byte, status int, name, value string, body []byte) {
		if r, err := Decode(data); err == nil {
			r2, err := Decode(Encode(r))
			if err != nil || r2.Status != r.Status || !bytes.Equal(r2.Body, r.Body) || len(r2.Header) != len(r.Header) {
				t.Fatalf("a decoded response does not round-trip: %v", err)
			}
		}
		if status < 100 || status > 999 {
			return
		}
		out, err := Decode(Encode(New(status, http.Header{name: {value, value}}, body)))
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if out.Status != status || !bytes.Equal(out.Body, body) || len(out.Header[name]) != 2 || out.Header[name][1] != value {
			t.Fatalf("round trip changed the response: %+v", out)
		}
	})
}
