// Command multi-instance runs two servers in one process, on two ports,
// sharing one Redis: with corral.DistributedLock, a cold key is computed once
// across both, and when Redis goes away both keep answering from the origin.
//
//	redis-server --port 6379 &                      # or any Redis; REDIS_ADDR or -redis
//	go run ./_examples/multi-instance               # prints the stampede's outcome, then serves
//	curl -i -H 'Host: reports.example' 127.0.0.1:8091/report
//	curl -i -H 'Host: reports.example' 127.0.0.1:8092/report   # a hit: the first instance stored it
//	# stop Redis, curl again: still 200, Cache-Status says why nothing is cached
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/redisstore"
	"github.com/redis/go-redis/v9"
)

func main() {
	redisAddr := flag.String("redis", envOr("REDIS_ADDR", "127.0.0.1:6379"), "Redis address")
	addrA := flag.String("a", "127.0.0.1:8091", "address of the first instance")
	addrB := flag.String("b", "127.0.0.1:8092", "address of the second instance")
	demo := flag.Bool("demo", false, "run the stampede, print the outcome and exit")
	flag.Parse()

	var originCalls atomic.Int64
	report := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originCalls.Add(1)
		time.Sleep(300 * time.Millisecond) // the expensive report
		fmt.Fprintf(w, "report computed at %s\n", time.Now().Format(time.RFC3339Nano))
	})

	// Two instances: each its own client and Cache, as two processes would have.
	var urls []string
	for _, addr := range []string{*addrA, *addrB} {
		client := redis.NewClient(&redis.Options{Addr: *redisAddr, ContextTimeoutEnabled: true})
		c := corral.New(redisstore.New(client), corral.WithPrefix("multi"), corral.WithTimeout(250*time.Millisecond))
		mux := http.NewServeMux()
		mux.Handle("GET /report", c.Handler(report, corral.TTL(30*time.Second), corral.DistributedLock(2*time.Second)))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		urls = append(urls, "http://"+ln.Addr().String()+"/report")
	}

	// The stampede: 100 concurrent requests on each instance for a cold key.
	round := fmt.Sprint(time.Now().UnixNano())
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	for _, u := range urls {
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "GET", u+"?round="+round, nil)
				req.Host = "reports.example" // as behind a load balancer: the Host is part of the key
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ok.Add(1)
			}()
		}
	}
	wg.Wait()
	fmt.Printf("multi-instance: 200 concurrent requests across 2 instances (Redis %s): %d answered 200, %d failed, origin ran %d time(s)\n",
		*redisAddr, ok.Load(), failed.Load(), originCalls.Load())
	if *demo {
		if failed.Load() > 0 {
			os.Exit(1)
		}
		return
	}
	fmt.Printf("serving %s and %s; stop Redis and they keep answering\n", urls[0], urls[1])
	select {}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
