package main

import (
	"fmt"
	"io"
)

// A target is one of issue 16's "Done when" figures: a value computed from
// the run, and the bound it must meet.
type target struct {
	what   string
	value  func(*results) (float64, bool)
	bound  bound
	format string // of the value, e.g. "%.2fx"
}

// targets are issue 16's, in its order.
var targets = []target{
	{"middleware hit (memory store, 2 kB) over the replay reference",
		ratioOf("Hit/2kB", "corral-memory", "replay", "ns/op"), bound{"≤", 1.3}, "%.2fx"},
	{"middleware hit (memory store, 2 kB) over go-chi/stampede's",
		ratioOf("Hit/2kB", "corral-memory", "stampede", "ns/op"), bound{"≤", 0.5}, "%.2fx"},
	{"the same, paired (BenchmarkHitPaired: blocks alternated with the replay's)",
		valueOf("HitPaired/2kB", "corral-memory-over-replay", "ratio"), bound{"≤", 1.3}, "%.2fx"},
	{"the same over stampede's, paired (each over the replay it alternated with)",
		quotientOf(valueOf("HitPaired/2kB", "corral-memory-over-replay", "ratio"),
			valueOf("HitPaired/2kB", "stampede-over-replay", "ratio")), bound{"≤", 0.5}, "%.2fx"},
	{"allocs/op of the middleware hit beyond the replay's (see hit.memprofile.txt)",
		differenceOf("Hit/2kB", "corral-memory", "replay", "allocs/op"), bound{"≤", 0}, "%+.0f"},
	{"requests/s over loopback, over the replay reference's",
		ratioOf("Loopback", "corral-memory", "replay", "req/s"), bound{"≥", 0.95}, "%.2fx"},
	{"Memoize hit over otter v2's loading Get",
		ratioOf("MemoizeHit", "corral-memoize", "otter-v2", "ns/op"), bound{"≤", 1.5}, "%.2fx"},
	{"Memoize hit over sturdyc's GetOrFetch",
		ratioOf("MemoizeHit", "corral-memoize", "sturdyc", "ns/op"), bound{"<", 1}, "%.2fx"},
	{"hit-% under Zipf(0.9) with a scan, points over otter v2's",
		differenceOf("HitRatio/zipf-scan", "corral", "otter-v2", "hit-%"), bound{"≥", -5}, "%+.1f"},
	{"hot keys' hit-% during a flood of one-time keys",
		valueOf("HitRatio/hot-flood", "corral", "hot-hit-%"), bound{">", 90}, "%.1f"},
}

// writeTargets writes the targets' table; a target whose rows are not in
// the run is said to be not measured.
func writeTargets(w io.Writer, rs *results) {
	fmt.Fprint(w, "### Issue 16's targets\n\n| | target | measured | met |\n|---|---|---|---|\n")
	for _, t := range targets {
		measured, met := "not measured", "-"
		if v, ok := t.value(rs); ok {
			measured = fmt.Sprintf(t.format, v)
			met = "no"
			if t.bound.holds(v) {
				met = "yes"
			}
		}
		fmt.Fprintf(w, "| %s | %s %s | %s | %s |\n", t.what, t.bound.op, format(t.bound.limit), measured, met)
	}
	fmt.Fprintln(w)
}

// A bound is a comparison with a limit: "≤", "<", "≥" or ">".
type bound struct {
	op    string
	limit float64
}

func (b bound) holds(v float64) bool {
	switch b.op {
	case "≤":
		return v <= b.limit
	case "<":
		return v < b.limit
	case "≥":
		return v >= b.limit
	case ">":
		return v > b.limit
	}
	panic("report: unknown bound " + b.op)
}

// ratioOf is row's median of unit over ref's, in group.
func ratioOf(group, row, ref, unit string) func(*results) (float64, bool) {
	return func(rs *results) (float64, bool) { return rs.ratio(group, row, ref, unit) }
}

// differenceOf is row's median of unit minus ref's, in group.
func differenceOf(group, row, ref, unit string) func(*results) (float64, bool) {
	return func(rs *results) (float64, bool) {
		a, okA := rs.median(group, row, unit)
		b, okB := rs.median(group, ref, unit)
		return a - b, okA && okB
	}
}

// valueOf is row's median of unit, in group.
func valueOf(group, row, unit string) func(*results) (float64, bool) {
	return func(rs *results) (float64, bool) { return rs.median(group, row, unit) }
}

// quotientOf is a's value over b's.
func quotientOf(a, b func(*results) (float64, bool)) func(*results) (float64, bool) {
	return func(rs *results) (float64, bool) {
		x, okA := a(rs)
		y, okB := b(rs)
		return x / y, okA && okB && y != 0
	}
}
