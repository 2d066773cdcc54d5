package bench

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadFor is how long BenchmarkLoopback loads a handler in each iteration.
var loadFor = flag.Duration("load", 2*time.Second, "how long BenchmarkLoopback loads each handler per iteration")

// loadClients is the number of client goroutines of the load loop, each on
// its own keep-alive connection (as wrk -c64).
const loadClients = 64

// BenchmarkLoopback: requests/s of a warm 2 kB hit through a real server
// (httptest.Server, TCP over loopback), loadClients clients sending GET
// hitURL back to back for loadFor per iteration, client and server sharing
// the machine's CPUs as wrk and its server would. Each iteration is one load
// window, whatever b.N asks (the default benchtime allows one). ns/op is the
// wall time per request (all clients together).
func BenchmarkLoopback(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 2<<10)
	for _, c := range hitHandlers {
		if !c.loopback {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			var calls atomic.Int64
			h := c.wrap(b, counted(origin(body), &calls))
			warm(b, h, len(body), c.cache, &calls)
			srv := httptest.NewServer(h)
			defer srv.Close()
			var total load
			for b.Loop() {
				total.add(runLoad(srv.Listener.Addr().String(), *loadFor))
			}
			if total.failed > 0 {
				b.Fatalf("%d of %d clients failed, the first with: %v", total.failed, loadClients, total.err)
			}
			if c.cache && calls.Load() != 0 {
				b.Fatalf("the origin answered %d requests: not all were hits", calls.Load())
			}
			b.ReportMetric(float64(total.requests)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total.requests), "ns/op")
		})
	}
}

// load is what a load loop did: the responses read whole, the clients that
// stopped on an error, and the first such error.
type load struct {
	requests int64
	failed   int
	err      error
}

func (l *load) add(m load) {
	l.requests += m.requests
	l.failed += m.failed
	if l.err == nil {
		l.err = m.err
	}
}

// runLoad runs loadClients clients against addr for d.
func runLoad(addr string, d time.Duration) load {
	// The host of httptest.NewRequest, so that the entry warm stored serves.
	req := []byte("GET " + hitURL + " HTTP/1.1\r\nHost: example.com\r\n\r\n")
	deadline := time.Now().Add(d)
	var (
		mu    sync.Mutex
		total load
		wg    sync.WaitGroup
	)
	for range loadClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := sendUntil(addr, req, deadline)
			mu.Lock()
			defer mu.Unlock()
			total.add(load{requests: n, err: err})
			if err != nil {
				total.failed++
			}
		}()
	}
	wg.Wait()
	return total
}

// sendUntil sends req over one connection to addr, reading each response
// whole before the next request, until deadline. It returns the number of
// 200 responses read, and the error that stopped it early.
func sendUntil(addr string, req []byte, deadline time.Time) (int64, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	var n int64
	for time.Now().Before(deadline) {
		if _, err := conn.Write(req); err != nil {
			return n, err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return n, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return n, err
		}
		if resp.StatusCode != http.StatusOK {
			return n, fmt.Errorf("status %d", resp.StatusCode)
		}
		n++
	}
	return n, nil
}
