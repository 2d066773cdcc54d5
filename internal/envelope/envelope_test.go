package envelope

import (
	"bytes"
	"testing"
	"time"
)

// FuzzEnvelope: Parse never panics, and what it accepts re-encodes to the
// same bytes.
func FuzzEnvelope(f *testing.F) {
	e := Entry{WrittenAt: fromUnixNano(1), FreshUntil: fromUnixNano(2), StaleUntil: fromUnixNano(3), Payload: []byte("p")}
	f.Add(e.Encode())
	e.Took, e.SWR = 30*time.Millisecond, time.Minute
	f.Add(e.Encode())
	e.Tags = []Tag{{Name: "product:42", Token: Token{1, 2, 3}}, {Name: "route:/p/{id}"}}
	f.Add(e.Encode())
	f.Add((&Entry{Negative: true, WrittenAt: fromUnixNano(1), Payload: []byte("user 42: not found")}).Encode())
	f.Add([]byte("\xC0RL\x02 newer format"))
	f.Add([]byte("{\"json\":1}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, ok := Parse(data)
		if ok && !bytes.Equal(e.Encode(), data) {
			t.Fatalf("accepted %q but re-encodes differently", data)
		}
	})
}

func TestClassify(t *testing.T) {
	now := time.Now()
	at := func(d time.Duration) time.Time { return now.Add(d) }
	tests := []struct {
		name string
		data []byte
		want State
	}{
		{"raw", []byte(`"v"`), Foreign},
		{"fresh", (&Entry{WrittenAt: at(-time.Second), FreshUntil: at(time.Minute), Payload: []byte("1")}).Encode(), Fresh},
		{"forever", (&Entry{WrittenAt: at(-time.Second), Payload: []byte("1")}).Encode(), Fresh},
		{"expired", (&Entry{WrittenAt: at(-time.Hour), FreshUntil: at(-time.Minute), Payload: []byte("1")}).Encode(), Expired},
		{"negative", (&Entry{Negative: true, WrittenAt: at(-time.Second), FreshUntil: at(time.Minute)}).Encode(), Negative},
		{"dead", (&Entry{Negative: true, WrittenAt: at(-time.Hour), FreshUntil: at(-time.Minute)}).Encode(), Dead},
	}
	for _, tt := range tests {
		if _, got := Classify(tt.data, now); got != tt.want {
			t.Errorf("%s: Classify = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEncodeKeepsStaleRules(t *testing.T) {
	e := Entry{WrittenAt: fromUnixNano(1), FreshUntil: fromUnixNano(2), StaleUntil: fromUnixNano(3),
		MustRevalidate: true, SWR: 60 * time.Second, SIE: time.Hour, Payload: []byte("p")}
	got, ok := Parse(e.Encode())
	if !ok || !got.MustRevalidate || got.SWR != e.SWR || got.SIE != e.SIE || string(got.Payload) != "p" {
		t.Fatalf("Parse(Encode(%+v)) = %+v, %v", e, got, ok)
	}
	if got.UsableStale(fromUnixNano(2).Add(time.Second), time.Hour) {
		t.Fatal("a must-revalidate entry is usable stale")
	}
}

func TestEncodeKeepsTookAndMessage(t *testing.T) {
	tests := []Entry{
		{WrittenAt: fromUnixNano(1), FreshUntil: fromUnixNano(2), Took: 30 * time.Millisecond, Payload: []byte("p")},
		{WrittenAt: fromUnixNano(1), FreshUntil: fromUnixNano(2), StaleUntil: fromUnixNano(3), SWR: time.Minute,
			Took: 1500 * time.Microsecond, Payload: []byte("p")},
		{Negative: true, WrittenAt: fromUnixNano(1), FreshUntil: fromUnixNano(2), Payload: []byte("user 42: not found")},
	}
	for _, e := range tests {
		got, ok := Parse(e.Encode())
		if !ok || got.Took != e.Took || got.SWR != e.SWR || got.Negative != e.Negative || string(got.Payload) != string(e.Payload) {
			t.Errorf("Parse(Encode(%+v)) = %+v, %v", e, got, ok)
		}
	}
	// Under a microsecond is kept as one: a zero time is never written.
	if got, _ := Parse((&Entry{WrittenAt: fromUnixNano(1), Took: time.Nanosecond}).Encode()); got.Took != time.Microsecond {
		t.Errorf("a 1 ns computation reads back as %v, want 1µs", got.Took)
	}
	zero := (&Entry{WrittenAt: fromUnixNano(1), Took: time.Microsecond}).Encode()
	zero[HeaderSize+3] = 0 // a zero time: Encode never writes it
	if _, ok := Parse(zero); ok {
		t.Error("Parse accepted a zero computation time")
	}
}

func TestEncodeKeepsTags(t *testing.T) {
	e := Entry{WrittenAt: time.Unix(5, 0), Took: time.Millisecond, Payload: []byte("v"),
		Tags: []Tag{{Name: "product:42", Token: Token{9, 8, 7}}, {Name: "org:7", Token: Token{15: 1}}}}
	got, ok := Parse(e.Encode())
	if !ok || len(got.Tags) != 2 || got.Tags[0] != e.Tags[0] || got.Tags[1] != e.Tags[1] ||
		string(got.Payload) != "v" || got.Took != time.Millisecond {
		t.Fatalf("Parse(Encode(%+v)) = %+v, %v", e, got, ok)
	}
	data := e.Encode()
	for _, cut := range []int{1, TokenSize, TokenSize + 2} { // a tag cut short is not an envelope
		trunc := append([]byte(nil), data[:len(data)-len("v")-cut]...)
		if _, ok := Parse(trunc); ok {
			t.Errorf("cut by %d: accepted", cut)
		}
	}
}
