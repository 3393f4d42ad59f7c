#!/usr/bin/env bash
# The room's load benchmark: a release `lab classroom serve` on loopback, then 300 simulated
# learners (each from its own 127.0.x.y address) posting a realistic report every 2 s for 60 s,
# with one instructor on the event stream. Prints post latency percentiles, the delay from a
# post to its event on the stream, errors, the server's peak memory (VmHWM), and then, with
# the whole room in it, how long the dashboard (GET /, the panel, the help list and the grid
# rendered on the server) and GET /api/v1/room take: the median of 20, over loopback. Loopback
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
time_of() { # time_of PATH: the median of 20 GETs, in ms
  for _ in $(seq 1 20); do
    curl -s -o /dev/null -H "Authorization: Bearer $token" -w '%{time_total}\n' "$url$1"
  done | sort -n | awk '{a[NR]=$1} END {printf "%.1f ms", a[int((NR+1)/2)]*1000}'
}
echo "dashboard for $learners learners: $(time_of /) (GET /, median of 20); the room's JSON: $(time_of /api/v1/room)"
