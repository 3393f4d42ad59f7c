//! Lab definitions: data, not code.
//!
//! A lab is a directory under `labs/` holding `lab.toml`. The file names the steps in order; each
//! step lists its checks (a `kind` from the catalogue in [`crate::checks`] plus that kind's
//! parameters), its hints from a nudge to the near-answer, and the book page it belongs to.
//! Loading validates everything a typo could break (unknown fields and kinds, duplicate ids,
//! empty hints, steps that require unknown steps) and names the file, line and field.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub mod replay;
pub mod schedule;

pub use crate::checks::CheckSpec;

/// The lab file format this build writes and documents. Format 2 added `optional` and `points`
/// on steps and `source`/`registry` on push checks; files of format 1 are still read.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format still read.
pub const OLDEST_FORMAT_VERSION: u32 = 1;

/// A whole lab, as written in `labs/<id>/lab.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    /// From [`OLDEST_FORMAT_VERSION`] to [`FORMAT_VERSION`].
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
    /// How `lab ci` replays the lesson on a runner (the steps' own commands are their
    /// `replay`); a lab without it cannot be graded by `lab ci`.
    #[serde(default)]
    pub ci: Option<Ci>,
    /// The day's timetable ([`schedule`]): the instructor's schedule, the book's
    /// "about N minutes" and the room's pacing come from it.
    #[serde(default)]
    pub schedule: Option<schedule::Schedule>,
    /// The course repository learners clone: set once here, the book's pages that show
    /// `git clone` read it (`lab dev book`). A course that forks the repository sets its own.
    #[serde(default)]
    pub repository: Option<String>,
}

/// Why a clone address is not one to print in a `git clone` line for learners to paste:
/// `https://` or `ssh://` or `git@host:path`, printable, no spaces or shell metacharacters.
pub fn repository_problem(url: &str) -> Option<String> {
    let scheme_ok = url.starts_with("https://")
        || url.starts_with("ssh://")
        || (url.starts_with("git@") && url.contains(':'));
    let chars_ok = url
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~/:@+%".contains(c));
    match (scheme_ok, chars_ok) {
        (true, true) if url.len() <= 200 => None,
        (false, _) => Some(format!(
            "`repository` {url:?} must start with https://, ssh:// or git@HOST:"
        )),
        _ => Some(format!(
            "`repository` {url:?} may hold only letters, digits and -._~/:@+% (at most 200)"
        )),
    }
}

/// What `lab ci` renames for each run, so two gradings on one engine never meet.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ci {
    /// Image repositories of the lab (`python-docker-app`): each run uses `NAME-RUN` instead.
    pub images: Vec<String>,
    /// Host ports of the lab (5000): each run publishes a free port of its own instead.
    pub ports: Vec<u16>,
    /// The tag a run grades, as the tag step's `--image` (with placeholders).
    pub tag: String,
    /// Seconds one replayed command may take before it is stopped.
    #[serde(default = "default_command_secs")]
    pub command_secs: u64,
    /// Steps whose replay runs the learner's own code on the runner (a build backend, a
    /// `setup.py`): `lab ci --setup-in-container IMAGE` replays and grades them in a throwaway
    /// container instead, for self-hosted runners that outlive the job.
    #[serde(default)]
    pub contained: Vec<String>,
}

fn default_command_secs() -> u64 {
    300
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
    /// An optional ("going further") step: plain `lab check` leaves it out; `--step ID` or
    /// `--optional` grades it, and it counts as bonus points. Format 2.
    #[serde(default)]
    pub optional: bool,
    /// Points the step is worth (room scores, Gradescope exports); one when not given. Format 2.
    #[serde(default)]
    pub points: Option<u32>,
    /// Hints, from a nudge to the near-answer; at least one, none empty.
    pub hints: Vec<String>,
    /// Mistakes learners make in this step, each with its fix (shown in the book's exercise).
    #[serde(default)]
    pub mistakes: Vec<Mistake>,
    /// The reference answer, for `lab solution` and `lab demo`.
    pub solution: Solution,
    /// The checks that decide this step; at least one.
    pub checks: Vec<CheckSpec>,
    /// The commands `lab ci` runs for this step, each an argument list (no shell), with
    /// placeholders (`{image:NAME}`, `{port:N}`, `{name:NAME}`, `{registry}`, `{namespace}`,
    /// `{label}`, `{compose}`, `{venv}`); see [`crate::ci::replay`].
    #[serde(default)]
    pub replay: Vec<Vec<String>>,
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

/// A lab file that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct LabError {
    pub path: PathBuf,
    pub message: String,
}

impl Step {
    /// The points this step is worth.
    pub fn points(&self) -> u32 {
        self.points.unwrap_or(1)
    }
}

/// What a step id may be, said where one is refused.
pub const STEP_ID_RULE: &str = "must be 1 to 64 characters of a-z, 0-9, `-` and `_`";

/// Whether `id` is a well-formed step id (the room refuses reports with others).
pub fn is_step_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
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
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&lab.format_version) {
            return Err(err(format!(
                "format_version {} is not supported (this `lab` reads {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}); update lab",
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
            if !is_step_id(&step.id) {
                return Err(err(format!("{here}: `id` {STEP_ID_RULE}")));
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
            if lab.format_version < 2 && (step.optional || step.points.is_some()) {
                return Err(err(format!(
                    "{here}: `optional` and `points` need format_version = 2"
                )));
            }
            if step.points == Some(0) {
                return Err(err(format!(
                    "{here}: `points` is 0; leave it out for the default of 1, or give a positive number"
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
            for (j, argv) in step.replay.iter().enumerate() {
                replay::validate(argv, lab.ci.as_ref())
                    .map_err(|e| err(format!("{here}: `replay[{j}]` {e}")))?;
            }
        }
        for c in lab.ci.iter().flat_map(|ci| &ci.contained) {
            let fits = lab.steps.iter().find(|s| &s.id == c).map(|s| {
                s.replay.iter().all(|argv| {
                    !matches!(argv[0].as_str(), "docker" | "{compose}")
                        && !argv.iter().any(|a| {
                            ["{image:", "{port:", "{name:", "{registry}", "{label}"]
                                .iter()
                                .any(|p| a.contains(p))
                        })
                })
            });
            match fits {
                None => return Err(err(format!("`[ci] contained` names {c:?}, which is not a step"))),
                Some(false) => return Err(err(format!(
                    "`[ci] contained` names {c:?}, whose replay uses the engine: a contained step has no engine, only its own Python"
                ))),
                Some(true) => {}
            }
        }
        if let Some(sch) = &lab.schedule {
            sch.validate(&lab)
                .map_err(|e| err(format!("`[schedule]`: {e}")))?;
        }
        Ok(lab)
    }

    /// Load `labs_dir/<id>/lab.toml`.
    pub fn load(labs_dir: &Path, id: &str) -> Result<Lab, LabError> {
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(LabError {
                path: labs_dir.to_path_buf(),
                message: format!(
                    "{id:?} is not a lab id (letters, digits, - and _); `lab list` shows the labs"
                ),
            });
        }
        let path = labs_dir.join(id).join("lab.toml");
        let text = crate::bounded::read_text(&path, crate::bounded::MAX_SPEC_FILE, None).map_err(|e| LabError {
            path: path.clone(),
            message: format!(
                "cannot read the lab definition: {e} (labs are read from {}; pass --labs DIR or set LAB_LABS_DIR to the course's labs/ directory)",
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
        if let Some(message) = lab.repository.as_deref().and_then(repository_problem) {
            return Err(LabError { path, message });
        }
        Ok(lab)
    }

    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The core (not optional) steps, in order.
    pub fn core_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| !s.optional)
    }
}

/// `--labs DIR` from the command line, set once by `cmd::main` before any lab is loaded.
pub static LABS_FLAG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Where the labs are found, with why, in this order: `--labs DIR`, `$LAB_LABS_DIR`, a
/// `labs/` directory next to the binary (or in `../share/sre-lab/` from it, an installed
/// layout, or the repository's for a binary in its `target/`), and finally the copy embedded
/// in the binary, unpacked once into the cache directory (so a `cargo install`ed `lab` works
/// anywhere).
pub fn find_labs() -> Result<(PathBuf, &'static str), LabError> {
    if let Some(d) = LABS_FLAG.get() {
        return Ok((d.clone(), "--labs"));
    }
    if let Some(d) = std::env::var_os("LAB_LABS_DIR").filter(|d| !d.is_empty()) {
        return Ok((PathBuf::from(d), "LAB_LABS_DIR"));
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.canonicalize().ok())
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        for rel in [
            "labs",
            "../share/sre-lab/labs",
            "../../labs",
            "../../../labs",
        ] {
            let d = exe_dir.join(rel);
            if d.join(".").is_dir() && has_labs(&d) {
                return Ok((d, "next to the binary"));
            }
        }
    }
    unpack_embedded(&crate::dirs::cache_dir().join("embedded-labs"))
        .map(|d| (d, "embedded in the binary"))
}

fn has_labs(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().any(|e| e.path().join("lab.toml").is_file()))
        .unwrap_or(false)
}

/// The embedded labs and sample app, written once into `<base>/<content hash>/` (written
/// aside, then renamed, so a half-written copy is never used).
fn unpack_embedded(base: &Path) -> Result<PathBuf, LabError> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for (path, bytes) in embedded::FILES {
        h.update(path.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    let hash: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let root = base.join(&hash);
    let labs = root.join("labs");
    if labs.is_dir() {
        return Ok(labs);
    }
    let fail = |e: std::io::Error| LabError {
        path: base.to_path_buf(),
        message: format!(
            "cannot unpack the labs embedded in lab: {e} (pass --labs DIR or set LAB_LABS_DIR)"
        ),
    };
    std::fs::create_dir_all(base).map_err(fail)?;
    let tmp = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(base)
        .map_err(fail)?;
    for (path, bytes) in embedded::FILES {
        let p = tmp.path().join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(fail)?;
        }
        std::fs::write(&p, bytes).map_err(fail)?;
    }
    match std::fs::rename(tmp.path(), &root) {
        Ok(()) => {
            let _ = tmp.keep();
        }
        // Another `lab` unpacked the same content first: use theirs.
        Err(_) if labs.is_dir() => {}
        Err(e) => return Err(fail(e)),
    }
    Ok(labs)
}

/// The labs directory (see [`find_labs`]).
pub fn labs_dir() -> Result<PathBuf, LabError> {
    find_labs().map(|(d, _)| d)
}

/// The repository's own lab `id` (`labs/ID`), for unit tests.
#[cfg(test)]
pub(crate) fn shipped(id: &str) -> Lab {
    Lab::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../labs"), id)
        .unwrap_or_else(|e| panic!("labs/{id}: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_clone_address_is_one_a_learner_can_paste() {
        for ok in [
            "https://github.com/sre-lab/sre-lab.git",
            "ssh://git@gitlab.example.edu/course/day11.git",
            "git@github.com:sre-lab/sre-lab.git",
        ] {
            assert_eq!(super::repository_problem(ok), None, "{ok}");
        }
        for bad in [
            "http://insecure.example/x.git",
            "https://x.example/a.git; rm -rf ~",
            "https://x.example/$(id).git",
            "file:///etc",
            "",
        ] {
            assert!(super::repository_problem(bad).is_some(), "{bad}");
        }
    }

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
    fn a_contained_step_is_a_step_whose_replay_needs_no_engine() {
        let ci = |contained: &str| {
            format!("{HEAD}[ci]\nimages = [\"r\"]\nports = [5000]\ntag = \"r\"\ncontained = [{contained}]\n")
        };
        let step =
            |replay: &str| STEP.replace("checks =", &format!("replay = [{replay}]\nchecks ="));
        let venv =
            r#"["python3", "-m", "venv", "{venv}"], ["{venv}/bin/pip", "install", "-e", "."]"#;
        assert!(parse(&format!("{}{}", ci("\"tag\""), step(venv))).is_ok());
        let e = parse(&format!("{}{}", ci("\"nope\""), step(venv))).unwrap_err();
        assert!(e.to_string().contains("not a step"), "{e}");
        for engine in [r#"["docker", "build", "."]"#, r#"["python3", "{image:r}"]"#] {
            let e = parse(&format!("{}{}", ci("\"tag\""), step(engine))).unwrap_err();
            assert!(e.to_string().contains("uses the engine"), "{engine}: {e}");
        }
    }

    #[test]
    fn step_ids_are_short_lowercase_words() {
        for ok in ["dockerfile", "day11-extra", "step_2", &"a".repeat(64)] {
            assert!(is_step_id(ok), "{ok}");
        }
        for bad in ["", "Dockerfile", "a b", "<b>x</b>", "é", &"a".repeat(65)] {
            assert!(!is_step_id(bad), "{bad}");
        }
    }

    #[test]
    fn the_shipped_day11_lab_loads() {
        let lab = Lab::load(&labs_dir().unwrap(), "day11").expect("labs/day11/lab.toml is valid");
        let ids: Vec<_> = lab.core_steps().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids.join(" "),
            "dockerfile build run tag push compose editable"
        );
        let optional: Vec<_> = lab
            .steps
            .iter()
            .filter(|s| s.optional)
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(optional, ["nonroot", "healthcheck", "devloop", "size"]);
    }

    #[test]
    fn the_embedded_labs_unpack_and_load_like_the_repositorys() {
        let base = tempfile::tempdir().unwrap();
        let labs = unpack_embedded(base.path()).unwrap();
        let lab = Lab::load(&labs, "day11").unwrap();
        assert!(lab
            .dir
            .join(&lab.workspace)
            .join("requirements.txt")
            .is_file());
        assert!(lab.dir.join("solution/Dockerfile").is_file());
        // A second call reuses the same copy.
        assert_eq!(unpack_embedded(base.path()).unwrap(), labs);
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
        let e = parse(&format!("{HEAD}{STEP}").replace("format_version = 1", "format_version = 3"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("format_version 3 is not supported"), "{e}");
    }

    #[test]
    fn format_1_is_still_read_and_format_2_adds_optional_and_points() {
        let v1 = parse(&format!("{HEAD}{STEP}")).unwrap();
        assert!(!v1.steps[0].optional);
        assert_eq!(v1.steps[0].points(), 1);
        let with = format!("{HEAD}{STEP}").replace("book =", "optional = true\npoints = 3\nbook =");
        let e = parse(&with).unwrap_err().to_string();
        assert!(e.contains("need format_version = 2"), "{e}");
        let v2 = parse(&with.replace("format_version = 1", "format_version = 2")).unwrap();
        assert!(v2.steps[0].optional);
        assert_eq!(v2.steps[0].points(), 3);
        assert_eq!(v2.core_steps().count(), 0);
        let zero = with
            .replace("format_version = 1", "format_version = 2")
            .replace("points = 3", "points = 0");
        assert!(parse(&zero)
            .unwrap_err()
            .to_string()
            .contains("`points` is 0"));
    }
}
