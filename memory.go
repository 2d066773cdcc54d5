package corral

import (
	"context"
	"fmt"
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
// and value bytes: the go-cache map slot and item, the store's own record and
// its slot in the eviction queue, as measured on 64-bit Go (235 to 306 bytes
// with the map's growth slack). With it, the heap a full store holds stays
// within its byte bound plus 10% (see [MaxBytes]).
const EntryOverhead = 256

// MemoryStore is the embedded [Store]: a map in this process, on
// github.com/patrickmn/go-cache, bounded both in entries and in bytes.
//
// When a write would take the store past a bound, it evicts the oldest
// entries first (first in, first out, by time of the last write) until the
// new one fits; [MemoryStore.Evictions] counts them. A single value larger
// than the byte bound is refused with [ErrTooLarge]. Expired entries stop
// being visible at once and are reclaimed by a janitor every cleanup interval.
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
	items *gocache.Cache // holds *memItem; its own lock guards the map

	mu    sync.Mutex // serialises writes, so that sizes and the queue stay exact
	queue []slot     // eviction order, oldest first from head; guarded by mu
	head  int        // index of the oldest live slot in queue; guarded by mu
	gen   uint64     // stamp of the newest entry; guarded by mu

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
	value   []byte
	size    int64
	gen     uint64
	decoded atomic.Pointer[decodedValue]
}

// decodedValue is an entry's value decoded once and shared read-only by the
// readers that use the same codec: the HTTP middleware's hits, whose stored
// responses are immutable, use it to skip decoding.
type decodedValue struct {
	codec      Codec
	writtenAt  time.Time
	freshUntil time.Time // zero: forever
	val        any
}

// slot is a key's place in the eviction queue; gen tells whether the entry now
// under key is still the one that slot was made for.
type slot struct {
	key string
	gen uint64
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
	v, ok := m.items.Get(key)
	if !ok {
		return nil, ErrNotFound
	}
	return v.(*memItem).value, nil
}

// GetMany implements [BatchGetter].
func (m *memoryStore) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		if v, ok := m.items.Get(k); ok {
			out[k] = v.(*memItem).value
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
	if _, ok := m.items.Get(key); ok {
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
	v, exp, ok := m.items.GetWithExpiration(key)
	if !ok {
		return 0, ErrNotFound
	}
	n, ok := parseCanonicalInt(v.(*memItem).value)
	if !ok {
		return 0, ErrNotInteger
	}
	sum, ok := addInt64(n, delta)
	if !ok {
		return 0, fmt.Errorf("%w: %w", ErrNotInteger, errOverflow(n, delta))
	}
	return sum, m.put(key, strconv.AppendInt(nil, sum, 10), exp)
}

// Touch implements [Toucher].
func (m *memoryStore) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.items.Get(key)
	if !ok {
		return false, nil
	}
	// Same record, new expiry: re-put it so that the accounting stays exact.
	return true, m.put(key, v.(*memItem).value, expiry(ttl))
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
	v, ok := m.items.Get(key)
	if !ok || string(v.(*memItem).value) != token {
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

// expiry turns a Store ttl into an absolute time; the zero time never
// expires. A ttl counts in whole milliseconds, truncated, as Redis's PX does:
// under 1 ms it is already expired, and put stores nothing.
func expiry(ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return time.Now().Add(ttl.Truncate(time.Millisecond))
}

// put stores value under key, evicting the oldest entries until it fits.
// m.mu must be held.
func (m *memoryStore) put(key string, value []byte, exp time.Time) error {
	size := int64(len(key)+len(value)) + EntryOverhead
	if m.maxBytes > 0 && size > m.maxBytes {
		return fmt.Errorf("%w: %d bytes for %q, the store holds %d", ErrTooLarge, size, key, m.maxBytes)
	}
	d := gocache.NoExpiration
	if !exp.IsZero() {
		if d = time.Until(exp); d <= 0 {
			m.items.Delete(key) // already expired: storing it would only be a delete
			return nil
		}
	}
	m.items.Delete(key) // fires release for the old entry: go-cache's Set would not
	for m.full(size) && m.evictOldest() {
	}
	m.gen++
	m.items.Set(key, &memItem{value: value, size: size, gen: m.gen}, d)
	m.entries.Add(1)
	m.bytes.Add(size)
	m.queue = append(m.queue, slot{key, m.gen})
	switch {
	case len(m.queue)-m.head > 2*int(m.entries.Load())+1024:
		m.compact() // too many slots of replaced or deleted entries
	case m.head > 1024 && m.head > len(m.queue)/2:
		// The evicted front would otherwise keep the array growing forever.
		n := copy(m.queue, m.queue[m.head:])
		clear(m.queue[n:])
		m.queue, m.head = m.queue[:n], 0
	}
	return nil
}

func (m *memoryStore) full(size int64) bool {
	return (m.maxEntries > 0 && m.entries.Load()+1 > int64(m.maxEntries)) ||
		(m.maxBytes > 0 && m.bytes.Load()+size > m.maxBytes)
}

// evictOldest drops the entry of the oldest slot that still has one, and
// reports false when the queue is empty. m.mu must be held.
func (m *memoryStore) evictOldest() bool {
	for m.head < len(m.queue) {
		s := m.queue[m.head]
		m.queue[m.head] = slot{}
		m.head++
		v, ok := m.items.Get(s.key)
		switch {
		case ok && v.(*memItem).gen == s.gen:
			m.items.Delete(s.key)
			m.evictions.Add(1)
			return true
		case !ok:
			m.items.Delete(s.key) // reclaims an expired entry, if one is there
			return true
		}
		// A newer entry took the key: its own slot comes later.
	}
	return false
}

// compact drops the slots whose entry is gone or was replaced, so that the
// queue stays proportional to the entries held, and reclaims the expired
// entries it meets (they would lose their slot). m.mu must be held.
func (m *memoryStore) compact() {
	live := m.queue[:0]
	for _, s := range m.queue[m.head:] {
		v, ok := m.items.Get(s.key)
		switch {
		case ok && v.(*memItem).gen == s.gen:
			live = append(live, s)
		case !ok:
			m.items.Delete(s.key)
		}
	}
	clear(m.queue[len(live):])
	m.queue, m.head = live, 0
}

// release is go-cache's eviction callback: it runs once for every entry that
// leaves the map through Delete or DeleteExpired, possibly on the janitor's
// goroutine, so it only touches atomics.
func (m *memoryStore) release(_ string, v any) {
	e := v.(*memItem)
	m.entries.Add(-1)
	m.bytes.Add(-e.size)
}

func (m *memoryStore) janitor(every time.Duration) {
	defer close(m.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			m.items.DeleteExpired()
		case <-m.stop:
			return
		}
	}
}

func (m *memoryStore) close() {
	m.stopOnce.Do(func() {
		close(m.stop)
		if m.done != nil {
			<-m.done
		}
	})
}
