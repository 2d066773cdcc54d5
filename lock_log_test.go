package corral_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corralhq/corral"
)

type addFailStore struct{ corral.Store }

func (addFailStore) Add(context.Context, string, []byte, time.Duration) (bool, error) {
	return false, errors.New("add refused")
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }

func TestLockFailureLogsCallersKey(t *testing.T) {
	var buf syncBuf
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := corral.New(addFailStore{corral.NewMemoryStore()}, corral.WithLogger(log), corral.WithPrefix("tenant-a"))
	_, _ = corral.GetOrSet(context.Background(), c, "user:42", time.Minute, func(context.Context) (int, error) { return 1, nil },
		corral.DistributedLock(10*time.Millisecond))
	out := buf.b.String()
	t.Log(out)
	if strings.Contains(out, "tenant-a:1:") {
		t.Fatalf("a log line names the store key (namespace and lock marker), not the caller's key")
	}
}
