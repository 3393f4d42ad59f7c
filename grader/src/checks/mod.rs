//! The catalogue of check kinds, one module each, and the runner that grades a lab's steps.
//!
//! A kind's module doc comment says what it checks and why; `lab kinds` prints them and the
//! book's reference page is generated from them. Each kind is an async function from the
//! shared [`Ctx`] and its parameters (from the lab file) to a list of [`CheckResult`]s.
//! Steps run concurrently; the slow parts (probe container, host gunicorn) overlap.

pub mod compose;
pub mod container;
pub mod dockerfile;
pub mod editable;
pub mod image;
pub mod probe;
pub mod push;
pub mod tag;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;
use tokio::sync::OnceCell;

use crate::cleanup::Cleanup;
use crate::engine::{Engine, EngineError, Image};
use crate::lab::{CheckSpec, Lab, Step};
use crate::report::{step_status, CheckResult, StepReport};

/// Everything a check may look at, shared by all checks of one run.
pub struct Ctx {
    /// The learner's workspace.
    pub dir: PathBuf,
    /// `--python`: the interpreter whose environment the editable step inspects.
    pub python: Option<PathBuf>,
    /// `--image`: the tag to grade when there are several.
    pub image_ref: Option<String>,
    /// The engine, or why it could not be reached.
    pub engine: Result<Arc<dyn Engine>, EngineError>,
    /// What this run started and must remove.
    pub cleanup: Arc<Cleanup>,
    /// The tag chosen for the tag and push steps, decided once.
    pub chosen_tag: OnceCell<Option<String>>,
}

impl Ctx {
    /// The engine, or an `error` result saying it is unreachable.
    pub fn engine(&self, id: &str) -> Result<&Arc<dyn Engine>, CheckResult> {
        self.engine.as_ref().map_err(|e| engine_error(id, e))
    }

    /// Inspect an image; an engine failure becomes an `error` result.
    pub async fn image(&self, id: &str, reference: &str) -> Result<Option<Image>, CheckResult> {
        self.engine(id)?
            .image(reference)
            .await
            .map_err(|e| engine_error(id, &e))
    }
}

/// An `error` result for an engine failure, with what to do.
pub fn engine_error(id: &str, e: &EngineError) -> CheckResult {
    CheckResult::error(id, e.to_string()).hint(e.advice())
}

/// Run one check spec for a step.
pub async fn run_check(ctx: &Ctx, step: &str, spec: &CheckSpec) -> Vec<CheckResult> {
    match spec {
        CheckSpec::Dockerfile(spec) => dockerfile::check(ctx, step, spec),
        CheckSpec::Image {
            image,
            base_image,
            sources,
        } => image::check(ctx, step, image, base_image, sources).await,
        CheckSpec::Container {
            image,
            container_port,
            host_port,
            http,
        } => container::check(ctx, step, image, *container_port, *host_port, http).await,
        CheckSpec::Probe {
            image,
            container_port,
            memory_mib,
            http,
        } => probe::check(ctx, step, image, *container_port, *memory_mib, http).await,
        CheckSpec::Tag {
            source,
            repository,
            tag,
        } => tag::check(ctx, step, source, repository, tag).await,
        CheckSpec::Push { repository, tag } => push::check(ctx, step, repository, tag).await,
        CheckSpec::Compose {
            container_port,
            host_port,
            http,
            sources,
        } => compose::check(ctx, step, *container_port, *host_port, http, sources).await,
        CheckSpec::Editable {
            distribution,
            module,
            app,
            http,
        } => editable::check(ctx, step, distribution, module, app, http).await,
    }
}

async fn run_step(ctx: &Ctx, step: &Step) -> StepReport {
    let start = Instant::now();
    let results = join_all(step.checks.iter().map(|c| run_check(ctx, &step.id, c))).await;
    let checks: Vec<CheckResult> = results.into_iter().flatten().collect();
    StepReport {
        id: step.id.clone(),
        title: step.title.clone(),
        status: step_status(&checks),
        book: step.book.clone(),
        checks,
        hint: step.hints[0].clone(),
        duration_ms: start.elapsed().as_millis() as u64,
    }
}

/// Grade the chosen steps of a lab (all when `only` is empty), concurrently, in lab order.
pub async fn run_lab(ctx: &Ctx, lab: &Lab, only: &[String]) -> Vec<StepReport> {
    let steps: Vec<&Step> = lab
        .steps
        .iter()
        .filter(|s| only.is_empty() || only.contains(&s.id))
        .collect();
    join_all(steps.into_iter().map(|s| run_step(ctx, s))).await
}

/// Whether two paths name the same existing directory or file.
pub fn same_path(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Whether a gunicorn log shows it listening where a published `container_port` cannot reach
/// (127.0.0.1, or another port).
pub fn unreachable_bind(log: &str, container_port: u16) -> bool {
    log.lines()
        .filter_map(|l| l.split("Listening at: http://").nth(1))
        .any(|addr| !addr.starts_with(&format!("0.0.0.0:{container_port}")))
}

/// Probe a container's published port until the app answers, the deadline passes, the
/// container stops running, or its log shows gunicorn bound out of reach (waiting out the
/// deadline then would only delay the diagnosis).
pub async fn probe_container(
    engine: &dyn Engine,
    id: &str,
    container_port: u16,
    host_port: u16,
    http: &crate::lab::HttpExpect,
) -> crate::http::Probe {
    let alive = || async {
        match engine.container(id).await {
            Ok(Some(c)) if c.running => !unreachable_bind(
                &engine.logs_tail(id, 20).await.unwrap_or_default(),
                container_port,
            ),
            _ => false,
        }
    };
    crate::http::probe(
        "127.0.0.1",
        host_port,
        &http.path,
        std::time::Duration::from_secs(http.deadline_secs),
        alive,
    )
    .await
}

/// The doc comment of each check kind, for `lab kinds` and the book.
pub fn catalogue() -> Vec<(&'static str, &'static str)> {
    vec![
        ("dockerfile", dockerfile::DOC),
        ("image", image::DOC),
        ("probe", probe::DOC),
        ("container", container::DOC),
        ("tag", tag::DOC),
        ("push", push::DOC),
        ("compose", compose::DOC),
        ("editable", editable::DOC),
    ]
}

/// Workspace files under `sources` (directories walked; caches, dot-files and egg-info skipped),
/// as paths relative to the workspace.
pub fn source_files(dir: &std::path::Path, sources: &[String]) -> Vec<String> {
    fn walk(base: &std::path::Path, rel: &str, out: &mut Vec<String>) {
        let p = base.join(rel);
        if p.is_dir() {
            let Ok(rd) = std::fs::read_dir(&p) else {
                return;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name == "__pycache__" || name.starts_with('.') || name.ends_with(".egg-info") {
                    continue;
                }
                walk(base, &format!("{rel}/{name}"), out);
            }
        } else if p.is_file() {
            out.push(rel.to_string());
        }
    }
    let mut out = Vec::new();
    for s in sources {
        walk(dir, s, &mut out);
    }
    out.sort();
    out
}

/// What an image holds compared with the workspace: files whose content differs, and
/// workspace paths that should have stayed out of the image (`.git`, virtual environments).
#[derive(Debug, Default)]
pub struct ImageContent {
    pub differing: Vec<String>,
    pub leaked: Vec<String>,
}

/// Compare the files under the image's working dir with the workspace's `sources`.
/// Files the image does not have (excluded by .dockerignore, say) are not counted as stale.
pub async fn compare_content(
    ctx: &Ctx,
    engine: &dyn Engine,
    image: &str,
    workdir: &str,
    sources: &[String],
) -> Result<ImageContent, EngineError> {
    let workdir = if workdir.is_empty() { "/" } else { workdir };
    let files = engine.image_files(image, workdir, 64 * 1024 * 1024).await?;
    let mut out = ImageContent::default();
    for rel in source_files(&ctx.dir, sources) {
        if let (Some(inside), Ok(local)) = (files.get(&rel), std::fs::read(ctx.dir.join(&rel))) {
            if *inside != local {
                out.differing.push(rel);
            }
        }
    }
    let mut leaked: Vec<String> = files
        .keys()
        .filter_map(|k| {
            let top = k.split('/').next().unwrap_or(k);
            let nested_cache = k.split('/').any(|c| c == "__pycache__");
            (matches!(top, ".git" | ".venv" | "venv" | "env") || nested_cache).then(|| {
                if nested_cache {
                    "__pycache__".to_string()
                } else {
                    top.to_string()
                }
            })
        })
        .collect();
    leaked.sort();
    leaked.dedup();
    out.leaked = leaked;
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! Check logic against the in-memory engine: states that are slow or awkward to produce for
    //! real (a wedged engine, a crash loop). The real engine is tested end to end in `tests/`.
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::fake::FakeEngine;
    use crate::engine::{Container, Image};
    use crate::lab::HttpExpect;
    use crate::report::Status;

    fn ctx(engine: FakeEngine) -> Ctx {
        Ctx {
            dir: std::env::temp_dir(),
            python: None,
            image_ref: None,
            engine: Ok(Arc::new(engine)),
            cleanup: Arc::new(Cleanup::default()),
            chosen_tag: OnceCell::new(),
        }
    }

    fn app_image(id: &str, tags: &[&str]) -> Image {
        Image {
            id: id.into(),
            repo_tags: tags.iter().map(|t| t.to_string()).collect(),
            cmd: vec!["gunicorn".into()],
            working_dir: "/app".into(),
            ..Image::default()
        }
    }

    fn http() -> HttpExpect {
        HttpExpect {
            path: "/".into(),
            status: 200,
            json: BTreeMap::new(),
            deadline_secs: 1,
        }
    }

    #[test]
    fn an_unreachable_bind_is_read_from_the_gunicorn_log() {
        let log = |addr: &str| {
            format!("[INFO] Starting gunicorn 23.0.0\n[INFO] Listening at: http://{addr} (1)\n")
        };
        assert!(unreachable_bind(&log("127.0.0.1:5000"), 5000));
        assert!(unreachable_bind(&log("0.0.0.0:8000"), 5000));
        assert!(!unreachable_bind(&log("0.0.0.0:5000"), 5000));
        assert!(!unreachable_bind("no gunicorn here", 5000));
    }

    #[tokio::test]
    async fn a_wedged_engine_is_an_error_with_advice_not_a_failure() {
        let fake = FakeEngine::default();
        *fake.fail_with.lock().unwrap() = Some(EngineError::Timeout {
            what: "inspecting".into(),
            secs: 10,
        });
        let r = image::check(
            &ctx(fake),
            "build",
            "python-docker-app:latest",
            "python:3.9-slim",
            &[],
        )
        .await;
        assert_eq!(r[0].status, Status::Error);
        assert!(r[0].hint.as_deref().unwrap().contains("restart the engine"));
    }

    #[tokio::test]
    async fn a_crash_loop_is_diagnosed_from_the_log() {
        let fake = FakeEngine::default();
        fake.add_image(app_image("sha256:aaa", &["python-docker-app:latest"]));
        fake.containers.lock().unwrap().push(Container {
            id: "c1".into(),
            name: "web".into(),
            image_id: "sha256:aaa".into(),
            status: "restarting".into(),
            restarting: true,
            restart_count: 4,
            exit_code: 127,
            ..Container::default()
        });
        fake.logs.lock().unwrap().insert(
            "c1".into(),
            "exec: \"gunicorn\": executable file not found in $PATH".into(),
        );
        let r = container::check(
            &ctx(fake),
            "run",
            "python-docker-app:latest",
            5000,
            5000,
            &http(),
        )
        .await;
        let c = r.iter().find(|c| c.id == "run.container").unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.message
                .contains("crash-looping (restarted 4 times, last exit 127)"),
            "{c:?}"
        );
        assert!(
            c.found
                .as_deref()
                .unwrap()
                .contains("not installed in the image"),
            "{c:?}"
        );
    }

    #[tokio::test]
    async fn a_tag_left_on_an_older_build_fails() {
        let fake = FakeEngine::default();
        fake.add_image(app_image("sha256:new", &["python-docker-app:latest"]));
        fake.add_image(app_image("sha256:old", &["ana/python-docker-app:v1"]));
        let r = tag::check(
            &ctx(fake),
            "tag",
            "python-docker-app:latest",
            "python-docker-app",
            "v1",
        )
        .await;
        assert_eq!(r[0].status, Status::Fail);
        assert!(
            r[0].message.contains("tagged before the image was rebuilt"),
            "{:?}",
            r[0]
        );
        assert_eq!(r[0].expected.as_deref(), Some("new"));
    }
}
