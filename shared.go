package corral

import (
	"reflect"
	"sync"
	"time"
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
// entry is decoded once and every hit gets a copy of that value. share says
// whether values of T may be shared (immutable[T] for GetOrSet and Memoize;
// the middleware's stored responses are never modified). It reports false for
// anything else (another store, a miss, a stale or negative entry, a value
// written by Set), which load then handles.
func sharedHit[T any](c *Cache, sk string, codec Codec, share bool) (T, loaded, bool) {
	var zero T
	if c.mem == nil || !share {
		return zero, loaded{}, false
	}
	e := c.mem.entry(sk)
	if e == nil {
		return zero, loaded{}, false
	}
	d := e.decoded.Load()
	v, ok := zero, false
	if d != nil && d.codec == codec {
		v, ok = d.val.(T)
	}
	if !ok {
		env, isEnv := parseEnvelope(e.value)
		if !isEnv || env.negative || codec.Unmarshal(env.payload, &v) != nil {
			return zero, loaded{}, false
		}
		d = &decodedValue{codec: codec, env: env, val: v}
		e.decoded.Store(d)
	}
	now := time.Now()
	if !d.env.fresh(now) {
		return zero, loaded{}, false
	}
	return v, loaded{how: howHit, writtenAt: d.env.writtenAt, at: now}, true
}
