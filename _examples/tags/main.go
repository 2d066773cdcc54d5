// Command tags is a small catalogue cached by corral, where one change
// invalidates everything computed from it by tag: a PUT to a product drops
// its HTML page, its JSON and the listing of its category, and the
// memoized price, and nothing else.
//
//	go run ./_examples/tags
//	curl -i 127.0.0.1:8082/products/1            # the page: fwd=miss; stored, then hit
//	curl -i 127.0.0.1:8082/api/products/1        # the JSON
//	curl -i 127.0.0.1:8082/categories/tools      # the listing
//	curl -X PUT -d 'Claw hammer' 127.0.0.1:8082/api/products/1
//	curl -i 127.0.0.1:8082/products/1            # computed again, with the new name
//
//	go run ./_examples/tags -demo                # the same, in process, printed
//
// Three ways of tagging are shown: a Surrogate-Key response field (the
// page), Tag with the request's context (the JSON and the listing), and Tag
// inside a memoized function (the price).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/corralhq/corral"
)

// Product is what the catalogue holds.
type Product struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Category string `json:"category"`
}

// catalogue stands for a database that is slow to read.
type catalogue struct {
	mu sync.Mutex
	m  map[string]Product
}

func (db *catalogue) product(id string) (Product, bool) {
	time.Sleep(50 * time.Millisecond) // the expensive query
	db.mu.Lock()
	defer db.mu.Unlock()
	p, ok := db.m[id]
	return p, ok
}

func (db *catalogue) category(cat string) []Product {
	time.Sleep(100 * time.Millisecond)
	db.mu.Lock()
	defer db.mu.Unlock()
	var out []Product
	for _, id := range []string{"1", "2", "3"} {
		if p := db.m[id]; p.Category == cat {
			out = append(out, p)
		}
	}
	return out
}

func (db *catalogue) rename(id, name string) (Product, bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	p, ok := db.m[id]
	if ok {
		p.Name = name
		db.m[id] = p
	}
	return p, ok
}

// productTag is the tag of everything computed from one product.
func productTag(id string) string { return "product:" + id }

var page = template.Must(template.New("page").Parse(
	`<h1>{{.P.Name}}</h1><p>{{.P.Category}}, {{.Price}}</p>`))

func newServer(c *corral.Cache, db *catalogue) http.Handler {
	// The price comes from another slow service; memoized, tagged by the
	// product it prices.
	price := corral.Memoize(c, "price", time.Hour, func(ctx context.Context, id string) (string, error) {
		corral.Tag(ctx, productTag(id))
		time.Sleep(20 * time.Millisecond)
		return "$" + fmt.Sprint(10*len(id)+7), nil
	})

	mux := http.NewServeMux()
	cached := func(h http.HandlerFunc) http.Handler { return c.Handler(h, corral.TTL(10*time.Minute)) }
	mux.Handle("GET /products/{id}", cached(func(w http.ResponseWriter, r *http.Request) {
		p, ok := db.product(r.PathValue("id"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		pr, _ := price(r.Context(), p.ID)
		// Surrogate-Key tags the stored response; clients never see it.
		w.Header().Set("Surrogate-Key", productTag(p.ID)+" category:"+p.Category)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, struct {
			P     Product
			Price string
		}{p, pr})
	}))
	mux.Handle("GET /api/products/{id}", cached(func(w http.ResponseWriter, r *http.Request) {
		p, ok := db.product(r.PathValue("id"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		corral.Tag(r.Context(), productTag(p.ID)) // the handler's own context
		writeJSON(w, p)
	}))
	mux.Handle("GET /categories/{cat}", cached(func(w http.ResponseWriter, r *http.Request) {
		ps := db.category(r.PathValue("cat"))
		for _, p := range ps {
			corral.Tag(r.Context(), productTag(p.ID)) // the listing depends on each product in it
		}
		writeJSON(w, ps)
	}))
	// The write goes through the cache too: a successful PUT drops the
	// stored responses of its own URL; the tags drop the rest.
	mux.Handle("PUT /api/products/{id}", c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _ := io.ReadAll(io.LimitReader(r.Body, 1<<10))
		p, ok := db.rename(r.PathValue("id"), strings.TrimSpace(string(name)))
		if !ok {
			http.NotFound(w, r)
			return
		}
		if err := c.InvalidateTags(r.Context(), productTag(p.ID)); err != nil {
			log.Printf("invalidate %s: %v", p.ID, err) // the store failed: entries expire by TTL
		}
		writeJSON(w, p)
	})))
	return mux
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "address to listen on")
	demo := flag.Bool("demo", false, "run the scenario in process and print it")
	flag.Parse()

	db := &catalogue{m: map[string]Product{
		"1": {"1", "Hammer", "tools"}, "2": {"2", "Saw", "tools"}, "3": {"3", "Apron", "garden"},
	}}
	c := corral.New(corral.NewMemoryStore(), corral.WithPrefix("tags-example"))
	srv := newServer(c, db)
	if *demo {
		if !runDemo(srv) {
			os.Exit(1)
		}
		return
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("tags: serving http://%s/products/1\n", ln.Addr())
	log.Fatal((&http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}).Serve(ln))
}

// runDemo reads the three views of product 1 and an unrelated product,
// renames product 1, reads them again, and reports whether exactly the
// views of product 1 were computed again.
func runDemo(srv http.Handler) bool {
	get := func(path string) (status, body string) {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Header().Get("Cache-Status"), w.Body.String()
	}
	views := []string{"/products/1", "/api/products/1", "/categories/tools"}
	other := "/products/3"
	for _, p := range append(views, other) {
		get(p)
	}
	ok := true
	for _, p := range append(views, other) {
		if st, _ := get(p); !strings.HasSuffix(st, "hit") {
			fmt.Printf("%-20s not stored: %s\n", p, st)
			ok = false
		}
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("PUT", "/api/products/1", strings.NewReader("Claw hammer")))
	fmt.Printf("PUT /api/products/1 -> %d\n", w.Code)
	for _, p := range views {
		st, body := get(p)
		fresh := strings.Contains(st, "fwd=miss") && strings.Contains(body, "Claw hammer")
		fmt.Printf("%-20s %-28s new name: %v\n", p, st, strings.Contains(body, "Claw hammer"))
		ok = ok && fresh
	}
	st, _ := get(other)
	fmt.Printf("%-20s %-28s (another product: kept)\n", other, st)
	ok = ok && strings.HasSuffix(st, "hit")
	if ok {
		fmt.Println("tags demo: ok: the PUT invalidated the page, the JSON and the listing of product 1, and nothing else")
	} else {
		fmt.Println("tags demo: FAILED")
	}
	return ok
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
