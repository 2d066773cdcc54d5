package redisstore

import (
	"context"
	"errors"
	"net"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"weak"

	"github.com/corralhq/corral"
	"github.com/redis/go-redis/v9"
)

// Why a call to a Redis that is down can end with nothing but "context
// deadline exceeded": go-redis (v9.22) dials a new connection on a goroutine
// of its own, with up to DialerRetries (5) attempts DialerRetryTimeout
// (100 ms) apart, and the call waiting for that connection gives up at its
// context's end with ctx.Err() alone; the dial error reaches only go-redis's
// log, about 400 ms later. Its command retries drop the previous attempt's
// error in the same way when the context ends during their backoff. A call
// bounded by corral's default 100 ms timeout never sees "connection refused".
//
// So the store watches its client's dials through a go-redis dial hook, and a
// call that ended at its context's end, knowing nothing else, reports the dial
// that failed meanwhile, wrapping both errors.
//
// The same wait makes a call to a server that is down cost its whole
// deadline, although the first dial was refused within a millisecond. So
// while the client has failed lately, calls are armed: a refused dial to
// their server ends them at once, with that dial's error.

// dialWatch records the outcome of a client's dials, and ends the armed
// calls to a server whose dial is refused. It is a [redis.Hook] that only
// observes dials.
type dialWatch struct {
	mu      sync.Mutex
	failed  error                // the last failed dial's error
	failAt  time.Time            // when it failed
	okAt    time.Time            // when a dial last succeeded
	waiting map[*waiter]struct{} // the armed calls

	trouble atomic.Int64 // when a dial or a call last failed, in Unix nanoseconds
}

// waiter is an armed call: the address of its server, and its end.
type waiter struct {
	addr string
	end  context.CancelCauseFunc
}

// armedFor is how long after a failure of the client its calls are armed.
const armedFor = 10 * time.Second

func (w *dialWatch) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		now := time.Now()
		w.mu.Lock()
		defer w.mu.Unlock()
		if err == nil {
			w.okAt = now
			return conn, nil
		}
		w.failed, w.failAt = err, now
		w.trouble.Store(now.UnixNano())
		if errors.Is(err, syscall.ECONNREFUSED) {
			for wt := range w.waiting {
				if wt.addr == addr {
					wt.end(&refusal{err})
				}
			}
		}
		return conn, err
	}
}

// quiet reports whether the client has not failed within armedFor of
// start: its calls are not armed, and cost nothing.
func (w *dialWatch) quiet(start time.Time) bool {
	return w == nil || start.UnixNano()-w.trouble.Load() > int64(armedFor)
}

// arm returns ctx made to end as soon as a dial to addr is refused, and
// done, which disarms it and returns the refused dial's error if one ended
// the call. A quiet client pays nothing: ctx is returned as it is.
func (w *dialWatch) arm(ctx context.Context, addr string, start time.Time) (context.Context, func() error) {
	if addr == "" || w.quiet(start) {
		return ctx, noRefusal
	}
	armed, end := context.WithCancelCause(ctx)
	wt := &waiter{addr: addr, end: end}
	w.mu.Lock()
	if w.waiting == nil {
		w.waiting = map[*waiter]struct{}{}
	}
	w.waiting[wt] = struct{}{}
	w.mu.Unlock()
	return armed, func() error {
		w.mu.Lock()
		delete(w.waiting, wt)
		w.mu.Unlock()
		defer end(nil)
		if r := (*refusal)(nil); errors.As(context.Cause(armed), &r) {
			return r.err
		}
		return nil
	}
}

func noRefusal() error { return nil }

// troubled notes a failed call: the client's calls are armed for a while.
func (w *dialWatch) troubled() {
	if w != nil {
		w.trouble.Store(time.Now().UnixNano())
	}
}

// refusal is the cause of an armed call's end: a refused dial.
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

func (w *dialWatch) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (w *dialWatch) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// recentDial is how old a failed dial, with no dial succeeding since, may be
// and still explain a call: once every dial of a pool has failed, go-redis
// stops dialing for calls (it hands out the last dial error) and probes the
// server once a second.
const recentDial = 2 * time.Second

// failure returns the error of a dial that failed since start, or of the
// client's latest dial if that failed shortly before start; nil when no dial
// explains a call that started at start. It is nil on a nil w.
func (w *dialWatch) failure(start time.Time) error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.failed == nil:
		return nil
	case !w.failAt.Before(start):
		return w.failed
	case w.failAt.After(w.okAt) && start.Sub(w.failAt) <= recentDial:
		return w.failed
	}
	return nil
}

// watches holds one dialWatch per client, so that stores sharing a client
// share its hook instead of stacking one each. Keys are weak pointers to the
// clients; an entry goes when its client is collected.
var watches sync.Map

// watchDials installs a dialWatch on client, once per client, and returns it;
// nil for a client it cannot watch. On a Ring it watches the shards that are
// up now and every shard made later; on a Cluster, the node clients made
// after this call (those the client had already made are not reachable
// without a command).
func watchDials(client redis.UniversalClient) *dialWatch {
	switch c := client.(type) {
	case *redis.Client:
		return watchOnce(c, func(w *dialWatch) { c.AddHook(w) })
	case *redis.Ring:
		return watchOnce(c, func(w *dialWatch) {
			c.OnNewNode(func(shard *redis.Client) { shard.AddHook(w) })
			for _, shard := range c.GetShardClients() {
				shard.AddHook(w)
			}
		})
	case *redis.ClusterClient:
		return watchOnce(c, func(w *dialWatch) {
			c.OnNewNode(func(node *redis.Client) { node.AddHook(w) })
		})
	}
	return nil
}

func watchOnce[T any](client *T, install func(*dialWatch)) *dialWatch {
	key := weak.Make(client)
	if w, ok := watches.Load(key); ok {
		return w.(*dialWatch)
	}
	w, loaded := watches.LoadOrStore(key, new(dialWatch))
	if loaded {
		return w.(*dialWatch)
	}
	install(w.(*dialWatch))
	runtime.AddCleanup(client, func(key weak.Pointer[T]) { watches.Delete(key) }, key)
	return w.(*dialWatch)
}

// explain gives a failed call's error its cause and hides the client's
// passwords. A call that ended at its context's end with nothing but the
// context's error (go-redis gave up waiting, or the store did) gets the error
// of the dial that failed meanwhile: the result wraps both.
func (s *Store) explain(ctx context.Context, start time.Time, err error) error {
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		if cause := s.dials.failure(start); cause != nil && !errors.Is(err, cause) {
			err = &causedError{cause: cause, end: err}
		}
	}
	return redact(err, s.secrets)
}

// causedError is a call ended by its context (end) after a failure (cause).
type causedError struct{ cause, end error }

func (e *causedError) Error() string   { return e.cause.Error() + " (" + e.end.Error() + ")" }
func (e *causedError) Unwrap() []error { return []error{e.cause, e.end} }

// secrets returns the passwords in client's options, which no error may show.
func secrets(client redis.UniversalClient) []string {
	var pw []string
	switch c := client.(type) {
	case *redis.Client:
		pw = []string{c.Options().Password}
	case *redis.ClusterClient:
		pw = []string{c.Options().Password}
	case *redis.Ring:
		pw = []string{c.Options().Password}
	}
	var out []string
	for _, p := range pw {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// redact hides secrets in err's text. The result still wraps err, for
// errors.Is and errors.As.
func redact(err error, secrets []string) error {
	if err == nil || len(secrets) == 0 {
		return err
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		clean = strings.ReplaceAll(clean, s, "[redacted]")
	}
	if clean == msg {
		return err
	}
	return &maskedError{msg: clean, err: err}
}

// maskedError is err with another text: no script hash, no password.
type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }

// Redis names the script an error came from: Redis 7 and later after the
// message, earlier versions before it.
var (
	scriptTrailer = regexp.MustCompile(` script: [0-9a-f]{40}, on @user_script:\d+\.?$`)
	scriptHeader  = regexp.MustCompile(`^ERR Error running script \(call to f_[0-9a-f]{40}\): @user_script:\d+: `)
)

// scriptErr strips the script's hash and line from an error a script raised:
// they say nothing to the caller of a store. The result wraps err.
func scriptErr(err error) error {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return err
	}
	msg := err.Error()
	clean := scriptHeader.ReplaceAllString(scriptTrailer.ReplaceAllString(msg, ""), "")
	if clean == msg {
		return err
	}
	return &maskedError{msg: clean, err: err}
}

// redisError reports whether err is an error reply from Redis whose text
// contains one of subs.
func redisError(err error, subs ...string) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	for _, s := range subs {
		if strings.Contains(rerr.Error(), s) {
			return true
		}
	}
	return false
}

// answer returns err marked as the server's answer to this one call, which
// says nothing of its health: corral.ErrTooLarge for a value over
// proto-max-bulk-len, corral.ErrDeclined for any other error reply. It
// returns nil when err is no answer: a failure to reach the server, or a
// reply that says it cannot serve at all (loading its data, a replica cut
// off from its master, a Cluster that lost slots, a script running).
func answer(err error) error {
	var rerr redis.Error
	switch {
	case !errors.As(err, &rerr),
		redis.IsLoadingError(err), redis.IsMasterDownError(err), redis.IsClusterDownError(err),
		redis.HasErrorPrefix(err, "BUSY "):
		return nil
	case redis.HasErrorPrefix(err, "Protocol error: invalid bulk length"):
		return &answerError{kind: corral.ErrTooLarge, err: err}
	}
	return &answerError{kind: corral.ErrDeclined, err: err}
}

// answerError is an error reply of Redis (err) of a kind corral names.
type answerError struct{ kind, err error }

func (e *answerError) Error() string   { return e.err.Error() }
func (e *answerError) Unwrap() []error { return []error{e.kind, e.err} }
