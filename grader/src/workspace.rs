//! The learner's workspace, resolved once, the same way for every command.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// `--dir` as every command that reads a workspace declares it.
#[derive(Debug, Clone, clap::Args)]
pub struct DirArg {
    /// The workspace (default: the current directory).
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,
}

/// An existing workspace directory, absolute and canonical (symlinks resolved), so progress,
/// Compose's working_dir labels and the room all see one path for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace(PathBuf);

impl Workspace {
    /// `--dir`, else the current directory; a usage error (exit 2) when it is not a directory.
    pub fn resolve(dir: Option<&Path>) -> Result<Workspace, Error> {
        let given = dir.unwrap_or(Path::new("."));
        if given.as_os_str().is_empty() {
            return Err(Error::Usage(
                "the workspace path is empty; pass --dir PATH or cd into your workspace".into(),
            ));
        }
        match given.canonicalize() {
            Ok(d) if d.is_dir() => Ok(Workspace(d)),
            Ok(_) => Err(Error::Usage(format!(
                "the workspace {} is not a directory; pass --dir PATH or cd into your workspace",
                given.display()
            ))),
            Err(e) => Err(Error::Usage(format!(
                "the workspace {} is not a directory ({e}); pass --dir PATH or cd into your workspace",
                given.display()
            ))),
        }
    }

    /// The workspace's absolute path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl DirArg {
    /// Resolve `--dir` into a [`Workspace`].
    pub fn workspace(&self) -> Result<Workspace, Error> {
        Workspace::resolve(self.dir.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_a_file_and_an_empty_workspace_are_usage_errors() {
        let f = tempfile::NamedTempFile::new().unwrap();
        for bad in [Path::new("/nonexistent/ws"), f.path(), Path::new("")] {
            let e = Workspace::resolve(Some(bad)).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
            assert!(e.to_string().contains("--dir"), "{e}");
        }
        let d = tempfile::tempdir().unwrap();
        let ws = Workspace::resolve(Some(d.path())).unwrap();
        assert!(ws.path().is_absolute());
    }
}
