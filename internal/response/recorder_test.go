package response

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The recorded header is the one in force at the final WriteHeader, with
// canonical names; a later change, and what only a 103 carried, are not in it.
func TestRecorderKeepsWhatWasSent(t *testing.T) {
	client := httptest.NewRecorder()
	client.Header().Set("X-Outer", "kept")
	rec := NewRecorder(NewTarget(client), 1<<10, func(http.Header, string) {})
	rec.Header().Set("Link", "</a.css>; rel=preload")
	rec.WriteHeader(http.StatusEarlyHints)
	delete(rec.Header(), "Link")
	rec.Header()["set-cookie"] = []string{"a=1"}
	rec.Header()["Set-Cookie"] = []string{"b=2"}
	fmt.Fprint(rec, "body")
	rec.Header().Set("X-Late", "1")

	resp, passed := rec.Result()
	if passed != "" || resp.Status != 200 || string(resp.Body) != "body" {
		t.Fatalf("Result = %+v, %q", resp, passed)
	}
	if _, ok := resp.Header["X-Late"]; ok {
		t.Error("a header set after the status was written was recorded")
	}
	if _, ok := resp.Header["Link"]; ok {
		t.Error("the 103's Link was recorded")
	}
	if got := resp.Header["Set-Cookie"]; len(got) != 2 {
		t.Errorf("Set-Cookie = %q, want both spellings merged under the canonical name", got)
	}
	if _, ok := client.Header()["Link"]; ok || client.Header().Get("X-Outer") != "kept" {
		t.Errorf("the client's own header after the 103: %v", client.Header())
	}
}

// Without a target (a background refresh) a streaming response is dropped:
// nothing is recorded, and the handler's writes and flushes succeed.
func TestRecorderWithoutTargetDrops(t *testing.T) {
	rec := NewRecorder(nil, 4, func(http.Header, string) { t.Error("onPass without a target") })
	if _, err := fmt.Fprint(rec, "too long"); err != nil {
		t.Fatalf("Write = %v", err)
	}
	if err := http.NewResponseController(rec).Flush(); err != nil {
		t.Fatalf("Flush = %v", err)
	}
	if resp, passed := rec.Result(); resp != nil || passed != "too-large" {
		t.Fatalf("Result = %v, %q; want nothing, too-large", resp, passed)
	}
}

// A flush hands the response to its client, with onPass seeing the header
// about to be sent.
func TestRecorderStreamsOnFlush(t *testing.T) {
	client := httptest.NewRecorder()
	rec := NewRecorder(NewTarget(client), 1<<10, func(h http.Header, why string) { h.Set("X-Why", why) })
	fmt.Fprint(rec, "a")
	rec.Flush()
	fmt.Fprint(rec, "b")
	if resp, passed := rec.Result(); resp != nil || passed != "streamed" {
		t.Fatalf("Result = %v, %q", resp, passed)
	}
	if client.Body.String() != "ab" || !client.Flushed || client.Header().Get("X-Why") != "streamed" {
		t.Fatalf("client got %q flushed=%v header=%v", client.Body, client.Flushed, client.Header())
	}
}
