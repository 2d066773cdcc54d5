package corral

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
)

// writes keeps writes ahead of loads: it tracks the computations in flight,
// and a write to a key while its computation runs (Set, Add, Delete, SetMany,
// Incr, IncrVersion, Clear) marks that computation overtaken, so that its
// result is returned to its callers but not stored over the newer write.
//
// A write marks before it reaches the store, and a computation stores while
// holding its mark's lock, so whichever comes second wins in the store too.
// This holds within one process; across instances on a shared store, the
// last store write wins.
type writes struct {
	n  atomic.Int32 // computations in flight: writes skip the map when 0
	mu sync.Mutex   // guards m
	m  map[string]*pending

	// seq counts the writes and stores of each key's slot, and all counts
	// Clears: a computation whose key saw none since its caller read it
	// need not read it again (see mark).
	seq [markSlots]atomic.Uint64
	all atomic.Uint64
}

// markSlots is how many slots the keys share: two keys in one slot only
// cost a re-read.
const markSlots = 1024

var markSeed = maphash.MakeSeed()

// mark is a key's write count at one moment, in this process.
type mark uint64

// markOf returns sk's write count now.
func (w *writes) markOf(sk string) mark {
	return mark(w.seq[maphash.String(markSeed, sk)%markSlots].Load() + w.all.Load())
}

// wroteSince reports whether sk (or a key of its slot) was written or
// stored in this process since m.
func (w *writes) wroteSince(sk string, m mark) bool { return w.markOf(sk) != m }

// noted counts a write or store of each of sks.
func (w *writes) noted(sks ...string) {
	for _, sk := range sks {
		w.seq[maphash.String(markSeed, sk)%markSlots].Add(1)
	}
}

// pending is one key's computation in flight.
type pending struct {
	refs int // guarded by writes.mu

	mu        sync.Mutex // held while the computation stores its result
	overtaken bool       // guarded by mu
}

// begin registers a computation of sk; call end when it is done.
func (w *writes) begin(sk string) *pending {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = make(map[string]*pending)
	}
	p := w.m[sk]
	if p == nil {
		p = new(pending)
		w.m[sk] = p
	}
	p.refs++
	w.n.Add(1)
	return p
}

func (w *writes) end(sk string, p *pending) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p.refs--; p.refs == 0 && w.m[sk] == p {
		delete(w.m, sk)
	}
	w.n.Add(-1)
}

// overtake marks the computations of these store keys overtaken. Call it
// before writing them.
func (w *writes) overtake(sks ...string) {
	if w.n.Load() == 0 {
		return
	}
	w.mu.Lock()
	var hit []*pending
	for _, sk := range sks {
		if p := w.m[sk]; p != nil {
			hit = append(hit, p)
			delete(w.m, sk) // computations that start after the write are not overtaken
		}
	}
	w.mu.Unlock()
	markOvertaken(hit)
}

// overtakePrefix marks the computations of the store keys under prefix
// overtaken (Clear of one prefix).
func (w *writes) overtakePrefix(prefix string) {
	if w.n.Load() == 0 {
		return
	}
	w.mu.Lock()
	var hit []*pending
	for sk, p := range w.m {
		if strings.HasPrefix(sk, prefix) {
			hit = append(hit, p)
			delete(w.m, sk)
		}
	}
	w.mu.Unlock()
	markOvertaken(hit)
}

func markOvertaken(ps []*pending) {
	for _, p := range ps {
		p.mu.Lock() // waits for a store in progress: the write then lands after it
		p.overtaken = true
		p.mu.Unlock()
	}
}

// storeUnlessOvertaken runs store unless a write overtook the computation,
// and reports whether it ran.
func (p *pending) storeUnlessOvertaken(store func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.overtaken {
		return false
	}
	store()
	return true
}

// overtake makes writes to these store keys win: computations of them in
// flight do not store, and callers that start after the write do not join
// them (they compute anew). Call it before writing.
func (c *Cache) overtake(sks ...string) {
	c.writes.noted(sks...)
	c.registry.overtakeKeys(sks...)
}

// overtakePrefix is overtake of every store key under prefix (Clear): the
// computations of other prefixes go on and store.
func (c *Cache) overtakePrefix(prefix string) {
	c.writes.all.Add(1)
	c.flights.forgetPrefix(prefix)
	c.writes.overtakePrefix(prefix)
}
