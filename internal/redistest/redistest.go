// Package redistest starts real redis-server processes for tests: one server,
// or a Redis Cluster of several nodes, each on a free loopback port, stopped
// when the test ends.
//
// Where redis-server is not installed the test is skipped with a message
// saying so, except under CI=true, where it fails: CI installs it.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one redis-server process.
type Server struct {
	Addr string // 127.0.0.1:port
	Port int

	bin  string
	args []string

	mu     sync.Mutex
	proc   *os.Process   // nil while stopped
	exited chan struct{} // closed when proc has exited
}

// Binary returns the path of a program the tests need, or skips the test (or
// fails it under CI=true) when it is not installed.
func Binary(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		missing(t, fmt.Sprintf("%s is not installed (apt-get install redis-server); the Redis tests need a real server", name))
	}
	return path
}

// missing skips the test for want of a program, or fails it under CI=true.
func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + ", and CI must run them")
	}
	t.Skip(msg + ": skipping")
}

// Start runs a redis-server on a free loopback port with no persistence and
// waits until it answers PING. extra arguments are appended to its command
// line. The server is killed when the test ends.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	return start(t, false, extra...)
}

func start(t testing.TB, cluster bool, extra ...string) *Server {
	t.Helper()
	bin := Binary(t, "redis-server")
	dir := t.TempDir()
	return launch(t, bin, cluster, func(port int) []string {
		args := append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--protected-mode", "no", "--loglevel", "warning",
		}, extra...)
		if cluster {
			args = append(args, "--cluster-enabled", "yes",
				"--cluster-config-file", fmt.Sprintf("nodes-%d.conf", port))
		}
		return args
	})
}

// launch runs bin with the arguments args gives for a free loopback port,
// and waits until it answers PING; for a cluster node, the port's bus port
// is free too. The process is killed when the test ends.
func launch(t testing.TB, bin string, cluster bool, args func(port int) []string) *Server {
	t.Helper()
	var lastErr error
	for range 5 { // a free port can be taken between the probe and the bind
		port, err := freePort(cluster)
		if err != nil {
			t.Fatal(err)
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, bin: bin, args: args(port)}
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.Kill)
			return s
		}
	}
	t.Fatalf("%s did not start: %v", bin, lastErr)
	return nil
}

// Kill stops the server at once (SIGKILL) and waits until it has exited.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.Kill()
	<-s.exited
	s.proc = nil
}

// Restart starts the server again on the same port, after Kill.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("restarting redis-server on %s: %v", s.Addr, err)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return fmt.Errorf("redis-server on %s is already running", s.Addr)
	}
	cmd := exec.Command(s.bin, s.args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for ping(s.Addr) != nil {
		select {
		case <-exited:
			return fmt.Errorf("%s exited at start: %s", s.bin, out.String())
		case <-time.After(10 * time.Millisecond): // polling readiness, bounded below
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("%s on %s did not answer within 10s: %s", s.bin, s.Addr, out.String())
		}
	}
	s.proc, s.exited = cmd.Process, exited
	return nil
}

// ping sends PING and expects +PONG.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// freePort returns a loopback port nobody listens on; for a cluster node, one
// whose bus port (port + 10000) is free too.
func freePort(cluster bool) (int, error) {
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !cluster {
			return port, nil
		}
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		if err != nil {
			continue
		}
		bus.Close()
		return port, nil
	}
	return 0, fmt.Errorf("redistest: no free port pair found")
}

// Client returns a go-redis client for s with ContextTimeoutEnabled, closed
// when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// Cluster is a Redis Cluster of masters without replicas.
type Cluster struct {
	Nodes []*Server
}

// StartCluster runs n cluster-enabled redis-servers (n >= 3), joins them with
// redis-cli --cluster create and waits until every node reports
// cluster_state:ok. extra arguments are appended to every node's command
// line.
func StartCluster(t testing.TB, n int, extra ...string) *Cluster {
	t.Helper()
	cli := Binary(t, "redis-cli")
	c := &Cluster{}
	args := []string{"--cluster", "create"}
	for range n {
		s := start(t, true, extra...)
		c.Nodes = append(c.Nodes, s)
		args = append(args, s.Addr)
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, s := range c.Nodes {
		rc := redis.NewClient(&redis.Options{Addr: s.Addr})
		poll(ctx, t, "cluster node "+s.Addr+" to reach cluster_state:ok", func() error {
			info, err := rc.ClusterInfo(ctx).Result()
			if err == nil && !strings.Contains(info, "cluster_state:ok") {
				err = fmt.Errorf("CLUSTER INFO: %s", info)
			}
			return err
		})
		rc.Close()
	}
	return c
}

// Addrs returns the nodes' addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr
	}
	return addrs
}

// Client returns a cluster client for c with ContextTimeoutEnabled, closed
// when the test ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { cc.Close() })
	return cc
}

// ClusterWanted skips a test that needs a Redis Cluster unless
// CORRAL_REDIS_CLUSTER is set or CI=true: a cluster costs several servers.
func ClusterWanted(t testing.TB) {
	t.Helper()
	if os.Getenv("CORRAL_REDIS_CLUSTER") == "" && os.Getenv("CI") != "true" {
		t.Skip("set CORRAL_REDIS_CLUSTER=1 to run the Redis Cluster tests")
	}
}
