#!/usr/bin/env bash
# The README's main command: set up, play the Day-11 lab for real with the reference solution
# (the way a learner would), then grade it.
#
#   scripts/demo.sh            build lab, set up the engine, `lab demo day11`, all graded
#   scripts/demo.sh clean      `lab reset day11` for the demo's workspace (it lists what it
#                              removes: only what the lab made), then delete the workspace
#
# The workspace is .lab/day11-demo in this repository. Environment: LAB_NAMESPACE (default:
# learner) names the registry namespace; LAB_BIN a prebuilt `lab` (the tests use it; by default
# the script builds one with cargo); LAB_DEMO_DIR another workspace (the tests use their own,
# so they never touch a demo that is up).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
ws=${LAB_DEMO_DIR:-$repo/.lab/day11-demo}
export LAB_LABS_DIR="$repo/labs"

if [ -n "${LAB_BIN:-}" ]; then
  lab=$LAB_BIN
elif ! command -v cargo >/dev/null; then
  echo "error: building lab needs Rust: install it with rustup (https://rustup.rs), then run this again" >&2
  exit 1
else
  (cd "$repo" && cargo build --quiet --bin lab)
  lab="${CARGO_TARGET_DIR:-$repo/target}/debug/lab"
fi

if [ "${1:-}" = clean ]; then
  mkdir -p "$ws"
  "$lab" reset day11 --dir "$ws" --yes
  rm -rf "$ws"
  exit 0
fi

bash "$repo/scripts/setup-engine.sh"
if [ -e "$ws" ]; then
  echo "== removing the previous demo"
  "$lab" reset day11 --dir "$ws" --yes
  rm -rf "$ws"
fi
mkdir -p "$(dirname "$ws")"
"$lab" demo day11 --dir "$ws" --namespace "${LAB_NAMESPACE:-learner}"
echo
echo "The app is still up (compose) on http://localhost:5000/. Remove what the demo made with: scripts/demo.sh clean"
