package corral

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// flights collapses concurrent computations of one key into one, in the
// manner of x/sync's singleflight.Group, with what a cache needs beyond it:
//
//   - each caller waits with its own context, and for at most a bound, then
//     goes on without the computation, which keeps running for the others;
//   - the computation can release its waiters before it ends (a response
//     that starts streaming belongs to its own client): they stop waiting at
//     once and compute for themselves;
//   - a panic in the computation reaches the caller whose function ran (the
//     leader) with its original value, and the waiters get an error wrapping
//     ErrPanicked; runtime.Goexit gives them an error instead of a hang;
//   - a write to the key forgets its flight, so that a caller arriving after
//     the write starts a new computation instead of joining the old one;
//   - a caller inside a computation whose wait would close a cycle of
//     computations waiting for each other fails at once instead of waiting.
//
// x/sync's Group offers none of the first, second and last, which is why
// corral has its own. The zero value is ready to use.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight // lazily made; guarded by mu
}

// flight is one computation in progress.
type flight struct {
	done     chan struct{} // closed when the computation has ended
	released chan struct{} // closed when the waiters should go their own way
	once     sync.Once     // closes released

	// Written before done is closed:
	val any
	err error
	ending

	waitsOn map[*flight]int // the flights its computation waits for; guarded by waitGraph
}

// joined is how a caller's join ended.
type joined struct {
	val      any
	err      error
	leader   bool // this caller's function ran
	released bool // a waiter that must compute for itself: released, or its wait bound passed
}

// errGoexit is what waiters get when the computation called runtime.Goexit.
var errGoexit = fmt.Errorf("%w: the computation called runtime.Goexit", ErrPanicked)

// errLeaderGoexit tells the leader that its computation called Goexit.
var errLeaderGoexit = errors.New("corral: the computation called runtime.Goexit")

// join runs fn once for the concurrent callers of key, on a goroutine of its
// own, and waits for it with ctx, for at most maxWait (0: no bound) unless
// this caller's fn is the one that runs. fn gets release, which lets the
// waiters go. link, when not nil, is the chain link of fn's computation: it
// learns its flight. A caller whose wait would close a cycle of
// computations waiting for each other gets errWaitCycle instead of waiting.
func (f *flights) join(ctx context.Context, key string, maxWait time.Duration, link *chain, fn func(release func()) (any, error)) joined {
	fl, leader := f.flightOf(key, link, fn)
	stop, cycle := waitFor(ctx, fl)
	if cycle {
		return joined{err: errWaitCycle, leader: leader}
	}
	defer stop()
	var bound <-chan time.Time
	if !leader && maxWait > 0 {
		t := time.NewTimer(maxWait)
		defer t.Stop()
		bound = t.C
	}
	released := fl.released
	if leader {
		released = nil // the leader waits for its own computation
	}
	select {
	case <-fl.done:
		return fl.result(leader)
	case <-released:
		return joined{released: true}
	case <-bound:
		return joined{released: true}
	case <-ctx.Done():
		return joined{err: ctx.Err(), leader: leader}
	}
}

// alone runs fn for this caller only, outside any flight, on a goroutine of
// its own, and waits for it with ctx: a caller that computes for itself
// still stops at its own context's end, and a panic still reaches it. link
// is as for join.
func (f *flights) alone(ctx context.Context, link *chain, fn func(release func()) (any, error)) joined {
	fl := &flight{done: make(chan struct{}), released: make(chan struct{})}
	if link != nil {
		link.fl = fl
	}
	stop, _ := waitFor(ctx, fl) // a new flight: no cycle yet
	defer stop()
	go f.run("", fl, fn)
	select {
	case <-fl.done:
		return fl.result(true)
	case <-ctx.Done():
		return joined{err: ctx.Err(), leader: true}
	}
}

// start runs fn for key in the background unless a computation of key is
// already running, and does not wait for it. A panic is only reported. link
// is as for join.
func (f *flights) start(key string, link *chain, fn func(release func()) (any, error)) {
	f.flightOf(key, link, fn)
}

// flightOf returns key's flight, starting one that runs fn (whose chain link
// is link, if not nil) when there is none, and reports whether it started it.
func (f *flights) flightOf(key string, link *chain, fn func(release func()) (any, error)) (*flight, bool) {
	f.mu.Lock()
	if fl, ok := f.m[key]; ok {
		f.mu.Unlock()
		return fl, false
	}
	fl := &flight{done: make(chan struct{}), released: make(chan struct{})}
	if f.m == nil {
		f.m = make(map[string]*flight)
	}
	f.m[key] = fl
	f.mu.Unlock()
	if link != nil {
		link.fl = fl // before fn runs, which reads it
	}
	go f.run(key, fl, fn)
	return fl, true
}

// run runs fn and records how it ended: returned, panicked (with the value)
// or called runtime.Goexit. fn logs its own panics (see
// Cache.logPanic), whether or not anyone still waits.
func (f *flights) run(key string, fl *flight, fn func(release func()) (any, error)) {
	returned := false
	defer close(fl.done)
	if key != "" {
		defer f.forget(key, fl)
	}
	defer fl.record(&returned)
	fl.val, fl.err = fn(fl.release)
	returned = true
}

// ending is how a computation run on a goroutine of its own ended, for
// those who wait for it: returned (all false), panicked (with the value),
// or called runtime.Goexit.
type ending struct {
	panicked bool
	panicVal any
	goexit   bool
}

// record notes how the computation ended, unless it returned. The goroutine
// that runs it defers record itself, so that its recover stops the panic.
func (e *ending) record(returned *bool) {
	if *returned {
		return
	}
	if r := recover(); r != nil {
		e.panicked, e.panicVal = true, r
	} else {
		e.goexit = true
	}
}

func (fl *flight) release() { fl.once.Do(func() { close(fl.released) }) }

// result is what the flight gives one caller once it has ended.
func (fl *flight) result(leader bool) joined {
	switch {
	case fl.panicked && leader:
		return joined{err: &leaderPanic{val: fl.panicVal}, leader: true}
	case fl.panicked:
		return joined{err: fmt.Errorf("%w: %v", ErrPanicked, fl.panicVal)}
	case fl.goexit && leader:
		return joined{err: errLeaderGoexit, leader: true}
	case fl.goexit:
		return joined{err: errGoexit}
	}
	return joined{val: fl.val, err: fl.err, leader: leader}
}

// forget makes later callers of key start a new computation instead of
// joining fl (nil: whatever flight key has).
func (f *flights) forget(key string, fl *flight) {
	f.mu.Lock()
	if cur, ok := f.m[key]; ok && (fl == nil || cur == fl) {
		delete(f.m, key)
	}
	f.mu.Unlock()
}

// maxLayers is how deep caching layers nest at most for a write to reach
// their flights (a router's middleware, a subrouter's, a route's Handler).
const maxLayers = 8

// layerFlight is the flight key of a store key's computation in the caching
// layer at depth (1: inside one other layer): a layer inside another on the
// same key must not wait for the outer's computation, which waits for it.
// Store keys hold no NUL byte, so the two never meet.
func layerFlight(sk string, depth int) string {
	return sk + "\x00layer" + strconv.Itoa(depth)
}

// forgetKey forgets the flights of a store key, in every layer, so that a
// caller after a write computes anew.
func (f *flights) forgetKey(sk string) {
	f.forget(sk, nil)
	f.mu.Lock()
	if len(f.m) > 0 {
		for d := 1; d <= maxLayers; d++ {
			delete(f.m, layerFlight(sk, d))
		}
	}
	f.mu.Unlock()
}

// forgetPrefix forgets the flights whose keys start with prefix (Clear of
// one prefix).
func (f *flights) forgetPrefix(prefix string) {
	f.mu.Lock()
	for key := range f.m {
		if strings.HasPrefix(key, prefix) {
			delete(f.m, key)
		}
	}
	f.mu.Unlock()
}

// leaderPanic is the leader's report of its computation's panic: reraise
// panics with the original value.
type leaderPanic struct{ val any }

func (p *leaderPanic) Error() string { return fmt.Sprintf("%v: %v", ErrPanicked, p.val) }
func (p *leaderPanic) Unwrap() error { return ErrPanicked }

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

// isContextErr reports whether err is a context's end rather than a failure
// of the work itself.
func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// chain is the list of computations run by the goroutines that led to this
// context: a computation that asks for a flight already in its chain would
// wait for itself. A link names the flight by its registry (the store's, so
// that a cache in front of another cache on another store computing the same
// key is no recursion) and its key, and stops counting once its computation
// has ended (a goroutine the computation left behind may call again).
//
// A link also knows the flight its computation runs in, once the flight
// group has made it: a wait for a flight records that this flight waits for
// it (see waitFor), which finds cycles across computations.
type chain struct {
	reg    *registry
	key    string
	fl     *flight // set before the computation starts; nil outside a flight group
	ended  atomic.Bool
	parent *chain
}

type chainKey struct{}

// newLink returns the link of a computation of key in reg that ctx's caller
// is about to lead: the flight group sets its flight, and the computation
// puts it in its context (see in) and ends it when it ends.
func newLink(ctx context.Context, reg *registry, key string) *chain {
	parent, _ := ctx.Value(chainKey{}).(*chain)
	return &chain{reg: reg, key: key, parent: parent}
}

// in returns ctx with the link at the head of its chain.
func (c *chain) in(ctx context.Context) context.Context {
	return context.WithValue(ctx, chainKey{}, c)
}

// end marks the link's computation ended.
func (c *chain) end() { c.ended.Store(true) }

// inChain reports whether the computation of key in reg is running in ctx's
// chain.
func inChain(ctx context.Context, reg *registry, key string) bool {
	for c, _ := ctx.Value(chainKey{}).(*chain); c != nil; c = c.parent {
		if c.reg == reg && c.key == key && !c.ended.Load() {
			return true
		}
	}
	return false
}

// errWaitCycle is what join returns to a caller whose wait would close a
// cycle: the engine reports it as ErrRecursion with the caller's key.
var errWaitCycle = fmt.Errorf("%w: computations wait for each other", ErrRecursion)

// waitGraph guards every flight's waitsOn: which flights the goroutines of
// a flight's computation wait for. It is one lock for all the flight
// groups, since a cycle may pass through Caches on different stores; only
// callers inside a computation (whose context carries a chain) take it.
var waitGraph sync.Mutex

// waitFor records that the computation at the head of ctx's chain waits for
// fl, and reports instead a cycle: fl's computation waits, through others,
// for a computation in ctx's chain, so the wait would never end. stop
// removes the record; call it when the wait ends.
func waitFor(ctx context.Context, fl *flight) (stop func(), cycle bool) {
	head, _ := ctx.Value(chainKey{}).(*chain)
	if head == nil || head.fl == nil || head.ended.Load() {
		return func() {}, false // not inside a running computation: no one waits on this caller
	}
	from := head.fl
	waitGraph.Lock()
	defer waitGraph.Unlock()
	if reaches(fl, head) {
		return nil, true
	}
	if from.waitsOn == nil {
		from.waitsOn = make(map[*flight]int)
	}
	from.waitsOn[fl]++
	return func() {
		waitGraph.Lock()
		if from.waitsOn[fl]--; from.waitsOn[fl] == 0 {
			delete(from.waitsOn, fl)
		}
		waitGraph.Unlock()
	}, false
}

// reaches reports whether fl, or a flight it waits for through others, is
// the flight of a running computation in head's chain. waitGraph is held.
func reaches(fl *flight, head *chain) bool {
	seen := make(map[*flight]bool)
	next := []*flight{fl}
	for len(next) > 0 {
		cur := next[len(next)-1]
		next = next[:len(next)-1]
		if seen[cur] {
			continue
		}
		seen[cur] = true
		for c := head; c != nil; c = c.parent {
			if c.fl == cur && !c.ended.Load() {
				return true
			}
		}
		for w := range cur.waitsOn {
			next = append(next, w)
		}
	}
	return false
}
