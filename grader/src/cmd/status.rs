//! `lab status`: what passed and when, from the progress file of this workspace.

use crate::error::Result;
use crate::exit;
use crate::state::{ago, path_for, State};
use crate::workspace::DirArg;

/// `lab status`.
pub async fn run(dir: &DirArg) -> Result {
    let ws = dir.workspace()?;
    let dir = ws.path();
    let state = State::load(dir);
    if let Some(link) = &state.room {
        // Anything queued while the room was out of reach goes now.
        super::classroom::report_to_room(dir, None).await;
        let waiting = crate::room::client::queued(dir);
        println!(
            "Joined the room at {} as {:?}{}.",
            link.url,
            link.name,
            if waiting > 0 {
                format!("; {waiting} result(s) queued, not delivered yet")
            } else {
                String::new()
            }
        );
    }
    if state.labs.is_empty() {
        println!(
            "No checks recorded for {} yet: run `lab check <lab>` here.",
            dir.display()
        );
        return Ok(exit::PASSED);
    }
    println!(
        "Progress in {} (kept in {})",
        dir.display(),
        path_for(dir).display()
    );
    for (lab, ls) in &state.labs {
        println!("\n{lab}");
        // In the lab's order (its optional steps marked), when the lab is still known; steps
        // it no longer has come last.
        let known = super::load_lab(lab).ok();
        let position = |step: &str| {
            known
                .as_ref()
                .and_then(|l| l.steps.iter().position(|s| s.id == step))
                .unwrap_or(usize::MAX)
        };
        let mut steps: Vec<_> = ls.steps.iter().collect();
        steps.sort_by_key(|(step, _)| position(step));
        for (step, st) in steps {
            let status = st.status.map(|s| s.word()).unwrap_or("-");
            let checked = st
                .checked_at
                .map(ago)
                .map(|a| format!("checked {a}"))
                .unwrap_or_default();
            let passed = st
                .passed_at
                .map(ago)
                .map(|a| format!(", first passed {a}"))
                .unwrap_or_default();
            let hints = if st.hints_shown > 0 {
                format!(", {} hint(s) shown", st.hints_shown)
            } else {
                String::new()
            };
            let optional = known
                .as_ref()
                .and_then(|l| l.step(step))
                .is_some_and(|s| s.optional);
            let optional = if optional { " (optional)" } else { "" };
            println!("  {status:<5} {step:<11} {checked}{passed}{hints}{optional}");
        }
    }
    Ok(exit::PASSED)
}
