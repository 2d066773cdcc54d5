package redisstore_test

import (
	"testing"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/corralhq/corral/storetest"
	"github.com/redis/go-redis/v9"
)

func TestConformanceSingleNode(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	storetest.Run(t, func(t *testing.T) corral.Store { return redisstore.New(client) })
}

// The Cluster test starts three nodes; set CORRAL_REDIS_CLUSTER=1 to run it
// (.ci/run does).
func TestConformanceCluster(t *testing.T) {
	redistest.ClusterWanted(t)
	cluster := redistest.StartCluster(t, 3)
	client := cluster.Client(t)
	storetest.Run(t, func(t *testing.T) corral.Store { return redisstore.New(client) })
}

// A client made without ContextTimeoutEnabled: the store bounds calls itself.
func TestConformanceWithoutContextTimeout(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	storetest.Run(t, func(t *testing.T) corral.Store { return redisstore.New(client) })
}
