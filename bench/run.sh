#!/usr/bin/env bash
# Runs every benchmark of this module in one go test -bench run and writes
# results.md (and the raw output, results.txt), then profiles the
# allocations of corral's middleware hit alone into hit.memprofile.txt.
# Needs redis-server on PATH for the Redis rows (apt-get install
# redis-server).
#   cd bench && ./run.sh            # 5 runs of each benchmark
#   COUNT=1 ./run.sh                # quicker
#   COUNT=1 BENCHTIME=100ms LOAD=500ms ./run.sh   # a sanity pass
# BENCHTIME is go test's -benchtime (default 1s); LOAD is the length of
# BenchmarkLoopback's load window (default 2s).
set -euo pipefail
cd "$(dirname "$0")"
count=${COUNT:-5}
benchtime=${BENCHTIME:-1s}
load=${LOAD:-2s}
export BENCH_MACHINE="${BENCH_MACHINE:-$(nproc) CPUs, $(go version | awk '{print $3}'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)}"
go test -run='^$' -bench=. -count="$count" -benchtime="$benchtime" -timeout=60m . -args -load="$load" | tee results.txt
go run ./report < results.txt > results.md
echo "wrote $(pwd)/results.md"

# The hit alone, every allocation sampled: what remains beyond the replay
# reference's (the recorder's) is corral's own.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -run='^$' -bench='^BenchmarkHit$/^2kB$/^corral-memory$' -benchtime=200000x \
	-memprofilerate=1 -memprofile="$tmp/hit.prof" -o "$tmp/bench.test" . > /dev/null
{
	echo "# corral's middleware hit (BenchmarkHit/2kB/corral-memory), every allocation sampled"
	echo "# go tool pprof -sample_index=alloc_space -top; then -sample_index=alloc_objects -top"
	go tool pprof -sample_index=alloc_space -top -nodecount=30 "$tmp/bench.test" "$tmp/hit.prof"
	echo
	go tool pprof -sample_index=alloc_objects -top -nodecount=30 "$tmp/bench.test" "$tmp/hit.prof"
} > hit.memprofile.txt 2>&1
echo "wrote $(pwd)/hit.memprofile.txt"
