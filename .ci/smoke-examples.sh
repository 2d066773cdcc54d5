#!/usr/bin/env bash
# Runs the mux-api example (GET twice: a hit; an authenticated PUT; GET:
# computed again; a 2 s route under a one-minute router: its TTL holds) and
# the multi-instance demo against a redis-server of its own, and the tags
# demo (a PUT invalidates its product's page, JSON and listing by tag).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# wait_url FILE: prints the first http:// URL the program wrote to FILE.
wait_url() {
  for _ in $(seq 1 100); do
    u=$(grep -o 'http://[^ ]*' "$1" | head -n1 || true)
    [ -n "$u" ] && { echo "$u"; return; }
    sleep 0.1
  done
  echo "no URL in $1:" >&2; cat "$1" >&2; return 1
}
status_of() { curl -fsS -D - -o /dev/null "$@" | tr -d '\r' | grep -i '^cache-status:' || true; }

go build -o "$tmp/mux-api" ./_examples/mux-api
"$tmp/mux-api" -addr 127.0.0.1:0 >"$tmp/mux.out" 2>&1 & pids+=($!)
base=$(wait_url "$tmp/mux.out"); base=${base%/articles}
a=$(status_of "$base/articles/1"); b=$(status_of "$base/articles/1")
curl -fsS -X PUT -H 'Authorization: Bearer editor' -d 'New title' "$base/articles/1" >/dev/null
c=$(status_of "$base/articles/1")
echo "mux-api: $a | $b | after PUT: $c"
case "$b" in *hit*) ;; *) echo "mux-api: no hit"; exit 1 ;; esac
case "$c" in *stored*) ;; *) echo "mux-api: the authenticated PUT did not drop the GET"; exit 1 ;; esac
l1=$(status_of "$base/live/count"); l2=$(status_of "$base/live/count"); sleep 2.5
l3=$(status_of "$base/live/count")
echo "mux-api /live/count (2 s TTL): $l1 | $l2 | after 2.5 s: $l3"
case "$l2" in *hit*) ;; *) echo "mux-api: /live/count no hit"; exit 1 ;; esac
case "$l3" in *stored*) ;; *) echo "mux-api: the route's 2 s TTL did not hold"; exit 1 ;; esac

port=""
for p in $(seq 16379 16420); do
  if ! redis-cli -p "$p" ping >/dev/null 2>&1; then port=$p; break; fi
done
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >"$tmp/redis.out" 2>&1 & pids+=($!)
for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
out=$(go run ./_examples/multi-instance -demo -redis "127.0.0.1:$port" -a 127.0.0.1:0 -b 127.0.0.1:0)
echo "$out"
case "$out" in *"0 failed, origin ran 1 time"*) ;; *) echo "multi-instance: not computed once"; exit 1 ;; esac

out=$(go run ./_examples/tags -demo)
echo "$out"
case "$out" in *"tags demo: ok"*) ;; *) echo "tags: the PUT did not invalidate exactly its product's views"; exit 1 ;; esac
