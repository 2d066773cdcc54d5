package corral

import (
	"bufio"
	"errors"
	"maps"
	"net"
	"net/http"
	"sync"
	"time"
)

// errDetached is what writes through a detached target return: the request
// they were for has been answered (or its client has gone).
var errDetached = errors.New("corral: the response this handler writes to is already finished")

// passTarget is the leader's real ResponseWriter, which the handler, running
// on the computation's goroutine, may stream to. The leader detaches it before
// its ServeHTTP returns; writes after that go nowhere, since net/http forbids
// using a ResponseWriter after ServeHTTP returns. A background refresh has no
// target at all.
type passTarget struct {
	mu sync.Mutex
	w  http.ResponseWriter // nil once detached; guarded by mu
}

func (t *passTarget) detach() {
	t.mu.Lock()
	t.w = nil
	t.mu.Unlock()
}

// recorder is the ResponseWriter the cached handler writes to. It records
// the status, header and body, up to a size, for storing and replaying. When
// the handler flushes, hijacks the connection, sends 101, or writes more than
// the size, it stops recording and streams to the target from then on: such a
// response is for its own client only, and is not stored.
//
// It supports http.Flusher, http.Hijacker and, through Unwrap, the rest of
// http.ResponseController (read and write deadlines, on the target). It is
// used by one goroutine, the handler's.
type recorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        []byte
	max         int
	target      *passTarget

	passing bool   // streaming to the target, no longer recording
	detail  string // why it stopped recording
}

var (
	_ http.Flusher                              = (*recorder)(nil)
	_ http.Hijacker                             = (*recorder)(nil)
	_ interface{ FlushError() error }           = (*recorder)(nil)
	_ interface{ Unwrap() http.ResponseWriter } = (*recorder)(nil)
)

func newRecorder(target *passTarget, max int) *recorder {
	return &recorder{header: make(http.Header), target: target, max: max}
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(code int) {
	switch {
	case rec.wroteHeader:
		return // as net/http: a second WriteHeader is ignored
	case code == http.StatusSwitchingProtocols:
		rec.status, rec.wroteHeader = code, true
		rec.startPassing("switching-protocols")
	case code >= 100 && code < 200:
		rec.informational(code) // 103 Early Hints and the like: sent, never recorded
	default:
		rec.status, rec.wroteHeader = code, true
		if rec.passing {
			rec.forwardHeader()
		}
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	if !rec.passing && len(rec.body)+len(p) > rec.max {
		rec.startPassing("too-large")
	}
	if rec.passing {
		return rec.forward(p)
	}
	rec.body = append(rec.body, p...)
	return len(p), nil
}

// Flush streams what was written so far to the client: the response is not
// stored.
func (rec *recorder) Flush() { _ = rec.FlushError() }

// FlushError is Flush for http.ResponseController.
func (rec *recorder) FlushError() error {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	rec.startPassing("streamed")
	return rec.withTarget(func(w http.ResponseWriter) error { return http.NewResponseController(w).Flush() })
}

// Hijack hands the client's connection to the handler: the response is not
// stored.
func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	rec.passing, rec.detail = true, "hijacked"
	var conn net.Conn
	var rw *bufio.ReadWriter
	err := rec.withTarget(func(w http.ResponseWriter) (err error) {
		conn, rw, err = http.NewResponseController(w).Hijack()
		return err
	})
	return conn, rw, err
}

// Unwrap gives http.ResponseController the target, for what the recorder does
// not do itself (deadlines). Writing to it directly streams past the cache.
func (rec *recorder) Unwrap() http.ResponseWriter { return (*targetWriter)(rec) }

// startPassing stops recording: the header and what was buffered go to the
// target, and later writes follow them.
func (rec *recorder) startPassing(detail string) {
	if rec.passing {
		return
	}
	rec.passing, rec.detail = true, detail
	if rec.wroteHeader {
		rec.forwardHeader()
	}
	if len(rec.body) > 0 {
		_, _ = rec.forward(rec.body)
		rec.body = nil
	}
}

func (rec *recorder) forwardHeader() {
	_ = rec.withTarget(func(w http.ResponseWriter) error {
		h := w.Header()
		maps.Copy(h, rec.header)
		h.Set("Cache-Status", cacheStatusMiss+"; detail="+rec.detail)
		w.WriteHeader(rec.status)
		return nil
	})
}

func (rec *recorder) forward(p []byte) (int, error) {
	n := 0
	err := rec.withTarget(func(w http.ResponseWriter) (err error) {
		n, err = w.Write(p)
		return err
	})
	return n, err
}

func (rec *recorder) informational(code int) {
	_ = rec.withTarget(func(w http.ResponseWriter) error {
		maps.Copy(w.Header(), rec.header)
		w.WriteHeader(code)
		return nil
	})
}

// withTarget runs fn on the target while it is attached.
func (rec *recorder) withTarget(fn func(http.ResponseWriter) error) error {
	if rec.target == nil {
		return errDetached
	}
	rec.target.mu.Lock()
	defer rec.target.mu.Unlock()
	if rec.target.w == nil {
		return errDetached
	}
	return fn(rec.target.w)
}

// targetWriter is the recorder seen through Unwrap: writes stream to the
// target, and deadlines reach it.
type targetWriter recorder

func (t *targetWriter) rec() *recorder { return (*recorder)(t) }

func (t *targetWriter) Header() http.Header { return t.rec().header }

func (t *targetWriter) WriteHeader(code int) {
	t.rec().startPassing("unwrapped")
	t.rec().WriteHeader(code)
}

func (t *targetWriter) Write(p []byte) (int, error) {
	t.rec().startPassing("unwrapped")
	return t.rec().Write(p)
}

func (t *targetWriter) SetReadDeadline(d time.Time) error {
	return t.rec().withTarget(func(w http.ResponseWriter) error {
		return http.NewResponseController(w).SetReadDeadline(d)
	})
}

func (t *targetWriter) SetWriteDeadline(d time.Time) error {
	return t.rec().withTarget(func(w http.ResponseWriter) error {
		return http.NewResponseController(w).SetWriteDeadline(d)
	})
}
