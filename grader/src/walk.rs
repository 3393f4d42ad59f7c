//! The one directory walker, with the one list of names that are never the learner's code
//! (caches, virtual environments, version control, build metadata). Used by the checks'
//! source lists, `lab watch`, `lab start`, `lab demo` and the build script that embeds the
//! labs. It follows no symlink (so no loop), and returns regular files only.

use std::path::{Path, PathBuf};

/// Directory and file names left out of every walk.
pub const SKIP: &[&str] = &[
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "node_modules",
];

/// Whether a directory entry's name is left out of every walk.
pub fn skipped(name: &str) -> bool {
    SKIP.contains(&name) || name.ends_with(".egg-info") || name.ends_with(".pyc")
}

/// The regular files under `root.join(rel)` (or `rel` itself when it is a regular file), as
/// paths relative to `root`, sorted. Symlinks, FIFOs and devices are left out, and so are
/// skipped names; at most `max` files are returned, so a huge tree cannot blow up a caller.
pub fn files(root: &Path, rel: &Path, max: usize) -> Vec<PathBuf> {
    fn go(root: &Path, rel: &Path, max: usize, out: &mut Vec<PathBuf>) {
        if out.len() >= max {
            return;
        }
        let Ok(meta) = std::fs::symlink_metadata(root.join(rel)) else {
            return;
        };
        if meta.is_file() {
            out.push(rel.to_path_buf());
        } else if meta.is_dir() {
            let Ok(rd) = std::fs::read_dir(root.join(rel)) else {
                return;
            };
            let mut names: Vec<_> = rd
                .flatten()
                .map(|e| e.file_name())
                .filter(|n| !skipped(&n.to_string_lossy()))
                .collect();
            names.sort();
            for n in names {
                go(root, &rel.join(n), max, out);
            }
        }
    }
    let mut out = Vec::new();
    go(root, rel, max, &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary directory holding these files (and their folders).
    fn tree(files: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for f in files {
            let path = d.path().join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        d
    }

    #[test]
    fn walks_regular_files_skips_caches_and_follows_no_symlink() {
        let caches = ["src/__pycache__/main.pyc", ".venv/bin/python"];
        let d = tree(&[&["src/main.py", "Dockerfile"][..], &caches].concat());
        let p = d.path();
        #[cfg(unix)]
        std::os::unix::fs::symlink(p, p.join("src/loop")).unwrap();
        let all = files(p, Path::new(""), 100);
        assert_eq!(
            all,
            [PathBuf::from("Dockerfile"), PathBuf::from("src/main.py")]
        );
        assert_eq!(
            files(p, Path::new("src"), 100),
            [PathBuf::from("src/main.py")]
        );
        assert_eq!(files(p, Path::new(""), 1).len(), 1);
    }
}
