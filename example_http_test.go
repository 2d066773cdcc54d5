package corral_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/corralhq/corral"
	"github.com/gorilla/mux"
)

// Handler caches one route of a ServeMux; the key holds the scheme, host,
// path and query, so each item has its own entry.
func ExampleCache_Handler() {
	c := corral.New(corral.NewMemoryStore())
	item := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "item %s", r.PathValue("id"))
	})
	m := http.NewServeMux()
	m.Handle("GET /items/{id}", c.Handler(item, corral.TTL(time.Minute)))

	for _, path := range []string{"/items/1", "/items/1", "/items/2"} {
		w := httptest.NewRecorder()
		m.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		fmt.Printf("%s: %s (%s)\n", path, w.Body, w.Header().Get("Cache-Status"))
	}
	// Output:
	// /items/1: item 1 (corral; fwd=miss; stored)
	// /items/1: item 1 (corral; hit)
	// /items/2: item 2 (corral; fwd=miss; stored)
}

// Middleware drops into gorilla/mux with r.Use; VaryOn keys entries on a
// request header; a successful PUT drops every cached variant of its URL,
// whatever its own headers.
func ExampleCache_Middleware() {
	c := corral.New(corral.NewMemoryStore(), corral.WithBuild("build-41"))
	r := mux.NewRouter()
	r.Use(c.Middleware(corral.TTL(time.Minute), corral.VaryOn("Accept-Language")))
	version := 1
	r.HandleFunc("/articles/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			version++
			return
		}
		fmt.Fprintf(w, "article %s v%d (%s)", mux.Vars(r)["id"], version, r.Header.Get("Accept-Language"))
	}).Methods("GET", "PUT")

	get := func(lang string) {
		req := httptest.NewRequest("GET", "/articles/7", nil)
		req.Header.Set("Accept-Language", lang)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Printf("%s: %s\n", w.Body, w.Header().Get("Cache-Status"))
	}
	get("en")
	get("en")
	get("fr")
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("PUT", "/articles/7", nil))
	get("fr")
	get("en")
	// Output:
	// article 7 v1 (en): corral; fwd=miss; stored
	// article 7 v1 (en): corral; hit
	// article 7 v1 (fr): corral; fwd=miss; stored
	// article 7 v2 (fr): corral; fwd=miss; stored
	// article 7 v2 (en): corral; fwd=miss; stored
}
