//! `lab ci`: grade what a learner committed, on a machine they do not control (a CI runner).
//!
//! One run: copy the repository into a private work directory (the learner's checkout is
//! never written), replay each step's `replay` commands from `lab.toml` there with names and
//! a host port unique to the run, grade the result with the same [`crate::grade::grade`] that
//! `lab check` uses (told the run's names by [`crate::checks::Bindings`]), then remove
//! everything the run made, found by the run's label, and count what is left.
//!
//! Compose files run only as the vetted copy [`vet`] writes; every command has a deadline and
//! runs in its own process group with a clean environment, and nothing reaches a shell.

pub mod contained;
pub mod replay;
pub mod vet;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cache::Cache;
use crate::checks::Bindings;
use crate::cleanup::Cleanup;
use crate::compose::files as compose_files;
use crate::engine::EngineState;
use crate::engine::{compose_label, Engine};
use crate::grade::{grade, Backends, Request};
use crate::lab::Lab;
use crate::reference::Reference;
use crate::report::{step_status, CheckResult, Report, Status};
use contained::Answer;
use replay::Names;

/// The label on everything a run makes (containers, images, Compose services).
pub const RUN_LABEL: &str = "org.sre-lab.ci.run";
/// A repository larger than this is not copied (a Day-11 repository is well under 1 MiB).
const MAX_REPO_BYTES: u64 = 256 << 20;
/// Output kept of one replayed command (each stream).
const OUTPUT_LIMIT: usize = 256 << 10;
/// How often a long command says it is still running.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);

/// What one run was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The learner's checkout (read only).
    pub repo: PathBuf,
    /// The registry the push step pushes to (`HOST:PORT`).
    pub registry: String,
    /// The run's id (lowercase letters, digits, `-`); a fresh one when not given.
    pub run: Option<String>,
    /// A deadline for each replayed command, over the lab's `[ci] command_secs`.
    pub command_secs: Option<u64>,
    /// Print progress lines on stderr.
    pub progress: bool,
    /// The engine as the report names it (`Docker 28.5.2 (API 1.51) at ...`).
    pub engine_line: String,
    /// `--setup-in-container IMAGE`: replay and grade the lab's `[ci] contained` steps in a
    /// throwaway container of this image ([`contained`]).
    pub setup_image: Option<String>,
}

/// How a step's replay went.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Replayed {
    /// Every command exited 0.
    Ran,
    /// A command exited non-zero: the step's work is not there (the grade says what is).
    Failed {
        command: String,
        code: Option<i32>,
        output: String,
    },
    /// A command passed its deadline and was stopped.
    TimedOut { command: String, secs: u64 },
    /// The learner's file may not run on a course's runner.
    Refused { why: String },
    /// Not replayed, because a step it needs did not replay.
    Skipped { why: String },
}

/// One step's replay.
#[derive(Debug, Clone, Serialize)]
pub struct StepReplay {
    pub step: String,
    #[serde(flatten)]
    pub replayed: Replayed,
    pub duration_ms: u64,
}

/// What a run left in the engine after its sweep (all zero on a good run).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Leftovers {
    pub containers: usize,
    pub images: usize,
    pub networks: usize,
}

impl Leftovers {
    pub fn total(&self) -> usize {
        self.containers + self.images + self.networks
    }
}

/// What was graded: the commit, and the repository as the CI's environment names it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Provenance {
    pub commit: Option<String>,
    /// `OWNER/NAME` (GitHub, GitLab), when the CI says.
    pub repository: Option<String>,
    /// The repository's owner, from the CI's environment.
    pub owner: Option<String>,
}

impl Provenance {
    /// `commit`, with the repository from GitHub's or GitLab's variables.
    fn from_env(commit: Option<String>) -> Provenance {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Provenance {
            commit,
            repository: var("GITHUB_REPOSITORY").or_else(|| var("CI_PROJECT_PATH")),
            owner: var("GITHUB_REPOSITORY_OWNER").or_else(|| var("CI_PROJECT_NAMESPACE")),
        }
    }
}

/// A finished run.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub run: String,
    #[serde(flatten)]
    pub source: Provenance,
    pub replay: Vec<StepReplay>,
    pub leftovers: Leftovers,
    #[serde(skip)]
    pub report: Report,
    /// Set when the run was interrupted (Ctrl-C, SIGTERM): the sweep still ran.
    pub interrupted: bool,
}

/// Why a run could not grade at all: the runner's fault, never the learner's.
#[derive(Debug, Clone, PartialEq)]
pub struct Infrastructure(pub String);

impl std::fmt::Display for Infrastructure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A fresh run id: 10 lowercase hex digits from the clock and the process id.
pub fn fresh_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mixed = (nanos ^ ((std::process::id() as u128) << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:010x}", (mixed >> 64) as u64 & 0xff_ffff_ffff)
}

/// Whether `id` can name a run: it becomes part of image, container and project names.
pub fn valid_run_id(id: &str) -> bool {
    (1..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

/// The Compose project of a run.
pub fn project(run: &str) -> String {
    format!("sre-lab-ci-{run}")
}

/// Log a progress line (stderr), when asked to.
fn say(on: bool, line: &str) {
    if on {
        eprintln!("==> {line}");
    }
}

/// The environment replayed commands see: only what the engine, Compose and pip need, so a
/// runner's secrets and `COMPOSE_*` settings never reach the learner's files.
fn clean_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "PATH"
                    | "HOME"
                    | "LANG"
                    | "LC_ALL"
                    | "TMPDIR"
                    | "DOCKER_HOST"
                    | "DOCKER_CONFIG"
                    | "DOCKER_CONTEXT"
                    | "DOCKER_CERT_PATH"
                    | "DOCKER_TLS_VERIFY"
                    | "SSL_CERT_FILE"
                    | "http_proxy"
                    | "https_proxy"
                    | "no_proxy"
                    | "HTTP_PROXY"
                    | "HTTPS_PROXY"
                    | "NO_PROXY"
            ) || k.starts_with("PIP_")
        })
        .collect()
}

/// Copy the repository (the one walker: no symlink followed, caches and `.git` left out)
/// into `to`, within [`MAX_REPO_BYTES`].
fn copy_repo(from: &Path, to: &Path) -> Result<usize, String> {
    let files = crate::walk::files(from, Path::new(""), 10_000);
    let mut total = 0u64;
    for f in &files {
        total += std::fs::symlink_metadata(from.join(f))
            .map(|m| m.len())
            .unwrap_or(0);
        if total > MAX_REPO_BYTES {
            return Err(format!(
                "the repository holds more than {} MiB of files: a lab repository is a few files; remove what does not belong (build output, datasets) and push again",
                MAX_REPO_BYTES >> 20
            ));
        }
    }
    for f in &files {
        let dst = to.join(f);
        if let Some(p) = dst.parent() {
            std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
        }
        std::fs::copy(from.join(f), &dst).map_err(|e| format!("copying {}: {e}", f.display()))?;
    }
    Ok(files.len())
}

/// The commit graded: the CI's own variable, else the checkout's HEAD (read by `git`, no shell).
fn commit_of(repo: &Path) -> Option<String> {
    for v in ["GITHUB_SHA", "CI_COMMIT_SHA"] {
        if let Ok(s) = std::env::var(v) {
            if !s.trim().is_empty() {
                return Some(s.trim().to_string());
            }
        }
    }
    git(repo, &["rev-parse", "HEAD"])
}

/// One line of `git -C repo ARGS`, when it succeeds.
pub fn git(repo: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

/// Compose as this runner has it: v2's plugin, else v1's program.
async fn compose_program(env: &[(String, String)]) -> Option<Vec<String>> {
    for argv in [vec!["docker", "compose"], vec!["docker-compose"]] {
        let mut cmd = tokio::process::Command::new(argv[0]);
        cmd.args(&argv[1..])
            .arg("version")
            .env_clear()
            .envs(env.iter().cloned());
        if let Ok(f) = crate::bounded::run(cmd, 4096, Duration::from_secs(20)).await {
            if f.code == Some(0) {
                return Some(argv.iter().map(|s| s.to_string()).collect());
            }
        }
    }
    None
}

/// Run one replayed command in `dir`, with progress lines while it runs; its standard output
/// (bounded) when it succeeds.
async fn run_command(
    argv: &[String],
    dir: &Path,
    env: &[(String, String)],
    deadline: Duration,
    progress: bool,
) -> Result<Vec<u8>, Replayed> {
    let shown = argv.join(" ");
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().cloned());
    let start = Instant::now();
    let run = crate::bounded::run(cmd, OUTPUT_LIMIT, deadline);
    tokio::pin!(run);
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.tick().await;
    let done = loop {
        tokio::select! {
            r = &mut run => break r,
            _ = tick.tick() => say(progress, &format!("  ... still running after {} s: {shown}", start.elapsed().as_secs())),
        }
    };
    match done {
        Err(_) if start.elapsed() >= deadline => Err(Replayed::TimedOut {
            command: shown,
            secs: deadline.as_secs(),
        }),
        Err(e) => Err(Replayed::Failed {
            command: shown,
            code: None,
            output: e,
        }),
        Ok(f) if f.code == Some(0) => Ok(f.stdout),
        Ok(f) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&f.stdout),
                String::from_utf8_lossy(&f.stderr)
            );
            Err(Replayed::Failed {
                command: shown,
                code: f.code,
                output: crate::bounded::cap_tail(&text, 4000),
            })
        }
    }
}

/// Everything one run decided before it replays: names, paths, the engine.
struct Run {
    lab: Lab,
    opts: Options,
    names: Names,
    work: PathBuf,
    copy: PathBuf,
    env: Vec<(String, String)>,
    engine: Arc<dyn Engine>,
    deadline: Duration,
    compose_used: bool,
}

/// Grade `opts.repo` for `lab` on `engine`: replay, grade, sweep. `interrupt` resolves when
/// the run must stop (the sweep still runs).
pub async fn run(
    lab: &Lab,
    opts: Options,
    engine: Arc<dyn Engine>,
    interrupt: impl std::future::Future<Output = ()>,
) -> Result<Outcome, Infrastructure> {
    let ci = lab.ci.clone().ok_or_else(|| {
        Infrastructure(format!(
            "lab {} has no `[ci]` table: it cannot be replayed",
            lab.id
        ))
    })?;
    let run_id = opts.run.clone().unwrap_or_else(fresh_run_id);
    if !valid_run_id(&run_id) {
        return Err(Infrastructure(format!(
            "--run-id {run_id:?}: use 1 to 40 lowercase letters, digits and `-`"
        )));
    }
    if !crate::registry::answers(&opts.registry).await {
        return Err(Infrastructure(format!(
            "no registry answers at {}: start one for the job (GitHub Actions: a `registry:2` service on that port; here: `scripts/setup-engine.sh`), or pass --registry HOST:PORT",
            opts.registry
        )));
    }
    let base = std::env::var_os("RUNNER_TEMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let work = base.join(format!("sre-lab-ci-{run_id}"));
    let copy = work.join("repo");
    std::fs::create_dir_all(&copy)
        .map_err(|e| Infrastructure(format!("cannot make {}: {e}", copy.display())))?;
    let copied = match copy_repo(&opts.repo, &copy) {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&work);
            return Err(Infrastructure(e));
        }
    };
    say(
        opts.progress,
        &format!(
            "run {run_id}: {copied} files of {} copied to {}",
            opts.repo.display(),
            copy.display()
        ),
    );
    let env = clean_env();
    let mut ports = BTreeMap::new();
    for p in &ci.ports {
        let free = crate::http::free_loopback_port()
            .map_err(|e| Infrastructure(format!("no free port: {e}")))?;
        ports.insert(*p, free);
    }
    let compose_file = work.join("compose.vetted.yaml");
    let mut compose = compose_program(&env)
        .await
        .unwrap_or_else(|| vec!["docker".into(), "compose".into()]);
    compose.extend([
        "-p".to_string(),
        project(&run_id),
        "-f".to_string(),
        compose_file.to_string_lossy().into_owned(),
        "--project-directory".to_string(),
        copy.to_string_lossy().into_owned(),
    ]);
    let names = Names {
        run: run_id.clone(),
        registry: opts.registry.clone(),
        ports,
        images: ci.images.clone(),
        compose,
        venv: work.join("venv"),
        label: (RUN_LABEL.to_string(), run_id.clone()),
    };
    let deadline = Duration::from_secs(opts.command_secs.unwrap_or(ci.command_secs).max(1));
    let mut r = Run {
        lab: lab.clone(),
        opts,
        names,
        work,
        copy,
        env,
        engine,
        deadline,
        compose_used: false,
    };
    let commit = commit_of(&r.opts.repo);
    let mut replays = Vec::new();
    let graded = {
        let work = r.replay_and_grade(&ci, &mut replays);
        tokio::pin!(work);
        tokio::select! {
            g = &mut work => Some(g),
            _ = interrupt => None,
        }
    };
    if graded.is_none() {
        say(r.opts.progress, "interrupted: removing what the run made");
        // A create request already on its way lands before the sweep looks.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let leftovers = r.sweep(&ci).await;
    let _ = std::fs::remove_dir_all(&r.work);
    let interrupted = graded.is_none();
    let report = match graded {
        Some(Ok(rep)) => rep,
        Some(Err(e)) => return Err(e),
        None => Report::default(),
    };
    Ok(Outcome {
        run: run_id,
        source: Provenance::from_env(commit),
        replay: replays,
        leftovers,
        report,
        interrupted,
    })
}

impl Run {
    async fn replay_and_grade(
        &mut self,
        ci: &crate::lab::Ci,
        replays: &mut Vec<StepReplay>,
    ) -> Result<Report, Infrastructure> {
        let mut bindings = Bindings::default();
        for i in &ci.images {
            bindings.images.insert(i.clone(), self.names.unique(i));
        }
        bindings.ports = self.names.ports.clone();
        let steps: Vec<_> = self.lab.core_steps().cloned().collect();
        let mut python = None;
        // Steps graded inside their setup container, by id.
        let mut inside: Vec<crate::report::StepReport> = Vec::new();
        for step in &steps {
            if step.replay.is_empty() {
                continue;
            }
            let start = Instant::now();
            let blocked = step.requires.iter().find_map(|r| {
                replays
                    .iter()
                    .find(|p: &&StepReplay| &p.step == r && p.replayed != Replayed::Ran)
                    .map(|p| (r.clone(), p.replayed.clone()))
            });
            let replayed = if let Some((r, how)) = blocked {
                Replayed::Skipped {
                    why: format!("it builds on the {r} step, which {}", short(&how)),
                }
            } else if let Some(image) = self.contained_image(ci, &step.id) {
                say(
                    self.opts.progress,
                    &format!(
                        "[{}] replaying {} in a container of {image}",
                        step.id, step.title
                    ),
                );
                let (replayed, report) = self.replay_contained(&image, step).await;
                // Without the container's report the step is not graded here either (that
                // would run the learner's code on the runner): it fails with the replay's reason.
                inside.push(report.unwrap_or_else(|| crate::grade::report_of(step, Vec::new(), 0)));
                replayed
            } else {
                say(
                    self.opts.progress,
                    &format!("[{}] replaying {}", step.id, step.title),
                );
                self.replay_step(step, &mut bindings).await
            };
            if replayed == Replayed::Ran
                && !inside.iter().any(|s| s.id == step.id)
                && step
                    .replay
                    .iter()
                    .any(|a| a.iter().any(|x| x.contains("{venv}")))
            {
                python = Some(self.names.venv.join("bin/python"));
            }
            say(
                self.opts.progress,
                &format!(
                    "[{}] {} ({:.1} s)",
                    step.id,
                    short(&replayed),
                    start.elapsed().as_secs_f64()
                ),
            );
            replays.push(StepReplay {
                step: step.id.clone(),
                replayed,
                duration_ms: start.elapsed().as_millis() as u64,
            });
        }
        say(self.opts.progress, "grading the result");
        let tag = replay::expand(std::slice::from_ref(&ci.tag), &self.names)
            .map_err(Infrastructure)?
            .pop();
        let req = Request {
            steps: steps
                .iter()
                .filter(|s| !inside.iter().any(|i| i.id == s.id))
                .map(|s| s.id.clone())
                .collect(),
            optional: false,
            dir: self.copy.clone(),
            python,
            image: tag,
            bindings,
        };
        let backends = Backends {
            engine: EngineState::Connected {
                engine: self.engine.clone(),
                line: self.opts.engine_line.clone(),
            },
            cleanup: Arc::new(Cleanup::default()),
        };
        backends.cleanup.set_engine(self.engine.clone());
        let mut report = grade(&self.lab, &req, &backends, Arc::new(Cache::default()), None).await;
        backends.cleanup.sweep_all().await;
        if !inside.is_empty() {
            report.steps.extend(inside);
            let order = |id: &str| steps.iter().position(|x| x.id == id);
            report.steps.sort_by_key(|r| order(&r.id));
        }
        apply_replays(&mut report, replays);
        report.workspace = self.opts.repo.display().to_string();
        Ok(report)
    }

    /// The image to contain step `id` in, when `--setup-in-container` asks and the lab lists it.
    fn contained_image(&self, ci: &crate::lab::Ci, id: &str) -> Option<String> {
        let image = self.opts.setup_image.clone()?;
        ci.contained.iter().any(|c| c == id).then_some(image)
    }

    /// Replay and grade `step` in a throwaway container ([`contained`]): how the replay went,
    /// and the step's report when the container gave one.
    async fn replay_contained(
        &mut self,
        image: &str,
        step: &crate::lab::Step,
    ) -> (Replayed, Option<crate::report::StepReport>) {
        let exe = std::env::current_exe().and_then(|e| e.canonicalize());
        let labs = crate::lab::labs_dir()
            .map_err(|e| e.to_string())
            .and_then(|d| d.canonicalize().map_err(|e| e.to_string()));
        let sample = self
            .lab
            .dir
            .join(&self.lab.workspace)
            .canonicalize()
            .map_err(|e| e.to_string());
        let refused = |why: String| (Replayed::Refused { why }, None);
        let exe = match exe {
            Ok(e) => e,
            Err(e) => return refused(format!("cannot find this lab binary to mount: {e}")),
        };
        let (labs, sample) = match (labs, sample) {
            (Ok(l), Ok(s)) => (l, s),
            (Err(e), _) | (_, Err(e)) => {
                return refused(format!("cannot find the labs to mount: {e}"))
            }
        };
        let setup = contained::Setup {
            image,
            run: &self.names.run,
            lab: &self.lab.id,
            step: &step.id,
            work: &self.work,
            copy: &self.copy,
            venv: &self.names.venv,
            labs: &labs,
            sample: &sample,
            exe: &exe,
            command_secs: self.deadline.as_secs(),
        };
        let argv = match contained::docker_argv(
            &setup,
            contained::owner(&self.work),
            &contained::passed_env(),
        ) {
            Ok(a) => a,
            Err(why) => return (Replayed::Refused { why }, None),
        };
        say(
            self.opts.progress,
            &format!("[{}] $ docker run ... {image} (lab dev ci-step)", step.id),
        );
        // Its own commands have their deadlines inside; grading it gets a minute more.
        let whole = self.deadline * step.replay.len().max(1) as u32 + Duration::from_secs(60);
        match run_command(&argv, &self.copy, &self.env, whole, self.opts.progress).await {
            Err(r) => (r, None),
            Ok(out) => match contained::read_answer(&out) {
                Ok(Answer {
                    replayed,
                    step: Some(s),
                }) if s.id == step.id => (replayed, Some(s)),
                Ok(Answer {
                    replayed: Replayed::Ran,
                    ..
                }) => (
                    Replayed::Failed {
                        command: format!("lab dev ci-step in {image}"),
                        code: Some(0),
                        output: "the setup container graded no such step".into(),
                    },
                    None,
                ),
                Ok(a) => (a.replayed, None),
                Err(e) => (
                    Replayed::Failed {
                        command: format!("lab dev ci-step in {image}"),
                        code: Some(0),
                        output: e,
                    },
                    None,
                ),
            },
        }
    }

    async fn replay_step(&mut self, step: &crate::lab::Step, bindings: &mut Bindings) -> Replayed {
        let uses_compose = step
            .replay
            .iter()
            .any(|a| a.first().is_some_and(|p| p == "{compose}"));
        if uses_compose {
            match self.vet_compose() {
                Ok(files) => bindings.compose_files = Some(files),
                Err(r) => return r,
            }
            self.compose_used = true;
        }
        for argv in &step.replay {
            let cmd = match replay::expand(argv, &self.names) {
                Ok(c) => c,
                Err(e) => return Replayed::Refused { why: e },
            };
            say(
                self.opts.progress,
                &format!("[{}] $ {}", step.id, cmd.join(" ")),
            );
            if let Err(r) = run_command(
                &cmd,
                &self.copy,
                &self.env,
                self.deadline,
                self.opts.progress,
            )
            .await
            {
                return r;
            }
        }
        Replayed::Ran
    }

    /// Choose and read the learner's compose files as Compose would, vet them, and write the
    /// copy the replay runs. Returns the chosen files as Compose's label would name them.
    fn vet_compose(&self) -> Result<String, Replayed> {
        let mut vars: std::collections::HashMap<String, String> =
            self.env.iter().cloned().collect();
        for (k, v) in crate::compose::compose_env(&self.copy) {
            vars.entry(k).or_insert(v);
        }
        // Only the repository's `.env` and the clean environment: never the runner's own.
        vars.retain(|k, _| self.env.iter().any(|(e, _)| e == k) || dot_env_has(&self.copy, k));
        let refused = |why: String| Replayed::Refused { why };
        let Some(choice) = compose_files::choose(&self.copy, None, &vars) else {
            return Err(Replayed::Failed {
                command: "docker compose up".into(),
                code: None,
                output: "there is no compose file in the repository (compose.yaml or docker-compose.yml)".into(),
            });
        };
        let (text, shown) = compose_files::read(&choice, &self.copy, "compose.file")
            .map_err(|r| refused(r.message))?;
        if let Some(line) = crate::compose::too_deep(&text, 64) {
            return Err(refused(format!("{shown} nests too deep (line {line})")));
        }
        let mut model: serde_norway::Value = serde_norway::from_str(&text)
            .map_err(|e| refused(format!("{shown} is not valid YAML: {e}")))?;
        model
            .apply_merge()
            .map_err(|e| refused(format!("{shown}: a `<<:` merge key cannot be applied: {e}")))?;
        let labels = [(RUN_LABEL.to_string(), self.names.run.clone())];
        let run = vet::Run {
            repo: &self.copy,
            vars: &vars,
            port: ci_port(&self.names),
            labels: &labels,
        };
        let yaml = vet::vet(&model, &run).map_err(|r| refused(format!("{shown}: {r}")))?;
        std::fs::write(self.work.join("compose.vetted.yaml"), yaml)
            .map_err(|e| refused(format!("cannot write the vetted compose file: {e}")))?;
        Ok(choice
            .files
            .iter()
            .map(|f| {
                f.strip_prefix(&self.copy)
                    .unwrap_or(f)
                    .to_string_lossy()
                    .into_owned()
            })
            .collect::<Vec<_>>()
            .join(","))
    }

    /// Remove what the run made: Compose's project, then every container, network and image
    /// carrying the run's label or names, then the run's tag in the registry. Returns what is
    /// still there afterwards.
    async fn sweep(&self, ci: &crate::lab::Ci) -> Leftovers {
        if self.compose_used && self.work.join("compose.vetted.yaml").exists() {
            let mut down = self.names.compose.clone();
            down.extend(
                [
                    "down",
                    "--volumes",
                    "--remove-orphans",
                    "--rmi",
                    "local",
                    "-t",
                    "1",
                ]
                .map(String::from),
            );
            let _ = run_command(&down, &self.copy, &self.env, Duration::from_secs(60), false).await;
        }
        // Twice when needed: under load an image removal can fail while its container is
        // still going away; the second pass finds what the first left.
        sweep_engine(self.engine.as_ref(), &self.names.run).await;
        if leftovers(self.engine.as_ref(), &self.names.run)
            .await
            .total()
            > 0
        {
            tokio::time::sleep(Duration::from_millis(500)).await;
            sweep_engine(self.engine.as_ref(), &self.names.run).await;
        }
        if let Ok(Some(tag)) =
            replay::expand(std::slice::from_ref(&ci.tag), &self.names).map(|mut v| v.pop())
        {
            let _ = crate::registry::delete_local(&Reference::parse(&tag)).await;
        }
        leftovers(self.engine.as_ref(), &self.names.run).await
    }
}

fn dot_env_has(dir: &Path, key: &str) -> bool {
    crate::bounded::read_text(&dir.join(".env"), crate::bounded::MAX_SPEC_FILE, Some(dir))
        .map(|t| {
            t.lines().any(|l| {
                l.trim()
                    .split_once('=')
                    .is_some_and(|(k, _)| k.trim() == key)
            })
        })
        .unwrap_or(false)
}

/// The lab's first host port and the run's in its place.
fn ci_port(names: &Names) -> vet::PortSwap {
    names
        .ports
        .iter()
        .next()
        .map(|(l, r)| vet::PortSwap { lab: *l, run: *r })
        .unwrap_or(vet::PortSwap { lab: 0, run: 0 })
}

/// A few words for a replay's outcome.
fn short(r: &Replayed) -> String {
    match r {
        Replayed::Ran => "replayed".into(),
        Replayed::Failed { command, code, .. } => match code {
            Some(c) => format!("failed: `{command}` exited {c}"),
            None => format!("failed: `{command}`"),
        },
        Replayed::TimedOut { command, secs } => {
            format!("timed out: `{command}` ran past {secs} s and was stopped")
        }
        Replayed::Refused { why } => format!("was refused: {why}"),
        Replayed::Skipped { why } => format!("was not replayed: {why}"),
    }
}

/// Put the replays into the report: a step not replayed is skipped, with the reason; a
/// failed, timed-out or refused replay is a failing `STEP.replay` check first in its step.
pub fn apply_replays(report: &mut Report, replays: &[StepReplay]) {
    for r in replays {
        let Some(step) = report.steps.iter_mut().find(|s| s.id == r.step) else {
            continue;
        };
        let id = format!("{}.replay", r.step);
        match &r.replayed {
            Replayed::Ran => {}
            Replayed::Skipped { why } => {
                step.checks = vec![CheckResult::skip(&id, format!("not graded: {why}"))
                    .hint("fix the earlier step; this one is graded once it can be replayed")];
            }
            Replayed::Failed { output, .. } => step.checks.insert(
                0,
                CheckResult::fail(&id, short(&r.replayed))
                    .detail(output.clone())
                    .hint("run the same command in a fresh clone of your repository: what you committed must build and run without anything left on your machine"),
            ),
            Replayed::TimedOut { .. } => step.checks.insert(
                0,
                CheckResult::fail(&id, short(&r.replayed))
                    .hint("a step that waits for input or never ends (a foreground server, `input()`) cannot be graded; make it finish"),
            ),
            Replayed::Refused { why } => step.checks.insert(
                0,
                CheckResult::fail(&id, format!("refused on a course's runner: {why}"))
                    .hint("keep the compose file to the lesson's service: `build: .` and `ports:`; mounts only of the repository's own directories"),
            ),
        }
        step.status = step_status(&step.checks);
    }
    report.summary = Report::summarize(&report.steps);
}

/// Remove every container, network and image of run `run` (by its label and its names).
pub async fn sweep_engine(engine: &dyn Engine, run: &str) {
    let project = project(run);
    if let Ok(all) = engine.containers().await {
        for c in all.iter().filter(|c| ours_container(c, run, &project)) {
            let _ = engine.remove(&c.id).await;
        }
    }
    if let Ok(nets) = engine.networks().await {
        for n in nets.iter().filter(|n| ours_network(n, &project)) {
            let _ = engine.remove_network(&n.0).await;
        }
    }
    if let Ok(images) = engine.images().await {
        for i in images.iter().filter(|i| ours_image(i, run, &project)) {
            for t in &i.repo_tags {
                let _ = engine.remove_image(t).await;
            }
            if i.repo_tags.is_empty() {
                let _ = engine.remove_image(&i.id).await;
            }
        }
    }
}

/// What of run `run` is still in the engine.
/// A list the engine fails to give counts as one unknown leftover, never as none.
pub async fn leftovers(engine: &dyn Engine, run: &str) -> Leftovers {
    let project = project(run);
    Leftovers {
        containers: engine
            .containers()
            .await
            .map(|a| {
                a.iter()
                    .filter(|c| ours_container(c, run, &project))
                    .count()
            })
            .unwrap_or(1),
        networks: engine
            .networks()
            .await
            .map(|a| a.iter().filter(|n| ours_network(n, &project)).count())
            .unwrap_or(1),
        images: engine
            .images()
            .await
            .map(|a| a.iter().filter(|i| ours_image(i, run, &project)).count())
            .unwrap_or(1),
    }
}

fn ours_container(c: &crate::engine::ContainerSummary, run: &str, project: &str) -> bool {
    c.labels.get(RUN_LABEL).is_some_and(|v| v == run)
        || c.labels
            .get(compose_label::PROJECT)
            .is_some_and(|p| p == project)
}

fn ours_network(
    n: &(String, String, std::collections::HashMap<String, String>),
    project: &str,
) -> bool {
    n.2.get(compose_label::PROJECT)
        .is_some_and(|p| p == project)
}

fn ours_image(i: &crate::engine::ImageSummary, run: &str, project: &str) -> bool {
    i.labels.get(RUN_LABEL).is_some_and(|v| v == run)
        || i.repo_tags.iter().any(|t| {
            let r = Reference::parse(t);
            let name = r.repository();
            name.ends_with(&format!("-{run}"))
                || name.contains(&format!("ci-{run}/"))
                || name.starts_with(&format!("{project}-"))
                || name.starts_with(&format!("{project}_"))
        })
}

/// Whether a status passes (for the run's verdict line).
pub fn passed(report: &Report) -> bool {
    report.steps.iter().all(|s| s.status == Status::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_names_docker_accepts() {
        let a = fresh_run_id();
        assert!(valid_run_id(&a), "{a}");
        for bad in ["", "UPPER", "has space", "-lead", "a/b", &"x".repeat(41)] {
            assert!(!valid_run_id(bad), "{bad}");
        }
        assert!(valid_run_id("12345-1"));
    }

    #[test]
    fn a_skipped_replay_replaces_the_steps_checks_and_a_failed_one_leads_them() {
        use crate::report::StepReport;
        let mut report = Report {
            steps: vec![
                StepReport {
                    id: "build".into(),
                    status: Status::Fail,
                    checks: vec![CheckResult::fail("build.exists", "no image")],
                    ..StepReport::default()
                },
                StepReport {
                    id: "run".into(),
                    status: Status::Fail,
                    checks: vec![CheckResult::fail("run.container", "none")],
                    ..StepReport::default()
                },
            ],
            ..Report::default()
        };
        let replays = [
            StepReplay {
                step: "build".into(),
                replayed: Replayed::Failed {
                    command: "docker build -t x .".into(),
                    code: Some(1),
                    output: "no Dockerfile".into(),
                },
                duration_ms: 1,
            },
            StepReplay {
                step: "run".into(),
                replayed: Replayed::Skipped {
                    why: "it builds on the build step".into(),
                },
                duration_ms: 0,
            },
        ];
        apply_replays(&mut report, &replays);
        assert_eq!(report.steps[0].checks[0].id, "build.replay");
        assert_eq!(report.steps[0].status, Status::Fail);
        assert_eq!(report.steps[1].status, Status::Skip);
        assert_eq!(report.steps[1].checks.len(), 1);
        assert_eq!(report.summary.skipped, 1);
    }
}
