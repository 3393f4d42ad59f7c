//! The registry of check kinds, one module each, and the runner that grades a lab's steps.
//!
//! A kind is one file, `checks/<kind>.rs`, plus one word in the [`kinds!`] line below. The file
//! owns everything about the kind: its `Spec` (its parameters, deserialized from `lab.toml`),
//! its `DOC` (the one text `lab kinds`, rustdoc and the book show), and its [`Kind`] impl:
//! what it [`Needs`] (for `lab doctor`), what it [`Makes`] (for `lab reset`), and its check,
//! an async function from the shared [`Ctx`] to a list of [`CheckResult`]s. The lab loader,
//! the runner, `reset`, `doctor` and the catalogue read the registry and nothing else.
//! Steps run concurrently; the slow parts (probe container, host gunicorn) overlap.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::cache::Cache;
use crate::cleanup::Cleanup;
use crate::engine::EngineState;
use crate::engine::{Engine, EngineError, Image};
use crate::report::CheckResult;

/// What a check needs from the machine; `lab doctor LAB` checks the union over the lab.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// A container engine.
    pub engine: bool,
    /// Docker Compose.
    pub compose: bool,
    /// A Python with venv and pip on the host.
    pub python: bool,
    /// A base image that must be present or pullable.
    pub base_image: Option<String>,
    /// A registry (`host:port`) that must answer.
    pub registry: Option<String>,
    /// A host port that must be free for the learner's container.
    pub host_port: Option<u16>,
}

impl Needs {
    /// Only the engine.
    pub const ENGINE: Needs = Needs {
        engine: true,
        compose: false,
        python: false,
        base_image: None,
        registry: None,
        host_port: None,
    };

    /// The same needs plus a host port.
    pub fn and_port(self, port: u16) -> Needs {
        Needs {
            host_port: Some(port),
            ..self
        }
    }
}

/// What the learner makes in the engine for a check, so `lab reset` can remove it (and only it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Makes {
    /// Repositories (last path component) whose tags, containers and registry tags are the lab's.
    pub repositories: Vec<String>,
    /// The workspace's Compose project.
    pub compose_project: bool,
}

impl Makes {
    /// The repository of an image reference.
    pub fn image(reference: &str) -> Makes {
        Makes::repository(crate::reference::Reference::parse(reference).name())
    }
    /// A repository by name.
    pub fn repository(name: &str) -> Makes {
        Makes {
            repositories: vec![name.to_string()],
            compose_project: false,
        }
    }
}

/// A check kind: implemented by each kind's `Spec`.
#[allow(async_fn_in_trait)]
pub trait Kind {
    /// What the check needs from the machine.
    fn needs(&self) -> Needs;
    /// What the learner makes for this check.
    fn makes(&self) -> Makes {
        Makes::default()
    }
}

/// The registry: one line names every kind. It declares the modules, the `kind`-tagged
/// [`CheckSpec`] that lab files deserialize into, its dispatch, and the [`CATALOGUE`].
macro_rules! kinds {
    ($($kind:ident),* $(,)?) => {
        $(pub mod $kind;)*

        /// A check in a lab file: `kind = "<name>"` plus that kind's parameters (its `Spec`).
        #[derive(Debug, Clone, serde::Deserialize)]
        #[serde(tag = "kind")]
        #[allow(non_camel_case_types)]
        pub enum CheckSpec {
            $(
                #[doc = concat!("See [`", stringify!($kind), "`].")]
                $kind($kind::Spec),
            )*
        }

        impl CheckSpec {
            /// The kind's name as written in lab files.
            pub fn kind(&self) -> &'static str {
                match self { $(CheckSpec::$kind(_) => stringify!($kind),)* }
            }
            /// What the check needs from the machine.
            pub fn needs(&self) -> Needs {
                match self { $(CheckSpec::$kind(s) => s.needs(),)* }
            }
            /// What the learner makes for it.
            pub fn makes(&self) -> Makes {
                match self { $(CheckSpec::$kind(s) => s.makes(),)* }
            }
            /// Run the check for a step.
            pub async fn check(&self, ctx: &Ctx, step: &str) -> Vec<CheckResult> {
                match self { $(CheckSpec::$kind(s) => $kind::check(ctx, step, s).await,)* }
            }
        }

        /// Every kind's name and its `DOC`, in registry order, for `lab kinds` and the book.
        pub const CATALOGUE: &[(&str, &str)] = &[$((stringify!($kind), $kind::DOC),)*];
    };
}

kinds!(
    dockerfile,
    image,
    probe,
    container,
    tag,
    push,
    compose,
    editable,
    nonroot,
    healthcheck,
    devloop,
    size
);

/// Everything a check may look at, shared by all checks of one run.
pub struct Ctx {
    /// The learner's workspace.
    pub dir: PathBuf,
    /// `--python`: the interpreter whose environment the editable step inspects.
    pub python: Option<PathBuf>,
    /// `--image`: the tag to grade when there are several.
    pub image_ref: Option<String>,
    /// The engine, or why there is none.
    pub engine: EngineState,
    /// What this run started and must remove.
    pub cleanup: Arc<Cleanup>,
    /// The tag chosen for the tag and push steps, decided once.
    pub chosen_tag: OnceCell<Option<String>>,
    /// Verdicts keyed by immutable ids, shared across the runs of a session.
    pub cache: Arc<Cache>,
    /// The names this run uses in place of the lab's own (`lab ci`); empty otherwise.
    pub bindings: Bindings,
}

/// Names a run uses in place of the lab's (`lab ci` makes them unique to the run, so two
/// gradings on one engine never meet). Kinds apply them to the engine's side only: a learner's
/// file is still graded against the lab's own port and names.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    /// A lab image repository (`python-docker-app`) and the run's in its place.
    pub images: std::collections::BTreeMap<String, String>,
    /// A lab host port (5000) and the run's in its place.
    pub ports: std::collections::BTreeMap<u16, u16>,
    /// The compose files to grade (as Compose's `config_files` label names them) when the
    /// running project was started from a vetted copy of them.
    pub compose_files: Option<String>,
}

impl Bindings {
    /// The run's name for a lab image reference (`python-docker-app:latest`), tag kept.
    pub fn image(&self, reference: &str) -> String {
        let (repo, tag) = match reference.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(t)),
            _ => (reference, None),
        };
        match (self.images.get(repo), tag) {
            (Some(run), Some(t)) => format!("{run}:{t}"),
            (Some(run), None) => run.clone(),
            (None, _) => reference.to_string(),
        }
    }
    /// The run's host port for a lab host port.
    pub fn port(&self, port: u16) -> u16 {
        self.ports.get(&port).copied().unwrap_or(port)
    }
}

impl Ctx {
    /// The engine, or an `error` result saying it is unreachable.
    pub fn engine(&self, id: &str) -> Result<&Arc<dyn Engine>, CheckResult> {
        match &self.engine {
            EngineState::Connected { engine, .. } => Ok(engine),
            EngineState::Unreachable { error, .. } => Err(engine_error(id, error)),
            EngineState::NotNeeded => Err(CheckResult::error(
                id,
                "this check needs the engine, but the run did not connect to it (a bug in the kind's `needs`)",
            )),
        }
    }

    /// Inspect an image; an engine failure becomes an `error` result.
    pub async fn image(&self, id: &str, reference: &str) -> Result<Option<Image>, CheckResult> {
        self.engine(id)?
            .image(reference)
            .await
            .map_err(|e| engine_error(id, &e))
    }
}

impl Ctx {
    /// The image a later step stands on (run, tag, push), or a `skip` saying to do the build
    /// step first: when it does not exist, or when this workspace could not have produced it
    /// (no Dockerfile, one that does not parse, or one whose config the image does not match).
    /// So a reused machine's leftover image never passes a new workspace's steps.
    pub async fn built_image(
        &self,
        id: &str,
        reference: &str,
        verb: &str,
    ) -> Result<Image, CheckResult> {
        let Some(img) = self.image(id, reference).await? else {
            return Err(CheckResult::skip(
                id,
                format!("there is no image {reference} to {verb} yet"),
            )
            .hint("do the build step first"));
        };
        match image::provenance(&self.dir, &img) {
            Ok(()) => Ok(img),
            Err(why) => Err(CheckResult::skip(
                id,
                format!("{reference} was not built from this workspace ({why}), so there is nothing of yours to {verb} yet"),
            )
            .hint(format!(
                "do the build step first: `docker build -t {} .` in this workspace",
                image::repo_of(reference)
            ))),
        }
    }
}

/// An `error` result for an engine failure, with what to do.
pub fn engine_error(id: &str, e: &EngineError) -> CheckResult {
    CheckResult::error(id, e.to_string()).hint(e.advice())
}

/// The documented order in which candidate containers are taken as the learner's answer:
/// built from the current image id, then publishing the lab's mapping (`host_port`, when the
/// kind knows it), then running, then the newest. The run step and the probe's evidence reuse
/// both sort by it.
pub fn selector_key(
    c: &crate::engine::Container,
    image_id: &str,
    port: u16,
    host_port: Option<u16>,
) -> impl Ord {
    let mapped =
        host_port.is_some_and(|h| c.host_port(port).as_deref() == Some(h.to_string().as_str()));
    std::cmp::Reverse((c.image_id == image_id, mapped, c.running, c.created))
}

/// Start a probe container (registered for cleanup before anything can fail) and wait until
/// it serves as `http` expects. `Ok` gives its id and what it answered; `Err` is a finished
/// result (the probe already removed), with the container's log and what it means.
pub async fn start_serving(
    ctx: &Ctx,
    id: &str,
    spec: crate::engine::ProbeSpec,
    http: &crate::http::HttpExpect,
) -> Result<(String, String), Box<CheckResult>> {
    let engine = ctx.engine(id).map_err(Box::new)?.clone();
    let port = spec.container_port;
    let cid = engine
        .start_probe(&spec)
        .await
        .map_err(|e| Box::new(engine_error(id, &e)))?;
    ctx.cleanup.add_container(&cid);
    let host_port = match engine.container(&cid).await {
        Ok(Some(c)) => c.host_port(port).and_then(|p| p.parse::<u16>().ok()),
        _ => None,
    };
    let Some(host_port) = host_port else {
        stop_probe(ctx, &cid).await;
        return Err(Box::new(CheckResult::error(
            id,
            format!("the engine did not publish the probe's port {port}"),
        )));
    };
    let result = probe_container(engine.as_ref(), &cid, port, host_port, http).await;
    match crate::http::matches_expectation(http, &result.last) {
        Ok(()) => Ok((
            cid,
            format!("answered GET {} with HTTP {}", http.path, http.status),
        )),
        Err(how) => {
            let log = engine.logs_tail(&cid, 15).await.unwrap_or_default();
            let code = engine
                .container(&cid)
                .await
                .ok()
                .flatten()
                .map(|c| c.exit_code)
                .unwrap_or(0);
            stop_probe(ctx, &cid).await;
            let mut r = CheckResult::fail(
                id,
                format!("a container from {} does not serve: {how}", spec.image),
            );
            if let Some((why, fix)) = probe::diagnose(&log, code, port) {
                r = r.found(why).hint(fix);
            }
            Err(Box::new(r.detail(format!("last log lines:\n{log}"))))
        }
    }
}

/// Remove a probe container this run started.
pub async fn stop_probe(ctx: &Ctx, cid: &str) {
    if let Ok(engine) = ctx.engine("") {
        if engine.remove(cid).await.is_ok() {
            ctx.cleanup.remove_container(cid);
        }
    }
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
    http: &crate::http::HttpExpect,
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

/// Workspace files under `sources` (directories walked by [`crate::walk`], which skips
/// caches and virtual environments), as paths relative to the workspace.
pub fn source_files(dir: &std::path::Path, sources: &[String]) -> Vec<String> {
    let mut out: Vec<String> = sources
        .iter()
        .flat_map(|s| crate::walk::files(dir, std::path::Path::new(s), 5_000))
        .map(|p| p.to_string_lossy().to_string())
        .collect();
    out.sort();
    out.dedup();
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
    use sha2::Digest;
    let workdir = if workdir.is_empty() { "/" } else { workdir };
    // What an image id holds never changes: its file hashes are kept on disk by id.
    let cached = image.starts_with("sha256:").then(|| {
        let key: String = sha2::Sha256::digest(format!("{image} {workdir}").as_bytes())
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        crate::dirs::cache_dir()
            .join("image-files")
            .join(format!("{key}.json"))
    });
    let from_disk = cached.as_ref().and_then(|p| {
        let t = crate::bounded::read_text(p, 16 * 1024 * 1024, None).ok()?;
        serde_json::from_str::<std::collections::BTreeMap<String, String>>(&t).ok()
    });
    let files = match from_disk {
        Some(f) => f,
        None => {
            let f = engine
                .image_file_hashes(image, workdir, 256 * 1024 * 1024)
                .await?;
            if let Some(p) = &cached {
                if let Some(d) = p.parent() {
                    let _ = std::fs::create_dir_all(d);
                }
                let text = serde_json::to_string(&f).unwrap_or_default();
                let _ = crate::fsutil::write_atomic(p, text.as_bytes());
            }
            f
        }
    };
    let mut out = ImageContent::default();
    for rel in source_files(&ctx.dir, sources) {
        let local = crate::bounded::read_file(
            &ctx.dir.join(&rel),
            crate::bounded::MAX_SOURCE_FILE,
            Some(&ctx.dir),
        );
        if let (Some(inside), Ok(local)) = (files.get(&rel), local) {
            if *inside != format!("{:x}", sha2::Sha256::digest(&local)) {
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
    use crate::http::HttpExpect;
    use crate::report::Status;

    /// A workspace whose Dockerfile builds exactly `app_image`'s config.
    fn workspace() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("Dockerfile"),
            "FROM python:3.9-slim\nWORKDIR /app\nCMD [\"gunicorn\"]\n",
        )
        .unwrap();
        d
    }

    fn ctx(engine: FakeEngine, ws: &tempfile::TempDir) -> Ctx {
        Ctx {
            bindings: Bindings::default(),
            dir: ws.path().to_path_buf(),
            python: None,
            image_ref: None,
            engine: EngineState::Connected {
                engine: Arc::new(engine),
                line: "fake".into(),
            },
            cleanup: Arc::new(Cleanup::default()),
            chosen_tag: OnceCell::new(),
            cache: Arc::default(),
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

    /// The run step's container check of `python-docker-app:latest` on port 5000.
    async fn grade_run(fake: FakeEngine) -> Vec<CheckResult> {
        let spec = container::Spec {
            image: "python-docker-app:latest".into(),
            container_port: 5000,
            host_port: 5000,
            http: http(),
        };
        container::check(&ctx(fake, &workspace()), "run", &spec).await
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
        let spec = image::Spec {
            image: "python-docker-app:latest".into(),
            base_image: "python:3.9-slim".into(),
            sources: vec![],
        };
        let r = image::check(&ctx(fake, &workspace()), "build", &spec).await;
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
            status: crate::engine::ContainerState::Restarting,
            restarting: true,
            restart_count: 4,
            exit_code: 127,
            ..Container::default()
        });
        fake.logs.lock().unwrap().insert(
            "c1".into(),
            "exec: \"gunicorn\": executable file not found in $PATH".into(),
        );
        let r = grade_run(fake).await;
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
        let spec = tag::Spec {
            source: "python-docker-app:latest".into(),
            repository: "python-docker-app".into(),
            tag: "v1".into(),
        };
        let r = tag::check(&ctx(fake, &workspace()), "tag", &spec).await;
        assert_eq!(r[0].status, Status::Fail);
        assert!(
            r[0].message.contains("tagged before the image was rebuilt"),
            "{:?}",
            r[0]
        );
        assert_eq!(r[0].expected.as_deref(), Some("new"));
    }

    #[tokio::test]
    async fn another_projects_image_is_not_an_older_build_and_its_compose_port_is_not_ours() {
        let fake = FakeEngine::default();
        fake.add_image(app_image("sha256:aaa", &["python-docker-app:latest"]));
        // Another project, served the same way (same CMD and WORKDIR), under its own name.
        fake.add_image(app_image("sha256:bbb", &["other-app:latest"]));
        fake.containers.lock().unwrap().push(Container {
            id: "theirs".into(),
            name: "theirs".into(),
            image_id: "sha256:bbb".into(),
            status: crate::engine::ContainerState::Running,
            running: true,
            ..Container::default()
        });
        let grade = |fake| async move {
            grade_run(fake)
                .await
                .into_iter()
                .find(|c| c.id == "run.container")
                .unwrap()
        };
        let c = grade(fake).await;
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.message.contains("no container was created"), "{c:?}");

        // Our container stopped; a Compose service runs, but on another host port.
        let fake = FakeEngine::default();
        fake.add_image(app_image("sha256:aaa", &["python-docker-app:latest"]));
        let compose_on = |port: &str| Container {
            id: "svc".into(),
            name: "proj-web-1".into(),
            image_id: "sha256:ccc".into(),
            status: crate::engine::ContainerState::Running,
            running: true,
            published: BTreeMap::from([(
                "5000/tcp".to_string(),
                vec![("0.0.0.0".to_string(), port.to_string())],
            )]),
            labels: std::collections::HashMap::from([(
                crate::engine::compose_label::PROJECT.to_string(),
                "proj".to_string(),
            )]),
            ..Container::default()
        };
        let ours = Container {
            id: "web".into(),
            name: "web".into(),
            image_id: "sha256:aaa".into(),
            status: crate::engine::ContainerState::Exited,
            ..Container::default()
        };
        fake.containers
            .lock()
            .unwrap()
            .extend([ours.clone(), compose_on("8000")]);
        let c = grade(fake).await;
        assert!(!c.message.contains("compose service holds"), "{c:?}");
        // The same with the service on the lab's port: stopping the run container was right.
        let fake = FakeEngine::default();
        fake.add_image(app_image("sha256:aaa", &["python-docker-app:latest"]));
        fake.containers
            .lock()
            .unwrap()
            .extend([ours, compose_on("5000")]);
        let c = grade(fake).await;
        assert_eq!(c.status, Status::Pass, "{c:?}");
        assert!(
            c.message.contains("compose service holds port 5000"),
            "{c:?}"
        );
    }
}
