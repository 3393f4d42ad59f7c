#!/usr/bin/env bash
# Run every test of the project against a real engine: formatting and lints, the sample app's
# Python tests on the host, then the Rust unit and end-to-end tests (which also run the sample
# app's tests on Python 3.9 inside the image, play the README's main command, run every command
# the book shows, check the book's links, and open it in headless Chromium).
# Sets up what the tests need first (scripts/setup-engine.sh). CI runs exactly this (.ci/run).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
command -v cargo >/dev/null || { echo "error: the tests need Rust: install it with rustup (https://rustup.rs)" >&2; exit 1; }

echo "== set up the engine, the base image and the registry"
bash scripts/setup-engine.sh

echo "== the book's tools: mdbook (pinned), chromium and chromedriver"
bash scripts/setup-book.sh

echo "== cargo fmt --check, cargo clippy"
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings

echo "== the sample app's tests on the host's Python"
venv=.lab/venv-test
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -e 'sample-app[test]'
(cd sample-app && "../$venv/bin/python" -m pytest -q -p no:cacheprovider)

echo "== Rust unit and end-to-end tests"
cargo test --locked
