package response

import (
	"bufio"
	"errors"
	"maps"
	"net"
	"net/http"
	"sync"
	"time"
)

// ErrNoClient is what writes return once a response has no client to go to:
// the request it was for has been answered (or its client has gone), or it
// is a background refresh, which has none.
var ErrNoClient = errors.New("corral: this response has no client to stream to")

// Target is the client's ResponseWriter, which a handler running on another
// goroutine may stream to. Detach it before the client's ServeHTTP returns:
// writes after that go nowhere, since net/http forbids them.
type Target struct {
	mu sync.Mutex
	w  http.ResponseWriter // nil once detached; guarded by mu
}

// NewTarget returns a target writing to w.
func NewTarget(w http.ResponseWriter) *Target { return &Target{w: w} }

// Detach stops every later write to the client.
func (t *Target) Detach() {
	t.mu.Lock()
	t.w = nil
	t.mu.Unlock()
}

// Recorder is the ResponseWriter a cached handler writes to. It records the
// status, the header as it was when the final status was written (names
// canonicalised, as net/http sends them), and the body up to a size. When
// the handler flushes, hijacks the connection, sends 101, or writes more than
// the size, it stops recording and streams to the target from then on: such
// a response belongs to its own client. Without a target (a background
// refresh) it is dropped instead: writes and flushes succeed and go nowhere,
// so that the handler runs as it would for a client.
//
// It supports http.Flusher, http.Hijacker and, through Unwrap, the rest of
// http.ResponseController (deadlines, on the target). One goroutine, the
// handler's, uses it.
type Recorder struct {
	header      http.Header // what the handler writes to
	sent        http.Header // header as of the final WriteHeader, canonical
	status      int
	wroteHeader bool
	body        []byte
	max         int
	target      *Target // nil: no client
	onPass      func(h http.Header, why string)

	passing bool   // streaming to the target (or dropping), no longer recording
	why     string // why it stopped recording
}

var (
	_ http.Flusher                              = (*Recorder)(nil)
	_ http.Hijacker                             = (*Recorder)(nil)
	_ interface{ FlushError() error }           = (*Recorder)(nil)
	_ interface{ Unwrap() http.ResponseWriter } = (*Recorder)(nil)
)

// NewRecorder returns a recorder that keeps bodies of up to max bytes and
// streams to target (nil: none) past that. onPass runs once when it starts
// streaming to a target, with the target's header about to be sent (nil
// when the target was detached) and the reason: "streamed", "hijacked",
// "switching-protocols", "too-large" or "unwrapped". Without a target it
// never runs.
func NewRecorder(target *Target, max int, onPass func(h http.Header, why string)) *Recorder {
	return &Recorder{header: make(http.Header), target: target, max: max, onPass: onPass}
}

// Result returns the recorded response, or nil and why there is none (the
// response streamed to its client, or was dropped).
func (rec *Recorder) Result() (*Response, string) {
	if rec.passing {
		return nil, rec.why
	}
	status, header := rec.status, rec.sent
	if !rec.wroteHeader { // net/http sends the header as it is at the end
		status, header = http.StatusOK, canonical(rec.header)
	}
	return New(status, header, rec.body), ""
}

// Header implements http.ResponseWriter.
func (rec *Recorder) Header() http.Header { return rec.header }

// WriteHeader implements http.ResponseWriter.
func (rec *Recorder) WriteHeader(code int) {
	switch {
	case rec.wroteHeader:
		return // as net/http: a second WriteHeader is ignored
	case code == http.StatusSwitchingProtocols:
		rec.status, rec.wroteHeader = code, true
		rec.sent = canonical(rec.header)
		rec.startPassing("switching-protocols")
	case code >= 100 && code < 200:
		rec.informational(code) // 103 Early Hints and the like: sent, never recorded
	default:
		rec.status, rec.wroteHeader = code, true
		rec.sent = canonical(rec.header)
		if rec.passing {
			rec.forwardHeader()
		}
	}
}

// Write implements http.ResponseWriter.
func (rec *Recorder) Write(p []byte) (int, error) {
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
// recorded. A 304 or 204 has no body to stream: it stays recorded (a 304
// that answers a revalidation is never a client's answer).
func (rec *Recorder) Flush() { _ = rec.FlushError() }

// FlushError is Flush for http.ResponseController.
func (rec *Recorder) FlushError() error {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	if !rec.passing && (rec.status == http.StatusNotModified || rec.status == http.StatusNoContent) {
		return nil
	}
	rec.startPassing("streamed")
	if rec.target == nil {
		return nil // dropped: nothing to flush
	}
	return rec.withTarget(func(w http.ResponseWriter) error { return http.NewResponseController(w).Flush() })
}

// Hijack hands the client's connection to the handler: the response is not
// recorded.
func (rec *Recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !rec.passing { // the connection is the handler's now: nothing to forward
		rec.passing, rec.why = true, "hijacked"
		rec.notePass()
	}
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
func (rec *Recorder) Unwrap() http.ResponseWriter { return (*targetWriter)(rec) }

// startPassing stops recording: the header and what was buffered go to the
// target, and later writes follow them.
func (rec *Recorder) startPassing(why string) {
	if rec.passing {
		return
	}
	rec.passing, rec.why = true, why
	rec.notePass()
	if rec.wroteHeader {
		rec.forwardHeader()
	}
	if len(rec.body) > 0 {
		_, _ = rec.forward(rec.body)
		rec.body = nil
	}
}

// notePass runs onPass for a response that has a client, attached or gone:
// with the header about to be sent, or nil once the client has gone.
func (rec *Recorder) notePass() {
	if rec.target == nil {
		return
	}
	rec.target.mu.Lock()
	defer rec.target.mu.Unlock()
	var h http.Header
	if rec.target.w != nil {
		h = rec.target.w.Header()
	}
	rec.onPass(h, rec.why)
}

func (rec *Recorder) forwardHeader() {
	_ = rec.withTarget(func(w http.ResponseWriter) error {
		maps.Copy(w.Header(), rec.sent)
		w.WriteHeader(rec.status)
		return nil
	})
}

func (rec *Recorder) forward(p []byte) (int, error) {
	if rec.target == nil {
		return len(p), nil // dropped
	}
	n := 0
	err := rec.withTarget(func(w http.ResponseWriter) (err error) {
		n, err = w.Write(p)
		return err
	})
	return n, err
}

// informational sends a 1xx with the handler's header as it is now, and
// leaves the client's own header as it was.
func (rec *Recorder) informational(code int) {
	_ = rec.withTarget(func(w http.ResponseWriter) error {
		h := w.Header()
		saved := h.Clone()
		maps.Copy(h, rec.header)
		w.WriteHeader(code)
		clear(h)
		maps.Copy(h, saved)
		return nil
	})
}

// withTarget runs fn on the target while it is attached.
func (rec *Recorder) withTarget(fn func(http.ResponseWriter) error) error {
	if rec.target == nil {
		return ErrNoClient
	}
	rec.target.mu.Lock()
	defer rec.target.mu.Unlock()
	if rec.target.w == nil {
		return ErrNoClient
	}
	return fn(rec.target.w)
}

// canonical returns a copy of h with canonical names: net/http sends names
// as written, and header names are case-insensitive (RFC 9110 5.1), so every
// rule must see "set-cookie" as Set-Cookie.
func canonical(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		if prev, ok := out[ck]; ok {
			out[ck] = append(prev[:len(prev):len(prev)], vs...)
			continue
		}
		out[ck] = append([]string(nil), vs...)
	}
	return out
}

// targetWriter is the recorder seen through Unwrap: writes stream to the
// target, and deadlines reach it.
type targetWriter Recorder

func (t *targetWriter) rec() *Recorder { return (*Recorder)(t) }

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
