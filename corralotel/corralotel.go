// Package corralotel traces a corral.Cache with OpenTelemetry: each
// computation (of GetOrSet, Memoize, MemoizeMany or the HTTP middleware's
// handler) and each call to a store outside the process is a span, with
// attributes in the words of Cache-Status (RFC 9211):
//
//	c := corral.New(redisstore.New(client))
//	c.SetTracer(corralotel.New(otel.GetTracerProvider()))
//
// A computation's span is a child of the span of the call that leads it,
// and the parent of the spans the computation makes (pass its context on)
// and of its store calls. A background refresh (stale-while-revalidate,
// refresh-ahead) has no caller waiting: its span starts a trace of its own,
// linked to the span of the request that triggered it.
//
// The spans are "corral.compute" (attributes corral.key, corral.function,
// corral.ids for MemoizeMany, corral.refresh, and at its end
// corral.cache_status: "fwd=miss; stored", "fwd=miss; detail=REASON",
// "fwd=miss; detail=error", or "hit" when a value stored meanwhile made
// the computation unnecessary) and "corral.store" (attributes
// corral.store.op, and for reads corral.cache_status "hit" or "fwd=miss").
// A failure sets the span's status to Error.
//
// This package is a module of its own, so that corral's own module does
// not depend on OpenTelemetry.
package corralotel

import (
	"context"
	"errors"

	"github.com/corralhq/corral"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans.
const ScopeName = "github.com/corralhq/corral/corralotel"

// Tracer is a corral.Tracer that records spans with an OpenTelemetry
// tracer. It is safe for concurrent use.
type Tracer struct {
	tracer trace.Tracer
}

var _ corral.Tracer = (*Tracer)(nil)

// New returns a Tracer that records spans with tp (nil: the global
// provider, otel.GetTracerProvider()). Give it to a cache with
// corral.Cache.SetTracer.
func New(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Tracer{tracer: tp.Tracer(ScopeName)}
}

// Attribute keys of the spans.
const (
	KeyAttr         = attribute.Key("corral.key")
	FunctionAttr    = attribute.Key("corral.function")
	IDsAttr         = attribute.Key("corral.ids")
	RefreshAttr     = attribute.Key("corral.refresh")
	CacheStatusAttr = attribute.Key("corral.cache_status")
	StoreOpAttr     = attribute.Key("corral.store.op")
)

// StartComputation implements corral.Tracer.
func (t *Tracer) StartComputation(ctx context.Context, c corral.Computation) (context.Context, func(corral.ComputationEnd)) {
	attrs := []attribute.KeyValue{KeyAttr.String(c.Key), RefreshAttr.Bool(c.Refresh)}
	if c.Function != "" {
		attrs = append(attrs, FunctionAttr.String(c.Function))
	}
	if c.IDs > 0 {
		attrs = append(attrs, IDsAttr.Int(c.IDs))
	}
	opts := []trace.SpanStartOption{trace.WithAttributes(attrs...)}
	if c.Refresh { // nobody waits for it: a trace of its own, linked to the request that started it
		opts = append(opts, trace.WithNewRoot())
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
		}
	}
	ctx, span := t.tracer.Start(ctx, "corral.compute", opts...)
	return ctx, func(end corral.ComputationEnd) {
		span.SetAttributes(CacheStatusAttr.String(end.Status))
		if end.Err != nil {
			span.RecordError(end.Err)
			span.SetStatus(codes.Error, end.Err.Error())
		}
		span.End()
	}
}

// StartStoreCall implements corral.Tracer.
func (t *Tracer) StartStoreCall(ctx context.Context, op corral.StoreOp) (context.Context, func(error)) {
	ctx, span := t.tracer.Start(ctx, "corral.store", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(StoreOpAttr.String(string(op))))
	return ctx, func(err error) {
		switch {
		case errors.Is(err, corral.ErrNotFound):
			span.SetAttributes(CacheStatusAttr.String("fwd=miss"))
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		case op == "get" || op == "get_many":
			span.SetAttributes(CacheStatusAttr.String("hit"))
		}
		span.End()
	}
}
