//! `lab hint`: one more hint per call, from a nudge to the near-answer; counted per workspace.

use std::path::PathBuf;

use super::{find_step, load_lab};
use crate::exit;
use crate::state::State;

/// `lab hint LAB STEP`.
pub fn run(lab_id: &str, step_id: &str, dir: Option<PathBuf>) -> i32 {
    let lab = match load_lab(lab_id) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let step = match find_step(&lab, step_id) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let dir = dir
        .or_else(|| std::env::current_dir().ok())
        .and_then(|d| d.canonicalize().ok())
        .unwrap_or_default();
    let mut state = State::load(&dir);
    let st = state.step_mut(lab_id, step_id);
    let n = step.hints.len();
    let shown = (st.hints_shown + 1).min(n);
    st.hints_shown = shown;
    for (i, h) in step.hints.iter().take(shown).enumerate() {
        println!("Hint {} of {n} for {step_id}: {h}", i + 1);
    }
    if shown < n {
        println!("\n(`lab hint {lab_id} {step_id}` again for the next one)");
    } else {
        println!("\nThat was the last hint. The answer, with why it is right: `lab solution {lab_id} {step_id}`");
    }
    if let Err(e) = state.save(&dir) {
        eprintln!("warning: could not save progress: {e}");
    }
    exit::PASSED
}
