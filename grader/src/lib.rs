//! `lab`: grades the SRE course's Docker lab against the learner's real engine.
//!
//! The binary (`main.rs`) is a single call into [`cmd::main`]; everything else is here so tests,
//! tools and the room server can use it: [`grade::grade`] is grading as a library. See
//! ARCHITECTURE.md for the map.

// Checks return `Result<_, CheckResult>` so a finding can end a check early with `?`; the
// error is a report row on a cold path, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod bounded;
pub mod cache;
pub mod checks;
pub mod ci;
pub mod cleanup;
pub mod cli;
pub mod cmd;
pub mod compose;
pub mod dirs;
pub mod dockerfile;
pub mod dockerignore;
pub mod engine;
pub mod error;
pub mod exit;
pub mod fsutil;
pub mod grade;
pub mod http;
pub mod kit;
pub mod lab;
pub mod reference;
pub mod registry;
pub mod report;
pub mod room;
pub mod state;
pub mod walk;
pub mod workspace;

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod floors;
