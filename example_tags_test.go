package corral_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/corralhq/corral"
)

// Tag what a value was computed from; InvalidateTags drops every value and
// response computed from it, and nothing else.
func ExampleCache_InvalidateTags() {
	ctx := context.Background()
	c := corral.New(corral.NewMemoryStore())
	names := map[int]string{1: "Hammer", 2: "Saw"}

	product := corral.Memoize(c, "product", time.Hour, func(ctx context.Context, id int) (string, error) {
		corral.Tag(ctx, "product:"+strconv.Itoa(id))
		fmt.Println("loading", id)
		return names[id], nil
	})
	page := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Surrogate-Key", "product:1") // tags the stored response; clients never see it
		fmt.Fprint(w, names[1])
	}), corral.TTL(time.Hour))
	get := func() string {
		w := httptest.NewRecorder()
		page.ServeHTTP(w, httptest.NewRequest("GET", "/products/1", nil))
		return w.Header().Get("Cache-Status")
	}

	product(ctx, 1)
	product(ctx, 2)
	get()
	names[1] = "Claw hammer"
	_ = c.InvalidateTags(ctx, "product:1")
	v, _ := product(ctx, 1)
	fmt.Println(v)
	product(ctx, 2) // another tag: still cached
	fmt.Println(get())
	// Output:
	// loading 1
	// loading 2
	// loading 1
	// Claw hammer
	// corral; fwd=miss; stored
}

// A URL without a host drops its responses on every host.
func ExampleCache_InvalidateURL() {
	c := corral.New(corral.NewMemoryStore())
	calls := 0
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		fmt.Fprintf(w, "%s call %d", r.Host, calls)
	}), corral.TTL(time.Hour))
	get := func(url string) string {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", url, nil))
		return w.Body.String()
	}
	get("http://a.example/about")
	get("http://b.example/about")
	_ = c.InvalidateURL(context.Background(), "/about")
	fmt.Println(get("http://a.example/about"))
	fmt.Println(get("http://b.example/about"))
	// Output:
	// a.example call 3
	// b.example call 4
}
