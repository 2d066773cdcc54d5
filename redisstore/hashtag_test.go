package redisstore

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/gorilla/mux"
	"github.com/redis/go-redis/v9"
)

// keyRecorder is a store that notes every key written through it.
type keyRecorder struct {
	corral.Store
	mu   sync.Mutex
	keys []string
}

func (r *keyRecorder) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	r.mu.Lock()
	r.keys = append(r.keys, key)
	r.mu.Unlock()
	return r.Store.Set(ctx, key, value, ttl)
}

// written returns the keys written since the last call, and forgets them.
func (r *keyRecorder) written() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := r.keys
	r.keys = nil
	return keys
}

// keySources writes n values through each way a store key is made, each
// with a brace in a part that is the same for all n: without escaping, that
// part would be the keys' Redis Cluster hash tag, and every key of a source
// would live in one slot.
func keySources(n int) map[string]func(t *testing.T, s corral.Store) {
	return map[string]func(t *testing.T, s corral.Store){
		// The route's template holds braces; the URLs do not.
		"mux route /products/{id:[0-9]+}": func(t *testing.T, s corral.Store) {
			serveRoute(t, s, n, "/products/%d")
		},
		"mux route, a brace in the query": func(t *testing.T, s corral.Store) {
			serveRoute(t, s, n, "/products/%d?fields={name,price}")
		},
		"user key with a brace": func(t *testing.T, s corral.Store) {
			c := corral.New(s, corral.WithPrefix("user"))
			for i := range n {
				must(t, c.Set(context.Background(), fmt.Sprintf("{tenant}:item:%d", i), i, time.Minute))
			}
		},
		"prefix with a brace": func(t *testing.T, s corral.Store) {
			c := corral.New(s, corral.WithPrefix("{shop}"))
			for i := range n {
				must(t, c.Set(context.Background(), fmt.Sprintf("item:%d", i), i, time.Minute))
			}
		},
		"Memoize struct key": func(t *testing.T, s corral.Store) {
			type filter struct{ Q string }
			type query struct {
				Filter filter // encoded "{{s5:shoes;}i7;}": "{s5:shoes;" would be the tag
				Page   int
			}
			c := corral.New(s, corral.WithPrefix("memo"))
			search := corral.Memoize(c, "search", time.Minute, func(_ context.Context, q query) (int, error) { return q.Page, nil })
			for i := range n {
				if _, err := search(context.Background(), query{filter{"shoes"}, i}); err != nil {
					t.Fatal(err)
				}
			}
		},
	}
}

// serveRoute serves n GETs of pattern (with %d the id) through the
// middleware on a gorilla/mux route.
func serveRoute(t *testing.T, s corral.Store, n int, pattern string) {
	t.Helper()
	c := corral.New(s, corral.WithPrefix("http"))
	r := mux.NewRouter()
	r.Handle("/products/{id:[0-9]+}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, mux.Vars(r)["id"])
	}))
	r.Use(c.Middleware(corral.TTL(time.Minute)))
	for i := range n {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", fmt.Sprintf(pattern, i), nil))
		if w.Code != 200 || w.Body.String() != fmt.Sprint(i) {
			t.Fatalf("GET %s: %d %q", fmt.Sprintf(pattern, i), w.Code, w.Body)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// No store key holds a hash tag: the keys of one route, one prefix or one
// Memoize spread over the slots as their hashes do (1000 random keys fall
// in about 970 distinct slots of 16384).
func TestKeysSpreadOverSlots(t *testing.T) {
	srv := redistest.Start(t)
	rec := &keyRecorder{Store: New(srv.Client(t))}
	const n = 1000
	for name, write := range keySources(n) {
		t.Run(name, func(t *testing.T) {
			write(t, rec)
			keys := rec.written()
			slots := map[uint16]bool{}
			for _, k := range keys {
				if strings.ContainsAny(k, "{}") {
					t.Fatalf("store key %q holds a brace", k)
				}
				slots[slot(k)] = true
			}
			t.Logf("%d keys in %d slots, e.g. %q", len(keys), len(slots), keys[0])
			if len(keys) < n || len(slots) < n*9/10 {
				t.Fatalf("%d keys in %d distinct slots, want at least %d", len(keys), len(slots), n*9/10)
			}
		})
	}
}

// On a real three-master Cluster, each source's keys spread over the masters.
func TestKeysSpreadOverClusterNodes(t *testing.T) {
	redistest.ClusterWanted(t)
	cluster := redistest.StartCluster(t, 3)
	client := cluster.Client(t)
	rec := &keyRecorder{Store: New(client)}
	const n = 1000
	for name, write := range keySources(n) {
		t.Run(name, func(t *testing.T) {
			write(t, rec)
			perNode := countByMaster(t, client, rec.written())
			t.Logf("keys per master: %v", perNode)
			if len(perNode) != 3 {
				t.Fatalf("keys on %d masters, want 3: %v", len(perNode), perNode)
			}
			for addr, k := range perNode {
				if k < n/5 {
					t.Fatalf("master %s holds %d of %d keys: %v", addr, k, n, perNode)
				}
			}
		})
	}
}

// countByMaster counts keys by the master that holds them, asking each
// master for the keys it has (EXISTS), not computing where they should be.
func countByMaster(t *testing.T, client *redis.ClusterClient, keys []string) map[string]int {
	t.Helper()
	ctx := context.Background()
	counts := map[string]int{}
	var mu sync.Mutex
	err := client.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		held := 0
		for _, k := range keys {
			n, err := node.Exists(ctx, k).Result()
			if err != nil && !strings.HasPrefix(err.Error(), "MOVED") {
				return err
			}
			held += int(n)
		}
		mu.Lock()
		counts[node.Options().Addr] = held
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return counts
}
