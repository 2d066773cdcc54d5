package main

import (
	"slices"
	"sync"
	"time"
)

// The live panel's window: the last three minutes, in 2-second buckets.
const (
	bucketSize = 2 * time.Second
	numBuckets = 90
	maxSamples = 5000 // latencies kept per bucket and kind
)

// window counts the page's requests over the last minutes.
type window struct {
	mu      sync.Mutex
	buckets [numBuckets]bucket
}

type bucket struct {
	start              int64 // unix time of the bucket's start, in bucket units
	requests, computed int
	hits, misses       []time.Duration // latencies: answered from the cache, or not
	breaker            string          // the worst breaker state seen
}

// at returns the bucket of t, emptied if it held an older period.
func (w *window) at(t time.Time) *bucket {
	n := t.UnixNano() / int64(bucketSize)
	b := &w.buckets[n%numBuckets]
	if b.start != n {
		*b = bucket{start: n, hits: b.hits[:0], misses: b.misses[:0]}
	}
	return b
}

// request counts a page request that took took and was answered as kind.
func (w *window) request(took time.Duration, kind, breaker string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.at(time.Now())
	b.requests++
	b.note(breaker)
	samples := &b.misses
	if kind == "hit" || kind == "stale" {
		samples = &b.hits
	}
	if len(*samples) < maxSamples {
		*samples = append(*samples, took)
	}
}

// computed counts a computation of the aggregate.
func (w *window) computed() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.at(time.Now()).computed++
}

var severity = map[string]int{"": 0, "none": 0, "closed": 1, "half-open": 2, "open": 3}

func (b *bucket) note(breaker string) {
	if severity[breaker] > severity[b.breaker] {
		b.breaker = breaker
	}
}

// point is one bucket as the charts draw it; latencies in milliseconds.
type point struct {
	T           int64   `json:"t"` // unix seconds
	Requests    int     `json:"requests"`
	Computed    int     `json:"computations"`
	Hits        int     `json:"hits"`
	HitP50      float64 `json:"hit_p50_ms"`
	HitP99      float64 `json:"hit_p99_ms"`
	MissP50     float64 `json:"miss_p50_ms"`
	MissP99     float64 `json:"miss_p99_ms"`
	BreakerSeen string  `json:"breaker"`
}

// snapshot returns the window's buckets, oldest first, and the totals over
// it; breaker is the breaker's state now.
func (w *window) snapshot(now time.Time, breaker string) map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.at(now).note(breaker)
	last := now.UnixNano() / int64(bucketSize)
	points := make([]point, 0, numBuckets)
	var hits, misses []time.Duration
	var total point
	for n := last - numBuckets + 1; n <= last; n++ {
		p := point{T: n * int64(bucketSize) / int64(time.Second)}
		if b := &w.buckets[n%numBuckets]; b.start == n {
			p.Requests, p.Computed, p.Hits, p.BreakerSeen = b.requests, b.computed, len(b.hits), b.breaker
			p.HitP50, p.HitP99 = percentile(b.hits, 50), percentile(b.hits, 99)
			p.MissP50, p.MissP99 = percentile(b.misses, 50), percentile(b.misses, 99)
			total.Requests += b.requests
			total.Computed += b.computed
			hits, misses = append(hits, b.hits...), append(misses, b.misses...)
		}
		points = append(points, p)
	}
	total.Hits = len(hits)
	total.HitP50, total.HitP99 = percentile(hits, 50), percentile(hits, 99)
	total.MissP50, total.MissP99 = percentile(misses, 50), percentile(misses, 99)
	ratio := 0.0
	if len(hits)+len(misses) > 0 {
		ratio = float64(len(hits)) / float64(len(hits)+len(misses))
	}
	return map[string]any{
		"bucket_seconds": int(bucketSize / time.Second),
		"points":         points,
		"requests":       total.Requests,
		"computations":   total.Computed,
		"hits":           total.Hits,
		"hit_ratio":      ratio,
		"hit_p50_ms":     total.HitP50, "hit_p99_ms": total.HitP99,
		"miss_p50_ms": total.MissP50, "miss_p99_ms": total.MissP99,
	}
}

// percentile returns the p-th percentile of ds in milliseconds (0 if none).
func percentile(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return ms(s[(len(s)-1)*p/100])
}
