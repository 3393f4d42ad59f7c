//! `lab start`: make a learner's workspace from the lab's sample app.
//! It never overwrites: if any file it would create exists, it lists them and stops.

use std::path::PathBuf;

use super::{copy_tree, load_lab};
use crate::error::{Error, Result};
use crate::exit;

/// `lab start LAB [DIR]`.
pub fn run(lab_id: &str, dir: Option<PathBuf>) -> Result {
    let lab = load_lab(lab_id)?;
    let dir = dir.unwrap_or_else(|| PathBuf::from(lab_id));
    if dir.is_file() {
        return Err(Error::Usage(format!(
            "{} is a file; choose a directory for the workspace",
            dir.display()
        )));
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return Err(Error::Failed(format!(
            "cannot create {}: {e}",
            dir.display()
        )));
    }
    let source = lab.dir.join(&lab.workspace);
    match copy_tree(&source, &dir, &lab.learner_files) {
        Err(e) => Err(Error::Failed(format!(
            "cannot copy the sample app into {}: {e}",
            dir.display()
        ))),
        Ok(Err(existing)) => {
            eprintln!(
                "error: {} already has files that `lab start` would write; nothing was changed:",
                dir.display()
            );
            for f in existing {
                eprintln!("  {}", f.display());
            }
            eprintln!("Choose another directory, or keep working in this one.");
            Ok(exit::FAILED)
        }
        Ok(Ok(files)) => {
            let shown = dir.display();
            println!(
                "created {shown} with {} files from the sample app",
                files.len()
            );
            let first = &lab.steps[0];
            println!("\nNext:");
            println!("  cd {shown}");
            println!(
                "  read book/src/{} and write your {}",
                first.book,
                lab.learner_files
                    .first()
                    .map(String::as_str)
                    .unwrap_or("files")
            );
            println!("  lab check {} --step {}", lab.id, first.id);
            println!("  lab hint {} {}        (when stuck)", lab.id, first.id);
            Ok(exit::PASSED)
        }
    }
}
