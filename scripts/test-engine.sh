#!/usr/bin/env bash
# A private Docker engine for the tests, so that no test ever sees or removes what the user's
# engine holds (a learner's work, the README's demo still serving on port 5000).
#
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
NS=${LAB_TEST_NETNS:-sre-lab-test}
D="$SRE_LAB_HOME/test-engine"
RUN=/run/sre-lab-test
SOCK="$RUN/docker.sock"
PODMAN_SOCK="$RUN/podman.sock"
BASE_IMAGE=${LAB_BASE_IMAGE:-python:3.9-slim}
REGISTRY_PORT=5001
# A /30 for the veth pair; chosen away from Docker's 172.16/12 and common LANs.
HOST_IP=10.213.77.1
NS_IP=10.213.77.2
SUBNET=10.213.77.0/30
VETH_HOST=srelab-t0
VETH_NS=srelab-t1

say() { printf '==> test engine: %s\n' "$*" >&2; }
die() { printf 'error: test engine: %s\n' "$*" >&2; exit 1; }
in_ns() { nsenter --net="/var/run/netns/$NS" -- "$@"; }
answers() { DOCKER_HOST="unix://$SOCK" timeout 5 docker version >/dev/null 2>&1; }
registry_answers() { in_ns curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$REGISTRY_PORT/v2/"; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

rule() { # rule TABLE CHAIN ARGS...: add an iptables rule once
  local table=$1 chain=$2; shift 2
  iptables -t "$table" -C "$chain" "$@" 2>/dev/null || iptables -t "$table" -I "$chain" 1 "$@"
}

# dockerd NS DATA RUN CGROUP: start a dockerd in network namespace NS, with data root DATA/data,
# exec root, pidfile and socket under RUN; wait until it answers.
dockerd_start() {
  local ns=$1 data=$2 run=$3 cgroup=$4
  rm -f "$run/docker.sock"
  nsenter --net="/var/run/netns/$ns" -- setsid dockerd \
    --data-root "$data/data" --exec-root "$run/exec" --pidfile "$run/docker.pid" \
    -H "unix://$run/docker.sock" --cgroup-parent "$cgroup" \
    >"$data/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 120); do
    DOCKER_HOST="unix://$run/docker.sock" timeout 5 docker version >/dev/null 2>&1 && return 0
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
  DOCKER_HOST="unix://$run/docker.sock" timeout 30 docker ps -q 2>/dev/null \
    | xargs -r env DOCKER_HOST="unix://$run/docker.sock" docker rm -f >/dev/null 2>&1 || true
  DOCKER_HOST="unix://$run/docker.sock" timeout 60 docker image prune -f >/dev/null 2>&1 || true
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
  for c in ip nsenter iptables dockerd docker-registry curl podman; do
    command -v "$c" >/dev/null || die "$c is missing; scripts/setup-engine.sh installs the engine and registry"
  done
  mkdir -p "$D/data" "$D/registry" "$RUN"

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
    say "starting dockerd (data in $D/data, log $D/dockerd.log)"
    dockerd_start "$NS" "$D" "$RUN" sre-lab-test
  fi

  if ! DOCKER_HOST="unix://$SOCK" docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 \
      || die "the host engine has no $BASE_IMAGE to seed from; run scripts/setup-engine.sh first"
    say "seeding $BASE_IMAGE from the host engine (once; it stays in $D/data)"
    docker save "$BASE_IMAGE" | DOCKER_HOST="unix://$SOCK" docker load -q >/dev/null
  fi

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
  offline_stop >/dev/null 2>&1 || true
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
    answers || die "not running; scripts/test-engine.sh start"
    exec nsenter --net="/var/run/netns/$NS" -- env \
      DOCKER_HOST="unix://$SOCK" SRE_LAB_TEST_ENGINE="unix://$SOCK" \
      SRE_LAB_TEST_PODMAN="unix://$PODMAN_SOCK" "$@"
    ;;
  *) die "usage: scripts/test-engine.sh start|stop|run COMMAND" ;;
esac
