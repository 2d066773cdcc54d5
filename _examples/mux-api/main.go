// Command mux-api is a gorilla/mux JSON API cached by corral's middleware:
// one middleware for the whole router, a build id from BUILD_NUMBER, a
// shorter TTL on one route (the innermost layer wins), and an authenticated
// PUT that drops the cached GET of its URL.
//
//	go run ./_examples/mux-api
//	curl -i 127.0.0.1:8081/articles/1      # fwd=miss; stored, then hit
//	curl -X PUT -H 'Authorization: Bearer editor' -d 'New title' 127.0.0.1:8081/articles/1
//	curl -i 127.0.0.1:8081/articles/1      # computed again: the PUT dropped it
//	curl -i 127.0.0.1:8081/live/count      # cached for 2 s, not the router's minute
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/corralhq/corral"
	"github.com/gorilla/mux"
)

// Article is what the API serves.
type Article struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// articles stands for a database that is slow to read.
type articles struct {
	mu sync.Mutex
	m  map[string]Article
}

func (a *articles) get(id string) (Article, bool) {
	time.Sleep(100 * time.Millisecond) // the expensive query
	a.mu.Lock()
	defer a.mu.Unlock()
	art, ok := a.m[id]
	return art, ok
}

func (a *articles) list() []Article {
	time.Sleep(200 * time.Millisecond)
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Article, 0, len(a.m))
	for _, art := range a.m {
		out = append(out, art)
	}
	return out
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	flag.Parse()

	db := &articles{m: map[string]Article{"1": {"1", "Hello"}, "2": {"2", "Caching in Go"}}}
	// A new build never reads what an older one cached.
	c := corral.New(corral.NewMemoryStore(), corral.WithPrefix("mux-api"), corral.WithBuild(os.Getenv("BUILD_NUMBER")))

	r := mux.NewRouter()
	r.Use(c.Middleware(corral.TTL(time.Minute), corral.XCache())) // every route, a minute
	r.HandleFunc("/articles", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, db.list())
	}).Methods("GET")
	r.HandleFunc("/articles/{id}", func(w http.ResponseWriter, r *http.Request) {
		art, ok := db.get(mux.Vars(r)["id"])
		if !ok {
			http.NotFound(w, r) // 404 is not stored (CacheStatuses to change that)
			return
		}
		writeJSON(w, art)
	}).Methods("GET")
	r.HandleFunc("/articles/{id:[0-9]+}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer editor" {
			http.Error(w, "editors only", http.StatusUnauthorized) // a failure drops nothing
			return
		}
		title, _ := io.ReadAll(io.LimitReader(r.Body, 1<<10))
		id := mux.Vars(r)["id"]
		db.mu.Lock()
		db.m[id] = Article{id, string(title)}
		db.mu.Unlock()
		// Success: the middleware drops every cached variant of this URL,
		// although the PUT carries credentials and matched another template.
		w.WriteHeader(http.StatusNoContent)
	}).Methods("PUT")

	// A route with its own TTL: its own Handler, inside the router's
	// middleware. The innermost layer caches; the router's passes it on.
	r.Handle("/live/count", c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"articles": len(db.list()), "at": time.Now().Format(time.RFC3339Nano)})
	}), corral.TTL(2*time.Second))).Methods("GET")

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("mux-api: serving http://%s/articles (build %q)\n", ln.Addr(), os.Getenv("BUILD_NUMBER"))
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.Serve(ln))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
