package corral

import (
	"context"
	"github.com/corralhq/corral/internal/envelope"
	"testing"
	"time"
)

// Entries written by another format version, or garbage, are misses that
// are recomputed and overwritten, never errors.
func TestVersionSkew(t *testing.T) {
	ctx := context.Background()
	current := (&envelope.Entry{WrittenAt: time.Now(), FreshUntil: time.Now().Add(time.Hour), Payload: []byte(`"old"`)}).Encode()
	older, newer := append([]byte(nil), current...), append([]byte(nil), current...)
	older[3], newer[3] = 0, current[3]+1
	entries := map[string][]byte{
		"older format":   older,
		"newer format":   newer,
		"garbage":        []byte("\xC0RL\x01\x00garbage"),
		"truncated":      current[:10],
		"unknown flag":   append(append([]byte(nil), current[:4]...), append([]byte{0x80}, current[5:]...)...),
		"wrong response": (&envelope.Entry{WrittenAt: time.Now(), Payload: []byte{9, 9}}).Encode(),
	}
	for name, stored := range entries {
		t.Run(name, func(t *testing.T) {
			store := NewMemoryStore()
			defer store.Close()
			c := New(store)
			sk, _ := c.key("k")
			must(t, store.Set(ctx, sk, stored, 0))
			var runs int
			v, err := GetOrSet(ctx, c, "k", time.Minute, func(context.Context) (int, error) { runs++; return 42, nil })
			if err != nil || v != 42 || runs != 1 {
				t.Fatalf("GetOrSet = %v, %v after %d runs; want a recomputed 42", v, err, runs)
			}
			data, _ := store.Get(ctx, sk)
			if e, ok := envelope.Parse(data); !ok || string(e.Payload) != "42" {
				t.Fatalf("the entry was not overwritten with the current format: %q", data)
			}

			// The middleware too: a foreign entry under a request's key is a miss.
			var calls int
			h := c.Handler(httpHandlerFunc(func() string { calls++; return "fresh" }))
			key, _ := DefaultKey()(newRequest("/x"))
			sk, _ = c.key(key)
			must(t, store.Set(ctx, sk, stored, 0))
			if body := serve(h, "/x"); body != "fresh" || calls != 1 {
				t.Fatalf("middleware on a foreign entry: %q after %d calls", body, calls)
			}
			if body := serve(h, "/x"); body != "fresh" || calls != 1 {
				t.Fatal("the foreign entry was not overwritten")
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
