#!/usr/bin/env bash
# Make sure this machine can play the Day-11 lab for real:
#   0. curl, openssl and Python 3 with venv (installed on Debian/Ubuntu as root when missing),
#   1. a Docker engine that answers (installed and started here on Debian/Ubuntu as root),
#   2. Docker Compose,
#   3. the base image python:3.9-slim (pulled, or built locally as a faithful stand-in when
#      Docker Hub cannot be reached, as on an offline workshop network),
#   4. a local registry on 127.0.0.1:5001 for the push step.
# Idempotent: when everything is already there it only looks, and takes a second or two.
#
# Environment:
#   SRE_LAB_HOME        where the project keeps its own state (registry data, logs);
#                       default ~/.sre-lab
#   LAB_REGISTRY_PORT   the local registry's port; default 5001 (5000 is the lab's app port)
#   LAB_BASE_IMAGE      the base image to provide; default python:3.9-slim
set -euo pipefail

SRE_LAB_HOME=${SRE_LAB_HOME:-$HOME/.sre-lab}
REGISTRY_PORT=${LAB_REGISTRY_PORT:-5001}
BASE_IMAGE=${LAB_BASE_IMAGE:-python:3.9-slim}
STAND_IN_LABEL=org.sre-lab.stand-in
mkdir -p "$SRE_LAB_HOME"

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_debian_root() { [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null; }
has_systemd() { [ -d /run/systemd/system ]; }
engine_answers() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

apt_installed=""
apt_install() {
  if [ -z "$apt_installed" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_installed=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- 0. the small tools the lab uses: curl, Python 3 with venv --------------------------------
if ! command -v curl >/dev/null; then
  is_debian_root || die "curl is missing: install it, then run this script again."
  apt_install curl ca-certificates
fi
if ! command -v openssl >/dev/null; then
  # The room's HTTPS test makes a self-signed certificate with it.
  is_debian_root || die "openssl is missing: install it, then run this script again."
  apt_install openssl
fi
if ! python3 -m venv --help >/dev/null 2>&1; then
  is_debian_root || die "Python 3 with venv is missing: install Python 3.9 or newer (with its venv module)."
  say "installing python3 and python3-venv from the distribution's packages"
  apt_install python3 python3-venv python3-pip
fi

# --- 1. the engine ---------------------------------------------------------------------------
if ! command -v docker >/dev/null; then
  if is_debian_root; then
    say "installing Docker Engine from the distribution's packages (docker.io)"
    apt_install docker.io
  else
    die "no docker command. Install Docker Desktop (macOS, Windows), Docker Engine (Linux) or
Podman with its Docker-compatible socket, then run this script again."
  fi
fi

if ! engine_answers; then
  if [ -n "${DOCKER_HOST:-}" ]; then
    die "DOCKER_HOST=$DOCKER_HOST does not answer. Start that engine, or unset DOCKER_HOST to use the local one."
  fi
  if ! is_debian_root; then
    die "the Docker engine does not answer. Start Docker Desktop (macOS), 'sudo systemctl start docker'
(Linux), or 'systemctl --user start podman.socket' and export DOCKER_HOST=unix://\$XDG_RUNTIME_DIR/podman/podman.sock (Podman)."
  fi
  command -v dockerd >/dev/null || apt_install docker.io
  if has_systemd; then
    say "starting the docker service"
    systemctl start docker
  else
    say "starting dockerd in the background (log: $SRE_LAB_HOME/dockerd.log)"
    nohup dockerd >"$SRE_LAB_HOME/dockerd.log" 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do engine_answers && break; sleep 0.5; done
  engine_answers || die "dockerd did not answer within 30 s; see $SRE_LAB_HOME/dockerd.log"
fi
say "engine: Docker $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"

# --- 2. Compose ------------------------------------------------------------------------------
if docker compose version >/dev/null 2>&1; then
  say "compose: $(docker compose version --short 2>/dev/null) (v2, 'docker compose')"
elif command -v docker-compose >/dev/null; then
  say "compose: $(docker-compose version --short 2>/dev/null) ('docker-compose')"
elif is_debian_root; then
  say "installing Docker Compose from the distribution's packages"
  apt_install docker-compose
else
  die "Docker Compose is missing: install the compose plugin (docker compose) or docker-compose."
fi

# --- 3. the base image -----------------------------------------------------------------------
debian_mirror() {
  local uri
  uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
        /etc/apt/sources.list.d/*.list 2>/dev/null \
        | grep -E 'debian/?( |$)' | grep -v security | head -n1 \
        | sed -E 's/^URIs: *//; s/^deb (\[[^]]*\] )?//; s/ .*//')
  printf '%s' "${uri:-http://deb.debian.org/debian}"
}

build_stand_in() {
  is_debian_root || die "cannot pull $BASE_IMAGE and cannot build a stand-in here (needs Debian as root):
connect to Docker Hub once and run 'docker pull $BASE_IMAGE', or ask your instructor for the image
('docker load -i python-3.9-slim.tar')."
  command -v debootstrap >/dev/null || apt_install debootstrap
  local rootfs mirror
  rootfs=$(mktemp -d "$SRE_LAB_HOME/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  mirror=$(debian_mirror)
  say "building a local stand-in for $BASE_IMAGE from Debian bullseye (Python 3.9) via $mirror; about a minute"
  debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
    bullseye "$rootfs" "$mirror" >"$SRE_LAB_HOME/debootstrap.log" 2>&1 \
    || die "debootstrap failed; see $SRE_LAB_HOME/debootstrap.log"
  ln -sf python3 "$rootfs/usr/bin/python"
  # pip in the image must trust what the host trusts (TLS-inspecting proxies on corporate and
  # workshop networks): append the host's CA bundle to the image's.
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cat /etc/ssl/certs/ca-certificates.crt >>"$rootfs/etc/ssl/certs/ca-certificates.crt"
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/*
  local tmp_ref=sre-lab-stand-in:import
  tar -C "$rootfs" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' -c 'ENV PYTHON_VERSION=3.9' -c 'CMD ["python3"]' - "$tmp_ref" >/dev/null
  printf 'FROM %s\nLABEL %s="Debian bullseye python3 built by sre-lab scripts/setup-engine.sh, not the Docker Hub image"\n' \
    "$tmp_ref" "$STAND_IN_LABEL" | DOCKER_BUILDKIT=0 docker build -q -t "$BASE_IMAGE" - >/dev/null 2>&1
  docker rmi "$tmp_ref" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
}

if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  if [ -n "$(docker image inspect -f "{{index .Config.Labels \"$STAND_IN_LABEL\"}}" "$BASE_IMAGE")" ]; then
    say "base image: $BASE_IMAGE present (local stand-in)"
  else
    say "base image: $BASE_IMAGE present"
  fi
elif timeout 60 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
  say "base image: $BASE_IMAGE pulled"
else
  build_stand_in
  say "base image: $BASE_IMAGE built locally as a stand-in"
fi

# --- 4. the local registry -------------------------------------------------------------------
registry_answers() { curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$REGISTRY_PORT/v2/"; }

if registry_answers; then
  say "registry: 127.0.0.1:$REGISTRY_PORT answers"
else
  data="$SRE_LAB_HOME/registry"
  mkdir -p "$data/data"
  if docker image inspect registry:2 >/dev/null 2>&1 || timeout 30 docker pull -q registry:2 >/dev/null 2>&1; then
    docker rm -f sre-lab-registry >/dev/null 2>&1 || true
    docker run -d --name sre-lab-registry --restart unless-stopped \
      --label org.sre-lab.role=registry -p "127.0.0.1:$REGISTRY_PORT:5000" \
      -v "$data/data:/var/lib/registry" -e REGISTRY_STORAGE_DELETE_ENABLED=true registry:2 >/dev/null
  else
    if ! command -v docker-registry >/dev/null; then
      is_debian_root || die "no local registry: install 'docker-registry' or make registry:2 pullable."
      apt_install docker-registry
    fi
    # The distribution's own registry service listens on :5000, the lab's app port.
    if has_systemd && systemctl is-enabled docker-registry >/dev/null 2>&1; then
      systemctl disable --now docker-registry >/dev/null 2>&1 || true
    fi
    cat >"$data/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $data/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
EOF
    nohup docker-registry serve "$data/config.yml" >"$data/registry.log" 2>&1 </dev/null &
  fi
  for _ in $(seq 1 40); do registry_answers && break; sleep 0.25; done
  registry_answers || die "the registry on 127.0.0.1:$REGISTRY_PORT did not start; see $data/registry.log"
  say "registry: started on 127.0.0.1:$REGISTRY_PORT (data in $data)"
fi
