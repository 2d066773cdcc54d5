package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// refusingServer is a real Redis that answers writes with an error reply
// while it serves reads; "k" holds "stored", written before it refused.
type refusingServer struct {
	name  string
	start func(t *testing.T) *redis.Client // a client of the refusing server
	opts  []redisstore.Option
	value []byte // what the refused Set writes
	kind  error  // what the refusal wraps
}

var refusingServers = []refusingServer{
	{"OOM: maxmemory reached under noeviction", fullServer, nil, []byte("v"), corral.ErrDeclined},
	{"READONLY: a replica", replicaServer, nil, []byte("v"), corral.ErrDeclined},
	{"NOPERM: an ACL user that may only read", readOnlyUser, nil, []byte("v"), corral.ErrDeclined},
	{"value over proto-max-bulk-len", smallBulkServer, []redisstore.Option{redisstore.MaxValueBytes(1 << 20)},
		make([]byte, 1<<20+1), corral.ErrTooLarge},
}

// An answer is not an outage: a write the server refuses is an error of
// that call, which the breaker does not count (one failure would open it
// here), and reads go on hitting.
func TestAnswersAreNotOutages(t *testing.T) {
	for _, rs := range refusingServers {
		t.Run(rs.name, func(t *testing.T) {
			ctx := context.Background()
			c := corral.New(redisstore.New(rs.start(t), rs.opts...), corral.WithCircuitBreaker(1, time.Hour))
			for range 3 {
				err := c.Set(ctx, "other", rs.value, time.Minute)
				if !errors.Is(err, corral.ErrUnavailable) || !errors.Is(err, rs.kind) {
					t.Fatalf("Set = %v, want ErrUnavailable and %v", err, rs.kind)
				}
			}
			var v string
			if found, err := c.Get(ctx, "k", &v); !found || err != nil || v != "stored" {
				t.Fatalf("Get after refused writes = %v, %v, %q; want the stored value", found, err, v)
			}
			if st := c.Stats(); st.BreakerState != "closed" || st.Rejected != 0 || st.Errors != 3 {
				t.Fatalf("stats %+v: want the breaker closed and the 3 refused writes counted", st)
			}
		})
	}
}

// seed writes "k" through a Cache with no prefix: store key ":1:k".
func seed(t *testing.T, client *redis.Client) {
	t.Helper()
	c := corral.New(redisstore.New(client))
	if err := c.Set(context.Background(), "k", "stored", time.Hour); err != nil {
		t.Fatal(err)
	}
}

// fullServer is a Redis over its maxmemory under noeviction: every write
// gets OOM.
func fullServer(t *testing.T) *redis.Client {
	client := redistest.Start(t).Client(t)
	seed(t, client)
	ctx := context.Background()
	if err := client.Set(ctx, "filler", make([]byte, 256<<10), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.ConfigSet(ctx, "maxmemory", "1mb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.Set(ctx, "probe", "x", 0).Err(); !redis.IsOOMError(err) {
		t.Fatalf("a write to the full server = %v, want OOM", err)
	}
	return client
}

// replicaServer is a replica of a master that holds "k".
func replicaServer(t *testing.T) *redis.Client {
	master := redistest.Start(t)
	seed(t, master.Client(t))
	master.Client(t).ConfigSet(context.Background(), "repl-diskless-sync-delay", "0")
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", strings.TrimPrefix(master.Addr, "127.0.0.1:"))
	// go-redis retries READONLY, MaxRetries times with backoff (about 100 ms
	// by default), past corral's 100 ms timeout: without retries the answer
	// comes at once.
	client := redis.NewClient(&redis.Options{Addr: replica.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for client.Exists(context.Background(), ":1:k").Val() != 1 { // polling the replication, bounded
		if time.Now().After(deadline) {
			t.Fatal("the replica never got k")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return client
}

// readOnlyUser is a client of an ACL user that may GET but not SET.
func readOnlyUser(t *testing.T) *redis.Client {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	seed(t, admin)
	err := admin.Do(context.Background(), "ACL", "SETUSER", "reader", "on", ">pw", "~*", "+get", "+ping", "+hello", "+client").Err()
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "reader", Password: "pw", ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	return client
}

// smallBulkServer refuses values over 1 MiB (its proto-max-bulk-len).
func smallBulkServer(t *testing.T) *redis.Client {
	client := redistest.Start(t, "--proto-max-bulk-len", "1mb").Client(t)
	seed(t, client)
	return client
}
