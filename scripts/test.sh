#!/usr/bin/env bash
# Run every test of the project against a real engine: formatting and lints, the sample app's
# Python tests on the host, then the Rust unit and end-to-end tests (which also run the sample
# app's tests on Python 3.9 inside the image, play the README's main command, run every command
# the book shows, check the book's links, and open it in headless Chromium).
#
# The end-to-end tests run against a private engine of their own (scripts/test-engine.sh: its
# own dockerd, registry and network namespace), never the user's: a learner's work and the
# README's demo, still serving on port 5000, are neither seen nor touched, so this can run while
# the lab is in use, before or after scripts/demo.sh. Plain `cargo test` runs only the tests
# that need none of that; here every test runs (`--include-ignored`), and a missing part fails.
# Sets up what the tests need first. CI runs exactly this (.ci/run).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
command -v cargo >/dev/null || { echo "error: the tests need Rust: install it with rustup (https://rustup.rs)" >&2; exit 1; }

echo "== set up the engine, the base image and the registry"
bash scripts/setup-engine.sh

echo "== the book's tools: mdbook (pinned), chromium and chromedriver"
bash scripts/setup-book.sh

echo "== the tests' own engine (stopped again at the end; its data and caches are kept)"
bash scripts/test-engine.sh start
trap 'bash scripts/test-engine.sh stop' EXIT

echo "== cargo fmt --check, cargo clippy"
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings

echo "== the sample app's tests on the host's Python"
venv=.lab/venv-test
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -e 'sample-app[test]'
(cd sample-app && "../$venv/bin/python" -m pytest -q -p no:cacheprovider)

echo "== Rust unit and end-to-end tests (the end-to-end ones in the tests' own engine)"
cargo test --locked --no-run
bash scripts/test-engine.sh run cargo test --locked -- --include-ignored
