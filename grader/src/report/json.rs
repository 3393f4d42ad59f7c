//! `--format json`: one JSON object on stdout.
//!
//! ```json
//! {"schema_version": 1, "generated_at": "2026-11-29T20:00:00Z", "lab": "day11",
//!  "workspace": "...", "engine": "...",
//!  "engine_reachable": true, "duration_ms": 812,
//!  "steps": [{"id": "dockerfile", "title": "...", "status": "pass|fail|skip|error",
//!             "optional": false, "points": 1,
//!             "book": "dockerfile.md", "hint": "...", "duration_ms": 3,
//!             "checks": [{"id": "dockerfile.cmd", "status": "pass|warn|fail|skip|error",
//!                         "message": "...", "expected": "...", "found": "...",
//!                         "hint": "...", "location": "Dockerfile:10:1", "detail": "...",
//!                         "evidence": "..."}]}],
//!  "summary": {"total": 7, "passed": 7, "failed": 0, "skipped": 0, "errors": 0, "warnings": 0}}
//! ```
//! Absent values are `null`. New fields may be added without a version bump, so consumers
//! must ignore fields they do not know; removing or changing one bumps
//! [`super::SCHEMA_VERSION`]. `generated_at`, `optional`, `points` and `evidence` were added
//! this way. The summary counts the core steps only; optional steps are bonus.

use super::Report;

/// The report's shape, for the book's reference page (kept next to the code that writes it).
pub const SCHEMA_DOC: &str = r#"{"schema_version": 1, "generated_at": "2026-11-29T20:00:00Z",
 "lab": "day11", "workspace": "/home/ana/day11",
 "engine": "Docker 20.10.24 (API 1.41) at unix:///var/run/docker.sock, from the default socket",
 "engine_reachable": true, "duration_ms": 812,
 "steps": [{"id": "dockerfile", "title": "Write the Dockerfile",
            "status": "pass | fail | skip | error", "book": "dockerfile.md",
            "optional": false, "points": 1,
            "hint": "the step's first hint", "duration_ms": 3,
            "checks": [{"id": "dockerfile.cmd", "status": "pass | warn | fail | skip | error",
                        "message": "what was found", "expected": "or null", "found": "or null",
                        "hint": "what to do, or null", "location": "Dockerfile:10:1 or null",
                        "detail": "evidence such as a log tail, or null",
                        "evidence": "what proved it when not this run's own look, or null"}]}],
 "summary": {"total": 7, "passed": 7, "failed": 0, "skipped": 0, "errors": 0, "warnings": 0}}"#;

/// Render the report as pretty-printed JSON.
pub fn render(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a report always serializes") + "\n"
}
