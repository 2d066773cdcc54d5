// Command report turns `go test -bench` output into the markdown tables of
// bench/results.md: for each benchmark its median figures over the runs, and
// the ratio of its ns/op to the baseline of its group (the sub-benchmark
// named "baseline", or for the memoize group, the fastest).
//
//	go test -run=XXX -bench=. -count=5 . | go run ./report > results.md
package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

type result struct {
	name    string               // e.g. Hit/2kB/corral-memory
	metrics map[string][]float64 // unit -> one value per run
	order   []string
}

func main() {
	results := map[string]*result{}
	var names []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // drop -GOMAXPROCS
		}
		r := results[name]
		if r == nil {
			r = &result{name: name, metrics: map[string][]float64{}}
			results[name] = r
			names = append(names, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			unit := f[i+1]
			if _, seen := r.metrics[unit]; !seen {
				r.order = append(r.order, unit)
			}
			r.metrics[unit] = append(r.metrics[unit], v)
		}
	}
	fmt.Printf("Measured %s, %s. Medians of the runs; ratio is ns/op over the group's baseline.\n\n",
		time.Now().UTC().Format("2006-01-02"), os.Getenv("BENCH_MACHINE"))
	groups := map[string][]*result{}
	var groupOrder []string
	for _, n := range names {
		g := n[:strings.LastIndexByte(n, '/')]
		if _, ok := groups[g]; !ok {
			groupOrder = append(groupOrder, g)
		}
		groups[g] = append(groups[g], results[n])
	}
	for _, g := range groupOrder {
		rs := groups[g]
		units := rs[0].order
		fmt.Printf("### %s\n\n| | %s | ratio |\n|---|%s---|\n", g, strings.Join(units, " | "), strings.Repeat("---|", len(units)))
		base := baseline(rs)
		for _, r := range rs {
			var cells []string
			for _, u := range units {
				cells = append(cells, format(median(r.metrics[u])))
			}
			ratio := "-"
			if base > 0 {
				ratio = fmt.Sprintf("%.2fx", median(r.metrics["ns/op"])/base)
			}
			fmt.Printf("| %s | %s | %s |\n", r.name[len(g)+1:], strings.Join(cells, " | "), ratio)
		}
		fmt.Println()
	}
}

func baseline(rs []*result) float64 {
	best := 0.0
	for _, r := range rs {
		ns := median(r.metrics["ns/op"])
		if strings.HasSuffix(r.name, "/baseline") {
			return ns
		}
		if best == 0 || ns < best {
			best = ns
		}
	}
	if strings.Contains(rs[0].name, "Memoize") {
		return best
	}
	return 0
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func format(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
