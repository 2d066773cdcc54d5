// Package faultproxy is a TCP proxy on loopback for fault-injection tests:
// put it between a client and a real server, then add latency to every
// reply, cut replies in the middle, reset every connection, or take the
// proxy down and up again, on command.
package faultproxy

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards connections from Addr to a target address.
type Proxy struct {
	Addr   string
	target string

	latency atomic.Int64  // nanoseconds added before each chunk the server sends
	cutPerM atomic.Uint32 // per million server chunks cut in the middle

	mu    sync.Mutex
	ln    net.Listener          // nil while down
	conns map[net.Conn]struct{} // both sides of every live connection
	rng   *rand.Rand            // guarded by mu
	wg    sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target until the
// test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, conns: map[net.Conn]struct{}{}, rng: rand.New(rand.NewPCG(1, 2))}
	p.serve(ln)
	t.Cleanup(p.Close)
	return p
}

// SetLatency delays every chunk of bytes the server sends by d.
func (p *Proxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// SetCut makes the proxy cut a server reply in the middle, and close the
// connection, with probability prob per chunk.
func (p *Proxy) SetCut(prob float64) { p.cutPerM.Store(uint32(prob * 1e6)) }

// Down stops accepting (connections are refused) and resets every
// connection.
func (p *Proxy) Down() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	p.ResetAll()
}

// Up listens again on the same address after Down.
func (p *Proxy) Up(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		t.Fatalf("faultproxy: listening again on %s: %v", p.Addr, err)
	}
	p.serve(ln)
}

// ResetAll closes every live connection with a TCP reset.
func (p *Proxy) ResetAll() {
	p.mu.Lock()
	conns := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		reset(c)
	}
}

// Close takes the proxy down for good and waits for its goroutines.
func (p *Proxy) Close() {
	p.Down()
	p.wg.Wait()
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.DialTimeout("tcp", p.target, time.Second)
			if err != nil {
				reset(client)
				continue
			}
			if !p.track(client, server) {
				reset(client)
				reset(server)
				continue
			}
			p.wg.Add(2)
			go func() { defer p.wg.Done(); p.pipe(server, client, false) }()
			go func() { defer p.wg.Done(); p.pipe(client, server, true) }()
		}
	}()
}

func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
	}
}

// pipe copies src to dst; on the server's side (faulty) it applies latency
// and cuts. When either side ends, both are closed.
func (p *Proxy) pipe(dst, src net.Conn, faulty bool) {
	defer func() {
		reset(dst)
		reset(src)
		p.untrack(dst, src)
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && faulty {
			if d := time.Duration(p.latency.Load()); d > 0 {
				time.Sleep(d) // the injected fault itself
			}
			if p.cut() {
				_, _ = dst.Write(buf[:n/2])
				return
			}
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a reset: the other side goes too
		}
	}
}

func (p *Proxy) cut() bool {
	perM := p.cutPerM.Load()
	if perM == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Uint32N(1_000_000) < perM
}

// reset closes c with a TCP RST rather than a FIN, as a crashed peer would.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
