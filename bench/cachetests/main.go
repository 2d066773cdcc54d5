// Command cachetests is the proxy that the HTTP cache test suite
// (cache-tests, npm package http-cache-tests) judges: an
// httputil.ReverseProxy to the suite's origin server, wrapped in corral's
// HTTP middleware, so that corral is measured the way the suite measures
// nginx, Varnish or Squid.
//
//	cache-tests CLI -> cachetests: corral.Handler(ReverseProxy) -> cache-tests origin
//
// Usage (run.sh starts it once per mode):
//
//	cachetests -mode shared -listen 127.0.0.1:0 -origin http://127.0.0.1:8000
//
// It listens and forwards on loopback addresses only, logs the address it
// listens on ("listening on http://127.0.0.1:PORT") and exits by itself
// after -exit-after.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/corralhq/corral"
)

func main() {
	var (
		mode      = flag.String("mode", "default", "caching in front of the proxy: default (TTL 1h), shared (SharedCache) or none")
		listen    = flag.String("listen", "127.0.0.1:0", "loopback address to listen on (port 0: any free port)")
		origin    = flag.String("origin", "http://127.0.0.1:8000", "URL of the cache-tests origin server (loopback only)")
		exitAfter = flag.Duration("exit-after", 10*time.Minute, "exit by itself after this long (0: never)")
	)
	flag.Parse()
	log.SetPrefix("cachetests: ")
	log.SetFlags(log.Ltime | log.Lmicroseconds)

	wrap, err := middleware(*mode)
	if err != nil {
		log.Fatal(err)
	}
	target, err := url.Parse(*origin)
	if err != nil || target.Host == "" {
		log.Fatalf("bad -origin %q", *origin)
	}
	if err := loopbackOnly(target.Host); err != nil {
		log.Fatalf("-origin: %v", err)
	}
	if err := loopbackOnly(*listen); err != nil {
		log.Fatalf("-listen: %v", err)
	}

	// The same reverse proxy as ../shared/cachetests: the request goes to
	// the origin with its Host rewritten, nothing else added.
	rp := &httputil.ReverseProxy{
		Rewrite:  func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		ErrorLog: log.Default(),
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Handler:           wrap(rp),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.Default(),
	}
	log.Printf("mode %s, listening on http://%s, origin %s", *mode, ln.Addr(), target)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *exitAfter > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *exitAfter)
		defer cancel()
	}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// middleware returns what wraps the reverse proxy in the given mode, each
// with a fresh memory store.
func middleware(mode string) (func(http.Handler) http.Handler, error) {
	switch mode {
	case "none":
		return func(h http.Handler) http.Handler { return h }, nil
	case "default":
		c := corral.New(corral.NewMemoryStore())
		return func(h http.Handler) http.Handler { return c.Handler(h, corral.TTL(time.Hour)) }, nil
	case "shared":
		c := corral.New(corral.NewMemoryStore())
		return func(h http.Handler) http.Handler { return c.Handler(h, corral.SharedCache()) }, nil
	}
	return nil, fmt.Errorf("unknown -mode %q (want default, shared or none)", mode)
}

// loopbackOnly refuses a host:port whose host is not a loopback IP address,
// so that neither the proxy nor its origin is reachable from outside.
func loopbackOnly(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback IP address (use 127.0.0.1)", hostport)
	}
	return nil
}
