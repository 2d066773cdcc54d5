package corral

import (
	"context"
	"fmt"
	"math/rand/v2"
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
	// expired, so DeleteExpired leaves only entries that Items lists.
	for allExpired := time.Now().Add(3 * time.Millisecond); time.Now().Before(allExpired); {
		time.Sleep(time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items.DeleteExpired()
	var n, bytes int64
	for k, it := range s.items.Items() {
		e := it.Object.(*memItem)
		n++
		bytes += int64(len(k)+len(e.value)) + EntryOverhead
	}
	if raw := int64(s.items.ItemCount()); raw != n {
		t.Fatalf("the map holds %d items, %d unexpired", raw, n)
	}
	if n != s.entries.Load() || bytes != s.bytes.Load() {
		t.Fatalf("map holds %d entries / %d bytes, counters say %d / %d", n, bytes, s.entries.Load(), s.bytes.Load())
	}
	if n > 200 {
		t.Fatalf("%d entries over the bound of 200", n)
	}
	// Compaction keeps the queue within twice the entry bound plus 1024
	// slots (deletes and expiries shrink the entries, not the queue).
	if live := len(s.queue) - s.head; live > 2*200+1024+1 {
		t.Fatalf("eviction queue holds %d slots for a bound of 200 entries", live)
	}
}
