package corral_test

import (
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/internal/faultstore"
)

// Finding 6 of the review: the documented bound "a store that fails or hangs costs at most one
// store timeout per request" does not hold for a SharedCache request with
// any Cache-Control (a browser reload sends max-age=0): peek reads the
// store, then the engine's lookup reads it again.
func TestHTTPDirectedRequestOneStoreTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []string
	}{{"plain", nil}, {"max-age=0", []string{"Cache-Control", "max-age=0"}}} {
		t.Run(tc.name, func(t *testing.T) {
			s := new(faultstore.Hanging)
			const budget = 100 * time.Millisecond
			srv := corral.New(s, corral.WithTimeout(budget)).Handler(&counting{}, corral.SharedCache())
			start := time.Now()
			do(srv, "GET", "/p", tc.headers...)
			took := time.Since(start)
			if n := s.Calls.Load(); n > 1 || took > budget+budget/2 {
				t.Fatalf("one request made %d hanging store calls and took %v (budget %v)", n, took, budget)
			}
		})
	}
}
