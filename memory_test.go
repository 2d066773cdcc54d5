package corral_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

func TestMemoryStoreBounds(t *testing.T) {
	ctx := context.Background()
	val := []byte("0123456789")
	entry := int64(len("k0")+len(val)) + corral.EntryOverhead
	tests := []struct {
		name      string
		opts      []corral.MemoryOption
		writes    int
		wantLen   int
		wantEvict uint64
	}{
		{"entries", []corral.MemoryOption{corral.MaxEntries(3)}, 5, 3, 2},
		{"bytes", []corral.MemoryOption{corral.MaxEntries(0), corral.MaxBytes(4 * entry)}, 9, 4, 5},
		{"both, entries first", []corral.MemoryOption{corral.MaxEntries(2), corral.MaxBytes(4 * entry)}, 9, 2, 7},
		{"unbounded", []corral.MemoryOption{corral.MaxEntries(0), corral.MaxBytes(0)}, 9, 9, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := corral.NewMemoryStore(tt.opts...)
			defer s.Close()
			for i := range tt.writes {
				must(t, s.Set(ctx, fmt.Sprintf("k%d", i), val, 0))
			}
			if s.Len() != tt.wantLen || s.Evictions() != tt.wantEvict {
				t.Fatalf("Len = %d, Evictions = %d; want %d, %d", s.Len(), s.Evictions(), tt.wantLen, tt.wantEvict)
			}
			if s.Bytes() != int64(tt.wantLen)*entry {
				t.Fatalf("Bytes = %d, want %d", s.Bytes(), int64(tt.wantLen)*entry)
			}
			// Nothing is read, so every entry stays in the small queue,
			// which evicts first in, first out: the newest writes are kept.
			for i := range tt.writes {
				_, err := s.Get(ctx, fmt.Sprintf("k%d", i))
				if kept := i >= tt.writes-tt.wantLen; kept != (err == nil) {
					t.Fatalf("k%d: Get err = %v, kept = %v", i, err, kept)
				}
			}
		})
	}
}

// A hot set used between the writes of a scan of one-time keys ten times
// the bound stays whole, whichever call uses it and whichever bound binds.
// First-in-first-out eviction by last write (the store's policy before
// S3-FIFO) loses the hot keys that are only read; so does any policy that
// lets one-time keys push out entries read again.
func TestMemoryStoreKeepsHotSetThroughScan(t *testing.T) {
	const bound, hot = 1000, 100
	val := []byte("0123456789")
	entry := int64(len("scan-00000")+len(val)) + corral.EntryOverhead
	bounds := []struct {
		name string
		opts []corral.MemoryOption
	}{
		{"entries", []corral.MemoryOption{corral.MaxEntries(bound), corral.MaxBytes(0)}},
		{"bytes", []corral.MemoryOption{corral.MaxEntries(0), corral.MaxBytes(bound * entry)}},
	}
	uses := []struct {
		name string
		use  func(ctx context.Context, s *corral.MemoryStore, keys []string) error
	}{
		{"Get", func(ctx context.Context, s *corral.MemoryStore, keys []string) error {
			for _, k := range keys {
				if _, err := s.Get(ctx, k); err != nil {
					return fmt.Errorf("Get(%q): %w", k, err)
				}
			}
			return nil
		}},
		{"GetMany", func(ctx context.Context, s *corral.MemoryStore, keys []string) error {
			got, err := s.GetMany(ctx, keys)
			if err == nil && len(got) != len(keys) {
				err = fmt.Errorf("GetMany found %d of %d hot keys", len(got), len(keys))
			}
			return err
		}},
		{"Incr", func(ctx context.Context, s *corral.MemoryStore, keys []string) error {
			for _, k := range keys {
				if _, err := s.Incr(ctx, k, 1); err != nil {
					return fmt.Errorf("Incr(%q): %w", k, err)
				}
			}
			return nil
		}},
	}
	for _, b := range bounds {
		for _, u := range uses {
			t.Run(b.name+"/"+u.name, func(t *testing.T) {
				ctx := context.Background()
				s := corral.NewMemoryStore(b.opts...)
				defer s.Close()
				keys := make([]string, hot)
				for i := range keys {
					keys[i] = fmt.Sprintf("hot-%05d", i)
					must(t, s.Set(ctx, keys[i], []byte("1000000000"), 0))
				}
				for i := range 10 * bound {
					if i%(bound/4) == 0 {
						if err := u.use(ctx, s, keys); err != nil {
							t.Fatalf("after %d one-time keys: %v", i, err)
						}
					}
					must(t, s.Set(ctx, fmt.Sprintf("scan-%05d", i), val, 0))
				}
				if err := u.use(ctx, s, keys); err != nil {
					t.Fatalf("after the scan: %v", err)
				}
				if s.Len() > bound || s.Bytes() > bound*entry {
					t.Fatalf("Len = %d, Bytes = %d: over the bound", s.Len(), s.Bytes())
				}
			})
		}
	}
}

// Hot URLs served between requests for distinct URLs (a flood twenty times
// the store's bound) stay cached: their hits go through the middleware's shared
// path, which counts the use as the store's Get does.
func TestMemoryStoreHotURLsThroughFlood(t *testing.T) {
	const bound, hot, flood = 500, 20, 10_000
	store := corral.NewMemoryStore(corral.MaxEntries(bound))
	defer store.Close()
	var mu sync.Mutex
	calls := map[string]int{}
	h := corral.New(store).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprint(w, r.URL.Path)
	}), corral.TTL(time.Hour))
	get := func(path string) {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusOK || w.Body.String() != path {
			t.Fatalf("GET %s = %d %q", path, w.Code, w.Body.String())
		}
	}
	hotReads := 0
	for i := range flood {
		if i%10 == 0 {
			get(fmt.Sprintf("/hot/%d", hotReads%hot))
			hotReads++
		}
		get(fmt.Sprintf("/flood/%d", i))
	}
	hotCalls := 0
	for p, n := range calls {
		if strings.HasPrefix(p, "/hot/") {
			hotCalls += n
		}
	}
	ratio := 1 - float64(hotCalls)/float64(hotReads)
	t.Logf("hot URLs: %d origin calls for %d requests, hit ratio %.3f", hotCalls, hotReads, ratio)
	if ratio < 0.9 {
		t.Fatalf("hot URLs: %d origin calls for %d requests, hit ratio %.2f, want > 0.9", hotCalls, hotReads, ratio)
	}
}

func TestMemoryStoreOverwriteAndDeleteKeepAccounting(t *testing.T) {
	ctx := context.Background()
	s := corral.NewMemoryStore(corral.MaxEntries(10))
	defer s.Close()
	for i := range 1000 {
		must(t, s.Set(ctx, "same", []byte(strings.Repeat("x", i%7)), 0))
	}
	if s.Len() != 1 || s.Evictions() != 0 {
		t.Fatalf("1000 overwrites of one key: Len = %d, Evictions = %d", s.Len(), s.Evictions())
	}
	if want := int64(len("same")+999%7) + corral.EntryOverhead; s.Bytes() != want {
		t.Fatalf("Bytes = %d, want %d", s.Bytes(), want)
	}
	// Re-adding deleted keys must not evict live ones through stale queue slots.
	for i := range 1000 {
		k := fmt.Sprintf("k%d", i%5)
		must(t, s.Set(ctx, k, []byte("v"), 0))
		if i%3 == 0 {
			must(t, s.Delete(ctx, k))
		}
	}
	if s.Evictions() != 0 {
		t.Fatalf("churn within the bound evicted %d entries", s.Evictions())
	}
	must(t, s.Delete(ctx, "same", "k0", "k1", "k2", "k3", "k4"))
	if s.Len() != 0 || s.Bytes() != 0 {
		t.Fatalf("after deleting everything: Len = %d, Bytes = %d", s.Len(), s.Bytes())
	}
}

func TestMemoryStoreTooLarge(t *testing.T) {
	s := corral.NewMemoryStore(corral.MaxBytes(1000))
	defer s.Close()
	ctx := context.Background()
	must(t, s.Set(ctx, "small", []byte("x"), 0))
	err := s.Set(ctx, "big", make([]byte, 1000), 0)
	if !errors.Is(err, corral.ErrTooLarge) {
		t.Fatalf("Set of a value over the bound = %v, want ErrTooLarge", err)
	}
	if _, err := s.Get(ctx, "small"); err != nil {
		t.Fatal("a refused value evicted another")
	}
	c := corral.New(s)
	if err := c.Set(ctx, "big", make([]byte, 1000), 0); !errors.Is(err, corral.ErrTooLarge) {
		t.Fatalf("Cache.Set = %v, want ErrTooLarge", err)
	}
}

func TestMemoryStoreConcurrentIncrAndLock(t *testing.T) {
	ctx := context.Background()
	s := corral.NewMemoryStore()
	defer s.Close()
	must(t, s.Set(ctx, "n", []byte("0"), 0))
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if _, err := s.Incr(ctx, "n", 1); err != nil {
					t.Error(err)
					return
				}
			}
			if ok, _ := s.Lock(ctx, "lock", "me", time.Minute); ok {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if v, _ := s.Get(ctx, "n"); string(v) != "5000" {
		t.Fatalf("after 5000 concurrent Incr: %s", v)
	}
	if winners != 1 {
		t.Fatalf("%d goroutines took the lock, want 1", winners)
	}
	if ok, _ := s.Unlock(ctx, "lock", "someone else"); ok {
		t.Fatal("a stranger released the lock")
	}
	if ok, _ := s.Unlock(ctx, "lock", "me"); !ok {
		t.Fatal("the owner could not release the lock")
	}
	must(t, s.Set(ctx, "max", []byte("9223372036854775807"), 0))
	if _, err := s.Incr(ctx, "max", 1); !errors.Is(err, corral.ErrNotInteger) {
		t.Fatalf("overflowing Incr = %v, want ErrNotInteger", err)
	}
}

func TestMemoryStoreCancelledContext(t *testing.T) {
	s := corral.NewMemoryStore()
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled context = %v", err)
	}
	if err := s.Set(ctx, "k", nil, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Set with a cancelled context = %v", err)
	}
}

// TestMemoryStoreHeapBound writes 1,000,000 distinct keys into a store bounded
// at 16 MiB and checks the live heap afterwards. The documented overhead: the
// heap held stays within MaxBytes plus 10% plus 2 MiB (EntryOverhead charges
// the per-entry bookkeeping; measured 0.86x to 0.99x of the bound for values
// of 1 B to 1 kB).
func TestMemoryStoreHeapBound(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1,000,000 keys")
	}
	const bound = 16 << 20
	ctx := context.Background()
	before := liveHeap()
	s := corral.NewMemoryStore(corral.MaxEntries(0), corral.MaxBytes(bound))
	defer s.Close()
	for i := range 1_000_000 {
		// A fresh value each time: the store keeps the slice it is given.
		v := make([]byte, 64)
		copy(v, fmt.Sprint(i))
		must(t, s.Set(ctx, fmt.Sprintf("key-%07d", i), v, 0))
	}
	held := int64(liveHeap()) - int64(before)
	limit := int64(bound) + bound/10 + 2<<20
	t.Logf("entries %d, charged %d bytes, heap held %.1f MiB (limit %.1f MiB), evictions %d",
		s.Len(), s.Bytes(), float64(held)/(1<<20), float64(limit)/(1<<20), s.Evictions())
	if s.Bytes() > bound {
		t.Fatalf("charged bytes %d over the bound %d", s.Bytes(), bound)
	}
	if held > limit {
		t.Fatalf("heap held %d bytes, over %d", held, limit)
	}
	if _, err := s.Get(ctx, "key-0999999"); err != nil {
		t.Fatal("the newest key was not kept")
	}
	runtime.KeepAlive(s)
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A TTL that ends past what Unix nanoseconds can hold (year 2262) is as
// good as forever: the entry is kept, and Add and Lock see it.
func TestMemoryStoreHugeTTL(t *testing.T) {
	ctx := context.Background()
	s := corral.NewMemoryStore()
	defer s.Close()
	must(t, s.Set(ctx, "k", []byte("v"), math.MaxInt64))
	if v, err := s.Get(ctx, "k"); string(v) != "v" || err != nil {
		t.Fatalf("Get of a value set for MaxInt64 = %q, %v", v, err)
	}
	const centuries = 250 * 365 * 24 * time.Hour
	for i, want := range []bool{true, false} {
		if ok, err := s.Lock(ctx, "lock", fmt.Sprint(i), centuries); ok != want || err != nil {
			t.Fatalf("Lock #%d for 250 years = %v, %v; want %v", i+1, ok, err, want)
		}
	}
	if ok, err := s.Touch(ctx, "k", math.MaxInt64); !ok || err != nil {
		t.Fatalf("Touch = %v, %v", ok, err)
	}
	if _, err := s.Get(ctx, "k"); err != nil {
		t.Fatalf("Get after a Touch for MaxInt64 = %v", err)
	}
}
