package corral

import (
	"runtime"
	"testing"
)

// Caches made with one store share its registry; the registry is dropped
// once they are collected; a store of an uncomparable type gets a registry
// per Cache.
func TestRegistryPerStore(t *testing.T) {
	s := NewMemoryStore(CleanupInterval(0))
	func() {
		a, b := New(s), New(s)
		if a.registry != b.registry || a.WithPrefix("p").registry != a.registry {
			t.Fatal("two Caches on one store do not share their registry")
		}
		if New(NewMemoryStore(CleanupInterval(0))).registry == a.registry {
			t.Fatal("Caches on two stores share a registry")
		}
	}()
	registered := func() bool {
		registries.mu.Lock()
		defer registries.mu.Unlock()
		_, ok := registries.m[Store(s)]
		return ok
	}
	for i := 0; i < 1000 && registered(); i++ { // cleanups run after a GC, on a goroutine of their own
		runtime.GC()
		runtime.Gosched()
	}
	if registered() {
		t.Error("the registry of a store outlived every Cache made with it")
	}
	runtime.KeepAlive(s)

	u := uncomparableStore{Store: s, tags: []string{"x"}}
	if New(u).registry == New(u).registry {
		t.Error("two Caches on a store of an uncomparable type share a registry")
	}
}

type uncomparableStore struct {
	Store
	tags []string
}
