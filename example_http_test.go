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

// A handler that knows the version of what it renders can answer a
// revalidation with a cheap 304 instead of rendering again: corral asks it
// with the stored response's ETag once the stored response is stale (here
// at once: no-cache means "store, but ask before every reuse"), and serves
// the stored body when the answer is 304.
func ExampleCache_Handler_revalidate() {
	version, renders := 1, 0
	report := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		etag := fmt.Sprintf(`"v%d"`, version) // from a version number, not the body
		w.Header().Set("ETag", etag)
		w.Header().Set("Cache-Control", "no-cache")
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified) // nothing rendered
			return
		}
		renders++
		fmt.Fprintf(w, "report version %d", version)
	})
	c := corral.New(corral.NewMemoryStore())
	h := c.Handler(report)

	get := func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/report", nil))
		fmt.Printf("%d %s\n", w.Code, w.Body)
	}
	get()
	get()
	get()
	version = 2
	get()
	fmt.Printf("renders: %d, revalidated: %d\n", renders, c.Stats().Revalidated)
	// Output:
	// 200 report version 1
	// 200 report version 1
	// 200 report version 1
	// 200 report version 2
	// renders: 2, revalidated: 2
}

// SharedCache makes the middleware a shared cache as RFC 9111 describes
// one: the response alone says whether it is stored and for how long, and
// there is no fallback TTL.
func ExampleSharedCache() {
	c := corral.New(corral.NewMemoryStore())
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fresh" {
			w.Header().Set("Cache-Control", "max-age=60")
		}
		fmt.Fprint(w, "page")
	}), corral.SharedCache())
	for _, path := range []string{"/fresh", "/fresh", "/silent", "/silent"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		fmt.Printf("%s: %s\n", path, w.Header().Get("Cache-Status"))
	}
	// Output:
	// /fresh: corral; fwd=miss; stored
	// /fresh: corral; hit
	// /silent: corral; fwd=miss; detail=no-freshness
	// /silent: corral; fwd=miss; detail=no-freshness
}
