//! Progress kept per workspace: which steps passed and when, and how many hints were shown.
//!
//! The file lives outside the workspace (so it never enters a build context and never busts
//! the layer cache): `$SRE_LAB_STATE_DIR`, else `$XDG_STATE_HOME/sre-lab`, else
//! `~/.local/state/sre-lab`, one JSON file per workspace named after a hash of its path.
//! A corrupt or old-format file is reported and replaced, never a crash.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dirs::{now, state_dir};
use crate::fsutil::write_atomic;
use crate::report::{Report, Status};

/// The state file format this build writes.
pub const FORMAT_VERSION: u32 = 1;

/// One workspace's progress.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Must equal [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The workspace's absolute path.
    pub workspace: String,
    /// Per lab id.
    pub labs: BTreeMap<String, LabState>,
    /// The classroom this workspace reports to (`lab classroom join`), token included: kept
    /// here, outside the workspace, so it never enters a build context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<RoomLink>,
}

/// One lab's progress in a workspace.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabState {
    /// Per step id.
    pub steps: BTreeMap<String, StepState>,
}

/// One step's progress.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepState {
    /// The status at the last check, if it was ever checked.
    pub status: Option<Status>,
    /// When it was last checked (Unix seconds).
    pub checked_at: Option<u64>,
    /// When it first passed (Unix seconds).
    pub passed_at: Option<u64>,
    /// How many of the step's hints `lab hint` has shown.
    pub hints_shown: usize,
}

/// FNV-1a of the workspace path: stable across runs and versions, unlike std's hasher.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The state file of a workspace.
pub fn path_for(workspace: &Path) -> PathBuf {
    state_dir().join(format!(
        "{:016x}.json",
        fnv(&workspace.display().to_string())
    ))
}

impl State {
    /// Load a workspace's state. A missing file is a fresh start; an unreadable, corrupt or
    /// old-format one is reported on stderr and replaced by a fresh one.
    pub fn load(workspace: &Path) -> State {
        let fresh = State {
            format_version: FORMAT_VERSION,
            workspace: workspace.display().to_string(),
            labs: BTreeMap::new(),
            room: None,
        };
        let path = path_for(workspace);
        let text = match crate::bounded::read_text(&path, 4 * 1024 * 1024, None) {
            Ok(t) => t,
            Err(crate::bounded::ReadError::Missing(_)) => return fresh,
            Err(e) => {
                eprintln!(
                    "warning: cannot read the progress file {}: {e}; starting afresh",
                    path.display()
                );
                return fresh;
            }
        };
        match serde_json::from_str::<State>(&text) {
            Ok(s) if s.format_version == FORMAT_VERSION => s,
            Ok(s) => {
                eprintln!(
                    "warning: the progress file {} has format {} (this lab reads {FORMAT_VERSION}); starting afresh",
                    path.display(),
                    s.format_version
                );
                fresh
            }
            Err(e) => {
                eprintln!(
                    "warning: the progress file {} is damaged ({e}); starting afresh",
                    path.display()
                );
                fresh
            }
        }
    }

    /// Write the state (atomically: a temporary file renamed over the old one).
    pub fn save(&self, workspace: &Path) -> std::io::Result<()> {
        let path = path_for(workspace);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        write_atomic(
            &path,
            serde_json::to_string_pretty(self)
                .expect("state serializes")
                .as_bytes(),
        )
    }

    /// A step's state, created if missing.
    pub fn step_mut(&mut self, lab: &str, step: &str) -> &mut StepState {
        self.labs
            .entry(lab.to_string())
            .or_default()
            .steps
            .entry(step.to_string())
            .or_default()
    }

    /// Record the outcome of a check.
    pub fn record(&mut self, report: &Report) {
        let t = now();
        for s in &report.steps {
            let st = self.step_mut(&report.lab, &s.id);
            st.status = Some(s.status);
            st.checked_at = Some(t);
            if s.status == Status::Pass && st.passed_at.is_none() {
                st.passed_at = Some(t);
            }
        }
    }
}

/// "3 min ago", for listings.
pub fn ago(t: u64) -> String {
    let secs = now().saturating_sub(t);
    match secs {
        0..=89 => format!("{secs} s ago"),
        90..=5399 => format!("{} min ago", secs / 60),
        5400..=172_799 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86400),
    }
}

/// A workspace's room, stored with its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomLink {
    /// `http://HOST:PORT`.
    pub url: String,
    pub token: String,
    pub learner_id: i64,
    pub name: String,
    /// For an https:// room: the SHA-256 fingerprint of the one certificate to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_and_old_files_are_replaced_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        std::env::set_var("SRE_LAB_STATE_DIR", dir.path());
        let ws = Path::new("/some/workspace");
        let mut s = State::load(ws);
        s.step_mut("day11", "build").hints_shown = 2;
        s.save(ws).unwrap();
        assert_eq!(State::load(ws).labs["day11"].steps["build"].hints_shown, 2);

        std::fs::write(path_for(ws), "{ not json").unwrap();
        assert!(State::load(ws).labs.is_empty());
        std::fs::write(
            path_for(ws),
            r#"{"format_version": 99, "workspace": "x", "labs": {}}"#,
        )
        .unwrap();
        assert_eq!(State::load(ws).format_version, FORMAT_VERSION);
    }
}
