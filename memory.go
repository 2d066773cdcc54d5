package corral

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gocache "github.com/patrickmn/go-cache"
)

// Defaults of the memory store's bounds.
const (
	DefaultMaxEntries = 100_000
	DefaultMaxBytes   = 256 << 20
)

// EntryOverhead is what the memory store charges each entry on top of its key
// and value bytes: the go-cache map slot and item, the store's own record,
// its node in an eviction queue and its share of the ghost queue, as measured
// on 64-bit Go. With it, the heap a full store holds stays within its byte
// bound plus 10% (measured: 0.97x to 1.02x for values of 1 B to 1 kB; see
// [MaxBytes]).
const EntryOverhead = 256

// MemoryStore is the embedded [Store]: a map in this process, on
// github.com/patrickmn/go-cache, bounded both in entries and in bytes.
//
// When a write would take the store past a bound, it evicts entries until
// the new one fits, never holding more than either bound;
// [MemoryStore.Evictions] counts them. The policy is S3-FIFO (Yang et al.,
// SOSP 2023), which keeps the entries that are used again through a flood of
// one-time keys:
//
//   - A new entry joins a small queue. When room is needed and the small
//     queue holds at least a tenth of a bound (or the main queue is empty),
//     the small queue's oldest entry leaves it: to the main queue if it was
//     used meanwhile, else out of the store, its key remembered by a ghost
//     queue (as many keys as the store holds entries, as 32-bit
//     fingerprints).
//   - Otherwise the main queue makes room: its oldest entry goes round again,
//     one use fewer, while it has uses left (up to 3 are counted); else it
//     leaves.
//   - A key written while the ghost remembers it goes straight to the main
//     queue.
//
// A use is a read (Get, GetMany, a hit of Memoize or the middleware) or a
// write over a live entry (Set, Incr, Touch), which also keeps the entry's
// queue. A read costs the policy one atomic compare-and-swap at most, and
// nothing once the entry has 3 uses: no lock of the store's own. A store
// whose entries are never read evicts first in, first out. Expired entries
// met on the way are reclaimed, not counted as evictions.
//
// A single value larger than the byte bound is refused with [ErrTooLarge].
// Expired entries stop being visible at once and are reclaimed by a janitor
// every cleanup interval.
//
// It implements every optional capability (batch get and set, Incr, Touch,
// Clear, Locker). Call Close to stop its janitor; a store that becomes
// unreachable stops it too. The zero value is not usable: call
// [NewMemoryStore].
type MemoryStore struct {
	*memoryStore // the janitor refers only to this part, so the outer can be collected

	cleanup runtime.Cleanup // stops the janitor when the outer is collected
}

// MemoryOption configures a [MemoryStore].
type MemoryOption func(*memoryConfig)

type memoryConfig struct {
	maxEntries int
	maxBytes   int64
	cleanup    time.Duration
}

// MaxEntries bounds how many entries the store holds. n <= 0 removes the
// bound. Default: 100,000.
func MaxEntries(n int) MemoryOption {
	return func(c *memoryConfig) { c.maxEntries = n }
}

// MaxBytes bounds the bytes the store holds, counted as key + value +
// [EntryOverhead] per entry, so that it approximates the heap the store keeps
// alive. n <= 0 removes the bound. Default: 256 MiB.
func MaxBytes(n int64) MemoryOption {
	return func(c *memoryConfig) { c.maxBytes = n }
}

// CleanupInterval sets how often expired entries are reclaimed. d <= 0 turns
// the janitor off (expired entries are then reclaimed only when overwritten,
// deleted or evicted). Default: 1 minute.
func CleanupInterval(d time.Duration) MemoryOption {
	return func(c *memoryConfig) { c.cleanup = d }
}

type memoryStore struct {
	// items holds *memItem, never with a go-cache expiration: expiry is the
	// entry's node's, checked against a clock the caller may already have
	// read (go-cache's Get would read it again on every hit).
	items *gocache.Cache

	// mu serialises writes and reclaims, so that sizes and queues stay exact.
	// The fields below it, up to maxEntries, are guarded by mu.
	mu           sync.Mutex
	small        fifo[*node] // new entries, oldest first (see memory_evict.go)
	main         fifo[*node] // entries used while in small, or back from the ghost
	ghost        ghost       // fingerprints of the keys last evicted from small
	smallEntries int         // entries in small
	smallBytes   int64       // their charged size

	maxEntries int
	maxBytes   int64

	entries   atomic.Int64 // entries held, expired ones included until reclaimed
	bytes     atomic.Int64 // their charged size
	evictions atomic.Uint64

	stop     chan struct{} // closed by close
	done     chan struct{} // closed when the janitor has returned; nil without one
	stopOnce sync.Once
}

// memItem is what go-cache holds. Its value is never modified once stored;
// decoded caches, for readers in this process, what the value decodes to.
type memItem struct {
	value    []byte
	node     *node // its place in the eviction queues
	decoded  atomic.Pointer[decodedValue]
	released atomic.Bool // it left the map: evicted, expired, deleted or replaced
}

// decodedValue is an entry's value decoded once and shared read-only by the
// readers that use the same codec: the HTTP middleware's hits, whose stored
// responses are immutable, use it to skip decoding.
type decodedValue struct {
	codec      Codec
	writtenAt  time.Time
	freshUntil time.Time  // zero: forever
	tags       *localTags // nil: none
	val        any
}

var (
	_ Store           = (*MemoryStore)(nil)
	_ BatchGetter     = (*MemoryStore)(nil)
	_ BatchSetter     = (*MemoryStore)(nil)
	_ Incrementer     = (*MemoryStore)(nil)
	_ Toucher         = (*MemoryStore)(nil)
	_ Clearer         = (*MemoryStore)(nil)
	_ Locker          = (*MemoryStore)(nil)
	_ EvictionCounter = (*MemoryStore)(nil)
)

// NewMemoryStore returns an empty store with the given bounds.
func NewMemoryStore(opts ...MemoryOption) *MemoryStore {
	cfg := memoryConfig{maxEntries: DefaultMaxEntries, maxBytes: DefaultMaxBytes, cleanup: time.Minute}
	for _, o := range opts {
		o(&cfg)
	}
	m := &memoryStore{
		items:      gocache.New(gocache.NoExpiration, 0), // no go-cache janitor: ours can be stopped
		maxEntries: cfg.maxEntries,
		maxBytes:   cfg.maxBytes,
		ghost:      newGhost(),
		stop:       make(chan struct{}),
	}
	m.items.OnEvicted(m.release)
	s := &MemoryStore{memoryStore: m}
	if cfg.cleanup > 0 {
		m.done = make(chan struct{})
		go m.janitor(cfg.cleanup)
		s.cleanup = runtime.AddCleanup(s, func(m *memoryStore) { m.close() }, m)
	}
	return s
}

// Close stops the janitor and waits until it has returned. The store stays
// usable; expired entries are then reclaimed only when overwritten, deleted
// or evicted. Close is idempotent.
func (m *MemoryStore) Close() error {
	m.cleanup.Stop()
	m.close()
	return nil
}

// Len reports how many entries the store holds, expired ones not yet
// reclaimed included.
func (m *MemoryStore) Len() int { return int(m.entries.Load()) }

// Bytes reports the charged size of the entries the store holds.
func (m *MemoryStore) Bytes() int64 { return m.bytes.Load() }

// Evictions reports how many live entries were dropped to respect a bound.
func (m *MemoryStore) Evictions() uint64 { return m.evictions.Load() }

func (*memoryStore) inProcess() {}

// Get implements [Store]. The returned slice is shared: do not modify it.
func (m *memoryStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, ok := m.lookup(key)
	if !ok {
		return nil, ErrNotFound
	}
	return e.value, nil
}

// lookup returns the live entry under key and counts the read for the
// eviction policy: an atomic increment at most, no lock of the store's own.
// It reads the clock only for an entry that expires.
func (m *memoryStore) lookup(key string) (*memItem, bool) {
	e, ok := m.held(key)
	if !ok || e.node.expires != 0 && e.node.expired(time.Now()) {
		return nil, false
	}
	e.node.use()
	return e, true
}

// lookupAt is lookup for a caller that has read the clock: now.
func (m *memoryStore) lookupAt(key string, now time.Time) (*memItem, bool) {
	e, ok := m.liveAt(key, now)
	if ok {
		e.node.use()
	}
	return e, ok
}

// peek returns key's entry if it is live at now, without counting a use,
// and when the store stops holding it (zero: never).
func (m *memoryStore) peek(key string, now time.Time) (*memItem, time.Time, bool) {
	e, ok := m.liveAt(key, now)
	if !ok {
		return nil, time.Time{}, false
	}
	return e, e.node.expiry(), true
}

// live returns key's entry if it has not expired. Writers call it, with
// m.mu held.
func (m *memoryStore) live(key string) (*memItem, bool) { return m.liveAt(key, time.Now()) }

// liveAt returns key's entry if it has not expired at now.
func (m *memoryStore) liveAt(key string, now time.Time) (*memItem, bool) {
	e, ok := m.held(key)
	if !ok || e.node.expired(now) {
		return nil, false
	}
	return e, true
}

// held returns the entry the map holds under key, expired or not.
func (m *memoryStore) held(key string) (*memItem, bool) {
	v, ok := m.items.Get(key)
	if !ok {
		return nil, false
	}
	return v.(*memItem), true
}

// GetMany implements [BatchGetter].
func (m *memoryStore) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		if e, ok := m.lookup(k); ok {
			out[k] = e.value
		}
	}
	return out, nil
}

// Set implements [Store]. The store keeps value.
func (m *memoryStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.put(key, value, expiry(ttl))
}

// SetMany implements [BatchSetter]. Items that do not fit are skipped, and the
// first such refusal is returned once the others are stored.
func (m *memoryStore) SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var first error
	for k, v := range items {
		if err := m.put(k, v, expiry(ttl)); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Add implements [Store].
func (m *memoryStore) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if ttl > 0 && ttl < time.Millisecond {
		return false, nil // already expired: there would be nothing to see
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.live(key); ok {
		return false, nil
	}
	if err := m.put(key, value, expiry(ttl)); err != nil {
		return false, err
	}
	return true, nil
}

// Delete implements [Store].
func (m *memoryStore) Delete(ctx context.Context, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		m.items.Delete(k)
	}
	return nil
}

// Incr implements [Incrementer]: the value is parsed and written back as a
// decimal integer, keeping its expiry. As Redis, it takes only the canonical
// decimal of an int64 (see [Incrementer]).
func (m *memoryStore) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.live(key)
	if !ok {
		return 0, ErrNotFound
	}
	n, ok := parseCanonicalInt(e.value)
	if !ok {
		return 0, ErrNotInteger
	}
	sum, ok := addInt64(n, delta)
	if !ok {
		return 0, fmt.Errorf("%w: %w", ErrNotInteger, errOverflow(n, delta))
	}
	return sum, m.put(key, strconv.AppendInt(nil, sum, 10), e.node.expires)
}

// Touch implements [Toucher].
func (m *memoryStore) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.live(key)
	if !ok {
		return false, nil
	}
	// Same record, new expiry: re-put it so that the accounting stays exact.
	return true, m.put(key, e.value, expiry(ttl))
}

// Clear implements [Clearer]. It walks every entry, so it costs O(entries).
func (m *memoryStore) Clear(ctx context.Context, prefix string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.items.Items() {
		if strings.HasPrefix(k, prefix) {
			m.items.Delete(k)
		}
	}
	m.compact()
	return nil
}

// Lock implements [Locker].
func (m *memoryStore) Lock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	return m.Add(ctx, key, []byte(token), ttl)
}

// Unlock implements [Locker].
func (m *memoryStore) Unlock(ctx context.Context, key, token string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.live(key)
	if !ok || string(e.value) != token {
		return false, nil
	}
	m.items.Delete(key)
	return true, nil
}

// parseCanonicalInt reads b as Redis's INCRBY does: the canonical decimal of
// an int64, with no sign but a '-' of a number below zero, no leading zero,
// no space ("05", "+5", "-0" and " 5" are not integers).
func parseCanonicalInt(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || len(b) > 20 || string(strconv.AppendInt(make([]byte, 0, 20), n, 10)) != string(b) {
		return 0, false
	}
	return n, true
}

// expiry turns a Store ttl into an expiry as a node keeps it (node.expires):
// Unix nanoseconds, 0 for never. A ttl counts in whole milliseconds,
// truncated, as Redis's PX does: under 1 ms it is already expired (1 ns
// after 1970), and put stores nothing. One that ends past what Unix
// nanoseconds hold (the year 2262) ends at the last instant they do, rather
// than wrap to one long gone.
func expiry(ttl time.Duration) int64 {
	switch {
	case ttl <= 0:
		return 0
	case ttl < time.Millisecond:
		return 1
	}
	now, d := time.Now().UnixNano(), int64(ttl.Truncate(time.Millisecond))
	if d > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + d
}

// put stores value under key, evicting entries until it fits (see
// [memoryStore.evict]). m.mu must be held.
func (m *memoryStore) put(key string, value []byte, expires int64) error {
	size := charge(key, value)
	if m.maxBytes > 0 && size > m.maxBytes {
		return fmt.Errorf("%w: %d bytes for %q, the store holds %d", ErrTooLarge, size, key, m.maxBytes)
	}
	now := time.Now()
	if expires != 0 && now.UnixNano() > expires {
		m.items.Delete(key) // already expired: storing it would only be a delete
		return nil
	}
	old, ok := m.held(key)
	if ok {
		m.release(key, old) // its accounting; readers see it until Set replaces it, never a miss
		if old.node.expired(now) {
			old = nil // a leftover: the new entry is new to the policy
		}
	}
	for m.full(size) && m.evict(now) {
	}
	n := m.admit(key, size, old)
	n.expires = expires
	m.items.Set(key, &memItem{value: value, node: n}, gocache.NoExpiration)
	m.entries.Add(1)
	m.bytes.Add(size)
	if m.small.len()+m.main.len() > 2*int(m.entries.Load())+1024 {
		m.compact() // too many nodes of replaced or deleted entries
	}
	return nil
}

// charge is the size an entry counts for in the byte bound.
func charge(key string, value []byte) int64 {
	return int64(len(key)+len(value)) + EntryOverhead
}

func (m *memoryStore) full(size int64) bool {
	return (m.maxEntries > 0 && m.entries.Load()+1 > int64(m.maxEntries)) ||
		(m.maxBytes > 0 && m.bytes.Load()+size > m.maxBytes)
}

// release is go-cache's eviction callback: it runs once for every entry that
// leaves the map through Delete or DeleteExpired, always with m.mu held (the
// janitor takes it too).
func (m *memoryStore) release(key string, v any) {
	e := v.(*memItem)
	size := charge(key, e.value)
	m.entries.Add(-1)
	m.bytes.Add(-size)
	e.node.gone = true
	e.released.Store(true)
	if !e.node.main {
		m.smallEntries--
		m.smallBytes -= size
	}
}

func (m *memoryStore) janitor(every time.Duration) {
	defer close(m.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			m.reclaimExpired()
		case <-m.stop:
			return
		}
	}
}

// reclaimExpired drops every expired entry, found through the eviction
// queues (every entry has one node there that is not gone). It holds m.mu,
// which release needs.
func (m *memoryStore) reclaimExpired() {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for _, q := range []*fifo[*node]{&m.small, &m.main} {
		for _, n := range q.buf[q.head:] {
			if !n.gone && n.expired(now) {
				m.reclaim(n)
			}
		}
	}
	m.compact()
}

func (m *memoryStore) close() {
	m.stopOnce.Do(func() {
		close(m.stop)
		if m.done != nil {
			<-m.done
		}
	})
}
