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
	DefaultBreakerCoolDown = 5 * time.Second
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
// miss. d <= 0 removes the bound, leaving only the caller's context. Stores
// that run in this process (the [MemoryStore]) are called without a timer.
// Default: 100 ms.
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
// out calls, the cache stops calling the store for coolDown, during which
// reads are misses and writes are dropped at once; then one call probes the
// store, and success closes the breaker. Misses and caller cancellations are
// not failures. failures 0 turns the breaker off. The in-process memory store
// is never behind a breaker. It panics on coolDown <= 0 with failures > 0.
// Default: 5 failures, 5 s.
func WithCircuitBreaker(failures uint32, coolDown time.Duration) Option {
	if failures > 0 && coolDown <= 0 {
		panic(fmt.Sprintf("corral: WithCircuitBreaker(%d, %v): want a positive cool-down", failures, coolDown))
	}
	return func(c *Cache) { c.breakerFailures, c.breakerCoolDown = failures, coolDown }
}
