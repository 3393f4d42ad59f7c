//! `lab list` (labs, steps, progress) and `lab kinds` (the check catalogue).

use crate::checks;
use crate::error::{Error, Result};
use crate::exit;
use crate::lab::{labs_dir, Lab};
use crate::state::{ago, State};
use crate::workspace::DirArg;

/// The ids of the labs in the labs directory, sorted.
pub fn lab_ids() -> Result<Vec<String>> {
    let dir = labs_dir()?;
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Ok(vec![]);
    };
    let mut ids: Vec<String> = rd
        .flatten()
        .filter(|e| e.path().join("lab.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    ids.sort();
    Ok(ids)
}

/// `lab list`.
pub fn run(dir: &DirArg) -> Result {
    let ids = lab_ids()?;
    if ids.is_empty() {
        return Err(Error::Usage(format!(
            "no labs in {}; pass --labs DIR or set LAB_LABS_DIR to the course's labs/ directory",
            labs_dir()?.display()
        )));
    }
    // An explicit --dir must exist; without one, progress is shown when the current
    // directory is a workspace with any.
    let state = match &dir.dir {
        Some(_) => Some(State::load(dir.workspace()?.path())),
        None => dir.workspace().ok().map(|ws| State::load(ws.path())),
    };
    for id in ids {
        let lab = Lab::load(&labs_dir()?, &id)?;
        let progress = state.as_ref().and_then(|s| s.labs.get(&id));
        let passed = lab
            .core_steps()
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
            lab.core_steps().count()
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
            let title = if s.optional {
                format!("{} (optional)", s.title)
            } else {
                s.title.clone()
            };
            println!("  {:<11} {:<37} {mark}", s.id, title);
        }
    }
    Ok(exit::PASSED)
}

/// `lab kinds`.
pub fn kinds() -> Result {
    for &(kind, doc) in checks::CATALOGUE {
        println!("{kind}\n    {}\n", doc.replace("\n\n", "\n\n    "));
    }
    Ok(exit::PASSED)
}
