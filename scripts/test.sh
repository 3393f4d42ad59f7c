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

# The formatting check, the lints and the test build run meanwhile: the set-up below waits on
# the network and the disk, the compiler on the two cores.
mkdir -p .lab
( cargo fmt --all -- --check && cargo clippy --locked --all-targets -- -D warnings &&
  cargo test --locked --no-run ) > .lab/compile.log 2>&1 &
compile=$!
# The lab wheel (release, glibc 2.17 through zig, its own target directory, or its cache) builds
# from the start too: on a cold machine it is the longest build, and the tests that install it
# come last. Its exit status lands in .lab/wheel-build.rc.
wheel_dir="$repo/.lab/wheels"
rm -rf "$wheel_dir" .lab/wheel-build.rc
( set +e; bash scripts/build-wheel.sh "$wheel_dir" 2>&1 | sed -u "s/^/[wheel] /" > .lab/wheel-build.log
  echo "${PIPESTATUS[0]}" > .lab/wheel-build.rc ) &
wheel_build=$!
trap 'kill "$compile" "$wheel_build" 2>/dev/null || true' EXIT

echo "== set up the engine, the base image and the registry"
bash scripts/setup-engine.sh

echo "== the book's tools: mdbook (pinned), chromium and chromedriver"
bash scripts/setup-book.sh

echo "== the CI runners' tooling (act, gitlab-ci-local, actionlint, zizmor), and the workflow lints"
bash scripts/setup-ci-tools.sh
tools=${SRE_LAB_TOOLS:-$HOME/.cache/sre-lab/tools}
"$tools/venv-ci/bin/actionlint" .github/workflows/lab-ci.yml starter/.github/workflows/grade.yml
"$tools/venv-ci/bin/zizmor" --offline --quiet --config .github/zizmor.yml .github/workflows/lab-ci.yml actions/lab-ci/action.yml starter/.github/workflows/grade.yml

echo "== the tests' own engines: Debian 12's 20.10, and Docker 28 (scripts/modern-engine.sh) with the"
echo "   containerd image store, the legacy store, and the API-1.44 floor (stopped again at the end)"
ENGINES=(20.10 28 28-legacy 28-api144)
trap 'kill "$compile" "$wheel_build" 2>/dev/null || true
  for e in "${ENGINES[@]}"; do bash scripts/test-engine.sh --engine "$e" stop || true; done' EXIT
for e in "${ENGINES[@]}"; do bash scripts/test-engine.sh --engine "$e" start; done

echo "== cargo fmt --check, cargo clippy, the test build (started at the beginning)"
wait "$compile" || { cat .lab/compile.log; echo "error: formatting, lints or the build failed" >&2; exit 1; }
tail -n 3 .lab/compile.log

echo "== the sample app's tests on the host's Python"
venv=.lab/venv-test
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -e 'sample-app[test]'
# The outputs' schemas (schemas/) are checked by a validator of their own, pinned.
"$venv/bin/pip" install --quiet --disable-pip-version-check 'check-jsonschema==0.39.0'
(cd sample-app && "../$venv/bin/python" -m pytest -q -p no:cacheprovider)
# The CI files against the CI systems' own schemas (vendored in check-jsonschema).
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/lab-ci.yml starter/.github/workflows/grade.yml
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-actions actions/lab-ci/action.yml
"$venv/bin/check-jsonschema" --builtin-schema vendor.gitlab-ci ci/gitlab/lab-ci.gitlab-ci.yml

echo "== Rust unit and end-to-end tests (the end-to-end ones in the tests' own engines)"
# The unit tests on their own first: the engine runs below filter by name (`--skip ci::`),
# which would also skip the unit tests of `grader/src/ci/`.
cargo test --locked --lib --bins
# The grader's end-to-end tests that 28 does not run: the browser and dashboard tests (no
# engine in them), the room kit (Debian 12's offline install) and Podman (its service lives in
# 20.10's namespace).
not_grader=(--skip browser:: --skip dashboard:: --skip kit:: --skip podman::)
# On the legacy store of Docker 28 only what the image store changes: image identity (ids,
# RepoDigests, an older build kept as a dangling image), history sizes, and compose's
# freshness; the rest is the same engine as the containerd run.
legacy_subset=(engines:: steps::the_reference_solution_passes_every_step
  steps::the_tag_and_push_steps_diagnose_learners_mistakes
  steps::the_run_step_diagnoses_ports_old_images_and_foreground_runs
  steps::the_size_step_weighs_what_the_dockerfile_adds_and_names_the_heaviest_layer
  steps::the_build_step_finds_misnamed_and_stale_images)
# Under the Engine-29 floor only what the API version changes: the floor itself, and every
# engine call lab makes (all seven steps of the reference solution, the probe's cleanup).
floor_subset=(engines::the_engine_29_floor steps::the_reference_solution_passes_every_step
  runtime::)
on() { # on ENGINE ARGS...: cargo test in that engine, each line prefixed with its name
  local e=$1; shift
  bash scripts/test-engine.sh --engine "$e" run cargo test --locked "$@" 2>&1 | sed -u "s/^/[$e] /"
  return "${PIPESTATUS[0]}"
}
# Four engines side by side; most of the time is spent waiting on builds and probes, not on
# the two cores, so each engine gets a share of similar length:
# - 20.10: every test that concerns the engine (Compose v1, the legacy builder, Podman, the
#   kit, the book's asides), with the `lab ci` cases that take Compose v1's path;
# - 28 with the containerd store: every grader test, the README's demo, the book as written,
#   and `lab ci` on the whole lab (right answers);
# - 28 with the legacy store: its subset (image identity, history sizes, Compose freshness),
#   `lab ci`'s refusals, deadlines, cancellations and infrastructure errors (the legacy store is
#   what an engine upgraded from before Docker 29 keeps), and once the wheel (building since the
#   start) is there, the tests that install it (tests/wheel.rs; the act test serving it as a
#   course would; --setup-in-container, which mounts its binary into a Python 3.9 container);
# - 28 under the API-1.44 floor: its subset and the suites that do not depend on the engine
#   (the CLI, the room), then the dashboard and the book in Chromium.
# `lab reset` (the book's test ends with it) leaves what `lab ci` runs made, so they can share
# an engine.
ci_elsewhere=(ci::a_ ci::compose_files ci::no_registry ci::the_gitlab ci::collect)
wheel_tests=(wheel:: ci::the_reusable ci::setup_in_container)
no_engine=(cli:: classroom:: dashboard:: browser::)
(
  on 28-legacy --test e2e -- --include-ignored "${legacy_subset[@]}" "${ci_elsewhere[@]}" ||
    { echo "error: the tests failed on Docker 28 (legacy image store)" >&2; exit 1; }
  while [ ! -s .lab/wheel-build.rc ]; do sleep 2; done
  [ "$(cat .lab/wheel-build.rc)" = 0 ] ||
    { cat .lab/wheel-build.log; echo "error: the wheel did not build" >&2; exit 1; }
  tail -n 2 .lab/wheel-build.log
  SRE_LAB_CI_ARTIFACT=$(tail -n 1 .lab/wheel-build.log | sed 's/^\[wheel\] //')
  export SRE_LAB_CI_ARTIFACT
  on 28-legacy --test e2e -- --include-ignored "${wheel_tests[@]}" ||
    { echo "error: the wheel's tests failed" >&2; exit 1; }
) &
legacy=$!
# Chromium last, on its own: a container started or removed in its namespace changes the
# network under it, and it aborts page loads with ERR_NETWORK_CHANGED.
( on 28-api144 --test e2e -- --include-ignored "${floor_subset[@]}" cli:: classroom:: &&
  on 28-api144 --test e2e -- --include-ignored browser:: dashboard:: ) &
floor=$!
skips() { for t in "$@"; do printf -- '--skip\n%s\n' "$t"; done; }
mapfile -t skip_no_engine < <(skips "${no_engine[@]}")
mapfile -t skip_ci_elsewhere < <(skips "${ci_elsewhere[@]}" "${wheel_tests[@]}")
# On 20.10 `lab ci` runs the cases that take Compose v1's path (the right answers and a
# cancelled run); its other cases do not depend on the Compose generation.
mapfile -t skip_ci_not_v1 < <(skips ci::a_missing ci::a_broken ci::a_command ci::compose_files \
  ci::no_registry ci::the_gitlab ci::collect "${wheel_tests[@]}")
on 20.10 -- --include-ignored --skip wheel:: --skip readme::the_readme_main \
  "${skip_no_engine[@]}" "${skip_ci_not_v1[@]}" &
first=$!
modern=0
on 28 --test e2e -- --include-ignored "${not_grader[@]}" "${skip_no_engine[@]}" \
  "${skip_ci_elsewhere[@]}" || modern=$?
wait "$first" || { echo "error: the tests failed on Docker 20.10" >&2; exit 1; }
[ "$modern" = 0 ] || { echo "error: the tests failed on Docker 28 (containerd image store)" >&2; exit 1; }
wait "$floor" || { echo "error: the tests failed under the API-1.44 floor (or the engine-free suites)" >&2; exit 1; }
wait "$legacy" || exit 1
