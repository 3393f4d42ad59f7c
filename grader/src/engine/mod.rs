//! The container engine as the checks see it: a small async trait over plain data.
//!
//! Only [`docker`] knows bollard. Checks talk to [`Engine`], so unit tests can hand them a
//! [`fake::FakeEngine`] while the end-to-end tests use the real daemon. Every call made through
//! [`docker::DockerEngine`] carries a deadline, so a wedged daemon becomes an error, not a hang.

pub mod docker;
pub mod endpoint;

#[cfg(test)]
pub mod fake;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;

/// What the engine's calls return: a value, or an [`EngineError`].
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Label put on every container the grader starts itself; `lab` removes what carries it.
pub const PROBE_LABEL: &str = "org.sre-lab.probe";
/// Label holding the process id of the `lab` run that owns a probe (to sweep orphans).
pub const OWNER_LABEL: &str = "org.sre-lab.owner-pid";

/// Compose's labels on the containers and networks it makes (v1 and v2 alike).
pub mod compose_label {
    /// The project name.
    pub const PROJECT: &str = "com.docker.compose.project";
    /// The directory Compose ran in.
    pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
    /// The files the project was made from, comma-separated absolute paths.
    pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
    /// The service name.
    pub const SERVICE: &str = "com.docker.compose.service";
    /// The Compose version that made it (1.x is `docker-compose`, 2.x `docker compose`).
    pub const VERSION: &str = "com.docker.compose.version";
}

/// A container's state, as the engine reports it (`docker ps` STATUS's first word).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ContainerState {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    /// A state this build does not know.
    Other,
}

impl ContainerState {
    /// From the engine's word for it.
    pub fn parse(s: &str) -> ContainerState {
        match s {
            "created" => ContainerState::Created,
            "running" => ContainerState::Running,
            "paused" => ContainerState::Paused,
            "restarting" => ContainerState::Restarting,
            "removing" => ContainerState::Removing,
            "exited" => ContainerState::Exited,
            "dead" => ContainerState::Dead,
            _ => ContainerState::Other,
        }
    }
}

impl std::fmt::Display for ContainerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Removing => "removing",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
            ContainerState::Other => "in an unknown state",
        };
        f.write_str(s)
    }
}

/// Why the engine could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// Nothing answered at the endpoint.
    #[error("the container engine at {endpoint} does not answer ({detail})")]
    Unreachable { endpoint: String, detail: String },
    /// The engine answered too slowly.
    #[error("the container engine did not answer within {secs} s while {what}")]
    Timeout { what: String, secs: u64 },
    /// The engine answered with an error.
    #[error("{0}")]
    Api(String),
}

impl EngineError {
    /// What the learner should do about it.
    pub fn advice(&self) -> &'static str {
        match self {
            EngineError::Unreachable { .. } => {
                "start the engine (Docker Desktop on macOS, `sudo systemctl start docker` or \
                 `scripts/setup-engine.sh` on Linux), or point DOCKER_HOST at it (Podman: \
                 `systemctl --user start podman.socket` and \
                 DOCKER_HOST=unix://$XDG_RUNTIME_DIR/podman/podman.sock)"
            }
            EngineError::Timeout { .. } => {
                "the engine is overloaded or stuck: check `docker info`, restart the engine"
            }
            EngineError::Api(_) => "see the engine's message above",
        }
    }
}

/// Which engine answered, for the report header.
#[derive(Debug, Clone)]
pub struct EngineInfo {
    pub endpoint: String,
    /// Why this endpoint was used (`DOCKER_HOST`, a docker context, the default socket, ...).
    pub source: String,
    /// `Docker` or `Podman`, from the version endpoint's components.
    pub product: String,
    pub version: String,
    pub api_version: String,
}

/// An image as inspected, reduced to what the checks use.
#[derive(Debug, Clone, Default)]
pub struct Image {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub created: Option<SystemTime>,
    /// Kept in the containerd image store (inspect has a `Descriptor`): the id is the image's
    /// index digest, and history sizes are disk usage (about a quarter more than the legacy
    /// store reports for the same layers).
    pub containerd_store: bool,
    /// Layer digests of the root filesystem, base image first.
    pub layers: Vec<String>,
    pub labels: HashMap<String, String>,
    // How a container of it starts, unless `docker run` says otherwise.
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub env: Vec<String>,
    pub exposed_ports: Vec<String>,
    /// The HEALTHCHECK test (`["CMD", ...]` or `["CMD-SHELL", "..."]`), empty when none.
    pub healthcheck: Vec<String>,
}

/// One row of the image list.
#[derive(Debug, Clone, Default)]
pub struct ImageSummary {
    pub id: String,
    pub repo_tags: Vec<String>,
    /// The image config's labels.
    pub labels: HashMap<String, String>,
}

/// One row of the container list (all containers, running or not).
#[derive(Debug, Clone, Default)]
pub struct ContainerSummary {
    pub id: String,
    pub name: String,
    /// The image reference the container was created from, as the user typed it.
    pub image: String,
    pub image_id: String,
    pub state: ContainerState,
    pub labels: HashMap<String, String>,
}

/// `host ip`, `host port` pairs per `port/proto`.
pub type PortMap = BTreeMap<String, Vec<(String, String)>>;

/// A container as inspected, reduced to what the checks use.
#[derive(Debug, Clone, Default)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image_id: String,
    /// The image as it was named at `docker run` (inspect's `Config.Image`). On the containerd
    /// image store an older build vanishes from the image API once its tag moves, while its
    /// containers keep running: then this name is the only link back to the repository.
    pub config_image: String,
    /// `HostConfig.NetworkMode`: `default`/`bridge`, `host`, `none`, `container:ID`, a network.
    pub network_mode: String,
    pub status: ContainerState,
    pub running: bool,
    pub restarting: bool,
    pub oom_killed: bool,
    pub exit_code: i64,
    /// The engine's own error, e.g. "port is already allocated".
    pub error: String,
    pub restart_count: i64,
    /// True when the container was started attached (without `-d`).
    pub attached: bool,
    /// What `-p` asked for.
    pub port_bindings: PortMap,
    /// What the engine actually published (empty unless running).
    pub published: PortMap,
    /// What the container runs, as created (the image's config plus any `docker run` overrides).
    pub run: RunConfig,
    /// Where volumes and bind mounts are mounted inside it.
    pub mounts: Vec<String>,
    /// Its bind mounts: (host source, destination inside).
    pub binds: Vec<(String, String)>,
    /// Its health (`starting`, `healthy`, `unhealthy`) and the last check's output, when the
    /// image has a HEALTHCHECK.
    pub health: Option<(String, String)>,
    pub labels: HashMap<String, String>,
    pub created: Option<SystemTime>,
}

/// A command run to its end in a throwaway container (`lab kit` downloading wheels).
#[derive(Debug, Clone)]
pub struct OneShot {
    pub image: String,
    pub cmd: Vec<String>,
    /// Bind mounts, `HOST:CONTAINER[:ro]`.
    pub binds: Vec<String>,
    pub deadline: std::time::Duration,
}

/// Told the bytes written so far while an image is saved.
pub type Progress<'a> = &'a (dyn Fn(u64) + Send + Sync);

/// A container's process set-up, to compare with its image's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunConfig {
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    pub env: Vec<String>,
    pub user: String,
    pub working_dir: String,
}

/// A container the grader starts itself to prove an image serves.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub image: String,
    pub container_port: u16,
    pub memory_bytes: i64,
    pub nano_cpus: i64,
    /// Run the image's HEALTHCHECK this often instead of its own interval (the test command
    /// stays the image's): Docker 20.10 waits a whole interval, 30 s by default, before the
    /// first check.
    pub health_interval: Option<std::time::Duration>,
    /// Replace the image's command (the learner's development command, say).
    pub cmd: Option<Vec<String>>,
    /// Bind mounts, `HOST:CONTAINER[:ro]`.
    pub binds: Vec<String>,
}

impl ProbeSpec {
    /// A probe of `image` on `container_port` as built, with the usual limits.
    pub fn new(image: &str, container_port: u16, memory_mib: i64) -> ProbeSpec {
        ProbeSpec {
            image: image.to_string(),
            container_port,
            memory_bytes: memory_mib * 1024 * 1024,
            nano_cpus: 1_000_000_000,
            health_interval: None,
            cmd: None,
            binds: vec![],
        }
    }
}

/// One entry of an image's history, newest first: what `docker history` shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryEntry {
    /// The instruction that made it (`/bin/sh -c pip install ...`, `#(nop) COPY dir:...`).
    pub created_by: String,
    /// Bytes it adds (0 for metadata-only instructions such as ENV or CMD).
    pub size: i64,
}

/// An engine event, reduced to what tells which steps it concerns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineEvent {
    /// `image` or `container`.
    pub kind: String,
    /// What happened: `tag`, `untag`, `push`, `delete`, `create`, `start`, `die`, ...
    pub action: String,
    /// The object's name: an image reference (or, for `untag` and `delete`, only its id), or a
    /// container's name.
    pub name: String,
    /// An image's id (the actor), or a container's image as it was given to `docker run`.
    pub image: String,
    /// The working directory of the Compose project a container belongs to.
    pub compose_dir: Option<String>,
}

impl std::fmt::Display for EngineEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.kind, self.name, self.action)
    }
}

/// The engine operations the checks need; nothing more.
#[async_trait]
pub trait Engine: Send + Sync {
    /// Where the engine is and which version answers.
    async fn info(&self) -> Result<EngineInfo>;
    /// Inspect an image by reference or id; `None` when it does not exist.
    async fn image(&self, reference: &str) -> Result<Option<Image>>;
    /// All images.
    async fn images(&self) -> Result<Vec<ImageSummary>>;
    /// An image's history, newest first (at most 1,000 entries); empty when it does not exist.
    async fn history(&self, reference: &str) -> Result<Vec<HistoryEntry>>;
    /// All containers, stopped ones included.
    async fn containers(&self) -> Result<Vec<ContainerSummary>>;
    /// Inspect a container; `None` when it does not exist.
    async fn container(&self, id: &str) -> Result<Option<Container>>;
    /// The last `lines` lines of a container's stdout and stderr.
    async fn logs_tail(&self, id: &str, lines: usize) -> Result<String>;
    /// Create and start a labelled, resource-limited probe container publishing its port on a
    /// free loopback port. Returns its id; the caller owns removing it.
    async fn start_probe(&self, spec: &ProbeSpec) -> Result<String>;
    /// Run a [`OneShot`] until it exits (or its deadline): its exit code and output (at most
    /// 64 KiB, the end kept). The container is removed.
    async fn run_to_end(&self, job: &OneShot) -> Result<(i64, String)>;
    /// Build an image from a tar build context; returns the build's last lines on failure.
    async fn build(&self, context_tar: Vec<u8>, tag: &str) -> Result<()>;
    /// Stream an image (`docker save`) into a file; `progress` gets the bytes written so far.
    async fn save_image(
        &self,
        image: &str,
        to: &std::path::Path,
        progress: Progress<'_>,
    ) -> Result<u64>;
    /// Load an image archive (`docker load`) from a file.
    async fn load_image(&self, from: &std::path::Path) -> Result<()>;
    /// Give an image another name.
    async fn tag(&self, image: &str, repo: &str, tag: &str) -> Result<()>;
    /// Run a command in a running container; its exit code and output (at most 64 KiB).
    async fn exec(&self, id: &str, cmd: &[&str]) -> Result<(i64, String)>;
    /// Remove a container, running or not. Removing one that is gone is not an error.
    async fn remove(&self, id: &str) -> Result<()>;
    /// Remove an image or a tag; `Ok(false)` when it did not exist.
    async fn remove_image(&self, reference: &str) -> Result<bool>;
    /// All networks: id, name and labels.
    async fn networks(&self) -> Result<Vec<(String, String, HashMap<String, String>)>>;
    /// Remove a network.
    async fn remove_network(&self, id: &str) -> Result<()>;
    /// Engine events that can change a verdict (images tagged, pushed, removed; containers
    /// created, started, died, removed), the grader's own probes left out, until the receiver
    /// is dropped.
    fn events(&self) -> tokio::sync::mpsc::Receiver<EngineEvent>;
    /// The SHA-256 (hex) of each regular file under `dir` in an image, by path relative to
    /// `dir`, reading at most `max_bytes` of archive (streamed and hashed, never buffered whole).
    async fn image_file_hashes(
        &self,
        image: &str,
        dir: &str,
        max_bytes: u64,
    ) -> Result<BTreeMap<String, String>>;
}

impl Container {
    /// The host port that `port/tcp` is published on, as asked (`-p`), if any.
    pub fn host_port(&self, container_port: u16) -> Option<String> {
        let key = format!("{container_port}/tcp");
        let pick = |map: &PortMap| {
            map.get(&key)
                .and_then(|b| b.iter().map(|(_, p)| p.clone()).find(|p| !p.is_empty()))
        };
        pick(&self.published).or_else(|| pick(&self.port_bindings))
    }
}

/// The container engine for one run, as the caller found it.
#[derive(Clone)]
pub enum EngineState {
    /// Connected; `line` describes it for the report header.
    Connected {
        engine: Arc<dyn Engine>,
        line: String,
    },
    /// It did not answer; engine checks report this error, file checks still run.
    Unreachable { error: EngineError, line: String },
    /// No selected step needs it, so nobody asked.
    NotNeeded,
}

impl EngineState {
    /// The report header's engine line.
    pub fn line(&self) -> String {
        match self {
            EngineState::Connected { line, .. } | EngineState::Unreachable { line, .. } => {
                line.clone()
            }
            EngineState::NotNeeded => "not used (file-only steps)".into(),
        }
    }
}
