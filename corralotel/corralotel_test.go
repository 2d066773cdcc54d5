package corralotel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/corralotel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// remote is the memory store seen as a remote store: the cache calls it
// through its guard, so its calls are traced.
type remote struct{ corral.Store }

func newTraced(t *testing.T) (*corral.Cache, *tracetest.InMemoryExporter, *sdktrace.TracerProvider) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	mem := corral.NewMemoryStore()
	t.Cleanup(func() { mem.Close(); _ = tp.Shutdown(context.Background()) })
	c := corral.New(remote{mem})
	c.SetTracer(corralotel.New(tp))
	return c, exp, tp
}

func attr(s tracetest.SpanStub, k attribute.Key) attribute.Value {
	for _, kv := range s.Attributes {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// A miss is a computation span under the caller's span, with the store
// calls it made under it; a hit makes no computation span.
func TestComputationAndStoreSpans(t *testing.T) {
	c, exp, tp := newTraced(t)
	ctx, req := tp.Tracer("test").Start(context.Background(), "request")
	user := corral.Memoize(c, "user", time.Minute, func(ctx context.Context, id int) (string, error) { return "ada", nil })
	_, _ = user(ctx, 1)
	_, _ = user(ctx, 1)
	req.End()

	var compute tracetest.SpanStub
	var stores []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		switch s.Name {
		case "corral.compute":
			compute = s
		case "corral.store":
			stores = append(stores, s)
		}
	}
	if compute.Parent.SpanID() != req.SpanContext().SpanID() {
		t.Fatalf("the computation's parent is %v, want the request's span", compute.Parent.SpanID())
	}
	if got := attr(compute, corralotel.CacheStatusAttr).AsString(); got != "fwd=miss; stored" ||
		attr(compute, corralotel.FunctionAttr).AsString() != "user" || attr(compute, corralotel.KeyAttr).AsString() != "user:1" {
		t.Fatalf("computation attributes %v", compute.Attributes)
	}
	// The first read (a miss), the write under the computation (no re-read:
	// nothing wrote the key since the first read), the second read (a hit).
	var underCompute, hits, misses int
	for _, s := range stores {
		if s.Parent.SpanID() == compute.SpanContext.SpanID() {
			underCompute++
		}
		switch attr(s, corralotel.CacheStatusAttr).AsString() {
		case "hit":
			hits++
		case "fwd=miss":
			misses++
		}
	}
	if len(stores) != 3 || underCompute != 1 || hits != 1 || misses != 1 {
		t.Fatalf("%d store spans, %d under the computation, %d hits, %d misses; want 3, 1, 1, 1", len(stores), underCompute, hits, misses)
	}
}

// A failed computation's span has an Error status.
func TestFailedComputationSpan(t *testing.T) {
	c, exp, _ := newTraced(t)
	errDB := errors.New("db down")
	_, _ = corral.GetOrSet(context.Background(), c, "k", time.Minute, func(context.Context) (int, error) { return 0, errDB })
	for _, s := range exp.GetSpans() {
		if s.Name == "corral.compute" {
			if s.Status.Code != codes.Error || attr(s, corralotel.CacheStatusAttr).AsString() != "fwd=miss; detail=error" {
				t.Fatalf("a failed computation: status %v, attributes %v", s.Status, s.Attributes)
			}
			return
		}
	}
	t.Fatal("no computation span")
}

// A background refresh is a trace of its own, linked to the request that
// triggered it; a MemoizeMany batch says how many ids it computed.
func TestRefreshSpanIsLinked(t *testing.T) {
	c, exp, tp := newTraced(t)
	refreshed := make(chan struct{}, 10)
	many := corral.MemoizeMany(c, "users", time.Millisecond, func(ctx context.Context, ids []int) (map[int]string, error) {
		defer func() { refreshed <- struct{}{} }()
		return map[int]string{1: "a", 2: "b"}, nil
	}, corral.StaleWhileRevalidate(time.Minute))
	_, _ = many(context.Background(), []int{1, 2})
	<-refreshed
	time.Sleep(5 * time.Millisecond) // past the 1 ms TTL: the next read is stale
	ctx, req := tp.Tracer("test").Start(context.Background(), "request")
	_, _ = many(ctx, []int{1, 2})
	req.End()
	<-refreshed
	waitForSpans(t, exp, 2)
	var refresh tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == "corral.compute" && attr(s, corralotel.RefreshAttr).AsBool() {
			refresh = s
		}
	}
	if refresh.SpanContext.TraceID() == req.SpanContext().TraceID() || len(refresh.Links) != 1 ||
		refresh.Links[0].SpanContext.SpanID() != req.SpanContext().SpanID() {
		t.Fatalf("the refresh's span: trace %v, links %v; want a trace of its own linked to the request", refresh.SpanContext.TraceID(), refresh.Links)
	}
	if attr(refresh, corralotel.IDsAttr).AsInt64() != 2 {
		t.Fatalf("the batch's span has attributes %v, want 2 ids", refresh.Attributes)
	}
}

// waitForSpans waits until n computation spans have ended: the refresh
// ends its span after its function returns.
func waitForSpans(t *testing.T, exp *tracetest.InMemoryExporter, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		count := 0
		for _, s := range exp.GetSpans() {
			if s.Name == "corral.compute" {
				count++
			}
		}
		if count >= n {
			return
		}
	}
	t.Fatalf("fewer than %d computation spans ended", n)
}
