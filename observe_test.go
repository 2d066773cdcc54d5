package corral_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

// records is a slog.Handler that keeps the records it gets.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
	min  slog.Level
}

func (h *records) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}
func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

func (h *records) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		out = append(out, r.Level.String()+" "+r.Message)
	}
	return out
}

// A store outage and its recovery are two log records, however many
// requests meet them.
func TestStoreOutageLogsOncePerChange(t *testing.T) {
	ctx := context.Background()
	log := &records{min: slog.LevelInfo}
	f := &flaky{Store: corral.NewMemoryStore()}
	c := corral.New(f, corral.WithLogger(slog.New(log)), corral.WithCircuitBreaker(3, 20*time.Millisecond))
	must(t, c.Set(ctx, "k", 1, 0))
	f.broken.Store(true)
	for range 50 {
		c.Get(ctx, "k", nil)
	}
	f.broken.Store(false)
	eventually(t, "recovered", func() bool {
		found, _ := c.Get(ctx, "k", nil)
		return found
	})
	for range 50 {
		c.Get(ctx, "k", nil)
	}
	got := log.messages()
	want := []string{"WARN corral: store failing; serving without it", "INFO corral: store recovered"}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("log records %q, want %q", got, want)
	}
	if s := c.Stats(); s.ErrorsByOp["get"] != 3 || s.BreakerState != "closed" {
		t.Fatalf("stats %+v", s)
	}
}

func TestXCacheAndRouteStats(t *testing.T) {
	c := newHTTPCache(t)
	srv := c.Handler(&counting{}, corral.XCache(), corral.RouteName("things"))
	if got := do(srv, "GET", "/x").Header().Get("X-Cache"); got != "MISS" {
		t.Fatalf("X-Cache on a miss = %q", got)
	}
	if got := do(srv, "GET", "/x").Header().Get("X-Cache"); got != "HIT" {
		t.Fatalf("X-Cache on a hit = %q", got)
	}
	do(srv, "GET", "/x", "Authorization", "a")
	do(srv, "POST", "/x")
	got := c.HTTPStats()["things"]
	if got.Stored != 1 || got.Hits != 1 || got.Bypassed != 1 || got.Passed != 1 {
		t.Fatalf("HTTPStats[things] = %+v", got)
	}
}
