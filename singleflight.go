package corral

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"

	"golang.org/x/sync/singleflight"
)

// flights collapses concurrent computations of one key into one, over
// x/sync's singleflight.Group, with what it lacks for a cache:
//
//   - each caller waits with its own context, and returns its context's error
//     when that ends while the computation goes on for the others;
//   - a panic in the computation reaches the caller whose function ran (the
//     leader) with its original value, and the other callers get an error
//     wrapping ErrPanicked; DoChan alone would re-panic on a goroutine of its
//     own, which kills the process;
//   - runtime.Goexit in the computation gives the waiters an error instead of
//     leaving them blocked (DoChan sends nothing then), and exits the leader.
//
// The zero value is ready to use.
type flights struct {
	g singleflight.Group

	// onPanic, when set, sees every panic with the stack it had: the leader
	// re-panics with the value alone. Set it before the first call.
	onPanic func(val any, stack []byte)
}

// outcome is how a computation ended.
type outcome struct {
	val      any
	err      error
	panicked bool
	panicVal any
	stack    []byte
	goexit   bool
}

// errGoexit is what waiters get when the computation called runtime.Goexit.
var errGoexit = fmt.Errorf("%w: the computation called runtime.Goexit", ErrPanicked)

// do runs fn once for the concurrent callers of key and reports fn's result
// and whether this caller's fn was the one that ran. fn runs on a goroutine of
// its own, so it must not depend on the caller's goroutine; the caller's
// context only bounds the caller's wait.
//
// When fn panicked, the leader gets a *leaderPanic (it decides whether to
// re-panic) and the others an error wrapping ErrPanicked. When fn called
// runtime.Goexit, the leader gets errLeaderGoexit and the others errGoexit.
func (f *flights) do(ctx context.Context, key string, fn func() (any, error)) (val any, leader bool, err error) {
	var ran bool // written on the flight's goroutine before it sends the result
	ch := f.g.DoChan(key, func() (any, error) {
		ran = true
		return catch(fn), nil
	})
	select {
	case res := <-ch:
		o := res.Val.(*outcome)
		if o.panicked && ran && f.onPanic != nil {
			f.onPanic(o.panicVal, o.stack)
		}
		switch {
		case o.panicked && ran:
			return nil, true, &leaderPanic{val: o.panicVal}
		case o.panicked:
			return nil, false, fmt.Errorf("%w: %v", ErrPanicked, o.panicVal)
		case o.goexit && ran:
			return nil, true, errLeaderGoexit
		case o.goexit:
			return nil, false, errGoexit
		}
		return o.val, ran, o.err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// leaderPanic is the leader's report of its computation's panic: Repanic
// panics with the original value.
type leaderPanic struct{ val any }

func (p *leaderPanic) Error() string { return fmt.Sprintf("%v: %v", ErrPanicked, p.val) }
func (p *leaderPanic) Unwrap() error { return ErrPanicked }

// errLeaderGoexit tells the leader that its computation called Goexit.
var errLeaderGoexit = errors.New("corral: the computation called runtime.Goexit")

// reraise carries a leader's panic or Goexit on to the leader's goroutine.
func reraise(err error) {
	var lp *leaderPanic
	if errors.As(err, &lp) {
		panic(lp.val)
	}
	if err == errLeaderGoexit {
		runtime.Goexit()
	}
}

// forget starts fn for key in the background unless a computation of key is
// already running, and does not wait for it. A panic is only reported.
func (f *flights) forget(key string, fn func() (any, error)) {
	f.g.DoChan(key, func() (any, error) {
		o := catch(fn)
		if o.panicked && f.onPanic != nil {
			f.onPanic(o.panicVal, o.stack)
		}
		return o, nil
	})
}

// catch runs fn on a goroutine of its own and reports how it ended: returned,
// panicked (with the value and stack) or called runtime.Goexit. Neither a
// panic nor Goexit escapes to x/sync, which then always delivers a result.
func catch(fn func() (any, error)) *outcome {
	done := make(chan *outcome, 1)
	go func() {
		normal := false
		defer func() {
			if normal {
				return
			}
			if r := recover(); r != nil {
				done <- &outcome{panicked: true, panicVal: r, stack: debug.Stack()}
				return
			}
			done <- &outcome{goexit: true}
		}()
		v, err := fn()
		normal = true
		done <- &outcome{val: v, err: err}
	}()
	return <-done
}

// isContextErr reports whether err is a context's end rather than a failure
// of the work itself.
func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// chain is the list of keys being computed by the goroutines that led to this
// context: a computation that asks for a key already in its chain would wait
// for itself.
type chain struct {
	key    string
	parent *chain
}

type chainKey struct{}

func withChain(ctx context.Context, key string) context.Context {
	parent, _ := ctx.Value(chainKey{}).(*chain)
	return context.WithValue(ctx, chainKey{}, &chain{key: key, parent: parent})
}

func inChain(ctx context.Context, key string) bool {
	for c, _ := ctx.Value(chainKey{}).(*chain); c != nil; c = c.parent {
		if c.key == key {
			return true
		}
	}
	return false
}
