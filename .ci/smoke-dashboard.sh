#!/usr/bin/env bash
# Runs the quick start as the README says and checks that the second request
# for / is a cache hit.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/dashboard
out=$(mktemp)
go build -o "$bin" ./_examples/dashboard
"$bin" -addr 127.0.0.1:0 >"$out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 100); do
  url=$(grep -o 'http://[^ ]*/' "$out" | head -n1 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "dashboard printed no URL:"; cat "$out"; exit 1; }
first=$(curl -fsS -D - -o /dev/null "$url" | tr -d '\r' | grep -i '^cache-status:' || true)
second=$(curl -fsS -D - -o /dev/null "$url" | tr -d '\r' | grep -i '^cache-status:' || true)
echo "first:  $first"
echo "second: $second"
case "$second" in *hit*) echo "quick start: second request is a hit" ;; *) echo "quick start: no hit on the second request"; exit 1 ;; esac
