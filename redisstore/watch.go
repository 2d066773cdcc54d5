package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/corralhq/corral"
	"github.com/redis/go-redis/v9"
)

// Why Redis's own tracking, and not a channel of corral's: with CLIENT
// TRACKING in broadcasting mode (BCAST PREFIX), the server itself reports
// every change of a key under the prefix, as part of the command that made
// it: a Cache on another instance, any other client (redis-cli, another
// service), an expiry, an eviction, FLUSHALL. Writes cost nothing more (a
// PUBLISH per write would be one more command, sent after the write, and
// lost when the writer dies in between), and on a Cluster each master
// reports its own keys: no message crosses the cluster bus, and a dead
// master loses the near copies of its keys only, as it has its own breaker.
// go-redis's own client-side cache (v9.22, experimental) tracks the keys
// each pooled connection reads, on a single node only, with its own cache
// of replies; rueidis does the same on every node but owns its connections.
// corral does not own the user's client, so it opens, per master, one
// connection of its own (a client copied from the user's options, in RESP2)
// that turns tracking on with itself as the target and subscribes to
// __redis__:invalidate: one connection both registers and listens, so its
// loss (EOF, reset, or a heartbeat unanswered) is the loss of the channel.
//
// Redis reports changes only: a DEL of a key that holds nothing changes
// nothing. But a Delete during another instance's computation of the key
// (the common case: it missed) must keep that computation's value out of
// the store, as it does in one process. So a Delete of watched keys is
// also announced, with a PUBLISH that the same connections subscribe to,
// before the keys are unlinked.

// invalidations is the channel on which Redis sends a RESP2 client its
// tracking messages.
const invalidations = "__redis__:invalidate"

// announcements is the channel on which the Deletes of a watched prefix's
// keys are announced: their keys, one per line (store keys hold no control
// byte).
func announcements(prefix string) string { return "__corral__:deleted:" + prefix }

// How a watch keeps its connections: the heartbeat of an idle connection
// (a connection that stays silent for twice that is lost), the waits
// between attempts to connect again, and how often a Cluster's masters are
// listed.
const (
	watchHeartbeat = time.Second
	watchRetry     = 10 * time.Millisecond
	watchRetryMost = 500 * time.Millisecond
	watchTopology  = time.Second
)

var _ corral.Watcher = (*Store)(nil)

// Watch implements [corral.Watcher] with Redis's client-side caching
// protocol in broadcasting mode: on every master (one connection each, made
// with the client's options), CLIENT TRACKING ON BCAST PREFIX prefix, so
// that Redis reports every change of a key under prefix, whoever makes it,
// and the expiries and evictions; the same connections hear the Deletes of
// keys under prefix that a Store with a watch of it announces (a key that
// held nothing included), on every instance. A master whose connection is lost, or
// silent for 2 s (a heartbeat PING every second), is reported lost, and
// connected again after 10 ms, then after waits that double up to 0.5 s; a
// FLUSHALL too is reported as a loss. A Cluster's masters are listed every
// second: a new master is watched, one gone is reported lost. It needs
// Redis 6 or newer, and a user allowed CLIENT and SUBSCRIBE; a Ring, or a
// client type it does not know, is reported lost at once (copies are never
// kept).
func (s *Store) Watch(prefix string, sink corral.WatchSink) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watch{ctx: ctx, prefix: prefix, sink: sink, trackers: make(map[string]*tracker)}
	s.watched.add(prefix)
	switch c := s.client.(type) {
	case *redis.Client:
		w.track("", c.Options())
	case *redis.ClusterClient:
		w.wg.Add(1)
		go w.followMasters(c)
	default:
		sink.Lost("", fmt.Errorf("corral/redisstore: cannot watch the keys of a %T", s.client))
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.watched.remove(prefix)
			cancel()
			w.stopAll()
			w.wg.Wait()
		})
	}
}

// announce publishes the keys under a watched prefix, before a Delete of
// them: the instances watching hear of it even when a key held nothing.
// A failure to announce does not fail the Delete.
func (s *Store) announce(ctx context.Context, keys []string) {
	for prefix, ks := range s.watched.group(keys) {
		_ = s.publisher(ctx, ks[0]).Publish(ctx, announcements(prefix), strings.Join(ks, "\n")).Err()
	}
}

// publisher is the client that announces a Delete of key: on a Cluster,
// key's master (a PUBLISH reaches the subscribers of every node; sent to a
// node picked at random, it could wait on a dead master that the Delete
// has nothing to do with), else the store's client.
func (s *Store) publisher(ctx context.Context, key string) redis.Cmdable {
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		if node, err := cc.MasterForKey(ctx, key); err == nil {
			return node
		}
	}
	return s.client
}

// watchedPrefixes are the prefixes a Store watches, each with its number
// of watches.
type watchedPrefixes struct {
	mu sync.Mutex
	n  map[string]int // guarded by mu
}

func (p *watchedPrefixes) add(prefix string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == nil {
		p.n = make(map[string]int)
	}
	p.n[prefix]++
}

func (p *watchedPrefixes) remove(prefix string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[prefix]--; p.n[prefix] <= 0 {
		delete(p.n, prefix)
	}
}

// group returns the keys under each watched prefix.
func (p *watchedPrefixes) group(keys []string) map[string][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.n) == 0 {
		return nil
	}
	var out map[string][]string
	for prefix := range p.n {
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				if out == nil {
					out = make(map[string][]string)
				}
				out[prefix] = append(out[prefix], k)
			}
		}
	}
	return out
}

// watch is one Watch: a tracker per master.
type watch struct {
	ctx    context.Context
	prefix string
	sink   corral.WatchSink
	wg     sync.WaitGroup

	mu       sync.Mutex
	trackers map[string]*tracker // by shard; guarded by mu
}

// tracker keeps one master's tracking connection.
type tracker struct {
	w      *watch
	shard  string
	client *redis.Client
	ctx    context.Context
	cancel context.CancelFunc

	mu sync.Mutex
	ps *redis.PubSub // the current subscription; guarded by mu
}

// followMasters watches every master of a Cluster, listing them now and
// every watchTopology.
func (w *watch) followMasters(cc *redis.ClusterClient) {
	defer w.wg.Done()
	for {
		w.listMasters(cc)
		select {
		case <-w.ctx.Done():
			return
		case <-time.After(watchTopology): // the listing's schedule
		}
	}
}

// listMasters starts a tracker for each master not yet watched, and stops
// those of masters gone. A listing that fails changes nothing.
func (w *watch) listMasters(cc *redis.ClusterClient) {
	ctx, cancel := context.WithTimeout(w.ctx, time.Second)
	defer cancel()
	var mu sync.Mutex
	masters := make(map[string]*redis.Options)
	err := cc.ForEachMaster(ctx, func(_ context.Context, node *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		masters[node.Options().Addr] = node.Options()
		return nil
	})
	if err != nil || w.ctx.Err() != nil {
		return
	}
	for addr, opts := range masters {
		w.track(addr, opts)
	}
	w.mu.Lock()
	var gone []*tracker
	for addr, t := range w.trackers {
		if masters[addr] == nil {
			gone = append(gone, t)
			delete(w.trackers, addr)
		}
	}
	w.mu.Unlock()
	for _, t := range gone {
		t.stop()
		w.sink.Lost(t.shard, errors.New("corral/redisstore: the master left the cluster"))
	}
}

// track starts a tracker for shard, whose server the options reach, unless
// there is one.
func (w *watch) track(shard string, opts *redis.Options) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.trackers[shard]; ok || w.ctx.Err() != nil {
		return
	}
	t := &tracker{w: w, shard: shard, client: redis.NewClient(w.options(opts))}
	t.ctx, t.cancel = context.WithCancel(w.ctx)
	w.trackers[shard] = t
	w.wg.Add(1)
	go t.run()
}

// options copies the options of the user's client for a tracking
// connection: RESP2, so that tracking messages arrive as messages of the
// subscription; no client-side caching, limiter or push processor of theirs;
// and, once connected (after their OnConnect), tracking turned on with the
// connection itself as the target.
func (w *watch) options(user *redis.Options) *redis.Options {
	opts := *user
	opts.Protocol = 2
	opts.PoolSize, opts.MinIdleConns, opts.MaxIdleConns, opts.MaxActiveConns = 1, 0, 0, 0
	opts.DialerRetries = 1 // the tracker retries itself, on its own schedule
	opts.Limiter, opts.PushNotificationProcessor, opts.MaintNotificationsConfig = nil, nil, nil
	opts.ClientSideCacheConfig, opts.ClientSideCache, opts.AutoPipelineOptions = nil, nil, nil
	theirs := user.OnConnect
	opts.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		if theirs != nil {
			if err := theirs(ctx, cn); err != nil {
				return err
			}
		}
		id, err := cn.ClientID(ctx).Result()
		if err != nil {
			return err
		}
		return cn.Do(ctx, "CLIENT", "TRACKING", "ON", "REDIRECT", id, "BCAST", "PREFIX", w.prefix).Err()
	}
	return &opts
}

func (w *watch) stopAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range w.trackers {
		t.stop()
	}
}

// run keeps the master's tracking connection until the watch stops:
// subscribe, listen until the channel is lost, report the loss once, wait,
// again.
func (t *tracker) run() {
	defer t.w.wg.Done()
	defer t.client.Close()
	wait, reported := time.Duration(0), false
	for t.ctx.Err() == nil {
		watched, err := t.listen()
		if t.ctx.Err() != nil {
			return
		}
		if watched || !reported {
			t.w.sink.Lost(t.shard, err)
			reported = true
		}
		if watched {
			wait = 0 // a channel that worked: connect again at once
		}
		select {
		case <-t.ctx.Done():
			return
		case <-time.After(wait): // the retries' schedule
		}
		wait = min(max(2*wait, watchRetry), watchRetryMost)
	}
}

// listen subscribes to the master's tracking messages and reports them
// until the channel is lost; watched says whether it was up.
func (t *tracker) listen() (watched bool, err error) {
	ps := t.client.Subscribe(t.ctx, invalidations, announcements(t.w.prefix))
	if !t.current(ps) {
		ps.Close()
		return false, t.ctx.Err()
	}
	defer ps.Close()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(t.ctx, watchHeartbeat)
		switch {
		case err != nil && !pinged && isTimeout(err):
			pinged = true // silent for a heartbeat: ask
			if err := ps.Ping(t.ctx); err != nil {
				return watched, err
			}
			continue
		case err != nil:
			return watched, err // closed, reset, silent after a PING, a FLUSHALL (its message has no keys)
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Count == 2 && !watched {
				watched = true // tracking was turned on when the connection was made
				t.w.sink.Watching(t.shard)
			}
		case *redis.Message:
			t.w.sink.Changed(t.shard, keysOf(m))
		}
	}
}

// current makes ps the tracker's subscription, for stop to close; false
// when the tracker is stopping.
func (t *tracker) current(ps *redis.PubSub) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return false
	}
	t.ps = ps
	return true
}

// stop ends the tracker: its context, and its subscription, which a
// receive may be waiting on.
func (t *tracker) stop() {
	t.cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ps != nil {
		t.ps.Close()
	}
}

// keysOf returns the keys of a tracking message or an announcement.
func keysOf(m *redis.Message) []string {
	switch {
	case m.PayloadSlice != nil:
		return m.PayloadSlice
	case m.Channel == invalidations:
		return []string{m.Payload}
	}
	return strings.Split(m.Payload, "\n")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
