package corral

import (
	"bytes"
	"net/http"
	"testing"
)

// FuzzResponseCodec decodes arbitrary bytes (never a panic; an error or a
// response that encodes back to the same bytes) and round-trips responses
// built from the input.
func FuzzResponseCodec(f *testing.F) {
	seed, _ := responseCodec{}.Marshal(&response{status: 200, header: http.Header{"Content-Type": {"text/plain"}, "X": {"a", "b"}}, body: []byte("hello")})
	f.Add(seed, 200, "X-Name", "value", []byte("body"))
	f.Add([]byte{1, 0, 200, 0, 0}, 404, "", "", []byte{})
	f.Add([]byte{1, 0, 200, 255, 255, 255, 255, 15}, 500, "A", "\x00\xff", []byte{0})
	f.Add([]byte("\xC0RL\x01garbage"), 999, "Set-Cookie", "", []byte(nil))
	f.Fuzz(func(t *testing.T, data []byte, status int, name, value string, body []byte) {
		var r *response
		if err := (responseCodec{}).Unmarshal(data, &r); err == nil {
			again, _ := responseCodec{}.Marshal(r)
			var r2 *response
			if err := (responseCodec{}).Unmarshal(again, &r2); err != nil || r2.status != r.status || !bytes.Equal(r2.body, r.body) || len(r2.header) != len(r.header) {
				t.Fatalf("a decoded response does not round-trip: %v", err)
			}
		}
		if status < 100 || status > 999 {
			return
		}
		in := &response{status: status, header: http.Header{name: {value, value}}, body: body}
		enc, err := responseCodec{}.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out *response
		if err := (responseCodec{}).Unmarshal(enc, &out); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if out.status != status || !bytes.Equal(out.body, body) || len(out.header[name]) != 2 || out.header[name][1] != value {
			t.Fatalf("round trip changed the response: %+v", out)
		}
	})
}

// FuzzEnvelope: parseEnvelope never panics, and what it accepts re-encodes to
// the same bytes.
func FuzzEnvelope(f *testing.F) {
	e := envelope{writtenAt: fromUnixNano(1), freshUntil: fromUnixNano(2), staleUntil: fromUnixNano(3), payload: []byte("p")}
	f.Add(e.encode())
	f.Add([]byte("\xC0RL\x02 newer format"))
	f.Add([]byte("{\"json\":1}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, ok := parseEnvelope(data)
		if ok && !bytes.Equal(e.encode(), data) {
			t.Fatalf("accepted %q but re-encodes differently", data)
		}
	})
}
