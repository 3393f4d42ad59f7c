#!/usr/bin/env bash
# The room's load benchmark: a release `lab classroom serve` on loopback, then 300 simulated
# learners (each from its own 127.0.x.y address) posting a realistic report every 2 s for 60 s,
# with one instructor on the event stream. Prints post latency percentiles, the delay from a
# post to its event on the stream, errors, and the server's peak memory (VmHWM). Loopback
# only; it stops by itself and removes its room.
#   bench/room-load.sh [LEARNERS] [SECONDS]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
learners=${1:-300}
secs=${2:-60}
export LAB_LABS_DIR="$repo/labs"
(cd "$repo" && cargo build --quiet --release --bin lab)
lab="${CARGO_TARGET_DIR:-$repo/target}/release/lab"
data=$(mktemp -d /tmp/lab-room-bench-XXXX)
log="$data/serve.log"
"$lab" classroom serve --lab day11 --listen 127.0.0.1:0 --data "$data/room" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 50); do grep -q '?token=' "$log" && break; sleep 0.1; done
url=$(grep -o 'join http://[0-9.:]*' "$log" | cut -d' ' -f2)
code=$(cat "$data/room/join-code")
token=$(cat "$data/room/instructor-token")
"$lab" dev room-load --url "$url" --code "$code" --token "$token" --learners "$learners" --secs "$secs"
echo "server peak memory: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$server/status)"
