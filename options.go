package corral

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults of a [Cache].
const (
	DefaultTTL             = 5 * time.Minute
	DefaultTimeout         = 100 * time.Millisecond
	DefaultBreakerFailures = 5
	DefaultBreakerCoolDown = 500 * time.Millisecond
)

// Option configures a [Cache] in [New].
type Option func(*Cache)

// WithPrefix puts prefix in front of every key, so that several caches (or
// services) can share one store; [Cache.Clear] removes only this prefix's
// keys. A ':' or unsafe byte in prefix is escaped. Default: "".
func WithPrefix(prefix string) Option {
	return func(c *Cache) { c.ns.prefix = prefix }
}

// WithVersion sets the version written into every key: bumping it makes every
// earlier value invisible without deleting anything. Default: 1.
func WithVersion(version int) Option {
	return func(c *Cache) { c.ns.version = version }
}

// WithBuild mixes a build id into every key (for example the deploy's
// BUILD_NUMBER), so that one release never reads what another wrote.
//
// Caches that share a store and a prefix should all set a build id or none:
// with build "b", key "k" and without a build, key "b:k" are one store key.
// Default: "" (no build segment).
func WithBuild(build string) Option {
	return func(c *Cache) { c.ns.build = build }
}

// WithDefaultTTL sets the TTL used when a call passes ttl 0. [NoExpiration]
// makes such values never expire. It panics on 0 or a negative TTL other than
// NoExpiration. Default: 5 minutes (Django's 300 s).
func WithDefaultTTL(ttl time.Duration) Option {
	if ttl == 0 || (ttl < 0 && ttl != NoExpiration) {
		panic(fmt.Sprintf("corral: WithDefaultTTL(%v): want a positive TTL or NoExpiration", ttl))
	}
	return func(c *Cache) { c.defaultTTL = ttl }
}

// WithTimeout bounds every call to the store: a call still running after d
// ends with an error wrapping [ErrUnavailable], and the caller goes on as on a
// miss. A caller whose context has a deadline gives a call at most half of
// the time it has left, so that it can still compute what the store did not
// give: a stalled store costs a caller with 50 ms left 25 ms, not all 50. A
// call cut short that way counts toward the circuit breaker like any
// timeout, unless its share was under a tenth of d (a caller in a hurry
// says nothing of the store). d <= 0 removes the bound, leaving only the
// caller's context (and its share). Stores that run in this process (the
// [MemoryStore]) are called without a timer. Default: 100 ms.
func WithTimeout(d time.Duration) Option {
	return func(c *Cache) { c.timeout = d }
}

// WithCodec sets how values become bytes. It panics on nil. Default: [JSON].
func WithCodec(codec Codec) Option {
	if codec == nil {
		panic("corral: WithCodec(nil)")
	}
	return func(c *Cache) { c.codec = codec }
}

// WithLogger sets where the cache reports what goes wrong (values that do not
// decode, store failures). Default: a logger that discards everything.
func WithLogger(l *slog.Logger) Option {
	if l == nil {
		panic("corral: WithLogger(nil)")
	}
	return func(c *Cache) { c.log = l }
}

// WithCircuitBreaker sets the circuit breaker around the store (on
// github.com/sony/gobreaker/v2): after failures consecutive failed or timed
// out calls, the cache stops calling the store, and reads are misses and
// writes are dropped at once. Meanwhile a probe reads the store in the
// background, no caller waiting for it: first after 50 ms, then after waits
// that double up to coolDown; the first probe the store answers closes the
// breaker. So the cache uses a store that came back within about coolDown.
// Misses, answers such as [ErrDeclined] and caller cancellations are not
// failures. On a store that implements [Sharder] (a Redis Cluster), each
// server has a breaker of its own: a dead master disables its own keys only.
// failures 0 turns the breaker off (the store's health is still logged,
// after 5 failures). The in-process memory store is never behind a breaker.
// It panics on coolDown <= 0 with failures > 0. Default: 5 failures, 500 ms.
func WithCircuitBreaker(failures uint32, coolDown time.Duration) Option {
	if failures > 0 && coolDown <= 0 {
		panic(fmt.Sprintf("corral: WithCircuitBreaker(%d, %v): want a positive cool-down", failures, coolDown))
	}
	return func(c *Cache) { c.breakerFailures, c.breakerCoolDown = failures, coolDown }
}
