#!/usr/bin/env bash
# Play the Day-11 lab for real with the reference solution, the way a learner would, then grade it.
#
#   scripts/demo.sh            set up, play every step, then `lab check day11`
#   scripts/demo.sh clean      remove what the demo made (its containers, compose project,
#                              tags, workspace); nothing else is touched
#
# The workspace is .lab/day11-demo in this repository (a copy of sample-app/ plus
# labs/day11/solution/). Environment: LAB_NAMESPACE (default: learner) names the registry
# namespace; LAB_REGISTRY_PORT (default: 5001) the local registry; LAB_BIN a prebuilt `lab`
# (the tests use it; by default the script builds one with cargo).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
ws="$repo/.lab/day11-demo"
ns=${LAB_NAMESPACE:-learner}
registry="localhost:${LAB_REGISTRY_PORT:-5001}"
tag="$registry/$ns/python-docker-app:v1"
run_name=sre-lab-demo-run

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

compose() {
  if docker compose version >/dev/null 2>&1; then docker compose "$@"; else docker-compose "$@"; fi
}

wait_http() {
  for _ in $(seq 1 100); do
    if curl -fsS "http://localhost:5000/" 2>/dev/null; then echo; return 0; fi
    sleep 0.2
  done
  echo "error: nothing answered on http://localhost:5000/ within 20 s" >&2
  return 1
}

clean() {
  docker rm -f "$run_name" >/dev/null 2>&1 || true
  if [ -d "$ws" ]; then (cd "$ws" && compose down --rmi local >/dev/null 2>&1) || true; fi
  docker rmi "$tag" >/dev/null 2>&1 || true
  rm -rf "$ws"
}

if [ "${1:-}" = clean ]; then
  clean
  echo "removed the demo's containers, compose project, tag and workspace"
  exit 0
fi

step "Build lab and set up the engine"
if [ -n "${LAB_BIN:-}" ]; then
  lab=$LAB_BIN
else
  (cd "$repo" && cargo build --quiet --bin lab)
  lab="$repo/target/debug/lab"
fi
bash "$repo/scripts/setup-engine.sh"

step "A fresh workspace: the sample app plus the reference solution"
clean
mkdir -p "$ws"
(cd "$repo/sample-app" && tar --exclude='*.egg-info' --exclude=__pycache__ --exclude=.venv -cf - .) | tar -C "$ws" -xf -
cp -r "$repo/labs/day11/solution/." "$ws/"
cd "$ws"
ls -A

step "1. docker build"
show docker build -t python-docker-app .
show docker images python-docker-app

step "2. docker run -d -p 5000:5000"
if ! curl -s -o /dev/null --max-time 1 http://localhost:5000/ 2>/dev/null; then :; else
  echo "error: something already answers on localhost:5000; stop it first (docker ps)" >&2
  exit 1
fi
show docker run -d --name "$run_name" -p 5000:5000 python-docker-app
show docker ps --filter "name=$run_name"
wait_http

step "3. docker tag"
show docker tag python-docker-app:latest "$tag"
show docker images --filter "reference=*/*/python-docker-app"

step "4. docker push (to the local registry)"
show docker push "$tag"
show curl -s "http://$registry/v2/$ns/python-docker-app/tags/list"; echo

step "5. docker-compose up --build (after freeing port 5000)"
show docker stop "$run_name"
show compose up --build -d
show compose ps
wait_http

step "6. pip install -e . in a virtual environment"
show python3 -m venv .venv
show .venv/bin/pip install --quiet --disable-pip-version-check -e .
show .venv/bin/sample-banner "editable install works"
show .venv/bin/pip show python-docker-app

step "Grade it: lab check day11"
show "$lab" check day11 --dir "$ws" --python "$ws/.venv/bin/python" --image "$tag"
echo
echo "The app is still up (compose) on http://localhost:5000/. Remove everything the demo made with: scripts/demo.sh clean"
