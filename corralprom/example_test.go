package corralprom_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/corralprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Register a cache's metrics and serve them; HTTP series are labelled by
// route, never by URL.
func ExampleNew() {
	c := corral.New(corral.NewMemoryStore())
	reg := prometheus.NewRegistry()
	reg.MustRegister(corralprom.New(c, "api"))

	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "item")
	})))
	for _, path := range []string{"/items/1", "/items/1", "/items/2"} {
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}

	w := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(w.Body.String(), "\n") {
		if strings.HasPrefix(line, "corral_http_requests_total") || strings.HasPrefix(line, "corral_hits_total") {
			fmt.Println(line)
		}
	}
	// Output:
	// corral_hits_total{cache="api"} 1
	// corral_http_requests_total{cache="api",decision="hit",route="GET /items/{id}"} 1
	// corral_http_requests_total{cache="api",decision="stored",route="GET /items/{id}"} 2
}
