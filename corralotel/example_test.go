package corralotel_test

import (
	"context"
	"fmt"
	"time"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/corralotel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Each computation is a span, with its outcome in Cache-Status words.
func ExampleNew() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	c := corral.New(corral.NewMemoryStore())
	c.SetTracer(corralotel.New(tp))

	report := corral.Memoize(c, "report", time.Minute, func(ctx context.Context, day string) (int, error) { return 42, nil })
	_, _ = report(context.Background(), "monday")
	_, _ = report(context.Background(), "monday") // a hit: no computation
	for _, s := range exp.GetSpans() {
		for _, kv := range s.Attributes {
			if kv.Key == corralotel.CacheStatusAttr {
				fmt.Println(s.Name, kv.Value.AsString())
			}
		}
	}
	// Output: corral.compute fwd=miss; stored
}
