#!/usr/bin/env bash
# The modern Docker engine for the tests' engine matrix: Docker 28 with containerd 2, the
# buildx and Compose v2 plugins, from Debian's archive, pinned in scripts/engines.lock.
#
#   scripts/modern-engine.sh prefix   make sure it is unpacked; print its prefix directory
#
# Nothing is installed over the host's packages: each .deb is unpacked with `dpkg-deb -x` into a
# private prefix ($SRE_LAB_HOME/engines/docker-VERSION), never `dpkg -i` (Debian's
# docker-compose 2.x has the same package name as the host's Compose v1). The .deb files are
# cached outside the clone ($SRE_LAB_DEB_CACHE, default ~/.cache/sre-lab/debs), as the cargo
# target is; apt itself runs with a configuration of its own (its lists live in that cache too).
# Unstable drops superseded versions: when a pinned file is gone, this says so, names the
# version now current and uses it; when unstable has no docker.io, Debian 13's set is used.
# The host's runc is used (unstable's needs glibc 2.38); scripts/test-engine.sh runs it.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
SRE_LAB_HOME=${SRE_LAB_HOME:-$HOME/.sre-lab}
CACHE=${SRE_LAB_DEB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sre-lab/debs}
LOCK=${LAB_ENGINES_LOCK:-$repo/scripts/engines.lock}
MIRROR=${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}

say() { printf '==> modern engine: %s\n' "$*" >&2; }
die() { printf 'error: modern engine: %s\n' "$*" >&2; exit 1; }

# apt_for SUITE ARGS...: apt-get/apt-cache with a private state, cache and source list.
apt_dirs() {
  local suite=$1 d="$CACHE/apt-$1"
  mkdir -p "$d/state/lists/partial" "$d/cache/archives/partial"
  [ -f "$d/sources.list" ] || echo "deb $MIRROR $suite main" >"$d/sources.list"
  printf '%s\n' -o "Dir::State=$d/state" -o "Dir::Cache=$d/cache" \
    -o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::status=/dev/null -o Debug::NoLocking=1
}
updated=""
apt_update() { # once per run and suite
  case " $updated " in *" $1 "*) return 0 ;; esac
  say "reading Debian $1's package index"
  mapfile -t o < <(apt_dirs "$1")
  apt-get "${o[@]}" -qq update >/dev/null 2>&1 || die "cannot read Debian $1's package index from $MIRROR"
  updated="$updated $1"
}
candidate() { # candidate SUITE PKG: the version the index holds now, or nothing
  mapfile -t o < <(apt_dirs "$1")
  apt-cache "${o[@]}" show "$2" 2>/dev/null | awk '/^Version:/{print $2; exit}'
}
has_version() { # has_version SUITE PKG VERSION (apt-cache show PKG=VERSION exits 0 either way)
  mapfile -t o < <(apt_dirs "$1")
  apt-cache "${o[@]}" madison "$2" 2>/dev/null | awk -F' [|] ' -v v="$3" '$2 == v {found=1} END {exit !found}'
}
download() { # download SUITE PKG VERSION: into $CACHE; prints the file
  mapfile -t o < <(apt_dirs "$1")
  (cd "$CACHE" && apt-get "${o[@]}" -qq download "$2=$3" >/dev/null 2>&1) \
    || die "could not download $2 $3 from Debian $1"
  local f
  f=$(ls "$CACHE/$2_${3/*:/}_"*.deb 2>/dev/null | head -1)
  [ -n "$f" ] || die "downloaded $2 $3 but cannot find its file in $CACHE"
  echo "$f"
}

# fetch SUITE: every package of that suite in the lock, as cached .deb files (one per line).
fetch() {
  local suite=$1 pkg ver sum f cur
  while read -r s pkg ver sum; do
    [ "$s" = "$suite" ] || continue
    f=$(ls "$CACHE/${pkg}_${ver/*:/}_"*.deb 2>/dev/null | head -1 || true)
    if [ -n "$f" ] && echo "$sum  $f" | sha256sum -c --quiet - 2>/dev/null; then
      echo "$f"
      continue
    fi
    apt_update "$suite"
    if has_version "$suite" "$pkg" "$ver"; then
      f=$(download "$suite" "$pkg" "$ver")
      echo "$sum  $f" | sha256sum -c --quiet - 2>/dev/null \
        || die "$pkg $ver from Debian $suite does not match the SHA-256 pinned in scripts/engines.lock"
    else
      cur=$(candidate "$suite" "$pkg")
      if [ -z "$cur" ]; then
        [ "$pkg" = tini-static ] && { say "Debian $suite has no tini-static: going without (only docker run --init needs it)"; continue; }
        return 1
      fi
      say "the pinned $pkg $ver is gone from Debian $suite; $cur is current there: using it (update scripts/engines.lock to pin it)"
      f=$(download "$suite" "$pkg" "$cur")
    fi
    echo "$f"
  done < <(grep -v '^#' "$LOCK" | grep .)
}

prefix() {
  command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (Debian's dpkg package)"
  command -v apt-get >/dev/null || die "apt-get is missing: the modern engine comes from Debian's archive"
  mkdir -p "$CACHE"
  local debs suite
  for suite in sid trixie; do
    if debs=$(fetch "$suite") && [ -n "$debs" ] && grep -q '/docker.io_' <<<"$debs"; then break; fi
    say "Debian $suite has no usable docker.io; trying Debian 13 (trixie)"
    debs=""
  done
  [ -n "$debs" ] || die "no Docker engine found in Debian unstable or Debian 13"
  local version key dir
  version=$(basename "$(grep '/docker.io_' <<<"$debs")" | cut -d_ -f2)
  key=$(sha256sum $debs | sha256sum | cut -c1-16)
  dir="$SRE_LAB_HOME/engines/docker-${version%%+*}"
  if [ "$(cat "$dir/.debs" 2>/dev/null)" != "$key" ]; then
    say "unpacking Docker $version and its parts into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    for f in $debs; do dpkg-deb -x "$f" "$dir"; done
    mkdir -p "$dir/docker-config/cli-plugins"
    ln -sf "$dir"/usr/libexec/docker/cli-plugins/* "$dir/docker-config/cli-plugins/"
    echo "$key" >"$dir/.debs"
  fi
  [ -x "$dir/usr/sbin/dockerd" ] && [ -x "$dir/usr/bin/docker" ] || die "the prefix $dir lacks dockerd or docker"
  echo "$dir"
}

case "${1:-}" in
  prefix) prefix ;;
  *) die "usage: scripts/modern-engine.sh prefix" ;;
esac
