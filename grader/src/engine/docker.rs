//! The real engine, over the Docker Engine API (bollard). The only module that knows bollard.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::Path;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;

use super::{
    Container, ContainerState, ContainerSummary, Engine, EngineError, EngineEvent, EngineInfo,
    HistoryEntry, Image, ImageSummary, OneShot, PortMap, ProbeSpec, Progress, Result, RunConfig,
    OWNER_LABEL, PROBE_LABEL,
};

/// Deadline for one ordinary API call.
const CALL_DEADLINE: Duration = Duration::from_secs(10);
/// Deadline for a whole image build.
const BUILD_DEADLINE: Duration = Duration::from_secs(600);
/// Deadline for the first contact: an unreachable engine is reported within this.
pub const CONNECT_DEADLINE: Duration = Duration::from_millis(2500);
/// The further wait for an engine whose socket accepts connections but is slow to answer.
pub const SLOW_ENGINE_DEADLINE: Duration = Duration::from_secs(20);

/// Whether the endpoint accepts a connection within a second (it may still be slow to answer).
async fn accepts_connections(host: &str) -> bool {
    let attempt = async {
        if let Some(path) = host.strip_prefix("unix://") {
            #[cfg(unix)]
            return tokio::net::UnixStream::connect(path).await.is_ok();
            #[cfg(not(unix))]
            return {
                let _ = path;
                false
            };
        }
        let addr = host
            .trim_start_matches("tcp://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        tokio::net::TcpStream::connect(addr).await.is_ok()
    };
    tokio::time::timeout(Duration::from_secs(1), attempt)
        .await
        .unwrap_or(false)
}

/// The Docker (or Podman) engine found the way the docker CLI finds it.
pub struct DockerEngine {
    docker: Docker,
    endpoint: String,
    source: String,
}

fn map_err(endpoint: &str, e: BollardError) -> EngineError {
    match e {
        BollardError::DockerResponseServerError { message, .. } => EngineError::Api(message),
        BollardError::DockerStreamError { error } => EngineError::Api(error),
        BollardError::RequestTimeoutError => timed_out("waiting for a response", CALL_DEADLINE),
        other => EngineError::Unreachable {
            endpoint: endpoint.to_string(),
            detail: other.to_string(),
        },
    }
}

fn parse_time(s: Option<time::OffsetDateTime>) -> Option<SystemTime> {
    s.map(SystemTime::from)
}

fn port_map(map: Option<HashMap<String, Option<Vec<PortBinding>>>>) -> PortMap {
    map.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let pairs = v
                .unwrap_or_default()
                .into_iter()
                .map(|b| {
                    (
                        b.host_ip.unwrap_or_default(),
                        b.host_port.unwrap_or_default(),
                    )
                })
                .collect();
            (k, pairs)
        })
        .collect()
}

impl DockerEngine {
    /// Connect (without talking yet) to the endpoint [`super::endpoint::resolve`] picks.
    pub fn connect() -> Result<Self> {
        let ep = super::endpoint::resolve().map_err(|detail| EngineError::Unreachable {
            endpoint: "the current docker context".into(),
            detail,
        })?;
        let unreachable = |detail: String| EngineError::Unreachable {
            endpoint: format!("{} ({})", ep.host, ep.source),
            detail,
        };
        let docker = if ep.host.starts_with("unix://") {
            Docker::connect_with_unix(&ep.host, 120, bollard::API_DEFAULT_VERSION)
        } else if ep.host.starts_with("tcp://") || ep.host.starts_with("http://") {
            Docker::connect_with_http(&ep.host, 120, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(unreachable(format!(
                "{} endpoints are not supported by lab; use a unix:// or tcp:// endpoint",
                ep.host.split("://").next().unwrap_or("this kind of")
            )));
        }
        .map_err(|e| unreachable(e.to_string()))?;
        Ok(DockerEngine {
            docker,
            endpoint: ep.host,
            source: ep.source,
        })
    }

    /// Connect and make first contact, negotiating the API version. An engine that refuses the
    /// connection is reported at once; one that says nothing within [`CONNECT_DEADLINE`] is
    /// reported then, unless its socket accepts connections: then it is alive but busy (Docker
    /// Desktop waking from Resource Saver, Podman's socket-activated service, a loaded machine),
    /// and it gets up to [`SLOW_ENGINE_DEADLINE`] more, with a line on stderr saying so.
    pub async fn connect_and_ping() -> Result<Self> {
        Self::connect()?
            .handshake(CONNECT_DEADLINE, SLOW_ENGINE_DEADLINE)
            .await
    }

    async fn handshake(self, first: Duration, more: Duration) -> Result<Self> {
        let engine = self;
        let endpoint = format!("{} ({})", engine.endpoint, engine.source);
        let unreachable = |detail: String| EngineError::Unreachable {
            endpoint: endpoint.clone(),
            detail,
        };
        let negotiate = engine.docker.clone().negotiate_version();
        tokio::pin!(negotiate);
        let answer = tokio::time::timeout(first, &mut negotiate).await;
        let negotiated = match answer {
            Ok(r) => r,
            Err(_) if accepts_connections(&engine.endpoint).await => {
                eprintln!(
                    "lab: the engine at {endpoint} accepted the connection but has not answered \
                     in {} ms; waiting up to {} s more",
                    first.as_millis(),
                    more.as_secs_f32()
                );
                tokio::time::timeout(more, &mut negotiate)
                    .await
                    .map_err(|_| {
                        unreachable(format!(
                            "it accepts connections but gave no answer within {:.1} s",
                            (first + more).as_secs_f32()
                        ))
                    })?
            }
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {} ms",
                    first.as_millis()
                )))
            }
        }
        .map_err(|e| unreachable(e.to_string()))?;
        Ok(DockerEngine {
            docker: negotiated,
            endpoint: engine.endpoint,
            source: engine.source,
        })
    }

    /// One call to the engine, given [`CALL_DEADLINE`]; `what` names it if it runs out.
    async fn call<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, BollardError>>,
    ) -> Result<T> {
        self.call_within(what, CALL_DEADLINE, fut).await
    }

    /// [`Self::call`] with a deadline of its own (a build, a one-shot run).
    async fn call_within<T>(
        &self,
        what: &str,
        deadline: Duration,
        fut: impl Future<Output = Result<T, BollardError>>,
    ) -> Result<T> {
        match tokio::time::timeout(deadline, fut).await {
            Ok(r) => r.map_err(|e| map_err(&self.endpoint, e)),
            Err(_) => Err(timed_out(what, deadline)),
        }
    }

    /// [`Self::call`] where the engine's 404 (no such container or image) is an answer: `None`.
    async fn call_found<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, BollardError>>,
    ) -> Result<Option<T>> {
        self.call(what, async { found(fut.await) }).await
    }

    /// [`Self::call`], tried again (a few times, briefly) while the engine reports an image
    /// whose content another client is deleting right now: the containerd image store fails a
    /// whole image list, or an inspect, when one image's blobs vanish mid-read.
    async fn call_settled<T, F, Fut>(&self, what: &str, mut make: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, BollardError>>,
    {
        let mut tries = 0;
        loop {
            match tokio::time::timeout(CALL_DEADLINE, make()).await {
                Ok(Err(e)) if is_content_race(&e) && tries < CONTENT_RACE_TRIES => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(150 * tries)).await;
                }
                Ok(r) => return r.map_err(|e| map_err(&self.endpoint, e)),
                Err(_) => return Err(timed_out(what, CALL_DEADLINE)),
            }
        }
    }

    /// Create a container of the grader's own, labelled as a probe owned by this process (so
    /// `lab` removes it, and a later run sweeps it if this one dies); named `name` if given.
    async fn create_probe(
        &self,
        what: &str,
        name: Option<&str>,
        mut body: ContainerCreateBody,
    ) -> Result<bollard::models::ContainerCreateResponse> {
        body.labels.get_or_insert_with(HashMap::new).extend([
            (PROBE_LABEL.to_string(), "true".to_string()),
            (OWNER_LABEL.to_string(), std::process::id().to_string()),
        ]);
        let opts = name.map(|n| CreateContainerOptionsBuilder::default().name(n).build());
        self.call(what, self.docker.create_container(opts, body))
            .await
    }
}

/// The error for a call that passed its deadline.
fn timed_out(what: impl Into<String>, after: Duration) -> EngineError {
    EngineError::Timeout {
        what: what.into(),
        secs: after.as_secs(),
    }
}

/// How often [`DockerEngine::call_settled`] tries again.
const CONTENT_RACE_TRIES: u64 = 5;

/// The containerd store's answer when an image's blobs were removed while it was being read:
/// `failed to read config content: ... content digest sha256:...: not found` (a 500), or
/// `NotFound: content digest sha256:...: not found` (a 404, from the image list). An image
/// that is simply gone answers `No such image`, which is not retried.
fn is_content_race(e: &BollardError) -> bool {
    matches!(e, BollardError::DockerResponseServerError { status_code, message }
        if (*status_code >= 500 || *status_code == 404)
            && message.contains("content digest")
            && message.contains("not found"))
}

/// An answer, with the engine's 404 (no such container or image) as `None`.
fn found<T>(r: Result<T, BollardError>) -> Result<Option<T>, BollardError> {
    match r {
        Err(e) if is_not_found(&e) => Ok(None),
        r => r.map(Some),
    }
}

fn is_not_found(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

#[async_trait]
impl Engine for DockerEngine {
    async fn info(&self) -> Result<EngineInfo> {
        let v = self
            .call("reading the version", self.docker.version())
            .await?;
        // Name the engine by what its version endpoint reports: Podman's Docker-compatible API
        // lists a "Podman Engine" component and its own version.
        let podman = v
            .components
            .iter()
            .flatten()
            .find(|c| c.name.to_ascii_lowercase().contains("podman"));
        let product = if podman.is_some() { "Podman" } else { "Docker" };
        Ok(EngineInfo {
            endpoint: self.endpoint.clone(),
            source: self.source.clone(),
            product: product.into(),
            version: podman
                .map(|c| c.version.clone())
                .or(v.version)
                .unwrap_or_default(),
            api_version: v.api_version.unwrap_or_default(),
        })
    }

    async fn image(&self, reference: &str) -> Result<Option<Image>> {
        let what = format!("inspecting image {reference}");
        let r = self
            .call_settled(&what, || async {
                match self.docker.inspect_image(reference).await {
                    // A vanished blob is a race to retry, not a missing image.
                    Err(e) if is_content_race(&e) => Err(e),
                    r => found(r),
                }
            })
            .await?;
        let Some(i) = r else { return Ok(None) };
        let config = i.config.unwrap_or_default();
        Ok(Some(Image {
            id: i.id.unwrap_or_default(),
            repo_tags: i.repo_tags.unwrap_or_default(),
            containerd_store: i.descriptor.is_some(),
            repo_digests: i.repo_digests.unwrap_or_default(),
            created: parse_time(i.created),
            working_dir: config.working_dir.unwrap_or_default(),
            env: config.env.unwrap_or_default(),
            exposed_ports: config.exposed_ports.unwrap_or_default(),
            cmd: config.cmd.unwrap_or_default(),
            entrypoint: config.entrypoint.unwrap_or_default(),
            user: config.user.unwrap_or_default(),
            healthcheck: config.healthcheck.and_then(|h| h.test).unwrap_or_default(),
            labels: config.labels.unwrap_or_default(),
            layers: i.root_fs.and_then(|r| r.layers).unwrap_or_default(),
        }))
    }

    async fn images(&self) -> Result<Vec<ImageSummary>> {
        let opts = ListImagesOptionsBuilder::default().all(false).build();
        let list = self
            .call_settled("listing images", || {
                self.docker.list_images(Some(opts.clone()))
            })
            .await?;
        Ok(list
            .into_iter()
            .map(|i| ImageSummary {
                id: i.id,
                repo_tags: i.repo_tags,
                labels: i.labels,
            })
            .collect())
    }

    async fn containers(&self) -> Result<Vec<ContainerSummary>> {
        let opts = ListContainersOptionsBuilder::default().all(true).build();
        let list = self
            .call(
                "listing containers",
                self.docker.list_containers(Some(opts)),
            )
            .await?;
        Ok(list
            .into_iter()
            .map(|c| ContainerSummary {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                image: c.image.unwrap_or_default(),
                image_id: c.image_id.unwrap_or_default(),
                state: c
                    .state
                    .map(|s| ContainerState::parse(s.as_ref()))
                    .unwrap_or_default(),
                labels: c.labels.unwrap_or_default(),
            })
            .collect())
    }

    async fn container(&self, id: &str) -> Result<Option<Container>> {
        let what = format!("inspecting container {id}");
        let inspect = self.docker.inspect_container(id, None::<_>);
        let Some(c) = self.call_found(&what, inspect).await? else {
            return Ok(None);
        };
        let state = c.state.unwrap_or_default();
        let config = c.config.unwrap_or_default();
        Ok(Some(Container {
            id: c.id.unwrap_or_default(),
            name: c
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image_id: c.image.unwrap_or_default(),
            config_image: config.image.clone().unwrap_or_default(),
            status: state
                .status
                .map(|s| ContainerState::parse(s.as_ref()))
                .unwrap_or_default(),
            running: state.running.unwrap_or(false),
            restarting: state.restarting.unwrap_or(false),
            oom_killed: state.oom_killed.unwrap_or(false),
            exit_code: state.exit_code.unwrap_or(0),
            error: state.error.unwrap_or_default(),
            restart_count: c.restart_count.unwrap_or(0),
            attached: config.attach_stdout.unwrap_or(false),
            network_mode: c
                .host_config
                .as_ref()
                .and_then(|h| h.network_mode.clone())
                .unwrap_or_default(),
            port_bindings: port_map(c.host_config.and_then(|h| h.port_bindings)),
            published: port_map(c.network_settings.and_then(|n| n.ports)),
            run: RunConfig {
                cmd: config.cmd.unwrap_or_default(),
                entrypoint: config.entrypoint.unwrap_or_default(),
                env: config.env.unwrap_or_default(),
                user: config.user.unwrap_or_default(),
                working_dir: config.working_dir.unwrap_or_default(),
            },
            mounts: c
                .mounts
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|m| m.destination)
                .collect(),
            binds: c
                .mounts
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m.typ.as_ref().map(|t| t.to_string()) == Some("bind".to_string()))
                .filter_map(|m| Some((m.source?, m.destination?)))
                .collect(),
            health: state.health.map(|h| {
                (
                    h.status.map(|s| s.to_string()).unwrap_or_default(),
                    h.log
                        .unwrap_or_default()
                        .last()
                        .and_then(|l| l.output.clone())
                        .unwrap_or_default(),
                )
            }),
            labels: config.labels.unwrap_or_default(),
            created: parse_time(c.created),
        }))
    }

    async fn logs_tail(&self, id: &str, lines: usize) -> Result<String> {
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let collect = async {
            let mut out = String::new();
            let mut stream = self.docker.logs(id, Some(opts));
            // A learner's app can log without end or in one huge line: keep the last MAX_LOG.
            while let Some(item) = stream.next().await {
                out.push_str(&item?.to_string());
                if out.len() > 2 * crate::bounded::MAX_LOG {
                    out = crate::bounded::cap_tail(&out, crate::bounded::MAX_LOG);
                }
            }
            Ok::<_, BollardError>(crate::bounded::cap_tail(&out, crate::bounded::MAX_LOG))
        };
        self.call("reading container logs", collect).await
    }

    async fn start_probe(&self, spec: &ProbeSpec) -> Result<String> {
        let port_key = format!("{}/tcp", spec.container_port);
        let mut bindings = HashMap::new();
        bindings.insert(
            port_key.clone(),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some(String::new()),
            }]),
        );
        let nanos = |d: std::time::Duration| d.as_nanos() as i64;
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            exposed_ports: Some(vec![port_key]),
            cmd: spec.cmd.clone(),
            // Zero fields inherit the image's: the test command stays the learner's.
            healthcheck: spec.health_interval.map(|i| bollard::models::HealthConfig {
                interval: Some(nanos(i)),
                start_period: Some(0),
                retries: Some(3),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                port_bindings: Some(bindings),
                memory: Some(spec.memory_bytes),
                nano_cpus: Some(spec.nano_cpus),
                pids_limit: Some(256),
                binds: (!spec.binds.is_empty()).then(|| spec.binds.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let name = probe_name();
        let what = "creating the probe container";
        let created = self.create_probe(what, Some(&name), body).await?;
        if let Err(e) = self
            .call(
                "starting the probe container",
                self.docker.start_container(&created.id, None::<_>),
            )
            .await
        {
            let _ = self.remove(&created.id).await;
            return Err(e);
        }
        Ok(created.id)
    }

    async fn run_to_end(&self, job: &OneShot) -> Result<(i64, String)> {
        let body = ContainerCreateBody {
            image: Some(job.image.clone()),
            cmd: Some(job.cmd.clone()),
            host_config: Some(HostConfig {
                binds: (!job.binds.is_empty()).then(|| job.binds.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .create_probe("creating a container", None, body)
            .await?;
        let run = async {
            self.docker.start_container(&created.id, None::<_>).await?;
            let mut wait = self.docker.wait_container(&created.id, None);
            let mut code = 0;
            while let Some(r) = wait.next().await {
                match r {
                    Ok(w) => code = w.status_code,
                    Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => {
                        code = c
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok::<_, BollardError>(code)
        };
        let what = format!("running {}", job.cmd.join(" "));
        let code = self.call_within(&what, job.deadline, run).await;
        let log = self.logs_tail(&created.id, 200).await.unwrap_or_default();
        let _ = self.remove(&created.id).await;
        Ok((code?, log))
    }

    async fn build(&self, context_tar: Vec<u8>, tag: &str) -> Result<()> {
        let opts = bollard::query_parameters::BuildImageOptionsBuilder::default()
            .t(tag)
            .rm(true)
            .build();
        let run = async {
            let mut s = self.docker.build_image(
                opts,
                None,
                Some(bollard::body_full(bytes::Bytes::from(context_tar))),
            );
            let mut tail = String::new();
            while let Some(item) = s.next().await {
                let info = item?;
                if let Some(t) = info.stream {
                    tail.push_str(&t);
                    tail = crate::bounded::cap_tail(&tail, 4096);
                }
            }
            Ok::<_, BollardError>(())
        };
        self.call_within(&format!("building {tag}"), BUILD_DEADLINE, run)
            .await
    }

    async fn save_image(&self, image: &str, to: &Path, progress: Progress<'_>) -> Result<u64> {
        use tokio::io::AsyncWriteExt;
        let io = |e: std::io::Error| EngineError::Api(format!("writing {}: {e}", to.display()));
        let mut file = tokio::fs::File::create(to).await.map_err(io)?;
        let mut s = self.docker.export_image(image);
        let mut total = 0u64;
        while let Some(chunk) = s.next().await {
            let chunk = chunk.map_err(|e| map_err(&self.endpoint, e))?;
            file.write_all(&chunk).await.map_err(io)?;
            total += chunk.len() as u64;
            progress(total);
        }
        file.flush().await.map_err(io)?;
        Ok(total)
    }

    async fn load_image(&self, from: &Path) -> Result<()> {
        let file = tokio::fs::File::open(from)
            .await
            .map_err(|e| EngineError::Api(format!("reading {}: {e}", from.display())))?;
        let stream = tokio_util::io::ReaderStream::new(file);
        let opts = bollard::query_parameters::ImportImageOptionsBuilder::default()
            .quiet(true)
            .build();
        let mut s = self.docker.import_image_stream(opts, stream, None);
        while let Some(item) = s.next().await {
            item.map_err(|e| map_err(&self.endpoint, e))?;
        }
        Ok(())
    }

    async fn tag(&self, image: &str, repo: &str, tag: &str) -> Result<()> {
        let opts = bollard::query_parameters::TagImageOptionsBuilder::default()
            .repo(repo)
            .tag(tag)
            .build();
        self.call("tagging an image", self.docker.tag_image(image, Some(opts)))
            .await
    }

    async fn exec(&self, id: &str, cmd: &[&str]) -> Result<(i64, String)> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        let run = async {
            let e = self
                .docker
                .create_exec(
                    id,
                    CreateExecOptions {
                        cmd: Some(cmd.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
                        attach_stdout: Some(true),
                        attach_stderr: Some(true),
                        ..Default::default()
                    },
                )
                .await?;
            let mut out = String::new();
            if let StartExecResults::Attached { mut output, .. } =
                self.docker.start_exec(&e.id, None).await?
            {
                while let Some(chunk) = output.next().await {
                    out.push_str(&chunk?.to_string());
                    if out.len() > 64 * 1024 {
                        break;
                    }
                }
            }
            let code = self
                .docker
                .inspect_exec(&e.id)
                .await?
                .exit_code
                .unwrap_or(-1);
            Ok::<_, BollardError>((code, out))
        };
        self.call("running a command in the probe container", run)
            .await
    }

    async fn remove(&self, id: &str) -> Result<()> {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let what = format!("removing container {id}");
        let removal = self.docker.remove_container(id, Some(opts));
        self.call_found(&what, removal).await.map(drop)
    }

    fn events(&self) -> tokio::sync::mpsc::Receiver<EngineEvent> {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let docker = self.docker.clone();
        tokio::spawn(async move {
            let filters = HashMap::from([("type", vec!["image", "container"])]);
            let opts = bollard::query_parameters::EventsOptionsBuilder::default()
                .filters(&filters)
                .build();
            let mut stream = docker.events(Some(opts));
            while let Some(ev) = stream.next().await {
                let Ok(ev) = ev else { break };
                let action = ev.action.unwrap_or_default();
                let relevant = matches!(
                    action.as_str(),
                    "build"
                        | "tag"
                        | "untag"
                        | "push"
                        | "delete"
                        | "import"
                        | "start"
                        | "die"
                        | "destroy"
                        | "create"
                );
                if !relevant {
                    continue;
                }
                let actor = ev.actor.unwrap_or_default();
                let attrs = actor.attributes.unwrap_or_default();
                // The grader's own probes must not wake a watcher up, or it would loop.
                if attrs.contains_key(PROBE_LABEL) {
                    continue;
                }
                let id = actor.id.unwrap_or_default();
                let kind = ev.typ.map(|t| t.to_string()).unwrap_or_default();
                let name = attrs
                    .get("name")
                    .cloned()
                    .unwrap_or_else(|| id.chars().take(12).collect());
                let event = EngineEvent {
                    image: if kind == "container" {
                        attrs.get("image").cloned().unwrap_or_default()
                    } else {
                        id
                    },
                    compose_dir: attrs.get(super::compose_label::WORKING_DIR).cloned(),
                    kind,
                    action,
                    name,
                };
                if tx.send(event).await.is_err() {
                    break;
                }
            }
        });
        rx
    }

    async fn image_file_hashes(
        &self,
        image: &str,
        dir: &str,
        max_bytes: u64,
    ) -> Result<BTreeMap<String, String>> {
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["true".into()]),
            entrypoint: Some(vec![]),
            ..Default::default()
        };
        let what = "creating a container to read the image's files";
        let created = self.create_probe(what, None, body).await?;
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(dir)
            .build();
        // Stream the archive into a blocking tar reader that hashes each file as it passes:
        // memory stays at a few chunks whatever the image holds.
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
        let parser = tokio::task::spawn_blocking(move || {
            hash_tar(ChannelReader {
                rx,
                buf: Vec::new(),
                pos: 0,
            })
        });
        let read = async {
            let mut total = 0u64;
            let mut stream = self.docker.download_from_container(&created.id, Some(opts));
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                total += chunk.len() as u64;
                if total > max_bytes || tx.send(chunk.to_vec()).await.is_err() {
                    break;
                }
            }
            drop(tx);
            Ok::<_, BollardError>(())
        };
        let result = self.call("reading the image's files", read).await;
        let _ = self.remove(&created.id).await;
        result?;
        Ok(parser.await.unwrap_or_default())
    }

    async fn history(&self, reference: &str) -> Result<Vec<HistoryEntry>> {
        let what = format!("reading the history of {reference}");
        let items = self.call_found(&what, self.docker.image_history(reference));
        Ok(items
            .await?
            .unwrap_or_default()
            .into_iter()
            .take(1000)
            .map(|i| HistoryEntry {
                created_by: i.created_by.chars().take(500).collect(),
                size: i.size,
            })
            .collect())
    }

    async fn remove_image(&self, reference: &str) -> Result<bool> {
        let opts = bollard::query_parameters::RemoveImageOptionsBuilder::default()
            .force(true)
            .build();
        let what = format!("removing image {reference}");
        let removal = self.docker.remove_image(reference, Some(opts), None);
        Ok(self.call_found(&what, removal).await?.is_some())
    }

    async fn networks(&self) -> Result<Vec<(String, String, HashMap<String, String>)>> {
        let list = self
            .call(
                "listing networks",
                self.docker
                    .list_networks(None::<bollard::query_parameters::ListNetworksOptions>),
            )
            .await?;
        Ok(list
            .into_iter()
            .map(|n| {
                (
                    n.id.unwrap_or_default(),
                    n.name.unwrap_or_default(),
                    n.labels.unwrap_or_default(),
                )
            })
            .collect())
    }

    async fn remove_network(&self, id: &str) -> Result<()> {
        self.call("removing a network", self.docker.remove_network(id))
            .await
    }
}

/// A blocking `Read` over chunks arriving on a channel (from the engine's archive stream).
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.blocking_recv() {
                Some(b) => {
                    self.buf = b;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The SHA-256 of every regular file in a tar stream, by path without the archive's root
/// directory (the directory's own name). A truncated archive yields what was complete.
fn hash_tar(r: impl std::io::Read) -> BTreeMap<String, String> {
    use sha2::Digest;
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(r);
    let Ok(entries) = archive.entries() else {
        return files;
    };
    for entry in entries {
        let Ok(mut entry) = entry else { break };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let Ok(path) = entry.path().map(|p| p.to_string_lossy().to_string()) else {
            continue;
        };
        let rel = path
            .split_once('/')
            .map(|(_, r)| r.to_string())
            .unwrap_or_default();
        let mut h = sha2::Sha256::new();
        if std::io::copy(&mut entry, &mut h).is_ok() {
            files.insert(rel, format!("{:x}", h.finalize()));
        }
    }
    files
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn a_streamed_archive_is_hashed_file_by_file_without_its_root() {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in [
            ("app/src/main.py", &b"print(1)"[..]),
            ("app/requirements.txt", b"flask\n"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, data).unwrap();
        }
        let bytes = b.into_inner().unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let parser = tokio::task::spawn_blocking(move || {
            hash_tar(ChannelReader {
                rx,
                buf: Vec::new(),
                pos: 0,
            })
        });
        for chunk in bytes.chunks(100) {
            // The parser may stop at the end-of-archive blocks, before the padding arrives.
            let _ = tx.send(chunk.to_vec()).await;
        }
        drop(tx);
        let files = parser.await.unwrap();
        use sha2::Digest;
        assert_eq!(
            files["src/main.py"],
            format!("{:x}", sha2::Sha256::digest(b"print(1)"))
        );
        assert_eq!(files.len(), 2);
    }
}

/// A name for a probe container, unique across this process's concurrent steps.
/// The millisecond alone collided (two optional steps started probes together),
/// so a per-process sequence number follows it.
fn probe_name() -> String {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "sre-lab-probe-{}-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unix socket that accepts connections and answers `/version` after `delay`, or never.
    #[cfg(unix)]
    async fn slow_engine(dir: &Path, delay: Option<Duration>) -> DockerEngine {
        let version = r#"{"ApiVersion":"1.44","Version":"28.5.2"}"#;
        scripted_engine(&dir.join("engine.sock"), delay, "200 OK", version)
    }

    /// A unix socket at `path` that answers every request with `status` and the JSON `body`
    /// after `delay`, or never.
    #[cfg(unix)]
    fn scripted_engine(
        path: &Path,
        delay: Option<Duration>,
        status: &'static str,
        body: &'static str,
    ) -> DockerEngine {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::UnixListener::bind(path).unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = conn.read(&mut buf).await;
                    let Some(delay) = delay else {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    };
                    tokio::time::sleep(delay).await;
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(reply.as_bytes()).await;
                });
            }
        });
        let host = format!("unix://{}", path.display());
        DockerEngine {
            docker: Docker::connect_with_unix(&host, 120, bollard::API_DEFAULT_VERSION).unwrap(),
            endpoint: host,
            source: "test".into(),
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_404_means_gone_and_any_other_error_stays_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let now = Some(Duration::ZERO);
        let gone = r#"{"message":"No such container: c1"}"#;
        let gone = scripted_engine(&dir.path().join("gone.sock"), now, "404 Not Found", gone);
        assert!(gone.container("c1").await.unwrap().is_none());
        gone.remove("c1")
            .await
            .expect("removing what is gone is done");
        assert!(gone.history("img").await.unwrap().is_empty());
        assert!(!gone.remove_image("img").await.unwrap());
        assert!(gone.image("img").await.unwrap().is_none());
        let boom = r#"{"message":"boom"}"#;
        let path = dir.path().join("broken.sock");
        let broken = scripted_engine(&path, now, "500 Internal Server Error", boom);
        let err = broken.container("c1").await.unwrap_err().to_string();
        assert!(err.contains("boom"), "{err}");
        assert!(broken.remove("c1").await.is_err());
        assert!(broken.history("img").await.is_err());
        assert!(broken.remove_image("img").await.is_err());
        assert!(broken.image("img").await.is_err());
    }

    /// The handshake's error (it must fail) with these deadlines, and how long it took.
    async fn refusal(engine: DockerEngine, first_ms: u64, more_ms: u64) -> (String, Duration) {
        let started = std::time::Instant::now();
        let ms = Duration::from_millis;
        let r = engine.handshake(ms(first_ms), ms(more_ms)).await;
        (
            r.err().expect("the handshake fails").to_string(),
            started.elapsed(),
        )
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_slow_engine_that_accepts_the_connection_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let engine = slow_engine(dir.path(), Some(Duration::from_millis(400))).await;
        let r = engine
            .handshake(Duration::from_millis(100), Duration::from_secs(5))
            .await;
        assert!(r.is_ok(), "{:?}", r.err());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn an_engine_that_accepts_but_never_answers_is_reported_after_the_longer_wait() {
        let dir = tempfile::tempdir().unwrap();
        let engine = slow_engine(dir.path(), None).await;
        let (err, took) = refusal(engine, 100, 300).await;
        assert!(
            err.contains("accepts connections but gave no answer within 0.4 s"),
            "{err}"
        );
        assert!(took < Duration::from_secs(3));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_socket_nobody_listens_on_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        // The socket file stays behind when its listener is gone: connecting is refused.
        let path = dir.path().join("nobody.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let host = format!("unix://{}", path.display());
        let engine = DockerEngine {
            docker: Docker::connect_with_unix(&host, 120, bollard::API_DEFAULT_VERSION).unwrap(),
            endpoint: host,
            source: "test".into(),
        };
        let (err, took) = refusal(engine, 5000, 5000).await;
        assert!(err.contains("does not answer"), "{err}");
        assert!(took < Duration::from_secs(3), "refused at once");
    }

    #[test]
    fn probe_names_made_in_the_same_millisecond_differ() {
        let names: std::collections::HashSet<String> =
            (0..1000).map(|_| super::probe_name()).collect();
        assert_eq!(names.len(), 1000);
        assert!(names.iter().all(|n| n.starts_with("sre-lab-probe-")));
    }

    #[test]
    fn only_vanished_content_is_a_race_worth_retrying() {
        use bollard::errors::Error::DockerResponseServerError as E;
        let race = E {
            status_code: 500,
            message: "failed to read config content: rpc error: code = NotFound desc = content digest sha256:26fa: not found".into(),
        };
        assert!(super::is_content_race(&race));
        // Seen in CI: the image list, while another client removed an image.
        let listed = E {
            status_code: 404,
            message: "NotFound: content digest sha256:17392ad59816: not found".into(),
        };
        assert!(super::is_content_race(&listed));
        for other in [
            E {
                status_code: 404,
                message: "No such image: x:latest".into(),
            },
            E {
                status_code: 500,
                message: "no space left on device".into(),
            },
        ] {
            assert!(!super::is_content_race(&other), "{other:?}");
        }
    }
}
