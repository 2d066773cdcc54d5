package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A table says how a group is shown: its units (every unit of the group,
// in order of appearance, when nil), its ratio columns, and a note on what
// it measures.
type table struct {
	units  []string
	ratios []ratioColumn
	note   string
}

// A ratioColumn is each row's median of unit over the median of row ref.
type ratioColumn struct{ ref, unit string }

// header is the column's title, e.g. "× replay" or "× replay (req/s)".
func (c ratioColumn) header() string {
	if c.unit == "ns/op" {
		return "× " + c.ref
	}
	return fmt.Sprintf("× %s (%s)", c.ref, c.unit)
}

// tableFor gives the table of a group.
func tableFor(group string) table {
	switch {
	case group == "Hit/2kB":
		return table{ratios: []ratioColumn{{"replay", "ns/op"}}, note: hitNote}
	case strings.HasPrefix(group, "Hit/"):
		return table{ratios: []ratioColumn{{"replay", "ns/op"}}, note: "As above, with a larger body."}
	case group == "Loopback":
		return table{units: []string{"req/s", "ns/op"}, ratios: []ratioColumn{{"replay", "req/s"}}, note: loopbackNote}
	case group == "MemoizeHit":
		return table{ratios: []ratioColumn{{"otter-v2", "ns/op"}, {"sturdyc", "ns/op"}}, note: memoizeNote}
	case group == "HitRatio/zipf-scan":
		return table{note: hitRatioNote}
	case strings.HasPrefix(group, "HitRatio/"):
		return table{}
	case strings.Contains(group, "Paired/"):
		return table{note: pairedNote} // each row is its own ratio
	}
	return table{ratios: []ratioColumn{{"baseline", "ns/op"}}, note: notes[group]}
}

// writeTable writes a group's note and table.
func writeTable(w io.Writer, rs *results, group string) {
	t := tableFor(group)
	units := t.units
	if units == nil {
		units = rs.units[group]
	}
	fmt.Fprintf(w, "### %s\n\n", group)
	if t.note != "" {
		fmt.Fprintf(w, "%s\n\n", t.note)
	}
	head := append([]string{""}, units...)
	for _, c := range t.ratios {
		head = append(head, c.header())
	}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, row := range rs.rows[group] {
		cells := []string{row}
		for _, u := range units {
			m, ok := rs.median(group, row, u)
			if u == "ratio" {
				cells = append(cells, cell(fmt.Sprintf("%.2fx", m), ok))
				continue
			}
			cells = append(cells, cell(format(m), ok))
		}
		for _, c := range t.ratios {
			r, ok := rs.ratio(group, row, c.ref, c.unit)
			cells = append(cells, cell(fmt.Sprintf("%.2fx", r), ok))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Fprintln(w)
}

// cell is s, or "-" where there is no figure.
func cell(s string, ok bool) string {
	if !ok {
		return "-"
	}
	return s
}

// format writes v with three significant figures or more.
func format(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100 || v <= -100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1 || v <= -1:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// The notes say what each table measures; the benchmarks' doc comments say
// it at more length.
const (
	hitNote = "A hit of `GET /dashboard?range=7d` (2 kB JSON body), served in process into " +
		"a fresh `httptest.ResponseRecorder` per request. " +
		"**replay** is the reference: the origin's exact response replayed from memory, its header " +
		"values assigned from slices built once (`Content-Length` included), with no key and no " +
		"lookup, the floor of a faithful hit. **corral-memory**: the middleware on its memory store. " +
		"**stampede**: `github.com/go-chi/stampede@v0.9.1` on `github.com/goware/cachestore-mem@v0.2.2`; " +
		"it keys by path only, so a request gets the body cached for another query " +
		"(`TestHitIsFaithful`). **http-cache**: `github.com/victorspringer/http-cache` " +
		"(2024-05-23) on its memory adapter; its hit gob-decodes the entry and encodes it again, " +
		"answers 200 whatever status was stored, and holds only the last `Write` of a body " +
		"(`TestHitIsFaithful`). **origin**: the handler alone, writing the pre-rendered body. " +
		"**corral-redis**: the middleware on Redis over loopback (a round trip)."
	loopbackNote = "Requests/s of a warm 2 kB hit through a real server (`httptest.Server` over " +
		"loopback TCP), 64 client goroutines each on a keep-alive connection, for a window of " +
		"`-load` (2 s unless run.sh's LOAD says otherwise) per iteration; clients and server " +
		"share the CPUs, as wrk and a server would. " +
		"ns/op is the wall time per request, all clients together."
	memoizeNote = "A hit of a memoized lookup (int key, small struct), in process: corral's " +
		"`Memoize` on its memory store, otter v2's loading `Cache.Get`, sturdyc's `GetOrFetch` " +
		"(a string key built per call) and go-redis/cache's `Once` on its local TinyLFU (no Redis)."
	pairedNote = "Each row alternates blocks of 100 calls of two cases (named \"A-over-B\"), " +
		"so that the machine's drift hits both alike; ratio is A's time over B's, the figure to read."
	hitRatioNote = "Every cache is bounded at 10,000 entries (1% of the key space); ns/op is " +
		"the time of one request of the trace (a read, and a write after a miss), each iteration " +
		"on a fresh cache. **zipf-scan**: 1,000,000 reads of Zipf(0.9) over 1,000,000 keys, a " +
		"scan of 100,000 one-time keys interleaved in its middle fifth (hit-% counts the Zipf " +
		"reads, scan-hit-% those during the scan). **hot-flood** (next table): 1,000 hot keys " +
		"read 100,000 times, 9 one-time keys after each read (hot-hit-%: the hot reads' hit " +
		"ratio). corral is the memory store (S3-FIFO); fifo is the store's former policy " +
		"(first in, first out by last write), rebuilt in the benchmark."
)

// notes of the groups compared with a plain baseline (the handler alone).
var notes = map[string]string{
	"Stampede": "500 concurrent requests for one cold URL through a real server, the origin " +
		"taking 50 ms: origin calls and client latency.",
	"Cardinality": "100,000 distinct query strings (512 B bodies), then the live heap after GC.",
	"StoreDown":   "Redis's port closed, a 50 ms budget: non-2xx answers and the latency per request.",
}
