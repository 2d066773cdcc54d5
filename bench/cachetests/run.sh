#!/usr/bin/env bash
# Runs the HTTP cache test suite (npm http-cache-tests, pinned in
# package.json) against corral's middleware with no cache, in the default
# mode and in SharedCache mode, then prints one Markdown table with the
# published proxies' results beside them (also saved to results/summary.md).
#
#   ./run.sh                # the table
#   ./run.sh --failures     # and each mode's failed required tests
#
# Everything listens on 127.0.0.1 on ports the kernel picks, and stops by
# itself. Environment: CLI_TIMEOUT [120] seconds the suite may take per mode.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
SUITE=node_modules/http-cache-tests
SUITE_VERSION=0.4.5
CLI_TIMEOUT=${CLI_TIMEOUT:-120}
MODES=(none default shared)

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }
for tool in node npm go timeout; do
  command -v "$tool" >/dev/null || die "$tool not found on PATH"
done
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' ||
  die "node >= 20 needed (have $(node --version))"

# listen_port LOG PID: wait up to 10 s for the process PID to log
# "listening on http://127.0.0.1:PORT" (any case), and print PORT.
listen_port() {
  local port
  for _ in $(seq 100); do
    port=$(grep -oiE 'listening on https?://127\.0\.0\.1:[0-9]+' "$1" 2>/dev/null | head -n1 | sed 's/.*://')
    [ -n "$port" ] && { echo "$port"; return 0; }
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# stop PID: TERM, then KILL after 3 s. Only for the processes started here.
stop() {
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 30); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
ORIGIN_PID= PROXY_PID=
trap 'stop "$PROXY_PID"; stop "$ORIGIN_PID"' EXIT
trap 'exit 130' INT TERM

# 1. The suite, as package-lock.json pins it.
installed=$(node -p "require('./$SUITE/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$SUITE_VERSION" ]; then
  say "npm ci (http-cache-tests $SUITE_VERSION)"
  npm ci --no-audit --no-fund >&2
fi

# 2. The proxy.
say "go build -o bin/cachetests ."
go build -o bin/cachetests .
rm -rf results && mkdir results

# 3. The suite's origin server on a free loopback port, made to exit by
# itself once every mode has had its time.
(
  cd "$SUITE"
  exec env npm_config_protocol=http npm_config_port=0 npm_config_pidfile="$HERE/results/origin.pid" \
    ORIGIN_EXIT_AFTER_S=$(( ${#MODES[@]} * (CLI_TIMEOUT + 20) + 60 )) \
    node --import "$HERE/origin-loopback.mjs" server/server.mjs
) >results/origin.log 2>&1 &
ORIGIN_PID=$!
ORIGIN_PORT=$(listen_port results/origin.log "$ORIGIN_PID") || die "origin did not start; see results/origin.log"
say "origin on 127.0.0.1:$ORIGIN_PORT"

# 4. One mode at a time: a fresh proxy, the suite's CLI against it.
for mode in "${MODES[@]}"; do
  bin/cachetests -mode "$mode" -listen 127.0.0.1:0 -origin "http://127.0.0.1:$ORIGIN_PORT" \
    -exit-after "$((CLI_TIMEOUT + 20))s" 2>"results/$mode.proxy.log" &
  PROXY_PID=$!
  port=$(listen_port "results/$mode.proxy.log" "$PROXY_PID") || die "proxy ($mode) did not start; see results/$mode.proxy.log"
  say "$mode: cache-tests against 127.0.0.1:$port"
  rc=0
  (
    cd "$SUITE"
    # Both ids empty: every test (cli.mjs reads npm_config_id || npm_package_config_id).
    exec env npm_config_base="http://127.0.0.1:$port" npm_config_id= npm_package_config_id= \
      timeout -k 5 "$CLI_TIMEOUT" node --no-warnings cli.mjs
  ) >"results/$mode.json" 2>"results/$mode.cli.log" || rc=$?
  stop "$PROXY_PID"
  PROXY_PID=
  [ "$rc" = 0 ] || say "$mode: the suite's CLI exited $rc; see results/$mode.cli.log"
done
stop "$ORIGIN_PID"
ORIGIN_PID=

# 5. The table.
{
  echo "$(date -u +%Y-%m-%d), $(go version | awk '{print $3}'), node $(node --version)"
  echo
  node summarize.mjs --suite "$SUITE" "$@" \
    "none (no cache)=results/none.json" \
    "corral TTL(1h)=results/default.json" \
    "corral SharedCache()=results/shared.json"
} | tee results/summary.md
