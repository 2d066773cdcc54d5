package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/redistest"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

// A Sentinel failover (SENTINEL FAILOVER: a master, its replica and one
// Sentinel, each a process) under load through redis.NewFailoverClient,
// with corral's defaults: GetOrSet callers never see an error, and writes
// land on the new master, and hit there, within seconds. The test also
// counts what the failover undid: writes and deletes that the old master
// acknowledged after the replica was promoted, which Redis's asynchronous
// replication never brings to the new master.
func TestSentinelFailoverUnderLoad(t *testing.T) {
	sentinel := redistest.StartSentinel(t)
	client := sentinel.Client(t)
	c := corral.New(redisstore.New(client))
	ctx := context.Background()
	const keys = 200
	for i := range keys {
		if err := c.Set(ctx, fmt.Sprint("k", i), i, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	preloadDeletable(t, client)

	load := startLoad(ctx, c, keys)
	load.await(t, 2000) // requests before the failover
	oldMaster, err := sentinel.MasterAddr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sentinel.Failover(t)
	newMaster := awaitNewMaster(t, sentinel, oldMaster)
	switched := time.Since(start)
	hit := awaitHitOn(t, c, newMaster)
	hitAfter := time.Since(start)
	load.await(t, load.requests.Load()+2000) // requests after the failover
	load.stop()

	lostWrites, undoneDeletes := load.undone(t, newMaster)
	t.Logf("failover %s -> %s: the Sentinel named the new master %v after SENTINEL FAILOVER; first write and hit on it (%s) after %v",
		oldMaster, newMaster.Options().Addr, switched.Round(time.Millisecond), hit, hitAfter.Round(time.Millisecond))
	t.Logf("%d GetOrSet calls, %d failed, %d computed; %d of %d acknowledged writes lost, %d of %d acknowledged deletes undone",
		load.requests.Load(), load.failed.Load(), load.computed.Load(),
		lostWrites, load.setsAcked(), undoneDeletes, load.deletesAcked())
	if n := load.failed.Load(); n != 0 {
		t.Fatalf("%d of %d GetOrSet calls failed; the first: %v", n, load.requests.Load(), load.firstErr.Load())
	}
	if hitAfter > 10*time.Second {
		t.Fatalf("the first hit on the new master came %v after the failover", hitAfter)
	}
}

// failoverLoad is four goroutines reading keys with GetOrSet, and one
// writing a new key w<n> and deleting a key d<n> written before the load at
// a time, noting which writes and deletes were acknowledged.
type failoverLoad struct {
	requests, failed, computed atomic.Int64
	firstErr                   atomic.Value

	mu      sync.Mutex
	set     map[int]bool // w<n>: its Set was acknowledged
	deleted map[int]bool // d<n>: its Delete was acknowledged

	done chan struct{}
	wg   sync.WaitGroup
}

// deletable is how many keys d<n> there are for the load to delete.
const deletable = 20_000

// preloadDeletable writes the keys d<n>, and waits until the replica has
// them.
func preloadDeletable(t *testing.T, client *redis.Client) {
	t.Helper()
	ctx := context.Background()
	if _, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n := range deletable {
			p.Set(ctx, fmt.Sprint(":1:d", n), "v", time.Hour)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := client.Wait(ctx, 1, 10*time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT for the replica: %d, %v", n, err)
	}
}

func startLoad(ctx context.Context, c *corral.Cache, keys int) *failoverLoad {
	l := &failoverLoad{set: map[int]bool{}, deleted: map[int]bool{}, done: make(chan struct{})}
	for r := range 4 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := r; !l.stopped(); i = (i + 1) % keys {
				l.read(ctx, c, i)
			}
		}()
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for n := 0; !l.stopped(); n++ {
			l.write(ctx, c, n)
		}
	}()
	return l
}

func (l *failoverLoad) read(ctx context.Context, c *corral.Cache, i int) {
	l.requests.Add(1)
	v, err := corral.GetOrSet(ctx, c, fmt.Sprint("k", i), time.Hour, func(context.Context) (int, error) {
		l.computed.Add(1)
		return i, nil
	})
	if err == nil && v != i {
		err = fmt.Errorf("k%d read %d", i, v)
	}
	if err != nil {
		l.failed.Add(1)
		l.firstErr.CompareAndSwap(nil, err)
	}
}

func (l *failoverLoad) write(ctx context.Context, c *corral.Cache, n int) {
	setErr := c.Set(ctx, fmt.Sprint("w", n), n, time.Hour)
	delErr := errors.New("not tried")
	if n < deletable {
		delErr = c.Delete(ctx, fmt.Sprint("d", n))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.set[n] = setErr == nil
	l.deleted[n] = delErr == nil
}

func (l *failoverLoad) stopped() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// await waits until the readers have made n requests.
func (l *failoverLoad) await(t *testing.T, n int64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); l.requests.Load() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests within 30 s, want %d", l.requests.Load(), n)
		}
		time.Sleep(10 * time.Millisecond) // polling a counter, bounded
	}
}

func (l *failoverLoad) stop() {
	close(l.done)
	l.wg.Wait()
}

// undone counts, on the new master, the acknowledged writes that are not
// there and the acknowledged deletes whose key is there.
func (l *failoverLoad) undone(t *testing.T, master *redis.Client) (lostWrites, undoneDeletes int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, there := range exist(t, master, ":1:w", l.set) {
		if !there {
			lostWrites++
		}
	}
	for _, there := range exist(t, master, ":1:d", l.deleted) {
		if there {
			undoneDeletes++
		}
	}
	return lostWrites, undoneDeletes
}

// exist reports which of the keys prefix<n> with acked[n] the master holds.
func exist(t *testing.T, master *redis.Client, prefix string, acked map[int]bool) map[int]bool {
	t.Helper()
	ctx := context.Background()
	cmds := map[int]*redis.IntCmd{}
	if _, err := master.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n, ok := range acked {
			if ok {
				cmds[n] = p.Exists(ctx, fmt.Sprint(prefix, n))
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	there := make(map[int]bool, len(cmds))
	for n, cmd := range cmds {
		there[n] = cmd.Val() == 1
	}
	return there
}

func (l *failoverLoad) setsAcked() int    { return l.count(l.set) }
func (l *failoverLoad) deletesAcked() int { return l.count(l.deleted) }

func (l *failoverLoad) count(m map[int]bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ok := range m {
		if ok {
			n++
		}
	}
	return n
}

// awaitNewMaster waits until the Sentinel names another master than old,
// and returns a client of it.
func awaitNewMaster(t *testing.T, s *redistest.Sentinel, old string) *redis.Client {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		addr, err := s.MasterAddr(context.Background())
		if err == nil && addr != old {
			c := redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { c.Close() })
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Sentinel still names %s 30 s after SENTINEL FAILOVER (%v)", old, err)
		}
		time.Sleep(10 * time.Millisecond) // polling the Sentinel, bounded
	}
}

// awaitHitOn writes a new key through c until one is stored on master and
// then read back as a hit, and returns that key.
func awaitHitOn(t *testing.T, c *corral.Cache, master *redis.Client) string {
	t.Helper()
	ctx := context.Background()
	for i, deadline := 0, time.Now().Add(30*time.Second); ; i++ {
		key := fmt.Sprint("marker", i)
		if c.Set(ctx, key, i, time.Hour) == nil && master.Exists(ctx, ":1:"+key).Val() == 1 {
			var v int
			if found, err := c.Get(ctx, key, &v); found && err == nil && v == i {
				return key
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no write landed on the new master and hit within 30 s")
		}
		time.Sleep(10 * time.Millisecond) // polling for the switch, bounded
	}
}
