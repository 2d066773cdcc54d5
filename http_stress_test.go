package corral_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/gorilla/mux"
)

// Many clients; each response body names the user that made the handler run
// it and whether it was private. A private body must only reach its user.
func TestStressNoCrossUser(t *testing.T) {
	c := corral.New(corral.NewMemoryStore())
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
	srv := httptest.NewServer(r)
	defer srv.Close()
	modes := []string{"", "private", "cookie", "vary", "stream", "big", "500", "trunc", "panic"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var fails []string
	deadline := time.Now().Add(time.Second)
	for u := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("u%d", u)
			for time.Now().Before(deadline) {
				path := []string{"/a", "/b", "/n"}[rand.IntN(3)]
				mode := modes[rand.IntN(len(modes))]
				method := []string{"GET", "GET", "HEAD", "POST"}[rand.IntN(4)]
				req, _ := http.NewRequest(method, srv.URL+path+"?m="+mode, nil)
				req.Header.Set("X-User", user)
				switch rand.IntN(4) {
				case 0:
					req.Header.Set("Range", "bytes=0-3")
				case 1:
					req.Header.Set("If-None-Match", `"x"`)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+rand.IntN(20))*time.Millisecond*10)
				resp, err := http.DefaultClient.Do(req.WithContext(ctx))
				if err != nil {
					cancel()
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				cancel()
				s := string(b)
				checks := []string{"private for ", "cookie for ", "vary for ", "stream for ", "err for ", "trunc for "}
				if path != "/b" {
					checks = append(checks, "big for ")
				}
				for _, p := range checks {
					if i := strings.Index(s, p); i >= 0 {
						rest := s[i+len(p):]
						if !strings.HasPrefix(rest, user+" ") && rest != user && !strings.HasPrefix(rest, user) {
							mu.Lock()
							fails = append(fails, fmt.Sprintf("%s %s%s?m=%s got %q (status %d, %q)", user, method, path, mode, s, resp.StatusCode, resp.Header.Get("Cache-Status")))
							mu.Unlock()
						}
					}
				}
				if resp.StatusCode == 206 && method == "GET" && mode == "" && s != "publ" {
					mu.Lock()
					fails = append(fails, fmt.Sprintf("bad 206 %q", s))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
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
}
