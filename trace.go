package corral

import "context"

// Tracer follows a cache's computations and its calls to a store outside
// the process, with the context each runs in, for distributed tracing: the
// corralotel module has one for OpenTelemetry. Its methods must be fast and
// safe for concurrent use.
type Tracer interface {
	// StartComputation is called as a computation starts (of GetOrSet,
	// Memoize, MemoizeMany, or the middleware's handler), with the context
	// of the caller that leads it. It returns the context the computation
	// runs with (the function's, and that of the store calls it makes) and
	// a function to call once with how it ended.
	StartComputation(ctx context.Context, c Computation) (context.Context, func(ComputationEnd))
	// StartStoreCall is called before a call to the store, and returns the
	// context of the call and a function to call with its error (nil, or
	// one matching ErrNotFound for a miss, which is no failure).
	StartStoreCall(ctx context.Context, op StoreOp) (context.Context, func(error))
}

// Computation says which computation starts.
type Computation struct {
	Key      string // the caller's key; for MemoizeMany, the first id's
	Function string // the Memoize or MemoizeMany name; "" for GetOrSet and the middleware
	IDs      int    // MemoizeMany: how many ids the batch asks for; 0 otherwise
	// Refresh: a background refresh (stale-while-revalidate,
	// refresh-ahead), which no caller waits for. Its context is that of
	// the call that started it, detached from its cancellation: trace it
	// as its own trace, linked to that call's.
	Refresh bool
}

// ComputationEnd is how a computation ended.
type ComputationEnd struct {
	// Status says it in the words of Cache-Status (RFC 9211): "fwd=miss;
	// stored", "fwd=miss; detail=REASON" for a value not stored,
	// "fwd=miss; detail=error" for a failure, or "hit" when the re-read
	// before computing found a value stored since (nothing ran).
	Status string
	Err    error
}

// SetTracer makes t follow the cache's computations and store calls,
// replacing any earlier one; nil removes it. The cache's views share it.
func (c *Cache) SetTracer(t Tracer) {
	if t == nil {
		c.obs.tracer.Store(nil)
		return
	}
	c.obs.tracer.Store(&t)
}

// startComputation tells the tracer, if any, that a computation starts;
// end is never nil.
func (c *Cache) startComputation(ctx context.Context, info Computation) (context.Context, func(ComputationEnd)) {
	t := c.obs.tracer.Load()
	if t == nil {
		return ctx, func(ComputationEnd) {}
	}
	info.Function = c.fn
	return (*t).StartComputation(ctx, info)
}

// startStoreCall tells the tracer, if any, that a store call starts; end
// is never nil.
func (c *Cache) startStoreCall(ctx context.Context, op StoreOp) (context.Context, func(error)) {
	t := c.obs.tracer.Load()
	if t == nil {
		return ctx, func(error) {}
	}
	return (*t).StartStoreCall(ctx, op)
}

// computationEnd is the end of a computation that stored (or not, for
// reason), failed with err, or found its value stored since (fromStore).
func computationEnd(fromStore, stored bool, reason string, err error) ComputationEnd {
	switch {
	case err != nil:
		return ComputationEnd{Status: "fwd=miss; detail=error", Err: err}
	case fromStore:
		return ComputationEnd{Status: "hit"}
	case stored:
		return ComputationEnd{Status: "fwd=miss; stored"}
	case reason == "":
		reason = "not-stored"
	}
	return ComputationEnd{Status: "fwd=miss; detail=" + reason}
}
