//! Lab definitions: data, not code.
//!
//! A lab is a directory under `labs/` holding `lab.toml`. The file names the steps in order; each
//! step lists its checks (a `kind` from the catalogue in [`crate::checks`] plus that kind's
//! parameters), its hints from a nudge to the near-answer, and the book page it belongs to.
//! Loading validates everything a typo could break (unknown fields and kinds, duplicate ids,
//! empty hints, steps that require unknown steps) and names the file, line and field.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The lab file format this build understands.
pub const FORMAT_VERSION: u32 = 1;

/// A whole lab, as written in `labs/<id>/lab.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    /// Must equal [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The lab's id, as typed on the command line (`day11`); equals its directory's name.
    pub id: String,
    /// A one-line title.
    pub title: String,
    /// The directory `lab start` copies into a new workspace, relative to the lab's directory.
    pub workspace: String,
    /// Files the learner writes: `lab start` never copies them, `lab solution` shows them.
    pub learner_files: Vec<String>,
    /// The lab's directory (set when loading, not written in the file).
    #[serde(skip)]
    pub dir: PathBuf,
    /// The steps, in the order a learner does them.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

/// One step of a lab: something the learner does, and how it is checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Stable id (`dockerfile`, `build`, ...), used by `--step` and in JSON output.
    pub id: String,
    /// What the learner does, in a few words.
    pub title: String,
    /// The book chapter (path under `book/src/`) that teaches this step.
    pub book: String,
    /// Steps whose work this one builds on (for ordering and for the book); informational.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Hints, from a nudge to the near-answer; at least one, none empty.
    pub hints: Vec<String>,
    /// Mistakes learners make in this step, each with its fix (shown in the book's exercise).
    #[serde(default)]
    pub mistakes: Vec<Mistake>,
    /// The reference answer, for `lab solution` and `lab demo`.
    pub solution: Solution,
    /// The checks that decide this step; at least one.
    pub checks: Vec<CheckSpec>,
}

/// A common mistake and how to fix it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mistake {
    /// What the learner did.
    pub what: String,
    /// What to do instead.
    pub fix: String,
}

/// A step's reference answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Solution {
    /// Files of `solution/` (in the lab's directory) this step writes.
    #[serde(default)]
    pub files: Vec<String>,
    /// Shell commands this step runs, in the workspace, in order.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Why this answer is right.
    pub why: String,
}

/// An HTTP answer the app must give.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpExpect {
    /// Path to request, e.g. `/`.
    pub path: String,
    /// Status code expected.
    pub status: u16,
    /// Top-level JSON string fields the body must carry, e.g. `{ app = "python-docker-app" }`.
    #[serde(default)]
    pub json: BTreeMap<String, String>,
    /// How long to keep trying before giving up, in seconds.
    pub deadline_secs: u64,
}

/// A check: a kind from the catalogue and its parameters. The doc comment of each kind's module
/// in `grader/src/checks/` says what it checks and why.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CheckSpec {
    /// See [`crate::checks::dockerfile`].
    Dockerfile(DockerfileSpec),
    /// See [`crate::checks::image`].
    Image {
        /// The image reference the learner builds, e.g. `python-docker-app:latest`.
        image: String,
        /// The base image its layers must start with.
        base_image: String,
        /// Workspace paths whose changes make the image stale.
        sources: Vec<String>,
    },
    /// See [`crate::checks::container`].
    Container {
        /// The image the learner runs.
        image: String,
        /// The container port the app listens on.
        container_port: u16,
        /// The host port the lesson publishes it on.
        host_port: u16,
        /// What the published port must answer.
        http: HttpExpect,
    },
    /// See [`crate::checks::probe`].
    Probe {
        /// The image to start.
        image: String,
        /// The container port the app listens on.
        container_port: u16,
        /// Memory limit of the probe container, in MiB.
        memory_mib: i64,
        /// What the app must answer.
        http: HttpExpect,
    },
    /// See [`crate::checks::tag`].
    Tag {
        /// The image the tag must point at.
        source: String,
        /// The repository name (last path component), e.g. `python-docker-app`.
        repository: String,
        /// The tag, e.g. `v1`.
        tag: String,
    },
    /// See [`crate::checks::push`].
    Push {
        /// The repository name (last path component).
        repository: String,
        /// The tag pushed.
        tag: String,
    },
    /// See [`crate::checks::compose`].
    Compose {
        /// The container port of the service.
        container_port: u16,
        /// The host port the service publishes.
        host_port: u16,
        /// What the service must answer on the host port.
        http: HttpExpect,
        /// Workspace paths whose changes make the service's image stale.
        sources: Vec<String>,
    },
    /// See [`crate::checks::editable`].
    Editable {
        /// The distribution name in `pyproject.toml`.
        distribution: String,
        /// A module that must resolve to the workspace's file.
        module: String,
        /// The Gunicorn application to serve, e.g. `src.main:app`.
        app: String,
        /// What the app must answer.
        http: HttpExpect,
    },
}

/// The parameters of a `dockerfile` check: what the lesson's Dockerfile must say.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerfileSpec {
    /// The image the lesson builds FROM.
    pub base_image: String,
    /// The expected `WORKDIR`.
    pub workdir: String,
    /// The dependency file copied and installed before the code.
    pub requirements: String,
    /// Environment the image must set.
    pub env: BTreeMap<String, String>,
    /// The port the app listens on, to `EXPOSE`.
    pub port: u16,
    /// The exec-form command.
    pub cmd: Vec<String>,
    /// Paths a `.dockerignore` should keep out of the image (good practice: warnings).
    pub dockerignore: Vec<String>,
}

impl CheckSpec {
    /// The kind's name as written in lab files.
    pub fn kind(&self) -> &'static str {
        match self {
            CheckSpec::Dockerfile(_) => "dockerfile",
            CheckSpec::Image { .. } => "image",
            CheckSpec::Container { .. } => "container",
            CheckSpec::Probe { .. } => "probe",
            CheckSpec::Tag { .. } => "tag",
            CheckSpec::Push { .. } => "push",
            CheckSpec::Compose { .. } => "compose",
            CheckSpec::Editable { .. } => "editable",
        }
    }

    /// Whether the check needs the container engine.
    pub fn needs_engine(&self) -> bool {
        !matches!(self, CheckSpec::Dockerfile(_) | CheckSpec::Editable { .. })
    }
}

/// A lab file that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct LabError {
    pub path: PathBuf,
    pub message: String,
}

impl Lab {
    /// Parse and validate a lab from its TOML text. `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Lab, LabError> {
        let err = |message: String| LabError {
            path: path.to_path_buf(),
            message,
        };
        let lab: Lab = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start].matches('\n').count() + 1;
                    let col = s.start - text[..s.start].rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!("line {line}, column {col}: ")
                })
                .unwrap_or_default();
            err(format!("{at}{}", e.message()))
        })?;
        if lab.format_version != FORMAT_VERSION {
            return Err(err(format!(
                "format_version {} is not supported (this `lab` reads {FORMAT_VERSION}); update lab",
                lab.format_version
            )));
        }
        if lab.steps.is_empty() {
            return Err(err("a lab needs at least one [[step]]".into()));
        }
        let mut seen = HashSet::new();
        for (i, step) in lab.steps.iter().enumerate() {
            let here = format!("step[{i}] (id = {:?})", step.id);
            if step.id.trim().is_empty() {
                return Err(err(format!("{here}: `id` is empty")));
            }
            if !seen.insert(step.id.as_str()) {
                return Err(err(format!("{here}: duplicate step id {:?}", step.id)));
            }
            if step.hints.is_empty() {
                return Err(err(format!("{here}: `hints` needs at least one hint")));
            }
            if let Some(j) = step.hints.iter().position(|h| h.trim().is_empty()) {
                return Err(err(format!("{here}: `hints[{j}]` is empty")));
            }
            if step.checks.is_empty() {
                return Err(err(format!("{here}: `checks` needs at least one check")));
            }
            if let Some(m) = step
                .mistakes
                .iter()
                .position(|m| m.what.trim().is_empty() || m.fix.trim().is_empty())
            {
                return Err(err(format!(
                    "{here}: `mistakes[{m}]` needs both `what` and `fix`"
                )));
            }
            if step.solution.why.trim().is_empty() {
                return Err(err(format!("{here}: `solution.why` is empty")));
            }
            for r in &step.requires {
                if !lab.steps[..i].iter().any(|s| &s.id == r) {
                    return Err(err(format!(
                        "{here}: `requires` names {r:?}, which is not an earlier step"
                    )));
                }
            }
        }
        Ok(lab)
    }

    /// Load `labs_dir/<id>/lab.toml`.
    pub fn load(labs_dir: &Path, id: &str) -> Result<Lab, LabError> {
        let path = labs_dir.join(id).join("lab.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| LabError {
            path: path.clone(),
            message: format!(
                "cannot read the lab definition: {e} (labs are read from {}; set LAB_LABS_DIR to the course's labs/ directory)",
                labs_dir.display()
            ),
        })?;
        let mut lab = Lab::parse(&path, &text)?;
        lab.dir = labs_dir.join(id);
        for step in &lab.steps {
            for f in &step.solution.files {
                if !lab.dir.join("solution").join(f).is_file() {
                    return Err(LabError {
                        path,
                        message: format!(
                            "step {:?}: solution file {f:?} is not in solution/",
                            step.id
                        ),
                    });
                }
            }
        }
        if !lab.dir.join(&lab.workspace).is_dir() {
            return Err(LabError {
                path,
                message: format!("`workspace` {:?} is not a directory", lab.workspace),
            });
        }
        if lab.id != id {
            return Err(LabError {
                path,
                message: format!("`id` is {:?} but the directory is {id:?}", lab.id),
            });
        }
        Ok(lab)
    }

    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
}

/// Where the lab definitions live: `$LAB_LABS_DIR`, else `labs/` beside the executable's
/// source tree (a cargo build), else `./labs`.
pub fn labs_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LAB_LABS_DIR") {
        return PathBuf::from(dir);
    }
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../labs");
    if built_in.is_dir() {
        return built_in;
    }
    PathBuf::from("labs")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Lab, LabError> {
        Lab::parse(Path::new("lab.toml"), text)
    }

    const HEAD: &str =
        "format_version = 1\nid = \"x\"\ntitle = \"X\"\nworkspace = \".\"\nlearner_files = []\n";

    const STEP: &str = r#"
[[step]]
id = "tag"
title = "Tag"
book = "tag.md"
hints = ["a nudge"]
solution = { why = "because" }
checks = [{ kind = "push", repository = "r", tag = "v1" }]
"#;

    #[test]
    fn the_shipped_day11_lab_loads() {
        let lab = Lab::load(&labs_dir(), "day11").expect("labs/day11/lab.toml is valid");
        let ids: Vec<_> = lab.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "dockerfile",
                "build",
                "run",
                "tag",
                "push",
                "compose",
                "editable"
            ]
        );
    }

    #[test]
    fn a_minimal_lab_parses() {
        let lab = parse(&format!("{HEAD}{STEP}")).unwrap();
        assert_eq!(lab.steps[0].checks[0].kind(), "push");
    }

    #[test]
    fn unknown_fields_are_named_with_their_line() {
        let text = format!("{HEAD}{STEP}").replace("book =", "bok =");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("unknown field `bok`"), "{e}");
        assert!(e.contains("line 10, column 1"), "{e}");
    }

    #[test]
    fn unknown_check_kinds_are_rejected() {
        let text = format!("{HEAD}{STEP}").replace("kind = \"push\"", "kind = \"pushh\"");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("unknown variant `pushh`"), "{e}");
    }

    #[test]
    fn duplicate_ids_and_empty_hints_are_rejected() {
        let twice = format!("{HEAD}{STEP}{STEP}");
        assert!(parse(&twice)
            .unwrap_err()
            .to_string()
            .contains("duplicate step id \"tag\""));
        let empty = format!("{HEAD}{STEP}").replace("\"a nudge\"", "\"  \"");
        assert!(parse(&empty)
            .unwrap_err()
            .to_string()
            .contains("`hints[0]` is empty"));
    }

    #[test]
    fn other_format_versions_are_rejected() {
        let e = parse(&format!("{HEAD}{STEP}").replace("format_version = 1", "format_version = 2"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("format_version 2 is not supported"), "{e}");
    }
}
