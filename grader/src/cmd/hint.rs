//! `lab hint`: one more hint per call, from a nudge to the near-answer; counted per workspace.

use super::{find_step, load_lab};
use crate::error::Result;
use crate::exit;
use crate::state::State;
use crate::workspace::DirArg;

/// `lab hint LAB STEP`.
pub fn run(lab_id: &str, step_id: &str, dir: &DirArg) -> Result {
    let lab = load_lab(lab_id)?;
    let step = find_step(&lab, step_id)?;
    let ws = dir.workspace()?;
    let dir = ws.path();
    let mut state = State::load(dir);
    let st = state.step_mut(lab_id, step_id);
    let n = step.hints.len();
    let shown = st.hints_shown.saturating_add(1).min(n);
    st.hints_shown = shown;
    for (i, h) in step.hints.iter().take(shown).enumerate() {
        println!("Hint {} of {n} for {step_id}: {h}", i + 1);
    }
    if shown < n {
        println!("\n(`lab hint {lab_id} {step_id}` again for the next one)");
    } else {
        println!("\nThat was the last hint. The answer, with why it is right: `lab solution {lab_id} {step_id}`");
    }
    if let Err(e) = state.save(dir) {
        eprintln!("warning: could not save progress: {e}");
    }
    Ok(exit::PASSED)
}
