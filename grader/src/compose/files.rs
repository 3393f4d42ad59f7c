//! Which compose files a workspace's project is made from, chosen as Compose chooses them.
//!
//! - When the project runs, its containers' `com.docker.compose.project.config_files` label
//!   names the files it was made from: those are graded.
//! - Otherwise what `docker compose` (v2) would read: `COMPOSE_FILE` from the environment or the
//!   workspace's `.env` (split on `COMPOSE_PATH_SEPARATOR`, `:` by default), else the first of
//!   [`FILE_NAMES`] that exists plus the first override file that exists.
//! - Compose v1 (`docker-compose`) reads only `docker-compose.yml`/`.yaml`: when that would be
//!   another file, the choice says so.
//!
//! Several files are merged as Compose merges them: mappings key by key, the later file
//! winning; `ports`, `expose` and the other list-valued keys appended.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::report::CheckResult;

/// File names Docker Compose v2 looks for, in its order.
pub const FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];
/// Override files Compose v2 adds to the default file, the first that exists.
const OVERRIDE_NAMES: [&str; 4] = [
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];
/// The files Compose v1 reads, in its order.
const V1_NAMES: [&str; 2] = ["docker-compose.yml", "docker-compose.yaml"];
/// List-valued service keys Compose appends across files rather than replaces.
const APPENDED: [&str; 9] = [
    "ports",
    "expose",
    "external_links",
    "dns",
    "dns_search",
    "tmpfs",
    "volumes",
    "env_file",
    "extra_hosts",
];
/// At most this many files (a `COMPOSE_FILE` of thousands is refused, not read).
const MAX_FILES: usize = 8;

/// Why Compose reads the files it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The running project's containers name them (`config_files` label).
    Running,
    /// `COMPOSE_FILE`, from the environment or `.env`.
    ComposeFile,
    /// Compose v2's default names (and an override file).
    Default,
}

impl Source {
    /// For messages.
    pub fn describe(self) -> &'static str {
        match self {
            Source::Running => {
                "the files the running project was made from (its containers' config_files label)"
            }
            Source::ComposeFile => "COMPOSE_FILE",
            Source::Default => "Compose's default file names",
        }
    }
}

/// The files chosen and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub files: Vec<PathBuf>,
    pub source: Source,
    /// What Compose v1 would have read instead, when that differs.
    pub v1_note: Option<String>,
}

impl Choice {
    /// The files' names relative to the workspace, joined for messages.
    pub fn names(&self, dir: &Path) -> String {
        self.files
            .iter()
            .map(|f| {
                f.strip_prefix(dir)
                    .unwrap_or(f)
                    .to_string_lossy()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

fn exists(p: &Path) -> bool {
    // Present in any form: a FIFO or a link elsewhere is then named by the bounded read.
    std::fs::symlink_metadata(p).is_ok()
}

/// Choose the files. `running` is the `config_files` label of the project's running
/// containers in this workspace, when there are any; `vars` is what Compose interpolates with.
pub fn choose(dir: &Path, running: Option<&str>, vars: &HashMap<String, String>) -> Option<Choice> {
    let v1 = V1_NAMES.iter().map(|n| dir.join(n)).find(|p| exists(p));
    // A list of files (the running project's label, or COMPOSE_FILE), relative to `dir`.
    let listed = |list: &str, sep: &str, source| Choice {
        files: list
            .split(sep)
            .filter(|f| !f.trim().is_empty())
            .take(MAX_FILES)
            .map(|f| dir.join(f.trim()))
            .collect(),
        source,
        v1_note: None,
    };
    if let Some(label) = running.filter(|l| !l.trim().is_empty()) {
        return Some(listed(label, ",", Source::Running));
    }
    if let Some(list) = vars.get("COMPOSE_FILE").filter(|v| !v.trim().is_empty()) {
        let sep = vars
            .get("COMPOSE_PATH_SEPARATOR")
            .filter(|s| !s.is_empty())
            .map(String::as_str)
            .unwrap_or(":");
        return Some(listed(list, sep, Source::ComposeFile));
    }
    let primary = FILE_NAMES.iter().map(|n| dir.join(n)).find(|p| exists(p))?;
    let mut files = vec![primary.clone()];
    if let Some(o) = OVERRIDE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| exists(p))
    {
        files.push(o);
    }
    let name = |p: &Path| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string()
    };
    let v1_note = match &v1 {
        Some(v) if *v != primary => Some(format!(
            "Compose v1 (`docker-compose`) would read {} instead: it does not know {}",
            name(v),
            name(&primary)
        )),
        None => Some(format!(
            "Compose v1 (`docker-compose`) would find no file here: it reads only docker-compose.yml, not {}",
            name(&primary)
        )),
        _ => None,
    };
    Some(Choice {
        files,
        source: Source::Default,
        v1_note,
    })
}

/// Merge parsed files as Compose does: the later file's keys win, mappings merge key by key,
/// and the list-valued keys of a service ([`APPENDED`]) are appended, duplicates dropped.
pub fn merge(base: &mut Value, over: Value) {
    merge_at(base, over, 0)
}

fn merge_at(base: &mut Value, over: Value, depth: usize) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                // Depth 2 is a service's own keys (services -> name -> key).
                let appended = depth == 2 && k.as_str().is_some_and(|k| APPENDED.contains(&k));
                match b.get_mut(&k) {
                    Some(Value::Sequence(bs)) if appended => {
                        if let Value::Sequence(os) = v {
                            for item in os {
                                if !bs.contains(&item) {
                                    bs.push(item);
                                }
                            }
                        } else {
                            b.insert(k, v);
                        }
                    }
                    Some(existing) if depth < 8 => merge_at(existing, v, depth + 1),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Read and merge the chosen files: the text to parse (one file's own text, so its line
/// numbers hold; several merged), and the name to show. Bad files are named.
pub fn read(choice: &Choice, dir: &Path, id: &str) -> Result<(String, String), CheckResult> {
    let names = choice.names(dir);
    let mut texts = Vec::new();
    for f in &choice.files {
        let shown = f
            .strip_prefix(dir)
            .unwrap_or(f)
            .to_string_lossy()
            .to_string();
        if !exists(f) {
            return Err(CheckResult::fail(
                id,
                format!(
                    "{shown} is named by {} but does not exist",
                    choice.source.describe()
                ),
            )
            .hint("create it, or change COMPOSE_FILE to the files the workspace has"));
        }
        let t = crate::bounded::read_text(f, crate::bounded::MAX_SPEC_FILE, Some(dir)).map_err(
            |e| {
                CheckResult::fail(id, format!("the compose file cannot be used: {e}"))
                    .hint(format!("make {shown} a regular text file in the workspace"))
            },
        )?;
        texts.push((shown, t));
    }
    if texts.len() == 1 {
        let (n, t) = texts.pop().unwrap_or_default();
        return Ok((t, n));
    }
    let mut merged = Value::Null;
    for (n, t) in texts {
        let v: Value = serde_norway::from_str(&t).map_err(|e| {
            CheckResult::fail(id, format!("{n} is not valid YAML: {e}")).hint(
                "YAML indents with spaces (never tabs); a key and its value are separated by `: `",
            )
        })?;
        if merged.is_null() {
            merged = v;
        } else {
            merge(&mut merged, v);
        }
    }
    let text = serde_norway::to_string(&merged)
        .map_err(|e| CheckResult::error(id, format!("{names} cannot be merged: {e}")))?;
    Ok((text, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (n, t) in files {
            std::fs::write(d.path().join(n), t).unwrap();
        }
        d
    }
    fn names(c: &Choice, d: &Path) -> String {
        c.names(d)
    }

    #[test]
    fn v2_prefers_compose_yaml_and_says_what_v1_would_read() {
        let d = ws(&[("compose.yaml", "a"), ("docker-compose.yml", "b")]);
        let c = choose(d.path(), None, &HashMap::new()).unwrap();
        assert_eq!(names(&c, d.path()), "compose.yaml");
        assert!(c.v1_note.unwrap().contains("docker-compose.yml instead"));
        let d = ws(&[("compose.yml", "a")]);
        let c = choose(d.path(), None, &HashMap::new()).unwrap();
        assert!(c.v1_note.unwrap().contains("no file"));
        let d = ws(&[("docker-compose.yml", "a")]);
        assert_eq!(
            choose(d.path(), None, &HashMap::new()).unwrap().v1_note,
            None
        );
        assert_eq!(choose(ws(&[]).path(), None, &HashMap::new()), None);
    }

    #[test]
    fn overrides_compose_file_and_the_running_project_win_in_compose_order() {
        let d = ws(&[
            ("docker-compose.yml", "a"),
            ("docker-compose.override.yml", "b"),
            ("prod.yml", "c"),
        ]);
        let c = choose(d.path(), None, &HashMap::new()).unwrap();
        assert_eq!(
            names(&c, d.path()),
            "docker-compose.yml + docker-compose.override.yml"
        );
        let vars = HashMap::from([("COMPOSE_FILE".to_string(), "prod.yml".to_string())]);
        let c = choose(d.path(), None, &vars).unwrap();
        assert_eq!(
            (names(&c, d.path()), c.source),
            ("prod.yml".into(), Source::ComposeFile)
        );
        let vars = HashMap::from([
            (
                "COMPOSE_FILE".to_string(),
                "docker-compose.yml;prod.yml".to_string(),
            ),
            ("COMPOSE_PATH_SEPARATOR".to_string(), ";".to_string()),
        ]);
        assert_eq!(
            names(&choose(d.path(), None, &vars).unwrap(), d.path()),
            "docker-compose.yml + prod.yml"
        );
        let running = format!("{}", d.path().join("prod.yml").display());
        let c = choose(d.path(), Some(&running), &vars).unwrap();
        assert_eq!(names(&c, d.path()), "prod.yml");
        assert_eq!(c.source, Source::Running);
    }

    #[test]
    fn merging_overrides_scalars_and_appends_ports() {
        let mut a: Value = serde_norway::from_str(
            "services:\n  web:\n    build: .\n    ports: [\"5000:5000\"]\n    command: a\n",
        )
        .unwrap();
        let b: Value = serde_norway::from_str("services:\n  web:\n    ports: [\"5000:5000\", \"8000:5000\"]\n    command: b\n  db:\n    image: x\n").unwrap();
        merge(&mut a, b);
        let t = serde_norway::to_string(&a).unwrap();
        assert!(
            t.contains("8000:5000") && t.contains("command: b") && t.contains("db:"),
            "{t}"
        );
        assert_eq!(t.matches("5000:5000").count(), 1, "{t}");
    }

    #[test]
    fn a_missing_named_file_is_a_clear_failure() {
        let d = ws(&[("docker-compose.yml", "services: {}\n")]);
        let vars = HashMap::from([("COMPOSE_FILE".to_string(), "nope.yml".to_string())]);
        let c = choose(d.path(), None, &vars).unwrap();
        let e = read(&c, d.path(), "compose.file").unwrap_err();
        assert!(
            e.message.contains("nope.yml is named by COMPOSE_FILE"),
            "{}",
            e.message
        );
    }
}
