package corral

import (
	"context"
	"net/http"
	"sync/atomic"
)

// layer marks the requests a middleware hands on, so that a caching layer
// inside it (a route's own Handler under a router's Middleware) can claim
// them: the innermost layer caches, and the outer ones pass its answer on
// without storing or counting it.
type layer struct{ claimed atomic.Bool }

type layerKey struct{}

// claimLayer tells the caching layer around this one, if any, that this
// one takes r.
func claimLayer(r *http.Request) {
	if l, ok := r.Context().Value(layerKey{}).(*layer); ok {
		l.claimed.Store(true)
	}
}

// withLayer returns r marked with a new layer.
func withLayer(r *http.Request) (*http.Request, *layer) {
	ctx, l := withLayerContext(r.Context())
	return r.WithContext(ctx), l
}

func withLayerContext(ctx context.Context) (context.Context, *layer) {
	l := new(layer)
	return context.WithValue(ctx, layerKey{}, l), l
}
