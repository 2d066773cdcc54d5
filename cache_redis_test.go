package corral_test

import (
	"context"
	"testing"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
)

// The same Cache table as on the memory store, on a real redis-server.
func TestCacheOnRedisStore(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	runCacheSuite(t, func(t *testing.T) corral.Store {
		// Our own server: emptying it between subtests is safe here, and
		// something corral itself never does.
		if err := client.FlushDB(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		return redisstore.New(client)
	})
}
