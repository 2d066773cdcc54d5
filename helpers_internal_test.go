package corral

import (
	"io"
	"net/http"
	"net/http/httptest"
)

func httpHandlerFunc(body func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body()) })
}

func newRequest(target string) *http.Request { return httptest.NewRequest("GET", target, nil) }

func serve(h http.Handler, target string) string {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, newRequest(target))
	return w.Body.String()
}
