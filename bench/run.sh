#!/usr/bin/env bash
# Runs every benchmark of this module in one go test -bench run and writes
# results.md (and the raw output, results.txt). Needs redis-server on PATH
# for the Redis rows (apt-get install redis-server).
#   cd bench && ./run.sh            # 5 runs of each benchmark
#   COUNT=1 ./run.sh                # quicker
set -euo pipefail
cd "$(dirname "$0")"
count=${COUNT:-5}
export BENCH_MACHINE="${BENCH_MACHINE:-$(nproc) CPUs, $(go version | awk '{print $3}'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)}"
go test -run='^$' -bench=. -count="$count" -timeout=30m . | tee results.txt
go run ./report < results.txt > results.md
echo "wrote $(pwd)/results.md"
