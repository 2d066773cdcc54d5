package corral

import (
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corralhq/corral/internal/envelope"
)

// immutableTypes caches, per type, whether a value of it can be shared by
// callers: a copy of it holds no reference to anything a caller could change.
var immutableTypes sync.Map // reflect.Type -> bool

// immutable reports whether values of T can be shared: booleans, numbers and
// strings, and arrays and structs of those. Slices, maps, pointers,
// interfaces, channels and functions can not.
func immutable[T any]() bool {
	t := reflect.TypeFor[T]()
	if v, ok := immutableTypes.Load(t); ok {
		return v.(bool)
	}
	ok := immutableType(t)
	immutableTypes.Store(t, ok)
	return ok
}

func immutableType(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return immutableType(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !immutableType(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

// sharedHit serves a fresh hit from the memory store without decoding: each
// entry is decoded once and every hit gets that value, so T must be
// immutable (or, for the middleware, never modified). It reports false for
// anything else (another store, a miss, a stale or negative entry, a value
// written by Set, another type), which the engine then handles.
func sharedHit[T any](c *Cache, sk string, codec Codec, now time.Time) (v T, writtenAt time.Time, ok bool) {
	if c.mem == nil {
		return v, writtenAt, false
	}
	e, found := c.mem.lookupAt(sk, now)
	if !found {
		return v, writtenAt, false
	}
	d := e.decoded.Load()
	if d != nil && sameCodec(d.codec, codec) {
		v, ok = d.val.(T)
	}
	if !ok {
		if d, ok = decodeShared[T](c, e, codec); !ok {
			return v, writtenAt, false
		}
		v = d.val.(T)
	}
	if !d.freshUntil.IsZero() && !now.Before(d.freshUntil) || !d.tags.hold(c, now) {
		return v, writtenAt, false
	}
	if c.near != nil {
		c.stats.nearHits.Add(1)
	}
	return v, d.writtenAt, true
}

// decodeShared decodes a memory entry's value once, for every later hit,
// with its freshness as envelope.Classify reads it; each hit then only
// compares the clock with it.
func decodeShared[T any](c *Cache, e *memItem, codec Codec) (*decodedValue, bool) {
	env, state := envelope.Classify(e.value, time.Now())
	if state != envelope.Fresh {
		return nil, false
	}
	var v T
	if codec.Unmarshal(env.Payload, &v) != nil {
		return nil, false
	}
	d := &decodedValue{codec: codec, writtenAt: env.WrittenAt, freshUntil: env.FreshUntil, val: v}
	if len(env.Tags) > 0 {
		if d.tags = c.localTagsOf(env.Tags); d.tags == nil {
			return nil, false
		}
	}
	e.decoded.Store(d)
	return d, true
}

// sameCodec reports whether a and b are one codec. A codec of a type that
// cannot be compared (a struct holding a slice) is never the same: its
// values are decoded per hit.
func sameCodec(a, b Codec) bool {
	switch a.(type) { // corral's own codecs, without reflection on the hit path
	case responseCodec:
		_, ok := b.(responseCodec)
		return ok
	case jsonCodec:
		_, ok := b.(jsonCodec)
		return ok
	}
	if t := reflect.TypeOf(a); t == nil || !t.Comparable() {
		return false
	}
	return a == b
}

// localTags are the tags of a memory entry, with the store's entries of
// their tokens once they were found current: while those are still held
// (an invalidation replaces them, eviction and expiry release them), the
// tags hold, at one atomic load each.
type localTags struct {
	tags  []envelope.Tag
	sks   []string
	items []atomic.Pointer[tokenItem]
}

// tokenItem is the store's entry of a tag's token, and until when the store
// holds it (zero: as long as it is not released).
type tokenItem struct {
	item  *memItem
	until time.Time
}

// localTagsOf returns the local tags of an entry with tags, or nil when
// one of them has no store key.
func (c *Cache) localTagsOf(tags []envelope.Tag) *localTags {
	lt := &localTags{tags: tags, sks: make([]string, len(tags)), items: make([]atomic.Pointer[tokenItem], len(tags))}
	for i, t := range tags {
		sk, err := c.tagKey(t.Name)
		if err != nil {
			return nil
		}
		lt.sks[i] = sk
	}
	return lt
}

// hold reports whether every tag still holds its token in c's memory store
// (or near cache) at now. false when one does not, or when the store does
// not hold the token: the engine's read then says (and reads the store).
// Nil tags hold.
func (lt *localTags) hold(c *Cache, now time.Time) bool {
	if lt == nil {
		return true
	}
	for i := range lt.items {
		ti := lt.items[i].Load()
		if ti != nil && !ti.item.released.Load() && (ti.until.IsZero() || now.Before(ti.until)) {
			ti.item.node.use() // a tag read on every hit of a hot entry stays as hot
			continue
		}
		item, until, ok := c.mem.peek(lt.sks[i], now)
		if !ok {
			return false
		}
		if tok, ok := tokenOf(item.value); !ok || tok != lt.tags[i].Token {
			return false
		}
		item.node.use()
		lt.items[i].Store(&tokenItem{item: item, until: until})
	}
	return true
}
