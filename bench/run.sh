#!/usr/bin/env bash
# Benchmark: `lab check day11` on a fully solved workspace, side by side with the same
# verification done by hand with the docker CLI and curl (bench/manual-check.sh), and with the
# unavoidable serial work alone (one probe container's start to its first HTTP answer; the host
# gunicorn's start to its first answer). Rerun it any time; it needs hyperfine (apt install
# hyperfine). It plays the lab in a fresh workspace first (lab demo) and removes it afterwards.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export LAB_LABS_DIR="$repo/labs"
command -v hyperfine >/dev/null || { echo "install hyperfine (apt install hyperfine)" >&2; exit 1; }
(cd "$repo" && cargo build --quiet --release --bin lab)
lab="${CARGO_TARGET_DIR:-$repo/target}/release/lab"
bash "$repo/scripts/setup-engine.sh" >/dev/null
ws=$(mktemp -d /tmp/lab-bench-XXXX)
rmdir "$ws"
trap '"$lab" reset day11 --dir "$ws" --yes >/dev/null 2>&1; rm -rf "$ws"' EXIT
"$lab" demo day11 --dir "$ws" --namespace bench >/dev/null
tag=localhost:5001/bench/python-docker-app:v1
out=${BENCH_OUT:-$repo/target/bench}
mkdir -p "$out"

probe_alone="id=\$(docker run -d -p 127.0.0.1::5000 python-docker-app); p=\$(docker port \$id 5000/tcp | head -n1 | sed 's/.*://'); until curl -fs -o /dev/null http://127.0.0.1:\$p/; do sleep 0.02; done; docker rm -f \$id >/dev/null"
# The baselines poll every 20 ms (curl's own --retry backs off in whole seconds, which would
# make them look slower than they are).
gunicorn_alone="cd /tmp && ($ws/.venv/bin/python -m gunicorn --bind 127.0.0.1:5999 src.main:app >/dev/null 2>&1 & echo \$! > /tmp/lab-bench-g.pid); until curl -fs -o /dev/null http://127.0.0.1:5999/; do sleep 0.02; done; kill \$(cat /tmp/lab-bench-g.pid)"

# `lab check` keeps verdicts by image id in its cache directory: measure it warm (as a learner
# re-checking sees it) and cold (a fresh cache each run, as the first check sees it).
cache=$(mktemp -d /tmp/lab-bench-cache-XXXX)
trap '"$lab" reset day11 --dir "$ws" --yes >/dev/null 2>&1; rm -rf "$ws" "$cache"' EXIT
hyperfine --warmup 1 --runs "${RUNS:-10}" --export-markdown "$out/check.md" --export-json "$out/check.json" \
  -n "lab check day11 (verdicts cached by image id)" "XDG_CACHE_HOME=$cache $lab check day11 --dir $ws --python $ws/.venv/bin/python --image $tag --format json > /dev/null" \
  -n "lab check day11 (cold cache)" --prepare "rm -rf $cache/cold" "XDG_CACHE_HOME=$cache/cold $lab check day11 --dir $ws --python $ws/.venv/bin/python --image $tag --format json > /dev/null" \
  -n "floor: probe container over the Engine API" "$lab dev probe-floor --image python-docker-app --port 5000" \
  -n "docker CLI + curl script" "bash $repo/bench/manual-check.sh $ws $tag > /dev/null" \
  -n "probe container alone" "$probe_alone" \
  -n "host gunicorn alone" "$gunicorn_alone"
cat "$out/check.md"
