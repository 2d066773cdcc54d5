package redisstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// A Cache on Redis. ContextTimeoutEnabled lets corral's per-call timeout
// reach the socket; Sentinel (redis.NewFailoverClient) and Cluster
// (redis.NewClusterClient) clients work the same way. (Not run: it needs a
// Redis server.)
func ExampleNew() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	c := corral.New(redisstore.New(client), corral.WithPrefix("shop"), corral.WithTimeout(50*time.Millisecond))

	total, err := corral.GetOrSet(context.Background(), c, "orders:total", time.Minute,
		func(ctx context.Context) (int, error) { return 1234, nil },
		corral.DistributedLock(time.Second)) // once across every instance sharing this Redis
	fmt.Println(total, err)
}
