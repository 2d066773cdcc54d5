package corral

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Concurrent writers, deletes, expiries and the janitor: afterwards the
// counted entries and bytes equal what the map really holds.
func TestMemoryAccountingUnderChurn(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore(MaxEntries(200), CleanupInterval(time.Millisecond))
	defer s.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 5000 {
				k := fmt.Sprintf("k%d", r.IntN(400))
				v := make([]byte, r.IntN(50))
				switch r.IntN(6) {
				case 0:
					_ = s.Delete(ctx, k)
				case 1:
					_, _ = s.Add(ctx, k, v, time.Duration(r.IntN(3))*time.Millisecond)
				case 2:
					_, _ = s.Touch(ctx, k, time.Duration(r.IntN(3))*time.Millisecond)
				case 3:
					_, _ = s.Incr(ctx, k, 1)
				default:
					_ = s.Set(ctx, k, v, time.Duration(r.IntN(3))*time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	s.Close()
	// Every TTL above is under 3 ms: past that instant all of them have
	// expired, so the janitor's reclaim leaves only entries that never expire.
	for allExpired := time.Now().Add(3 * time.Millisecond); time.Now().Before(allExpired); {
		time.Sleep(time.Millisecond)
	}
	s.reclaimExpired()
	s.mu.Lock()
	defer s.mu.Unlock()
	var n, bytes, small, smallBytes int64
	for k, it := range s.items.Items() {
		e := it.Object.(*memItem)
		if e.node.expires != 0 {
			t.Fatalf("%q expired %v ago and was not reclaimed", k, time.Since(e.node.expiry()))
		}
		n++
		bytes += int64(len(k)+len(e.value)) + EntryOverhead
		if !e.node.main {
			small++
			smallBytes += charge(k, e.value)
		}
	}
	if raw := int64(s.items.ItemCount()); raw != n {
		t.Fatalf("the map holds %d items, %d unexpired", raw, n)
	}
	if n != s.entries.Load() || bytes != s.bytes.Load() {
		t.Fatalf("map holds %d entries / %d bytes, counters say %d / %d", n, bytes, s.entries.Load(), s.bytes.Load())
	}
	if small != int64(s.smallEntries) || smallBytes != s.smallBytes {
		t.Fatalf("small queue holds %d entries / %d bytes, counters say %d / %d", small, smallBytes, s.smallEntries, s.smallBytes)
	}
	if n > 200 {
		t.Fatalf("%d entries over the bound of 200", n)
	}
	// Compaction keeps the queues within twice the entry bound plus 1024
	// slots (deletes and expiries shrink the entries, not the queues).
	if slots := s.small.len() + s.main.len(); slots > 2*200+1024+1 {
		t.Fatalf("eviction queues hold %d slots for a bound of 200 entries", slots)
	}
	if s.ghost.prints.len() > 200 || len(s.ghost.latest) > s.ghost.prints.len() {
		t.Fatalf("the ghost holds %d hashes (%d remembered) for a bound of 200 entries", s.ghost.prints.len(), len(s.ghost.latest))
	}
}

// A hit served from the shared decoded value (Memoize's and the middleware's
// hit path) counts one use of the entry, as the store's Get does: without it,
// an entry read only that way would look unused to the eviction policy.
func TestSharedHitsCountUses(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore()
	defer store.Close()
	c := New(store)
	hits := []struct {
		name string
		hit  func()
	}{
		{"Memoize", func() {
			double := Memoize(c, "double", time.Minute, func(_ context.Context, n int) (int, error) { return 2 * n, nil })
			if v, err := double(ctx, 21); v != 42 || err != nil {
				t.Fatalf("double(21) = %d, %v", v, err)
			}
		}},
		{"Handler", func() {
			h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "body") }), TTL(time.Minute))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/page", nil))
		}},
	}
	for _, h := range hits {
		t.Run(h.name, func(t *testing.T) {
			h.hit() // the miss: computes and stores
			before := storeUses(store)
			h.hit()
			if after := storeUses(store); after != before+1 {
				t.Fatalf("uses of all entries: %d before the hit, %d after; want one more", before, after)
			}
		})
	}
}

// storeUses adds up the use counts of the entries s holds.
func storeUses(s *MemoryStore) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n uint32
	for k, it := range s.items.Items() {
		if !strings.Contains(k, ":t|") { // tags' tokens are used with the entries they tag
			n += it.Object.(*memItem).node.freq.Load()
		}
	}
	return n
}

// The ghost remembers the last keys added, up to its limit; a key added
// again is remembered from its latest add, and take forgets it.
func TestGhostRemembersLatestKeys(t *testing.T) {
	g := newGhost()
	for _, k := range []string{"a", "b", "c", "a", "d"} {
		g.add(k, 3)
	}
	// The queue holds c, a, d: b aged out, a's first add too but not its second.
	want := map[string]bool{"a": true, "b": false, "c": true, "d": true, "e": false}
	for k, remembered := range want {
		probe := g // take forgets: probe a copy of the map
		probe.latest = maps.Clone(g.latest)
		if got := probe.take(k); got != remembered {
			t.Errorf("take(%q) = %v, want %v", k, got, remembered)
		}
	}
	if !g.take("c") || g.take("c") {
		t.Fatal("take did not forget c")
	}
	g.add("e", 3) // pushes c's slot out: the forgotten c must stay forgotten
	g.add("f", 3)
	if g.prints.len() != 3 || len(g.latest) != 3 {
		t.Fatalf("ghost holds %d fingerprints, %d remembered; want 3, 3", g.prints.len(), len(g.latest))
	}
}
