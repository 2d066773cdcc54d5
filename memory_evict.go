package corral

import (
	"hash/maphash"
	"sync/atomic"
	"time"
)

// The memory store's eviction policy: S3-FIFO (Yang et al., "FIFO queues are
// all you need for cache eviction", SOSP 2023), as [MemoryStore]'s doc states
// it. A one-time key stays only while it crosses the small queue; entries
// that are read again live in the main queue, out of a flood's reach.
//
// Each entry has a node in one queue. A node whose entry was deleted or
// replaced since is marked gone (by release, under the store's lock) and
// skipped when met, so deletes do not search the queues; compact drops such
// nodes once they are many. Everything here runs with the store's mu held,
// except node.use, which readers call.

// maxFreq caps an entry's use count (two bits, as in the paper).
const maxFreq = 3

// smallShare is the small queue's share of each bound: one part in smallShare.
const smallShare = 10

// node is an entry's place in the eviction queues. It holds the key, not the
// value: a gone node waiting in a queue keeps no value alive.
type node struct {
	key     string
	expires int64         // when its entry expires, in Unix nanoseconds (0: never); set before the entry is stored
	freq    atomic.Uint32 // uses since it joined its queue or went round it, up to maxFreq
	main    bool          // in the main queue, else in small; guarded by memoryStore.mu
	gone    bool          // its entry left the map; guarded by memoryStore.mu
}

// expired reports whether n's entry has expired at now. An entry expires
// after its instant, as in go-cache: it is still visible at it.
func (n *node) expired(now time.Time) bool {
	return n.expires != 0 && now.UnixNano() > n.expires
}

// expiry returns when n's entry expires (zero: never).
func (n *node) expiry() time.Time {
	if n.expires == 0 {
		return time.Time{}
	}
	return time.Unix(0, n.expires)
}

// use counts one use of an entry (a read, or a write over it), up to maxFreq.
// It is the only cost the policy adds to a hit: no lock, and no write at all
// once the count is at its cap, so hot entries read on many CPUs at once do
// not contend.
func (n *node) use() {
	if f := n.freq.Load(); f < maxFreq {
		n.freq.CompareAndSwap(f, f+1)
	}
}

// admit places a new entry of the given size in a queue and returns its node.
// An entry that replaces a live one keeps its queue and its uses, plus one; a
// key the ghost remembers goes to the main queue; any other to the small
// queue. m.mu must be held.
func (m *memoryStore) admit(key string, size int64, old *memItem) *node {
	n := &node{key: key}
	switch {
	case old != nil:
		n.main = old.node.main
		n.freq.Store(min(old.node.freq.Load()+1, maxFreq))
	case m.ghost.take(key):
		n.main = true
	}
	if n.main {
		m.main.push(n)
		return n
	}
	m.small.push(n)
	m.smallEntries++
	m.smallBytes += size
	return n
}

// evict drops one entry (or reclaims one expired at now), and reports false
// when the queues hold no entry any more. m.mu must be held.
func (m *memoryStore) evict(now time.Time) bool {
	for {
		var dropped bool
		switch {
		case m.small.len() > 0 && (m.smallFull() || m.main.len() == 0):
			dropped = m.evictSmall(now)
		case m.main.len() > 0:
			dropped = m.evictMain(now)
		default:
			return false
		}
		if dropped {
			return true
		}
	}
}

// smallFull reports whether the small queue holds its share of a bound.
// m.mu must be held.
func (m *memoryStore) smallFull() bool {
	return (m.maxEntries > 0 && m.smallEntries*smallShare >= m.maxEntries) ||
		(m.maxBytes > 0 && m.smallBytes*smallShare >= m.maxBytes)
}

// evictSmall takes the small queue's oldest node: its entry moves to the main
// queue if it was used, or leaves the store for the ghost; an entry expired
// at now is reclaimed. It reports whether an entry left. m.mu must be held.
func (m *memoryStore) evictSmall(now time.Time) bool {
	n, _ := m.small.pop()
	switch {
	case n.gone:
		return false
	case n.expired(now):
		m.reclaim(n)
		return true
	case n.freq.Load() > 0:
		m.promote(n)
		return false
	}
	m.ghost.add(n.key, int(m.entries.Load()))
	m.drop(n)
	return true
}

// promote moves n from the small queue to the main queue, where its uses
// start again from zero. m.mu must be held.
func (m *memoryStore) promote(n *node) {
	e, _ := m.held(n.key) // n is not gone: the map holds its entry
	n.main = true
	n.freq.Store(0)
	m.smallEntries--
	m.smallBytes -= charge(n.key, e.value)
	m.main.push(n)
}

// evictMain takes the main queue's oldest node: an entry with uses left goes
// back to the end of the queue with one fewer, any other is evicted; an entry
// expired at now is reclaimed. It reports whether an entry left. m.mu must
// be held.
func (m *memoryStore) evictMain(now time.Time) bool {
	n, _ := m.main.pop()
	switch {
	case n.gone:
		return false
	case n.expired(now):
		m.reclaim(n)
		return true
	case n.freq.Load() > 0:
		n.freq.Add(^uint32(0)) // readers only add, so this cannot wrap
		m.main.push(n)
		return false
	}
	m.drop(n)
	return true
}

// drop evicts n's live entry. m.mu must be held.
func (m *memoryStore) drop(n *node) {
	m.evictions.Add(1)
	m.items.Delete(n.key) // release updates the sizes and marks n gone
}

// reclaim removes the entry of n, which has expired: not an eviction. m.mu
// must be held.
func (m *memoryStore) reclaim(n *node) {
	m.items.Delete(n.key) // release updates the sizes and marks n gone
}

// compact drops the nodes of entries that are gone, so that the queues stay
// proportional to the entries held. m.mu must be held.
func (m *memoryStore) compact() {
	held := func(n *node) bool { return !n.gone }
	m.small.filter(held)
	m.main.filter(held)
	m.ghost.trim(int(m.entries.Load()))
}

// fifo is a queue on a slice: push at the back, pop at the front. Its zero
// value is an empty queue.
type fifo[T any] struct {
	buf  []T
	head int // index of the front in buf
}

func (q *fifo[T]) len() int { return len(q.buf) - q.head }

func (q *fifo[T]) push(v T) { q.buf = append(q.buf, v) }

// pop removes the front. Once the popped part is most of the array, the rest
// moves down, so that the array does not grow forever.
func (q *fifo[T]) pop() (T, bool) {
	var zero T
	if q.len() == 0 {
		return zero, false
	}
	v := q.buf[q.head]
	q.buf[q.head] = zero
	q.head++
	if q.head > 1024 && q.head > len(q.buf)/2 {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	return v, true
}

// filter keeps, in order, the elements for which keep reports true.
func (q *fifo[T]) filter(keep func(T) bool) {
	kept := q.buf[:0]
	for _, v := range q.buf[q.head:] {
		if keep(v) {
			kept = append(kept, v)
		}
	}
	clear(q.buf[len(kept):])
	q.buf, q.head = kept, 0
}

// ghost remembers the keys last evicted from the small queue, as many as the
// store holds entries, by a 32-bit fingerprint each (4 bytes in the queue and
// a map slot: no key is kept). Two keys may share a fingerprint; a key taken
// for another then merely skips the small queue.
type ghost struct {
	seed   maphash.Seed
	prints fifo[uint32]
	latest map[uint32]uint32 // fingerprint -> the number of its latest add (mod 2^32)
	added  uint32            // adds so far (mod 2^32)
	gone   uint32            // fingerprints popped from the queue so far (mod 2^32)
}

func newGhost() ghost {
	return ghost{seed: maphash.MakeSeed(), latest: make(map[uint32]uint32)}
}

func (g *ghost) fingerprint(key string) uint32 {
	return uint32(maphash.String(g.seed, key))
}

// add remembers key, forgetting the oldest keys past limit.
func (g *ghost) add(key string, limit int) {
	p := g.fingerprint(key)
	g.latest[p] = g.added
	g.added++
	g.prints.push(p)
	g.trim(limit)
}

// take reports whether key is remembered, and forgets it.
func (g *ghost) take(key string) bool {
	p := g.fingerprint(key)
	_, ok := g.latest[p]
	delete(g.latest, p)
	return ok
}

// trim forgets the oldest keys until at most limit are left. A fingerprint
// added again since stays remembered: its number is a later one (the numbers
// of those in the queue are within limit of each other, so counting mod 2^32
// tells them apart).
func (g *ghost) trim(limit int) {
	for g.prints.len() > max(limit, 0) {
		p, _ := g.prints.pop()
		if n, ok := g.latest[p]; ok && n == g.gone {
			delete(g.latest, p)
		}
		g.gone++
	}
}
