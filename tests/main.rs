//! End-to-end tests of `lab`, against the real Docker engine, registry and Python.
//!
//! - `files`: the file-only checks (Dockerfile, compose file) with right and wrong answers.
//! - `cli`: usage errors, exit codes, formats, snapshots of human and JSON output.
//! - `steps`: every engine step with the reference solution and with learners' mistakes.
//! - `runtime`: the built-in runtime's probes are removed on Ctrl-C and SIGTERM.
//! - `readme`: the README's main command plays the lab and grades it all PASS.
//!
//! Plain `cargo test` runs every test that needs no engine, mdBook, Chromium or PyPI; the others
//! are `#[ignore]`d with the reason, and `scripts/test.sh` runs them all (`--include-ignored`)
//! against a private engine of their own (`scripts/test-engine.sh`: its own dockerd, registry
//! and network namespace), never the user's: a learner's work and the README's demo, still
//! serving on port 5000, are neither seen nor touched. `common::require_test_engine()` enforces
//! it. The grader tests run side by side: each grades a `common::TestLab`, a copy of the lab
//! whose image name, host port and registry repository are its own (which also proves those
//! parameters drive the checks). The README, book, kit and Podman tests play the lesson's literal
//! commands (`python-docker-app`, `-p 5000:5000`), so they take `common::engine_lock()` and run
//! one at a time. Every test removes what it made, even when it fails.

mod book;
mod browser;
mod ci;
mod classroom;
mod cli;
mod common;
mod dashboard;
mod engines;
mod files;
mod hostile;
mod kit;
mod lab_loop;
mod podman;
mod readme;
mod runtime;
mod steps;
mod wheel;
