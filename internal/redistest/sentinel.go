package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a master, one replica of it and a Redis Sentinel that watches
// them, each a process of its own on loopback.
type Sentinel struct {
	Name     string  // the master's name in the Sentinel
	Master   *Server // the master when started (a replica after a failover)
	Replica  *Server // the replica when started
	Sentinel *Server
}

// sentinelName is the name the Sentinel knows the master by.
const sentinelName = "corral"

// StartSentinel runs a master, a replica of it and a Sentinel (the
// redis-sentinel program, or redis-server --sentinel where it is not
// installed), and waits until the Sentinel knows the replica well enough to
// promote it. Everything is killed when the test ends.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	bin, mode := sentinelBinary(t)
	master := Start(t)
	replica := Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	dir := t.TempDir()
	sentinel := launch(t, bin, false, func(port int) []string {
		// The Sentinel rewrites its configuration file: one per attempt.
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", port))
		text := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 1\n"+
			"sentinel down-after-milliseconds %[1]s 1000\n"+
			"sentinel failover-timeout %[1]s 5000\n", sentinelName, master.Port)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return append(append([]string{conf}, mode...),
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "no", "--loglevel", "warning")
	})
	s := &Sentinel{Name: sentinelName, Master: master, Replica: replica, Sentinel: sentinel}
	s.awaitReplica(t)
	return s
}

// sentinelBinary returns the program that runs a Sentinel and the
// arguments that follow its configuration file: redis-sentinel, else
// redis-server in Sentinel mode. It skips the test (fails it under CI=true)
// when neither is installed.
func sentinelBinary(t testing.TB) (string, []string) {
	t.Helper()
	if path, err := exec.LookPath("redis-sentinel"); err == nil {
		return path, nil
	}
	if path, err := exec.LookPath("redis-server"); err == nil {
		return path, []string{"--sentinel"}
	}
	missing(t, "neither redis-sentinel nor redis-server is installed (apt-get install redis-sentinel); the Sentinel test needs one")
	return "", nil
}

// awaitReplica waits until the replica has synced with the master and the
// Sentinel lists it as a healthy replica.
func (s *Sentinel) awaitReplica(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc := redis.NewClient(&redis.Options{Addr: s.Replica.Addr})
	defer rc.Close()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr})
	defer sc.Close()
	poll(ctx, t, "the replica to sync and the Sentinel to list it", func() error {
		info, err := rc.Info(ctx, "replication").Result()
		if err != nil || !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("the replica's link to its master is not up: %v", err)
		}
		replicas, err := sc.Replicas(ctx, s.Name).Result()
		if err != nil {
			return err
		}
		for _, r := range replicas {
			if r["flags"] == "slave" && r["master-link-status"] == "ok" {
				return nil
			}
		}
		return fmt.Errorf("the Sentinel lists no healthy replica: %v", replicas)
	})
}

// Client returns a go-redis Sentinel (failover) client of the master, with
// ContextTimeoutEnabled, closed when the test ends.
func (s *Sentinel) Client(t testing.TB) *redis.Client {
	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            s.Name,
		SentinelAddrs:         []string{s.Sentinel.Addr},
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// MasterAddr returns the address the Sentinel gives for the master now.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr})
	defer sc.Close()
	hp, err := sc.GetMasterAddrByName(ctx, s.Name).Result()
	if err != nil {
		return "", err
	}
	return strings.Join(hp, ":"), nil
}

// Failover asks the Sentinel to promote the replica (SENTINEL FAILOVER),
// again while it answers that no replica is ready yet, and returns when the
// Sentinel has accepted.
func (s *Sentinel) Failover(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr})
	defer sc.Close()
	poll(ctx, t, "the Sentinel to accept SENTINEL FAILOVER", func() error {
		return sc.Failover(ctx, s.Name).Err()
	})
}

// poll calls cond until it returns nil, every 20 ms, and fails the test
// with cond's last error when ctx ends first.
func poll(ctx context.Context, t testing.TB, what string, cond func() error) {
	t.Helper()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %v", what, err)
		case <-time.After(20 * time.Millisecond): // polling, bounded by ctx
		}
	}
}
