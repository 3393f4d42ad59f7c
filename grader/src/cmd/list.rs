//! `lab list` (labs, steps, progress) and `lab kinds` (the check catalogue).

use std::path::PathBuf;

use crate::checks;
use crate::exit;
use crate::lab::{labs_dir, Lab};
use crate::state::{ago, State};

/// The ids of the labs in the labs directory, sorted.
pub fn lab_ids() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(labs_dir()) else {
        return vec![];
    };
    let mut ids: Vec<String> = rd
        .flatten()
        .filter(|e| e.path().join("lab.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    ids.sort();
    ids
}

/// `lab list`.
pub fn run(dir: Option<PathBuf>) -> i32 {
    let ids = lab_ids();
    if ids.is_empty() {
        eprintln!(
            "error: no labs in {}; set LAB_LABS_DIR to the course's labs/ directory",
            labs_dir().display()
        );
        return exit::USAGE;
    }
    let state = dir
        .or_else(|| std::env::current_dir().ok())
        .and_then(|d| d.canonicalize().ok())
        .map(|d| State::load(&d));
    for id in ids {
        let lab = match Lab::load(&labs_dir(), &id) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        };
        let progress = state.as_ref().and_then(|s| s.labs.get(&id));
        let passed = lab
            .steps
            .iter()
            .filter(|s| {
                progress
                    .and_then(|p| p.steps.get(&s.id))
                    .and_then(|st| st.status)
                    == Some(crate::report::Status::Pass)
            })
            .count();
        println!(
            "{id}  {}  ({passed}/{} passed here)",
            lab.title,
            lab.steps.len()
        );
        for s in &lab.steps {
            let st = progress.and_then(|p| p.steps.get(&s.id));
            let mark = match st.and_then(|st| st.status) {
                Some(status) => format!(
                    "{:<5} {}",
                    status.word(),
                    st.and_then(|st| st.checked_at).map(ago).unwrap_or_default()
                ),
                None => "-     not checked yet".to_string(),
            };
            println!("  {:<11} {:<26} {mark}", s.id, s.title);
        }
    }
    exit::PASSED
}

/// `lab kinds`.
pub fn kinds() -> i32 {
    for (kind, doc) in checks::catalogue() {
        println!("{kind}\n    {doc}\n");
    }
    exit::PASSED
}
