package redisstore_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// Without EVAL (an ACL), a lock cannot be released: a cache says so once
// in its log, and its locks expire within a second instead of holding the
// other instances for their whole wait.
func TestLockWithoutEval(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	err := admin.Do(ctx, "ACL", "SETUSER", "noeval", "on", ">pw", "~*", "+@all", "-eval", "-evalsha", "-eval_ro", "-evalsha_ro").Err()
	if err != nil {
		t.Fatal(err)
	}
	instance := func(log *healthRecords) *corral.Cache {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "noeval", Password: "pw", ContextTimeoutEnabled: true})
		t.Cleanup(func() { client.Close() })
		return corral.New(redisstore.New(client), corral.WithLogger(slog.New(log)))
	}
	logA := &healthRecords{}
	a, b := instance(logA), instance(&healthRecords{})
	lock := corral.DistributedLock(5 * time.Second)

	// A's computation fails: nothing is stored, and A cannot release its lock.
	failed := errors.New("the database is down")
	if _, err := corral.GetOrSet(ctx, a, "k", time.Minute, func(context.Context) (int, error) { return 0, failed }, lock); !errors.Is(err, failed) {
		t.Fatalf("A = %v", err)
	}
	// B waits for the lock to expire, not for its whole 5 s wait.
	start := time.Now()
	v, err := corral.GetOrSet(ctx, b, "k", time.Minute, func(context.Context) (int, error) { return 2, nil }, lock)
	waited := time.Since(start)
	if v != 2 || err != nil || waited > 2*time.Second {
		t.Fatalf("B = %d, %v after %v; want 2 within the short lease", v, err, waited)
	}
	// A's next lock has the short lease from the start.
	var lease time.Duration
	corral.GetOrSet(ctx, a, "k2", time.Minute, func(context.Context) (int, error) {
		lease = admin.PTTL(ctx, ":1:#sha256=lock:k2").Val()
		return 1, nil
	}, lock)
	t.Logf("without EVAL: B waited %v for A's lock; A's next lock had %v left while it computed", waited, lease)
	if lease <= 0 || lease > time.Second {
		t.Fatalf("A's next lock had %v left, want at most 1 s", lease)
	}
	said := 0
	for _, line := range logA.lines() {
		if strings.Contains(line, "cannot release locks") {
			said++
		}
	}
	if said != 1 {
		t.Fatalf("A logged %d times that it cannot release locks, want once: %q", said, logA.lines())
	}
}
