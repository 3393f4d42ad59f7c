//! End-to-end tests of `lab`, against the real Docker engine, registry and Python.
//!
//! - `files`: the file-only checks (Dockerfile, compose file) with right and wrong answers.
//! - `cli`: usage errors, exit codes, formats, snapshots of human and JSON output.
//! - `steps`: every engine step with the reference solution and with learners' mistakes.
//! - `runtime`: the built-in runtime's probes are removed on Ctrl-C and SIGTERM.
//! - `readme`: the README's main command plays the lab and grades it all PASS.
//!
//! Tests that change the engine take `common::engine_lock()`; they use the lab's real image name
//! (`python-docker-app`) and port 5000, and remove what they made even when they fail.

mod book;
mod browser;
mod cli;
mod common;
mod files;
mod lab_loop;
mod readme;
mod runtime;
mod steps;
