#!/usr/bin/env bash
# Regenerates docs/dashboard.png, the README's screenshot of the quick start:
# starts the dashboard, sends it some traffic (hits, the 500 visitors, a
# store failure and its recovery), then has headless Chromium load the page
# at 1000x600. Needs chromium (apt-get install chromium) and curl; without
# Chromium it says so and leaves the PNG alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "screenshot: no Chromium installed (apt-get install chromium); docs/dashboard.png left as it is"
  exit 0
fi

dir=$(mktemp -d)
go build -o "$dir/dashboard" ./_examples/dashboard
"$dir/dashboard" -addr 127.0.0.1:0 -cooldown 2s >"$dir/out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
url=""
for _ in $(seq 1 100); do
  url=$(grep -o 'http://[^ ]*/' "$dir/out" | head -n1 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "dashboard printed no URL:"; cat "$dir/out"; exit 1; }

get() { curl -fsS -o /dev/null "$url"; }
for i in $(seq 1 12); do get; get; get; sleep 1; done   # a miss, then hits (one more miss at the TTL)
curl -fsS -X POST "${url}visitors" >/dev/null; sleep 1    # 500 requests, 1 computation
curl -fsS -X POST "${url}store?mode=fail" >/dev/null      # the store fails: every request still answered
for i in $(seq 1 4); do get; get; sleep 1; done
curl -fsS -X POST "${url}store?mode=ok" >/dev/null        # the breaker's background probe closes it
for i in $(seq 1 8); do get; get; get; sleep 1; done

"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run \
  --user-data-dir="$dir/profile" --window-size=1000,600 --virtual-time-budget=3000 \
  --screenshot="$PWD/docs/dashboard.png" "$url" 2>/dev/null
echo "screenshot: docs/dashboard.png"
