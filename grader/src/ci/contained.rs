//! `lab ci --setup-in-container IMAGE`: the steps in `[ci] contained` (those whose replay runs
//! the learner's own code, such as a build backend or a `setup.py`) are replayed and graded
//! inside a throwaway container, so that on a self-hosted runner (which outlives the job) the
//! learner's code never runs on the runner itself.
//!
//! The container runs this same `lab` binary, mounted read only, as the hidden
//! `lab dev ci-step`. It runs as the runner's own user, with no capabilities, a read-only root
//! and a `/tmp` of its own. It sees only the run's work directory (the repository's copy and
//! the venv) and the labs, and it prints one JSON line: how the replay went and the step's
//! report. It carries the run's label, so the sweep removes it even when the run is cut short.
//! The image needs glibc and Python 3.8 or newer (`python:3.12-slim`); the binary of the
//! published artifact needs no glibc above 2.17.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::replay::{self, Names};
use super::{clean_env, run_command, Replayed, RUN_LABEL};
use crate::cleanup::Cleanup;
use crate::engine::EngineState;
use crate::grade::{grade, Backends, Request};
use crate::lab::Lab;
use crate::report::StepReport;

/// Where the binary is mounted in the container.
pub const MOUNTED_LAB: &str = "/opt/sre-lab/lab";

/// The most a contained step's answer may be (one step's report).
const ANSWER_LIMIT: usize = 256 * 1024;

/// What `lab dev ci-step` prints: how the replay went, and the step as graded there.
#[derive(Debug, Serialize, Deserialize)]
pub struct Answer {
    pub replayed: Replayed,
    pub step: Option<StepReport>,
}

/// What the host needs to start one contained step.
pub struct Setup<'a> {
    pub image: &'a str,
    pub run: &'a str,
    pub lab: &'a str,
    pub step: &'a str,
    /// The run's work directory, which holds the repository's copy and the venv.
    pub work: &'a Path,
    pub copy: &'a Path,
    pub venv: &'a Path,
    pub labs: &'a Path,
    /// The lab's sample workspace (its definition names it; loading the lab checks it is there).
    pub sample: &'a Path,
    pub exe: &'a Path,
    /// Each command's deadline inside.
    pub command_secs: u64,
}

/// A bind mount, as `--mount` spells it; a path Docker's comma-separated syntax cannot carry
/// is refused rather than misread.
fn bind(from: &Path, to: &Path, ro: bool) -> Result<String, String> {
    let (f, t) = (from.to_string_lossy(), to.to_string_lossy());
    if f.contains(',') || t.contains(',') {
        return Err(format!(
            "cannot mount {f} into the setup container: the path has a comma; set RUNNER_TEMP or TMPDIR to a plainer directory"
        ));
    }
    Ok(format!(
        "type=bind,source={f},target={t}{}",
        if ro { ",readonly" } else { "" }
    ))
}

/// The `docker run` command for one contained step (an argument list; no shell).
pub fn docker_argv(
    s: &Setup,
    user: (u32, u32),
    env_names: &[String],
) -> Result<Vec<String>, String> {
    let mut a: Vec<String> = ["docker", "run", "--rm", "--label"]
        .map(String::from)
        .into();
    a.push(format!("{RUN_LABEL}={}", s.run));
    a.push("--name".into());
    a.push(format!("sre-lab-ci-{}-{}", s.run, s.step));
    a.push("--user".into());
    a.push(format!("{}:{}", user.0, user.1));
    for flag in [
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        "--pids-limit=512",
        "--memory=2g",
        "--read-only",
        "--tmpfs=/tmp:rw,exec,size=1g",
        "--env=HOME=/tmp",
    ] {
        a.push(flag.into());
    }
    a.push(format!("--env=LAB_LABS_DIR={}", s.labs.display()));
    for n in env_names {
        // The name only: Docker takes the value from this process's environment.
        a.push(format!("--env={n}"));
    }
    for (from, to, ro) in [
        (s.work, s.work, false),
        (s.labs, s.labs, true),
        (s.sample, s.sample, true),
        (s.exe, Path::new(MOUNTED_LAB), true),
    ] {
        a.push("--mount".into());
        a.push(bind(from, to, ro)?);
    }
    a.push(format!("--workdir={}", s.copy.display()));
    a.push(format!("--entrypoint={MOUNTED_LAB}"));
    a.push(s.image.into());
    for x in ["dev", "ci-step", s.lab, "--step", s.step, "--dir"] {
        a.push(x.into());
    }
    a.push(s.copy.display().to_string());
    a.push("--venv".into());
    a.push(s.venv.display().to_string());
    a.push("--command-timeout".into());
    a.push(s.command_secs.to_string());
    Ok(a)
}

/// Read the container's answer: its last line of output, as JSON.
pub fn read_answer(stdout: &[u8]) -> Result<Answer, String> {
    let text = String::from_utf8_lossy(&stdout[stdout.len().saturating_sub(ANSWER_LIMIT)..]);
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .ok_or("the setup container printed no answer")?;
    serde_json::from_str(line)
        .map_err(|e| format!("the setup container's answer is not a step report ({e})"))
}

/// The user the container runs as: the owner of the run's work directory (this process's
/// user), so everything written there can be removed afterwards without root.
pub fn owner(work: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(work)
        .map(|m| (m.uid(), m.gid()))
        .unwrap_or((65534, 65534))
}

/// The names of the environment variables the container may see (pip's and the proxies').
pub fn passed_env() -> Vec<String> {
    clean_env()
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| {
            k.starts_with("PIP_")
                || k.to_ascii_lowercase().ends_with("_proxy")
                || k == "LANG"
                || k == "LC_ALL"
        })
        .collect()
}

/// Inside the container (`lab dev ci-step`): replay the step's commands in `dir`, then grade
/// that step, with the venv's Python when the replay made one.
pub async fn step_inside(
    lab: &Lab,
    step: &str,
    dir: &Path,
    venv: &Path,
    deadline: Duration,
) -> Answer {
    let Some(s) = lab.steps.iter().find(|s| s.id == step) else {
        return Answer {
            replayed: Replayed::Refused {
                why: format!("lab {} has no step {step:?}", lab.id),
            },
            step: None,
        };
    };
    let names = Names {
        run: String::new(),
        registry: String::new(),
        ports: Default::default(),
        images: Vec::new(),
        compose: Vec::new(),
        venv: venv.to_path_buf(),
        label: (RUN_LABEL.into(), String::new()),
    };
    let env = clean_env();
    let mut replayed = Replayed::Ran;
    for argv in &s.replay {
        let outcome = match replay::expand(argv, &names) {
            Ok(cmd) => run_command(&cmd, dir, &env, deadline, false)
                .await
                .map(drop),
            Err(why) => Err(Replayed::Refused { why }),
        };
        if let Err(r) = outcome {
            replayed = r;
            break;
        }
    }
    let python: Option<PathBuf> = (replayed == Replayed::Ran).then(|| venv.join("bin/python"));
    let req = Request {
        steps: vec![step.to_string()],
        dir: dir.to_path_buf(),
        python,
        ..Request::default()
    };
    let backends = Backends {
        engine: EngineState::NotNeeded,
        cleanup: Arc::new(Cleanup::default()),
    };
    let mut report = grade(lab, &req, &backends, Arc::default(), None).await;
    backends.cleanup.sweep_all().await;
    Answer {
        replayed,
        step: report.steps.pop(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup<'a>(work: &'a Path, copy: &'a Path, venv: &'a Path) -> Setup<'a> {
        Setup {
            image: "python:3.12-slim",
            run: "r1",
            lab: "day11",
            step: "editable",
            work,
            copy,
            venv,
            labs: Path::new("/opt/labs"),
            sample: Path::new("/opt/sample-app"),
            exe: Path::new("/usr/local/bin/lab"),
            command_secs: 300,
        }
    }

    #[test]
    fn the_container_is_labelled_unprivileged_and_sees_only_the_work_directory() {
        let (w, c, v) = (
            Path::new("/tmp/w"),
            Path::new("/tmp/w/repo"),
            Path::new("/tmp/w/venv"),
        );
        let a = docker_argv(&setup(w, c, v), (1001, 118), &["PIP_INDEX_URL".into()]).unwrap();
        let has = |x: &str| a.iter().any(|y| y == x);
        assert!(has("org.sre-lab.ci.run=r1") && has("--cap-drop=ALL") && has("--read-only"));
        assert!(has("1001:118") && has("--env=PIP_INDEX_URL"), "{a:?}");
        assert!(has("type=bind,source=/tmp/w,target=/tmp/w"));
        assert!(has("type=bind,source=/opt/labs,target=/opt/labs,readonly"));
        assert!(has(&format!(
            "type=bind,source=/usr/local/bin/lab,target={MOUNTED_LAB},readonly"
        )));
        assert!(!a
            .iter()
            .any(|x| x.contains("docker.sock") || x == "--privileged"));
        let image = a.iter().position(|x| x == "python:3.12-slim").unwrap();
        assert_eq!(
            a[image + 1..image + 5],
            ["dev", "ci-step", "day11", "--step"]
        );
        // A value Docker's --mount syntax would split is refused, not misread.
        let odd = Path::new("/tmp/a,b");
        assert!(docker_argv(&setup(odd, c, v), (0, 0), &[]).is_err());
    }

    #[test]
    fn an_answer_is_the_last_line_and_anything_else_is_a_clear_error() {
        let good = r#"{"replayed":{"outcome":"ran"},"step":null}"#;
        let a = read_answer(format!("noise\n{good}\n\n").as_bytes()).unwrap();
        assert_eq!(a.replayed, Replayed::Ran);
        assert!(read_answer(b"").unwrap_err().contains("no answer"));
        assert!(read_answer(b"{not json")
            .unwrap_err()
            .contains("not a step report"));
        let huge = vec![b'x'; 4 << 20];
        assert!(read_answer(&huge).is_err());
    }
}
