#!/usr/bin/env bash
# Build the `lab` wheel: a Linux x86_64 binary for any glibc from 2.17 (manylinux2014), with
# zig as the C compiler and linker (cargo-zigbuild through maturin). Pinned tools from PyPI,
# in .lab/venv-wheel. Then audit the binary's versioned glibc symbols: none above 2.17.
#   scripts/build-wheel.sh [OUT_DIR]     (default: target/wheels)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo/target/wheels}
venv="${SRE_LAB_TOOLS:-$HOME/.cache/sre-lab/tools}/venv-wheel"
# zig 0.15.2: later ones have broken maturin's and aws-lc-sys's builds before; bump with care.
pins=(maturin==1.16.0 ziglang==0.15.2 cargo-zigbuild==0.24.1)
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
have=$("$venv/bin/pip" freeze 2>/dev/null || true)
missing=()
for p in "${pins[@]}"; do grep -qix "$p" <<<"$have" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> wheel tools: installing ${missing[*]} (PyPI)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${missing[@]}"
fi
export PATH="$venv/bin:$PATH"
# A wheel is kept per content (the blobs of everything it is built from, and the pins), as a CI
# cache would keep it: an unchanged tree reuses it; any change rebuilds.
cache="${SRE_LAB_WHEEL_CACHE:-$HOME/.cache/sre-lab/wheels}"
key=$(cd "$repo" && { git ls-files -s grader labs sample-app Cargo.toml Cargo.lock scripts/build-wheel.sh 2>/dev/null; echo "${pins[*]}"; } | sha256sum | cut -c1-16)
mkdir -p "$out"
if cached=$(ls "$cache/$key"/sre_lab-*.whl 2>/dev/null | head -1) && [ -n "$cached" ] && (cd "$repo" && git diff --quiet HEAD -- grader labs sample-app Cargo.toml Cargo.lock 2>/dev/null); then
  cp "$cached" "$out/"
  echo "==> the wheel for this tree ($key) is cached: $(basename "$cached")"
  echo "$out/$(basename "$cached")"
  exit 0
fi
export CARGO_TARGET_DIR="${SRE_LAB_WHEEL_TARGET:-$HOME/.cache/sre-lab/wheel-target}"
echo "==> building the wheel (release, zig, manylinux2014 / glibc 2.17) into $out"
maturin build --locked --profile dist --zig --target x86_64-unknown-linux-gnu \
  --compatibility manylinux2014 -m "$repo/grader/Cargo.toml" --out "$out" 2>&1 \
  | grep -E --line-buffered '^( *Compiling|.*Built wheel|.*Finished|warning: unused|error)' || true
wheel=$(ls -t "$out"/sre_lab-*manylinux*x86_64.whl 2>/dev/null | head -1)
[ -n "$wheel" ] || { echo "error: no wheel was built" >&2; exit 1; }
bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/dist/lab"
newest=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -t. -k1,1 -k2,2n -u -V | tail -1)
echo "==> $wheel ($(du -h "$wheel" | cut -f1)); newest glibc symbol version: $newest"
python3 - "$newest" <<'PY'
import sys
v = tuple(int(x) for x in sys.argv[1].removeprefix("GLIBC_").split("."))
sys.exit(0 if v <= (2, 17) else f"error: the binary needs {sys.argv[1]}, above the 2.17 floor")
PY
mkdir -p "$cache/$key" && cp "$wheel" "$cache/$key/"
echo "$wheel"
