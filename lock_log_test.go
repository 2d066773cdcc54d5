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

// addFailStore is a store whose Add fails: every lock attempt fails.
type addFailStore struct{ corral.Store }

func (addFailStore) Add(context.Context, string, []byte, time.Duration) (bool, error) {
	return false, errors.New("add refused")
}

// syncBuf is a bytes.Buffer that may be written from many goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }

func (s *syncBuf) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// A failure to take the distributed lock is logged with the caller's key,
// never with the store key (namespace and lock marker).
func TestLockFailureLogsCallersKey(t *testing.T) {
	var buf syncBuf
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := corral.New(addFailStore{newMemory(t)}, corral.WithLogger(log), corral.WithPrefix("tenant-a"))
	v, err := corral.GetOrSet(context.Background(), c, "user:42", time.Minute, func(context.Context) (int, error) { return 1, nil },
		corral.DistributedLock(10*time.Millisecond))
	if v != 1 || err != nil {
		t.Fatalf("GetOrSet without the lock: %v, %v, want 1 (a lock failure fails open)", v, err)
	}
	out := buf.String()
	keyed := 0
	for line := range strings.Lines(out) {
		if strings.Contains(line, "op=lock") && strings.Contains(line, " key=") {
			keyed++
			if !strings.Contains(line, " key=user:42 ") {
				t.Errorf("a lock failure is logged with another key than the caller's %q: %s", "user:42", line)
			}
		}
	}
	if keyed == 0 {
		t.Fatalf("no log line names the key of the failed lock:\n%s", out)
	}
	if strings.Contains(out, "tenant-a:1:") {
		t.Fatalf("a log line names the store key (namespace and lock marker), not the caller's key:\n%s", out)
	}
}
