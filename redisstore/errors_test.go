package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// scriptHash is a Lua script's SHA-1, as Redis names it in its errors.
var scriptHash = regexp.MustCompile(`[0-9a-f]{40}`)

// sayNoInternals fails when err's text shows something of the store's own:
// the store key, a script's hash or how Redis ran it.
func sayNoInternals(t *testing.T, what string, err error, storeKey string) {
	t.Helper()
	msg := err.Error()
	if storeKey != "" && strings.Contains(msg, storeKey) {
		t.Errorf("%s: %q names the store key %q", what, msg, storeKey)
	}
	if h := scriptHash.FindString(msg); h != "" {
		t.Errorf("%s: %q names a script hash %s", what, msg, h)
	}
	for _, internal := range []string{"NOSCRIPT", "Error running script", "@user_script", "script:"} {
		if strings.Contains(msg, internal) {
			t.Errorf("%s: %q says %q", what, msg, internal)
		}
	}
}

// Both kinds of client: the store bounds calls itself on one made without
// ContextTimeoutEnabled.
func clients(t *testing.T, addr string, opts func(*redis.Options)) map[string]*redis.Client {
	t.Helper()
	out := map[string]*redis.Client{}
	for _, cte := range []bool{true, false} {
		o := &redis.Options{Addr: addr, ContextTimeoutEnabled: cte}
		if opts != nil {
			opts(o)
		}
		c := redis.NewClient(o)
		t.Cleanup(func() { c.Close() })
		out[fmt.Sprintf("ContextTimeoutEnabled=%v", cte)] = c
	}
	return out
}

func TestIncrErrorsSayNoInternals(t *testing.T) {
	srv := redistest.Start(t)
	for name, client := range clients(t, srv.Addr, nil) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := redisstore.New(client)
			const text, big, missing = "errs:v1:text", "errs:v1:big", "errs:v1:missing"
			if err := s.Set(ctx, text, []byte("abc"), time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := s.Set(ctx, big, []byte("9223372036854775807"), time.Minute); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Delete(context.Background(), text, big) })

			_, err := s.Incr(ctx, text, 1)
			if !errors.Is(err, corral.ErrNotInteger) {
				t.Fatalf("Incr(text) = %v, want ErrNotInteger", err)
			}
			sayNoInternals(t, "Incr(text)", err, text)

			_, err = s.Incr(ctx, big, 1)
			if !errors.Is(err, corral.ErrNotInteger) {
				t.Fatalf("Incr(MaxInt64, 1) = %v, want ErrNotInteger", err)
			}
			sayNoInternals(t, "Incr(MaxInt64, 1)", err, big)

			// With the script cache flushed, go-redis gets NOSCRIPT and
			// falls back to EVAL: the answer says so no more.
			if err := client.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			_, err = s.Incr(ctx, text, 1)
			if !errors.Is(err, corral.ErrNotInteger) {
				t.Fatalf("Incr(text) after SCRIPT FLUSH = %v, want ErrNotInteger", err)
			}
			sayNoInternals(t, "Incr(text) after SCRIPT FLUSH", err, text)

			_, err = s.Incr(ctx, missing, 1)
			if !errors.Is(err, corral.ErrNotFound) {
				t.Fatalf("Incr(missing) = %v, want ErrNotFound", err)
			}
			if err.Error() != corral.ErrNotFound.Error() {
				t.Errorf("Incr(missing) = %q, want plainly %q", err, corral.ErrNotFound)
			}
		})
	}
}

// Through a Cache, the error names the caller's key, once, and no store key.
func TestCacheIncrErrorNamesTheCallersKey(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	c := corral.New(redisstore.New(client), corral.WithPrefix("errs-cache"))
	ctx := context.Background()
	if err := c.Set(ctx, "text", "abc", time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), "text") })
	_, err := c.Incr(ctx, "text", 1)
	if !errors.Is(err, corral.ErrNotInteger) {
		t.Fatalf("Incr = %v, want ErrNotInteger", err)
	}
	sayNoInternals(t, "Cache.Incr", err, "errs-cache:")
	if n := strings.Count(err.Error(), `"text"`); n != 1 {
		t.Errorf("Cache.Incr = %q: names the key %d times, want once", err, n)
	}
}

// An error a script raises otherwise (here WRONGTYPE) keeps its Redis text,
// less the script's hash and line.
func TestScriptErrorsSayNoHash(t *testing.T) {
	srv := redistest.Start(t)
	for name, client := range clients(t, srv.Addr, nil) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := redisstore.New(client)
			const list = "errs:v1:list"
			if err := client.RPush(ctx, list, "a").Err(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.Del(context.Background(), list) })

			_, err := s.Unlock(ctx, list, "token")
			if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
				t.Fatalf("Unlock(list) = %v, want a WRONGTYPE error", err)
			}
			sayNoInternals(t, "Unlock(list)", err, list)
			var rerr redis.Error
			if !errors.As(err, &rerr) {
				t.Errorf("Unlock(list) = %v: no redis.Error in it any more", err)
			}

			_, err = s.Incr(ctx, list, 1)
			if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
				t.Fatalf("Incr(list) = %v, want a WRONGTYPE error", err)
			}
			sayNoInternals(t, "Incr(list)", err, list)
		})
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

const password = "hunter2-Sw0rdf1sh"

// go-redis dials on a goroutine of its own, retrying for about 400 ms, and
// a call that ends before that gets only its context's error: the store adds
// the dial's.
func TestRefusedConnectionNamesTheCause(t *testing.T) {
	addr := closedPort(t)
	for name, client := range clients(t, addr, func(o *redis.Options) { o.Password = password }) {
		t.Run(name, func(t *testing.T) {
			s := redisstore.New(client)
			for i := range 10 { // a new client, then one whose dials keep failing
				ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
				_, err := s.Get(ctx, "errs:v1:k")
				cancel()
				if err == nil || !strings.Contains(err.Error(), "refused") {
					t.Fatalf("call %d: Get = %q: does not say the connection was refused", i, err)
				}
				var opErr *net.OpError
				if !errors.As(err, &opErr) {
					t.Errorf("call %d: Get = %v: the dial's *net.OpError is not in it", i, err)
				}
				if strings.Contains(err.Error(), password) {
					t.Errorf("call %d: Get = %q shows the password", i, err)
				}
			}

			// Through a Cache with its default 100 ms timeout.
			c := corral.New(s, corral.WithPrefix("errs"))
			var v string
			_, err := c.Get(context.Background(), "k", &v)
			if !errors.Is(err, corral.ErrUnavailable) {
				t.Fatalf("Cache.Get = %v, want ErrUnavailable", err)
			}
			if !strings.Contains(err.Error(), "refused") {
				t.Errorf("Cache.Get = %q: does not say the connection was refused", err)
			}
		})
	}
}

// The first call to a new client ends at its deadline before go-redis gives
// up dialing: its error wraps the deadline and the dial's error both.
func TestDeadlineAndDialErrorBothWrapped(t *testing.T) {
	addr := closedPort(t)
	for name, client := range clients(t, addr, nil) {
		t.Run(name, func(t *testing.T) {
			s := redisstore.New(client)
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
			defer cancel()
			err := s.Set(ctx, "errs:v1:k", []byte("v"), time.Minute)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Set = %v, want it to wrap context.DeadlineExceeded", err)
			}
			var opErr *net.OpError
			if !errors.As(err, &opErr) || opErr.Op != "dial" {
				t.Fatalf("Set = %v, want it to wrap the dial's *net.OpError", err)
			}
		})
	}
}

// A call whose context had ended before it started reports that alone.
func TestEndedContextAlone(t *testing.T) {
	addr := closedPort(t)
	for name, client := range clients(t, addr, nil) {
		t.Run(name, func(t *testing.T) {
			s := redisstore.New(client)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := s.Get(ctx, "errs:v1:k"); err == nil || err.Error() != context.Canceled.Error() {
				t.Fatalf("Get(canceled ctx) = %v, want %v", err, context.Canceled)
			}
		})
	}
}

// A password in the client's options never shows, whoever put it in an
// error (here a dialer, as a proxy's URL might).
func TestErrorsHideThePassword(t *testing.T) {
	dialErr := fmt.Errorf("dial via socks5://cache:%s@proxy:1080: refused", password)
	for name, client := range clients(t, "127.0.0.1:1", func(o *redis.Options) {
		o.Password = password
		o.Dialer = func(context.Context, string, string) (net.Conn, error) { return nil, dialErr }
		o.DialerRetries = 1
		o.MaxRetries = -1
	}) {
		t.Run(name, func(t *testing.T) {
			s := redisstore.New(client)
			_, err := s.Get(context.Background(), "errs:v1:k")
			if !errors.Is(err, dialErr) {
				t.Fatalf("Get = %v, want it to wrap the dialer's error", err)
			}
			if strings.Contains(err.Error(), password) {
				t.Fatalf("Get = %q shows the password", err)
			}
			if !strings.Contains(err.Error(), "socks5://cache:") {
				t.Errorf("Get = %q: says too little", err)
			}
		})
	}
}

// redisErr is an error reply from Redis, as go-redis reads one.
type redisErr string

func (e redisErr) Error() string { return string(e) }
func (redisErr) RedisError()     {}

// redis6Scripts rewrites a script's error as Redis before 7 words it: the
// hash and line before the message instead of after.
type redis6Scripts struct{}

var redis7Trailer = regexp.MustCompile(` script: ([0-9a-f]{40}), on @user_script:(\d+)\.$`)

func (redis6Scripts) DialHook(next redis.DialHook) redis.DialHook { return next }
func (redis6Scripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (redis6Scripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		var rerr redis.Error
		if !errors.As(err, &rerr) {
			return err
		}
		m := redis7Trailer.FindStringSubmatch(err.Error())
		if m == nil {
			return err
		}
		old := redisErr(fmt.Sprintf("ERR Error running script (call to f_%s): @user_script:%s: %s",
			m[1], m[2], redis7Trailer.ReplaceAllString(err.Error(), "")))
		cmd.SetErr(old)
		return old
	}
}

func TestScriptErrorsSayNoHashBeforeRedis7(t *testing.T) {
	srv := redistest.Start(t)
	for name, client := range clients(t, srv.Addr, nil) {
		t.Run(name, func(t *testing.T) {
			client.AddHook(redis6Scripts{})
			ctx := context.Background()
			s := redisstore.New(client)
			const text, list = "errs6:v1:text", "errs6:v1:list"
			if err := s.Set(ctx, text, []byte("abc"), time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := client.RPush(ctx, list, "a").Err(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.Del(context.Background(), text, list) })

			_, err := s.Incr(ctx, text, 1)
			if !errors.Is(err, corral.ErrNotInteger) {
				t.Fatalf("Incr(text) = %v, want ErrNotInteger", err)
			}
			sayNoInternals(t, "Incr(text)", err, text)

			_, err = s.Unlock(ctx, list, "token")
			if err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
				t.Fatalf("Unlock(list) = %v, want a WRONGTYPE error", err)
			}
			sayNoInternals(t, "Unlock(list)", err, list)
		})
	}
}

// Once a server has failed, a call to it ends when its dial is refused,
// not at its deadline: only the first call after the kill waits.
func TestRefusedConnectionFailsFast(t *testing.T) {
	srv := redistest.Start(t)
	s := redisstore.New(srv.Client(t)) // go-redis's defaults: 5 dial attempts 100 ms apart
	ctx := context.Background()
	if _, err := s.Get(ctx, "k"); !errors.Is(err, corral.ErrNotFound) {
		t.Fatal(err)
	}
	srv.Kill()
	var took []time.Duration
	for i := range 10 {
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		start := time.Now()
		_, err := s.Get(cctx, "k")
		took = append(took, time.Since(start).Round(100*time.Microsecond))
		cancel()
		if !errors.Is(err, syscall.ECONNREFUSED) && i > 0 {
			t.Fatalf("call %d: %v, want the refused dial's error", i, err)
		}
	}
	t.Logf("calls to a killed server, with 100 ms deadlines, took %v", took)
	for i, d := range took[1:] {
		if d > 20*time.Millisecond {
			t.Fatalf("call %d took %v: it waited for its deadline", i+1, d)
		}
	}
}
