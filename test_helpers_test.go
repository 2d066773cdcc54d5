package corral_test

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// setFields adds name, value pairs to h; a value "now", "now+60s" or
// "now-10h" is that HTTP date on the (fake) clock.
func setFields(h http.Header, pairs ...string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Add(pairs[i], httpDateValue(pairs[i+1]))
	}
}

func httpDateValue(v string) string {
	rest, ok := strings.CutPrefix(v, "now")
	if !ok {
		return v
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(strings.TrimPrefix(rest, "+")); err != nil {
			panic(err)
		}
	}
	return time.Now().Add(d).UTC().Format(http.TimeFormat)
}

func isHit(w interface{ Header() http.Header }) bool {
	return strings.HasPrefix(w.Header().Get("Cache-Status"), "corral; hit")
}

// users is a batch loader's answer: every id's user name.
func users(ids []int) map[int]string {
	out := make(map[int]string, len(ids))
	for _, id := range ids {
		out[id] = fmt.Sprintf("u%d", id)
	}
	return out
}

// byLanguage answers in the request's Accept-Language and says so in Vary,
// counting its calls.
func byLanguage(vary string) *counting {
	return &counting{serve: func(w http.ResponseWriter, r *http.Request, n int32) {
		w.Header().Set("Vary", vary)
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "%s call %d", r.Header.Get("Accept-Language"), n)
	}}
}
