package corral_test

import (
	"context"
	"fmt"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// A near cache in front of Redis: each instance keeps up to 64 MiB of what
// it read, for a minute at most, and a write on any instance drops every
// instance's copy. Repeated reads cost no round trip; with StaleIfError, an
// instance whose Redis is down still answers from what it holds. (Not run:
// it needs a Redis server.)
func ExampleWithNearCache() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	c := corral.New(redisstore.New(client), corral.WithPrefix("shop"),
		corral.WithNearCache(64<<20, time.Minute))

	price := corral.Memoize(c, "price", 10*time.Minute,
		func(ctx context.Context, sku string) (int, error) { return 1999, nil },
		corral.StaleIfError(time.Hour))
	ctx := context.Background()
	p, _ := price(ctx, "A-1") // computed, stored in Redis
	p, _ = price(ctx, "A-1")  // read from Redis, a copy kept
	p, _ = price(ctx, "A-1")  // the copy: no round trip
	fmt.Println(p, c.Stats().NearHits)

	_ = c.Delete(ctx, "price:A-1") // every instance's copy is dropped
}
