//! `lab solution`: the reference answer for a step, with why it is right.

use super::{find_step, load_lab};
use crate::error::{Error, Result};
use crate::exit;

/// `lab solution LAB STEP`.
pub fn run(lab_id: &str, step_id: &str) -> Result {
    let lab = load_lab(lab_id)?;
    let step = find_step(&lab, step_id)?;
    println!("Solution for {lab_id} / {step_id}: {}\n", step.title);
    for f in &step.solution.files {
        let path = lab.dir.join("solution").join(f);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                println!("{f}:");
                for line in text.lines() {
                    println!("    {line}");
                }
                println!();
            }
            Err(e) => {
                return Err(Error::Failed(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        }
    }
    if !step.solution.commands.is_empty() {
        println!("Commands, in the workspace:");
        for c in &step.solution.commands {
            println!("    {c}");
        }
        println!();
    }
    println!("Why: {}", step.solution.why);
    Ok(exit::PASSED)
}
