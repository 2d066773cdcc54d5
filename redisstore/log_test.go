package redisstore_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// lines is a slog.Handler that keeps its records as "LEVEL msg source=...".
type lines struct{ ch chan string }

func (h lines) Enabled(context.Context, slog.Level) bool { return true }
func (h lines) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	select {
	case h.ch <- line:
	default: // the test has seen enough
	}
	return nil
}
func (h lines) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h lines) WithGroup(string) slog.Handler      { return h }

// go-redis's lines reach the logger given to SetLogger, not stderr. go-redis
// reads its logger without synchronisation: the test runs in a process of
// its own, where no other client's goroutine can read it meanwhile.
func TestSetLoggerRoutesGoRedisLines(t *testing.T) {
	if os.Getenv("CORRAL_TEST_SETLOGGER") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSetLoggerRoutesGoRedisLines$", "-test.v")
		cmd.Env = append(os.Environ(), "CORRAL_TEST_SETLOGGER=1")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("the test in its own process: %v\n%s", err, out)
		}
		return
	}
	got := lines{make(chan string, 100)}
	redisstore.SetLogger(slog.New(got))
	client := redis.NewClient(&redis.Options{Addr: closedPort(t), DialerRetries: 1, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	s := redisstore.New(client)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.Get(ctx, "k")
	var seen []string
	for {
		select {
		case line := <-got.ch:
			seen = append(seen, line)
			if strings.Contains(line, "failed to dial") {
				if !strings.HasPrefix(line, "DEBUG connection pool: failed to dial") || !strings.HasSuffix(line, "source=go-redis") {
					t.Fatalf("record %q", line)
				}
				return
			}
		case <-ctx.Done():
			t.Fatalf("no go-redis dial failure logged within 1 s; records %q", seen)
		}
	}
}
