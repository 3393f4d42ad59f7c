#!/usr/bin/env bash
# A private Docker engine for the tests, so that no test ever sees or removes what the user's
# engine holds (a learner's work, the README's demo still serving on port 5000).
#
#   scripts/test-engine.sh [--engine NAME] start|stop|run   one engine of the matrix (below)
#   scripts/test-engine.sh start   start it (idempotent); prints the environment to use it
#   scripts/test-engine.sh run CMD run CMD inside it: its network namespace, DOCKER_HOST, registry
#   scripts/test-engine.sh stop    stop it and delete its network namespace (keeps its data)
#
# What "private" means here:
#   - its own dockerd, with its own data root, exec root, socket, pidfile and cgroup parent;
#   - inside its own network namespace (sre-lab-test), so its bridge, its iptables rules and the
#     ports it publishes (the lesson's 5000 included) are not the host's. Everything that talks
#     to those ports (lab check, curl, the browser) runs in the namespace too (`run`);
#   - its own registry on the namespace's 127.0.0.1:5001, with its own data;
#   - egress through a veth pair and NAT, because the lesson's `docker build` runs pip against
#     PyPI (the offline kit's test uses a namespace with no egress at all);
#   - a Podman API service (Podman 4.3 from Debian, storage of its own, runtime runc) on
#     /run/sre-lab-test/podman.sock in the same namespace, for the Podman tests (build, tag,
#     push: Podman cannot run containers on these machines, see ../shared/NOTES.md).
# Its data root lives in $SRE_LAB_HOME/test-engine and survives `stop`, so the base image and
# the layer cache stay warm between runs; the base image is seeded once from the host engine's
# python:3.9-slim (scripts/setup-engine.sh provides it) through `docker save | docker load`.
# Linux, root only (network namespaces); CI runs it through scripts/test.sh.
set -euo pipefail

SRE_LAB_HOME=${SRE_LAB_HOME:-$HOME/.sre-lab}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE_IMAGE=${LAB_BASE_IMAGE:-python:3.9-slim}
REGISTRY_PORT=5001

# The engine matrix: `--engine NAME` (or $LAB_TEST_ENGINE) picks one; each has its own network
# namespace, data root, run directory and /30 for its veth pair (away from Docker's 172.16/12
# and common LANs), so several can run at once and none sees another's objects or ports.
#   20.10           Debian 12's Docker 20.10 and Compose v1, legacy builder (the default);
#                   also runs the Podman API service
#   28              Docker 28 (scripts/modern-engine.sh) with the containerd image store, the
#                   Docker Desktop 4.34+ and fresh Engine 29 default; BuildKit, Compose v2
#   28-legacy       the same engine with the legacy (graph driver) image store
#   28-api144       Docker 28, containerd store, minimum API version raised to 1.44 as
#                   Engine 29 has it (DOCKER_MIN_API_VERSION): older clients are refused
ENGINE=${LAB_TEST_ENGINE:-20.10}
if [ "${1:-}" = --engine ]; then ENGINE=${2:-}; shift 2 || true; fi
case "$ENGINE" in
  20.10) NS=${LAB_TEST_NETNS:-sre-lab-test}; SUFFIX=""; NET=0 ;;
  28) NS=sre-lab-test-28; SUFFIX=-28; NET=4 ;;
  28-legacy) NS=sre-lab-test-28l; SUFFIX=-28l; NET=8 ;;
  28-api144) NS=sre-lab-test-28f; SUFFIX=-28f; NET=12 ;;
  *) printf 'error: test engine: unknown engine %s (20.10, 28, 28-legacy, 28-api144)\n' "$ENGINE" >&2; exit 2 ;;
esac
D="$SRE_LAB_HOME/test-engine$SUFFIX"
RUN=/run/sre-lab-test$SUFFIX
SOCK="$RUN/docker.sock"
PODMAN_SOCK="$RUN/podman.sock"
HOST_IP=10.213.77.$((NET + 1))
NS_IP=10.213.77.$((NET + 2))
SUBNET=10.213.77.$NET/30
VETH_HOST=srelab-t$NET
VETH_NS=srelab-n$NET
[ "$ENGINE" = 20.10 ] && { VETH_HOST=srelab-t0; VETH_NS=srelab-t1; }
modern() { [ "$ENGINE" != 20.10 ]; }

say() { printf '==> test engine: %s\n' "$*" >&2; }
die() { printf 'error: test engine: %s\n' "$*" >&2; exit 1; }
in_ns() { nsenter --net="/var/run/netns/$NS" -- "$@"; }
# The CLI that talks to this engine: the modern prefix's own for Docker 28 (a 20.10 CLI is
# refused by the API-1.44 floor), the host's for 20.10.
PREFIX=""
DOCKER_BIN=docker
use_prefix() { # use_prefix DIR: this engine's CLI and plugins come from DIR
  PREFIX=$1
  DOCKER_BIN="$PREFIX/usr/bin/docker"
  export DOCKER_CONFIG="$D/docker-config"
}
load_prefix() { if modern && [ -z "$PREFIX" ] && [ -f "$RUN/prefix" ]; then use_prefix "$(cat "$RUN/prefix")"; fi; }
# The suite's tests build the same lesson in parallel and remove what they built, and removing
# an image also frees what only it held: the legacy builder's untagged step images, the
# containerd store's snapshots. One test's removal could so delete a cached step that another
# test's build had just found (seen as `unknown parent image ID`, `No such image: sha256:...`,
# `failed to get digest ...: no such file or directory` on the legacy builder, `parent snapshot
# ... does not exist` from BuildKit on the containerd store). Tagged builds of the reference
# solution, kept in this engine and never removed by a test, hold those shared steps: one by
# the CLI's own builder, and one by the legacy builder where the image store is the legacy one
# (the builder of lab's API builds and of 20.10's CLI).
PIN_TAG=sre-lab-test/layer-pin
pin_layers() {
  local ctx
  ctx=$(mktemp -d)
  cp -R "$REPO/sample-app/." "$ctx/"
  cp -R "$REPO/labs/day11/solution/." "$ctx/"
  say "pinning the lesson's cached build steps as $PIN_TAG (log $D/layer-pin.log)"
  : >"$D/layer-pin.log"
  pin_build() { # pin_build TAG [ENV...]
    local tag=$1; shift
    env DOCKER_HOST="unix://$SOCK" "$@" "$DOCKER_BIN" build -q -t "$PIN_TAG:$tag" "$ctx" >>"$D/layer-pin.log" 2>&1 ||
      say "warning: the pin build $PIN_TAG:$tag failed (see $D/layer-pin.log); the tests will build without it"
  }
  if [ "$ENGINE" = 20.10 ]; then
    pin_build keep-legacy
  else
    pin_build keep
    [ "$ENGINE" = 28-legacy ] && pin_build keep-legacy DOCKER_BUILDKIT=0
  fi
  rm -rf "$ctx"
}
engine_name() {
  local v=28
  [ -n "$PREFIX" ] && v=${PREFIX##*/docker-}
  case "$ENGINE" in
    20.10) echo "Docker 20.10 (legacy builder, Compose v1)" ;;
    28) echo "Docker $v (containerd image store, BuildKit, Compose v2)" ;;
    28-legacy) echo "Docker $v (legacy image store, BuildKit, Compose v2)" ;;
    28-api144) echo "Docker $v (containerd image store, minimum API 1.44 as Engine 29)" ;;
  esac
}
answers() { DOCKER_HOST="unix://$SOCK" timeout 5 "$DOCKER_BIN" version >/dev/null 2>&1; }
registry_answers() { in_ns curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$REGISTRY_PORT/v2/"; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

rule() { # rule TABLE CHAIN ARGS...: add an iptables rule once
  local table=$1 chain=$2; shift 2
  iptables -t "$table" -C "$chain" "$@" 2>/dev/null || iptables -t "$table" -I "$chain" 1 "$@"
}

# dockerd NS DATA RUN CGROUP: start a dockerd in network namespace NS, with data root DATA/data,
# exec root, pidfile and socket under RUN; wait until it answers.
# With MODERN=1 (set by start for the Docker 28 engines) it is the prefix's dockerd, with the
# prefix's containerd and shim first on PATH (the host's runc: unstable's needs glibc 2.38), the
# prefix's docker-proxy (dockerd 28 calls it with -use-listen-fd, which 20.10's lacks), the image
# store this engine is for, and for 28-api144 the Engine-29 floor. A config file of its own
# always, so a host's /etc/docker/daemon.json never leaks in.
dockerd_start() {
  local ns=$1 data=$2 run=$3 cgroup=$4 modern=${5:-0}
  local bin=dockerd env=() extra=()
  rm -f "$run/docker.sock"
  if [ "$modern" = 1 ]; then
    [ -S /run/containerd/containerd.sock ] \
      && die "the host runs a containerd on /run/containerd/containerd.sock, which dockerd 28 would adopt instead of its own; stop it first"
    bin="$PREFIX/usr/sbin/dockerd"
    env=(PATH="$PREFIX/usr/bin:$PREFIX/usr/sbin:$PATH")
    [ "$ENGINE" = 28-api144 ] && env+=(DOCKER_MIN_API_VERSION=1.44)
    extra=(--userland-proxy-path "$PREFIX/usr/sbin/docker-proxy")
    if [ "$ENGINE" = 28-legacy ]; then echo '{}'; else echo '{"features": {"containerd-snapshotter": true}}'; fi >"$data/daemon.json"
  else
    echo '{}' >"$data/daemon.json"
  fi
  nsenter --net="/var/run/netns/$ns" -- env "${env[@]}" setsid "$bin" --config-file "$data/daemon.json" \
    --data-root "$data/data" --exec-root "$run/exec" --pidfile "$run/docker.pid" \
    -H "unix://$run/docker.sock" --cgroup-parent "$cgroup" "${extra[@]}" \
    >"$data/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 120); do
    DOCKER_HOST="unix://$run/docker.sock" timeout 5 "$DOCKER_BIN" version >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  die "dockerd in $ns did not answer within 30 s; see $data/dockerd.log"
}

# dockerd_stop RUN: remove that dockerd's containers and the untagged images the tests'
# rebuilds left (tests run side by side, so none of them can tell a leftover from a layer
# another test's build is making), then stop it (it stops its containerd).
dockerd_stop() {
  local run=$1 pid
  alive "$run/docker.pid" || return 0
  pid=$(cat "$run/docker.pid")
  DOCKER_HOST="unix://$run/docker.sock" timeout 30 "$DOCKER_BIN" ps -q 2>/dev/null \
    | while read -r c; do DOCKER_HOST="unix://$run/docker.sock" "$DOCKER_BIN" rm -f "$c" >/dev/null 2>&1; done || true
  DOCKER_HOST="unix://$run/docker.sock" timeout 60 "$DOCKER_BIN" image prune -f >/dev/null 2>&1 || true
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
}

start() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces); run scripts/test.sh as root"
  if ! command -v podman >/dev/null && [ -f /etc/debian_version ]; then
    say "installing podman and runc from the distribution's packages (for the Podman tests)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc >/dev/null
  fi
  if modern; then
    use_prefix "$(bash "$(dirname "$0")/modern-engine.sh" prefix)"
    mkdir -p "$RUN"
    echo "$PREFIX" >"$RUN/prefix"
  fi
  for c in ip nsenter iptables dockerd docker-registry curl podman; do
    command -v "$c" >/dev/null || die "$c is missing; scripts/setup-engine.sh installs the engine and registry"
  done
  mkdir -p "$D/data" "$D/registry" "$RUN"
  if modern; then
    mkdir -p "$D/docker-config/cli-plugins"
    ln -sf "$PREFIX"/usr/libexec/docker/cli-plugins/* "$D/docker-config/cli-plugins/"
  fi

  if [ ! -e "/var/run/netns/$NS" ]; then
    say "network namespace $NS"
    ip netns add "$NS"
  fi
  in_ns ip link set lo up
  if ! ip link show "$VETH_HOST" >/dev/null 2>&1; then
    ip link add "$VETH_HOST" type veth peer name "$VETH_NS"
    ip link set "$VETH_NS" netns "$NS"
    ip addr add "$HOST_IP/30" dev "$VETH_HOST"
    ip link set "$VETH_HOST" up
    in_ns ip addr add "$NS_IP/30" dev "$VETH_NS"
    in_ns ip link set "$VETH_NS" up
    in_ns ip route add default via "$HOST_IP"
  fi
  sysctl -qw net.ipv4.ip_forward=1
  rule nat POSTROUTING -s "$SUBNET" ! -o "$VETH_HOST" -j MASQUERADE
  rule filter FORWARD -i "$VETH_HOST" -j ACCEPT
  rule filter FORWARD -o "$VETH_HOST" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT

  if ! answers; then
    say "starting $(engine_name) (data in $D/data, log $D/dockerd.log)"
    if modern; then dockerd_start "$NS" "$D" "$RUN" "sre-lab-test$SUFFIX" 1; else dockerd_start "$NS" "$D" "$RUN" sre-lab-test; fi
  fi

  if ! DOCKER_HOST="unix://$SOCK" "$DOCKER_BIN" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 \
      || die "the host engine has no $BASE_IMAGE to seed from; run scripts/setup-engine.sh first"
    say "seeding $BASE_IMAGE from the host engine (once; it stays in $D/data)"
    docker save "$BASE_IMAGE" | DOCKER_HOST="unix://$SOCK" "$DOCKER_BIN" load -q >/dev/null
  fi

  pin_layers

  if ! registry_answers; then
    # The tests' registry starts empty each time: what one run pushed never answers the next.
    rm -rf "$D/registry/data"
    cat >"$D/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $D/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
EOF
    nsenter --net="/var/run/netns/$NS" -- setsid docker-registry serve "$D/registry/config.yml" \
      >"$D/registry/registry.log" 2>&1 </dev/null &
    echo $! >"$RUN/registry.pid"
    for _ in $(seq 1 40); do registry_answers && break; sleep 0.25; done
    registry_answers || die "its registry did not start; see $D/registry/registry.log"
  fi
  if modern; then
    say "ready: $(engine_name), DOCKER_HOST=unix://$SOCK in network namespace $NS, registry 127.0.0.1:$REGISTRY_PORT there"
    return 0
  fi
  podman_answers() { curl -fs -o /dev/null --max-time 2 --unix-socket "$PODMAN_SOCK" http://d/version; }
  if ! podman_answers; then
    mkdir -p "$D/podman"
    rm -f "$PODMAN_SOCK"
    nsenter --net="/var/run/netns/$NS" -- setsid podman --root "$D/podman/root" \
      --runroot "$RUN/podman-run" --runtime runc system service --time=0 "unix://$PODMAN_SOCK" \
      >"$D/podman/service.log" 2>&1 </dev/null &
    echo $! >"$RUN/podman.pid"
    for _ in $(seq 1 40); do podman_answers && break; sleep 0.25; done
    podman_answers || die "its Podman service did not start; see $D/podman/service.log"
  fi
  if ! podman --remote --url "unix://$PODMAN_SOCK" image exists "$BASE_IMAGE"; then
    say "seeding $BASE_IMAGE into its Podman store (once)"
    DOCKER_HOST="unix://$SOCK" docker save "$BASE_IMAGE" \
      | podman --remote --url "unix://$PODMAN_SOCK" load -q >/dev/null
  fi
  say "ready: DOCKER_HOST=unix://$SOCK in network namespace $NS, registry 127.0.0.1:$REGISTRY_PORT there, Podman on unix://$PODMAN_SOCK"
}

stop() {
  load_prefix
  modern || offline_stop >/dev/null 2>&1 || true
  if alive "$RUN/registry.pid"; then kill "$(cat "$RUN/registry.pid")" 2>/dev/null || true; fi
  if alive "$RUN/podman.pid"; then kill "$(cat "$RUN/podman.pid")" 2>/dev/null || true; fi
  dockerd_stop "$RUN"
  iptables -t nat -D POSTROUTING -s "$SUBNET" ! -o "$VETH_HOST" -j MASQUERADE 2>/dev/null || true
  iptables -D FORWARD -i "$VETH_HOST" -j ACCEPT 2>/dev/null || true
  iptables -D FORWARD -o "$VETH_HOST" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT 2>/dev/null || true
  if [ -e "/var/run/netns/$NS" ]; then ip netns delete "$NS"; fi
  ip link delete "$VETH_HOST" 2>/dev/null || true
  # Podman's storage stays mounted over its overlay directory after the service ends.
  if grep -q " $D/podman/root/overlay " /proc/mounts; then umount "$D/podman/root/overlay" 2>/dev/null || true; fi
  say "stopped (data kept in $D)"
}

# An offline engine for the room kit's test: its own network namespace with loopback only (no
# veth: offline by construction, IPv4 and IPv6 alike), its own empty data root each start (no
# base image, no registry data). Commands reach it with
# `nsenter --net=/var/run/netns/sre-lab-offline` and DOCKER_HOST=unix:///run/sre-lab-offline/docker.sock.
OFF_NS=sre-lab-offline
OFF_RUN=/run/sre-lab-offline
OFF_D="$SRE_LAB_HOME/test-engine/offline"
offline_start() {
  offline_stop >/dev/null 2>&1 || true
  rm -rf "$OFF_D"
  mkdir -p "$OFF_D/data" "$OFF_RUN"
  ip netns add "$OFF_NS"
  nsenter --net="/var/run/netns/$OFF_NS" -- ip link set lo up
  dockerd_start "$OFF_NS" "$OFF_D" "$OFF_RUN" sre-lab-offline
  say "offline engine ready: unix://$OFF_RUN/docker.sock in network namespace $OFF_NS (loopback only)"
}

offline_stop() {
  dockerd_stop "$OFF_RUN"
  if [ -e "/var/run/netns/$OFF_NS" ]; then ip netns delete "$OFF_NS"; fi
  rm -rf "$OFF_D/data" 2>/dev/null || true
}

case "${1:-}" in
  offline-start) offline_start ;;
  offline-stop) offline_stop ;;
  start) start ;;
  stop) stop ;;
  run)
    shift
    [ $# -gt 0 ] || die "usage: scripts/test-engine.sh run COMMAND [ARG]..."
    load_prefix
    answers || die "$(engine_name) is not running; scripts/test-engine.sh --engine $ENGINE start"
    vars=(DOCKER_HOST="unix://$SOCK" SRE_LAB_TEST_ENGINE="unix://$SOCK" SRE_LAB_TEST_ENGINE_NAME="$(engine_name)")
    if modern; then
      vars+=(PATH="$PREFIX/usr/bin:$PATH" DOCKER_CONFIG="$D/docker-config")
    else
      vars+=(SRE_LAB_TEST_PODMAN="unix://$PODMAN_SOCK")
    fi
    exec nsenter --net="/var/run/netns/$NS" -- env "${vars[@]}" "$@"
    ;;
  *) die "usage: scripts/test-engine.sh [--engine 20.10|28|28-legacy|28-api144] start|stop|run COMMAND" ;;
esac
