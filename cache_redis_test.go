package corral_test

import "testing"

// The same Cache table as on the memory store, on a real redis-server.
func TestCacheOnRedisStore(t *testing.T) { runCacheSuite(t, flushedRedis(t)) }
