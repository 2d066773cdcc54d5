package corral

import (
	"reflect"
	"runtime"
	"sync"
)

// registry is what every Cache over one store shares in this process: the
// computations in flight and the writes that overtake them. So a write
// through one Cache wins over a computation through another on the same
// store: it is not stored, and later callers through either do not join it.
type registry struct {
	flights flights // one computation per flight key
	writes  writes  // writes overtake computations in flight
}

// registries holds the registry of each store in use, keyed by the Store
// interface value: two Caches made with one store (one pointer, or equal
// values of a comparable type) share it. An entry lives while a Cache core
// made over the store does: each core holds a reference, given back by a
// runtime cleanup when the core is collected, so the map never keeps a store
// alive after its Caches are gone.
var registries struct {
	mu sync.Mutex
	m  map[Store]*sharedRegistry // lazily made; guarded by mu
}

type sharedRegistry struct {
	reg  *registry
	refs int // cores that hold reg; guarded by registries.mu
}

// registryFor returns the registry of store for owner, a new core. A store
// of a type whose values cannot be compared (a struct holding a slice) cannot
// be looked up: its Cache gets a registry of its own, shared with its views
// only.
func registryFor(store Store, owner *core) *registry {
	if !reflect.ValueOf(store).Comparable() {
		return new(registry)
	}
	registries.mu.Lock()
	defer registries.mu.Unlock()
	if registries.m == nil {
		registries.m = make(map[Store]*sharedRegistry)
	}
	sr := registries.m[store]
	if sr == nil {
		sr = &sharedRegistry{reg: new(registry)}
		registries.m[store] = sr
	}
	sr.refs++
	runtime.AddCleanup(owner, releaseRegistry, store)
	return sr.reg
}

// releaseRegistry gives back one core's reference to store's registry, and
// drops the registry with the last one.
func releaseRegistry(store Store) {
	registries.mu.Lock()
	defer registries.mu.Unlock()
	if sr := registries.m[store]; sr != nil {
		if sr.refs--; sr.refs == 0 {
			delete(registries.m, store)
		}
	}
}
