//go:build go1.25

package corral_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corralhq/corral"
	"github.com/gorilla/mux"
)

// Under many concurrent clients, over some ten TTLs of expiring entries,
// refreshes, streams, panics, truncated bodies and clients that leave early,
// a response that belongs to one user (private, setting a cookie, varying on
// the user, streamed, failed, truncated, too large to store) reaches that
// user only, and a range of a public page is the range of that page. Each
// body names the user that made the handler write it.
func TestStressNoCrossUser(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newBubbleCache(t)
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user := r.Header.Get("X-User")
			mode := r.URL.Query().Get("m")
			time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
			switch mode {
			case "private":
				w.Header().Set("cache-control", "Private")
				fmt.Fprintf(w, "private for %s", user)
			case "cookie":
				w.Header()["set-cookie"] = []string{"s=" + user}
				fmt.Fprintf(w, "cookie for %s", user)
			case "vary":
				w.Header().Set("Vary", "X-User")
				fmt.Fprintf(w, "vary for %s", user)
			case "stream":
				fmt.Fprintf(w, "stream for %s", user)
				w.(http.Flusher).Flush()
				fmt.Fprint(w, " more")
			case "big":
				fmt.Fprintf(w, "big for %s %s", user, strings.Repeat("x", 200))
			case "500":
				w.WriteHeader(500)
				fmt.Fprintf(w, "err for %s", user)
			case "trunc":
				w.Header().Set("Content-Length", "100")
				fmt.Fprintf(w, "trunc for %s", user)
			case "panic":
				if rand.IntN(2) == 0 {
					panic(http.ErrAbortHandler)
				}
				fmt.Fprint(w, "public")
			default:
				fmt.Fprint(w, "public")
			}
		})
		r := mux.NewRouter()
		r.Handle("/a", c.Handler(handler, corral.TTL(30*time.Millisecond), corral.MaxBodySize(100), corral.ETags(), corral.StaleWhileRevalidate(10*time.Millisecond)))
		sub := r.PathPrefix("/").Subrouter()
		sub.Use(c.Middleware(corral.TTL(20*time.Millisecond), corral.StaleWhileRevalidate(10*time.Millisecond), corral.StaleIfError(time.Second)))
		sub.Handle("/b", handler)
		sub.Handle("/n", c.Handler(handler, corral.VaryOn("X-V"), corral.TTL(30*time.Millisecond), corral.MaxBodySize(100)))
		modes := []string{"", "private", "cookie", "vary", "stream", "big", "500", "trunc", "panic"}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var fails []string
		deadline := time.Now().Add(250 * time.Millisecond) // fake time: some ten TTLs
		for u := range 16 {
			wg.Go(func() {
				user := fmt.Sprintf("u%d", u)
				for time.Now().Before(deadline) {
					path := []string{"/a", "/b", "/n"}[rand.IntN(3)]
					mode := modes[rand.IntN(len(modes))]
					method := []string{"GET", "GET", "HEAD", "POST"}[rand.IntN(4)]
					headers := []string{"X-User", user}
					switch rand.IntN(4) {
					case 0:
						headers = append(headers, "Range", "bytes=0-3")
					case 1:
						headers = append(headers, "If-None-Match", `"x"`)
					}
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+rand.IntN(20))*time.Millisecond*10)
					resp, ok := serveRecovering(r, request(method, path+"?m="+mode, headers...).WithContext(ctx))
					cancel()
					if !ok {
						continue // the handler aborted, as a server would have
					}
					s := resp.Body.String()
					checks := []string{"private for ", "cookie for ", "vary for ", "stream for ", "err for ", "trunc for "}
					if path != "/b" {
						checks = append(checks, "big for ")
					}
					for _, p := range checks {
						if i := strings.Index(s, p); i >= 0 {
							rest := s[i+len(p):]
							if !strings.HasPrefix(rest, user+" ") && rest != user && !strings.HasPrefix(rest, user) {
								mu.Lock()
								fails = append(fails, fmt.Sprintf("%s %s%s?m=%s got %q (status %d, %q)", user, method, path, mode, s, resp.Code, resp.Header().Get("Cache-Status")))
								mu.Unlock()
							}
						}
					}
					if resp.Code == 206 && method == "GET" && mode == "" && s != "publ" {
						mu.Lock()
						fails = append(fails, fmt.Sprintf("bad 206 %q", s))
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		time.Sleep(time.Minute) // past every TTL and stale window: the last refreshes end
		synctest.Wait()
		if len(fails) > 0 {
			for i, f := range fails {
				if i > 20 {
					break
				}
				t.Error(f)
			}
			t.Fatalf("%d cross-user responses", len(fails))
		}
		t.Logf("stats %+v", c.HTTPStats())
	})
}

// serveRecovering serves r through h, and reports false when the handler
// panicked (with http.ErrAbortHandler, say), which net/http would recover.
func serveRecovering(h http.Handler, r *http.Request) (w *httptest.ResponseRecorder, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w, true
}
