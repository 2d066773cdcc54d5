// Command report turns `go test -bench` output into the markdown of
// bench/results.md: issue 16's targets with the ratios measured, then one
// table per group of benchmarks (Hit/2kB, MemoizeHit, ...) with the median
// of each figure over the runs and its ratios to the group's references.
//
//	go test -run='^$' -bench=. -count=5 . | go run ./report > results.md
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	rs := parse(os.Stdin)
	fmt.Printf("Measured %s, %s, in one `go test -bench -count=%d` run. Medians of the runs; "+
		"a ratio is the median of a row over the median of its reference.\n\n",
		time.Now().UTC().Format("2006-01-02"), os.Getenv("BENCH_MACHINE"), runsOf(rs))
	writeTargets(os.Stdout, rs)
	slices.SortStableFunc(rs.groups, func(a, b string) int { return rank(a) - rank(b) })
	for _, g := range rs.groups {
		writeTable(os.Stdout, rs, g)
	}
}

// tableOrder is the order of the tables: the groups named, or prefixed, in
// turn; any other after them, in the order of the run.
var tableOrder = []string{"Hit/", "Loopback", "MemoizeHit", "Stampede", "Cardinality", "StoreDown", "HitRatio/"}

// rank is a group's place in tableOrder.
func rank(group string) int {
	for i, name := range tableOrder {
		if group == name || strings.HasSuffix(name, "/") && strings.HasPrefix(group, name) {
			return i
		}
	}
	return len(tableOrder)
}

// results are the parsed benchmark lines: per group, per row, per unit, one
// value per run.
type results struct {
	groups []string                                   // in order of appearance
	rows   map[string][]string                        // group -> rows in order
	values map[string]map[string]map[string][]float64 // group -> row -> unit -> runs
	units  map[string][]string                        // group -> units in order
}

// parse reads lines such as
// "BenchmarkHit/2kB/replay-2  1000  782 ns/op  2992 B/op  8 allocs/op":
// the group is the name up to its last slash, the row what follows.
func parse(r io.Reader) *results {
	rs := &results{
		rows:   map[string][]string{},
		values: map[string]map[string]map[string][]float64{},
		units:  map[string][]string{},
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // not a result: a line the benchmark's own output cut
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // drop -GOMAXPROCS
		}
		slash := strings.LastIndexByte(name, '/')
		if slash < 0 {
			continue
		}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				rs.add(name[:slash], name[slash+1:], f[i+1], v)
			}
		}
	}
	return rs
}

func (rs *results) add(group, row, unit string, v float64) {
	if rs.values[group] == nil {
		rs.groups = append(rs.groups, group)
		rs.values[group] = map[string]map[string][]float64{}
	}
	if rs.values[group][row] == nil {
		rs.rows[group] = append(rs.rows[group], row)
		rs.values[group][row] = map[string][]float64{}
	}
	if !slices.Contains(rs.units[group], unit) {
		rs.units[group] = append(rs.units[group], unit)
	}
	rs.values[group][row][unit] = append(rs.values[group][row][unit], v)
}

// median is the median of a row's unit over the runs; ok is false when the
// run has no such figure.
func (rs *results) median(group, row, unit string) (m float64, ok bool) {
	v := rs.values[group][row][unit]
	if len(v) == 0 {
		return 0, false
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2], true
}

// ratio is row's median of unit over ref's.
func (rs *results) ratio(group, row, ref, unit string) (float64, bool) {
	a, okA := rs.median(group, row, unit)
	b, okB := rs.median(group, ref, unit)
	if !okA || !okB || b == 0 {
		return 0, false
	}
	return a / b, true
}

// runsOf is the number of runs the results hold (the most of any row).
func runsOf(rs *results) int {
	most := 0
	for _, g := range rs.groups {
		for _, row := range rs.rows[g] {
			for _, v := range rs.values[g][row] {
				most = max(most, len(v))
			}
		}
	}
	return most
}
