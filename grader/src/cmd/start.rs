//! `lab start`: make a learner's workspace from the lab's sample app.
//! It never overwrites: if any file it would create exists, it lists them and stops.

use std::path::PathBuf;

use super::{copy_tree, load_lab};
use crate::exit;

/// `lab start LAB [DIR]`.
pub fn run(lab_id: &str, dir: Option<PathBuf>) -> i32 {
    let lab = match load_lab(lab_id) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let dir = dir.unwrap_or_else(|| PathBuf::from(lab_id));
    if dir.is_file() {
        eprintln!(
            "error: {} is a file; choose a directory for the workspace",
            dir.display()
        );
        return exit::USAGE;
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return exit::FAILED;
    }
    let source = lab.dir.join(&lab.workspace);
    match copy_tree(&source, &dir, &lab.learner_files) {
        Err(e) => {
            eprintln!(
                "error: cannot copy the sample app into {}: {e}",
                dir.display()
            );
            exit::FAILED
        }
        Ok(Err(existing)) => {
            eprintln!(
                "error: {} already has files that `lab start` would write; nothing was changed:",
                dir.display()
            );
            for f in existing {
                eprintln!("  {}", f.display());
            }
            eprintln!("Choose another directory, or keep working in this one.");
            exit::FAILED
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
            exit::PASSED
        }
    }
}
