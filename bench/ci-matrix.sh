#!/usr/bin/env bash
# lab ci at course scale: N learner repositories (a mix of right and wrong answers) graded back
# to back on one engine, as a self-hosted runner would. Prints per-repository wall time (median,
# p95), what the replay spends in each step (median), leftovers after each run (must be 0) and
# infrastructure errors (must be 0). Runs in the tests' own engine, so it never touches a
# learner's work:
#   scripts/test-engine.sh --engine 28 start
#   scripts/test-engine.sh --engine 28 run bench/ci-matrix.sh [N]
# Release build of lab; the base image present (the test engine has it).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-50}
[ -n "${SRE_LAB_TEST_ENGINE:-}" ] || { echo "error: run it inside scripts/test-engine.sh run" >&2; exit 2; }
export LAB_LABS_DIR="$repo/labs"
echo "== building lab (release)"
(cd "$repo" && cargo build --locked --release --bin lab 2>&1 | grep -E '^\s*(Compiling lab|Finished)' || true)
lab="${CARGO_TARGET_DIR:-$repo/target}/release/lab"
work=$(mktemp -d /tmp/lab-ci-bench-XXXX)
trap 'rm -rf "$work"' EXIT
# The variants: right answers (three spellings) and the mistakes learners push.
variant() { # variant K DIR
  local k=$1 d=$2
  mkdir -p "$d"
  cp -r "$repo/sample-app/." "$d/"
  cp -r "$repo/labs/day11/solution/." "$d/"
  echo "learner $k" > "$d/LEARNER.txt"  # each repository its own build context, as in a course
  case $((k % 8)) in
    0|1|2) ;;                                                      # the reference answer
    3) mv "$d/docker-compose.yml" "$d/compose.yaml" ;;             # v2's file name
    4) rm "$d/Dockerfile" ;;                                       # forgot to commit it
    5) printf 'services:\n  web:\n    build: .\n    ports: ["5000:5000"]\n    volumes: ["/:/host"]\n' > "$d/docker-compose.yml" ;;
    6) sed -i 's/"5000:5000"/"8080:5000"/' "$d/docker-compose.yml" ;;  # the wrong port
    7) sed -i '1i import nonexistent_module' "$d/src/main.py" ;;      # does not import
  esac
}
rows="$work/rows.tsv"
: > "$rows"
for k in $(seq 1 "$n"); do
  d="$work/repo-$k"; out="$work/out-$k"
  variant "$k" "$d"
  start=$(date +%s.%N)
  code=0
  "$lab" ci day11 --dir "$d" --out "$out" --format json --run-id "bench$$-$k" >/dev/null 2>"$work/err-$k" || code=$?
  end=$(date +%s.%N)
  python3 - "$out/report.json" "$code" "$start" "$end" "$k" >> "$rows" <<'PY'
import json, sys
path, code, start, end, k = sys.argv[1:]
try:
    r = json.load(open(path))
except Exception:
    r = {"ci": {"replay": [], "leftovers": {}}, "summary": {}}
left = sum(r["ci"].get("leftovers", {}).values()) if r.get("ci") else -1
steps = {x["step"]: x["duration_ms"] for x in r.get("ci", {}).get("replay", [])}
print("\t".join([k, code, f"{float(end) - float(start):.2f}", str(left), json.dumps(steps), str(r.get("summary", {}).get("passed", ""))]))
PY
  tail -n1 "$rows" | awk -F'\t' '{printf "repo %3d: exit %s, %6.1f s, leftovers %s, %s steps passed\n", $1, $2, $3, $4, $6}'
done
python3 - "$rows" <<'PY'
import json, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
times = sorted(float(r[2]) for r in rows)
def pct(p):
    return times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]
print(f"\n{len(rows)} repositories: median {statistics.median(times):.1f} s, p95 {pct(95):.1f} s, max {times[-1]:.1f} s, total {sum(times):.0f} s")
steps = {}
for r in rows:
    for s, ms in json.loads(r[4]).items():
        steps.setdefault(s, []).append(ms / 1000)
print("replay per step (median s): " + ", ".join(f"{s} {statistics.median(v):.1f}" for s, v in steps.items()))
print(f"leftovers after a run: {sum(1 for r in rows if r[3] != '0')} runs with any (must be 0)")
print(f"infrastructure errors (exit 4 or no report): {sum(1 for r in rows if r[1] == '4' or r[3] == '-1')} (must be 0)")
print("exit codes: " + ", ".join(f"{c}: {sum(1 for r in rows if r[1] == c)}" for c in sorted({r[1] for r in rows})))
PY
