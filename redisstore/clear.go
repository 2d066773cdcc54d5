package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corralhq/corral"
	"github.com/redis/go-redis/v9"
)

// How Clear works. SCAN visits a whole keyspace, however few keys match: a
// large one takes more than one store call's timeout (corral's default is
// 100 ms). So a Clear is a job of its own, per prefix, on a goroutine of
// its own, under the store's ClearTimeout rather than its caller's
// deadline. A caller waits for the job until its context ends. The job
// keeps where each node's SCAN stands: after a failure it goes on from
// there, and a job that ends unfinished leaves that progress to the next
// Clear of the prefix.
//
// On a Cluster, keys that move between masters while the masters are
// scanned can be missed by both scans; the job reads which slots were
// migrating, or changed master, during the scans (CLUSTER NODES on every
// master, before and after) and removes those slots' keys by asking their
// masters for them (CLUSTER GETKEYSINSLOT), the source of a migration
// before its target.

// ClearTimeout sets how long a Clear may run in all, whatever its caller's
// deadline: a caller whose context ends first gets an error wrapping
// corral.ErrDeclined and the context's error, and the clear goes on; a
// Clear of the prefix called meanwhile waits for the same one (keys written
// since it began may stay). A clear that runs out of ClearTimeout (or whose
// client is closed) stops with an error; the next Clear of the prefix
// resumes it where it stopped. It panics on d <= 0. Default: 1 minute.
func ClearTimeout(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("corral/redisstore: ClearTimeout(%v): want a positive duration", d))
	}
	return func(s *Store) { s.clearTimeout = d }
}

// Clear implements [corral.Clearer]: it SCANs every master (every shard of
// a Ring) for keys that start with prefix and UNLINKs them, ScanCount at a
// time, never removing keys outside the prefix; see [ClearTimeout] for its
// budget. Keys written under the prefix while a clear runs may stay; so may
// keys written after an unfinished clear stopped, in the parts of the
// keyspace it had already scanned, when the next Clear resumes it.
func (s *Store) Clear(ctx context.Context, prefix string) error {
	return s.run(ctx, "", func(ctx context.Context) error { return s.awaitClear(ctx, prefix) })
}

// clearJobs are the clears of a store, by prefix: under way, or stopped
// unfinished (kept for their progress).
type clearJobs struct {
	mu   sync.Mutex
	jobs map[string]*clearJob
}

// clearJob is the clear of one prefix.
type clearJob struct {
	prefix   string
	progress *progress
	done     chan struct{} // closed when the job ends
	err      error         // why it ended unfinished; read after done
	trouble  atomic.Value  // troubleErr: the failure it is retrying, if any
}

// troubleErr holds a clear's latest failure (nil: none since its last
// step), as atomic.Value needs one concrete type.
type troubleErr struct{ err error }

// awaitClear waits for the clear of prefix (started, or joined) until it
// ends or ctx does.
func (s *Store) awaitClear(ctx context.Context, prefix string) error {
	if err := ctx.Err(); err != nil {
		return err // an ended context starts nothing
	}
	job := s.clearOf(ctx, prefix)
	select {
	case <-job.done:
		return job.err
	case <-ctx.Done():
		if t, _ := job.trouble.Load().(troubleErr); t.err != nil {
			return t.err
		}
		return fmt.Errorf("%w: the clear goes on in the background, for up to %v (ClearTimeout): %w",
			corral.ErrDeclined, s.clearTimeout, ctx.Err())
	}
}

// clearOf returns the clear of prefix under way, or starts one, which
// resumes an unfinished one. The job keeps ctx's values, not its end.
func (s *Store) clearOf(ctx context.Context, prefix string) *clearJob {
	s.clears.mu.Lock()
	defer s.clears.mu.Unlock()
	old := s.clears.jobs[prefix]
	if old != nil && !old.ended() {
		return old
	}
	job := &clearJob{prefix: prefix, progress: &progress{}, done: make(chan struct{})}
	if old != nil {
		job.progress = old.progress
	}
	if s.clears.jobs == nil {
		s.clears.jobs = map[string]*clearJob{}
	}
	s.clears.jobs[prefix] = job
	go s.runClear(context.WithoutCancel(ctx), job)
	return job
}

func (j *clearJob) ended() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// runClear runs job under the store's ClearTimeout, and forgets it when it
// finished (an unfinished one stays for its progress).
func (s *Store) runClear(ctx context.Context, job *clearJob) {
	ctx, cancel := context.WithTimeout(ctx, s.clearTimeout)
	defer cancel()
	err := s.clearRetrying(ctx, job)
	s.clears.mu.Lock()
	defer s.clears.mu.Unlock()
	if err == nil && s.clears.jobs[job.prefix] == job {
		delete(s.clears.jobs, job.prefix)
	}
	job.err = err
	close(job.done)
}

// clearRetrying clears job's prefix, and after a failure goes on from
// where it stopped, waiting longer each time (50 ms, doubling up to 1 s),
// until ctx ends. It gives up at once on a closed client and on an answer
// of Redis (a user who may not SCAN), but for redirections.
func (s *Store) clearRetrying(ctx context.Context, job *clearJob) error {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		err := s.clearOnce(ctx, job)
		switch {
		case err == nil, errors.Is(err, redis.ErrClosed), answer(err) != nil && !moving(err):
			return err
		case ctx.Err() != nil:
			return s.unfinished(ctx, job, err)
		}
		job.trouble.Store(troubleErr{err})
		select {
		case <-ctx.Done():
			return s.unfinished(ctx, job, err)
		case <-time.After(wait):
		}
	}
}

// moving reports whether err is Redis sending a command elsewhere, as a
// slot moves between Cluster masters, more times than go-redis follows.
func moving(err error) bool {
	_, ask := redis.IsAskError(err)
	_, moved := redis.IsMovedError(err)
	return ask || moved || redis.IsTryAgainError(err)
}

// unfinished is the error of a clear that ran out of its ClearTimeout: the
// failure it was retrying, or, when it was making progress, an error that
// says so and wraps corral.ErrDeclined: the store works.
func (s *Store) unfinished(ctx context.Context, job *clearJob, last error) error {
	if t, _ := job.trouble.Load().(troubleErr); t.err != nil {
		return t.err
	}
	cause := ctx.Err()
	if last != nil && !errors.Is(last, cause) {
		cause = errors.Join(cause, last)
	}
	return fmt.Errorf("%w: the clear ran out of its %v (ClearTimeout); the next Clear of the prefix resumes it: %w",
		corral.ErrDeclined, s.clearTimeout, cause)
}

// clearOnce makes one attempt at clearing job's prefix, from where its
// progress stands.
func (s *Store) clearOnce(ctx context.Context, job *clearJob) error {
	match := escapeGlob(job.prefix) + "*"
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		return s.clearCluster(ctx, c, job, match)
	case *redis.Ring:
		// A key found on a shard is removed there, wherever the Ring
		// would send it now.
		return c.ForEachShard(ctx, func(ctx context.Context, shard *redis.Client) error {
			return s.sweep(ctx, job, shard, match, unlinkOn(shard))
		})
	case *redis.Client:
		return s.sweep(ctx, job, c, match, unlinkOn(c))
	}
	return fmt.Errorf("corral/redisstore: Clear does not support %T", s.client)
}

// unlinkOn removes keys from node itself.
func unlinkOn(node *redis.Client) func(ctx context.Context, keys []string) error {
	return func(ctx context.Context, keys []string) error { return node.Unlink(ctx, keys...).Err() }
}

// sweep SCANs node for keys that match match, from where job's progress
// left it, and removes what it finds with unlink. A node that restarted (a
// new run_id) or is another server (a failover) is scanned from the start:
// a SCAN cursor means nothing to another process.
func (s *Store) sweep(ctx context.Context, job *clearJob, node *redis.Client, match string,
	unlink func(ctx context.Context, keys []string) error,
) error {
	run, err := runID(ctx, node)
	if err != nil {
		return err
	}
	at := job.progress.cursor(node.Options().Addr, run)
	for at.cursor != 0 || !at.started {
		keys, next, err := node.Scan(ctx, at.cursor, match, s.scanCount).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := unlink(ctx, keys); err != nil {
				return err
			}
		}
		at = scanCursor{run: run, cursor: next, started: true}
		job.progress.advance(node.Options().Addr, at)
		job.trouble.Store(troubleErr{})
	}
	return nil
}

// runID returns the run_id of the server node is connected to, which
// changes when it restarts; "" when the server does not say (an ACL
// without INFO, a proxy): its cursors are then kept as they are.
func runID(ctx context.Context, node *redis.Client) (string, error) {
	info, err := node.Info(ctx, "server").Result()
	switch {
	case err != nil && answer(err) != nil:
		return "", nil
	case err != nil:
		return "", err
	}
	for line := range strings.Lines(info) {
		if id, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			return id, nil
		}
	}
	return "", nil
}

// progress is where a clear's SCAN of each node stands, and, on a
// Cluster, the slots as they were when it began.
type progress struct {
	mu     sync.Mutex
	nodes  map[string]scanCursor // by address
	before *topology
}

// scanCursor is where the SCAN of one server process stands.
type scanCursor struct {
	run     string // the server's run_id
	cursor  uint64
	started bool // with cursor 0: done
}

// cursor returns where the SCAN of the node at addr stands, from the start
// if that node is another process now.
func (p *progress) cursor(addr, run string) scanCursor {
	p.mu.Lock()
	defer p.mu.Unlock()
	if at, ok := p.nodes[addr]; ok && at.run == run {
		return at
	}
	return scanCursor{run: run}
}

func (p *progress) advance(addr string, at scanCursor) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nodes == nil {
		p.nodes = map[string]scanCursor{}
	}
	p.nodes[addr] = at
}
