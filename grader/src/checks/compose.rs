//! Kind `compose`: a valid compose file defines the app's service, and it is up and serving.
//!
//! What it checks and why is [`DOC`]: the one text that rustdoc, `lab kinds` and the book's
//! reference page all show.

use serde::Deserialize;

use super::{Kind, Makes, Needs};
use std::path::Path;

use serde_norway::Value;

use super::image::short_id;
use super::{compare_content, engine_error, probe_container, same_path, Ctx};
use crate::engine::{compose_label, ContainerState, ContainerSummary, PROBE_LABEL};
use crate::http::matches_expectation;
use crate::http::HttpExpect;
use crate::reference::edit_distance;
use crate::report::CheckResult;

/// What this kind checks and why.
pub const DOC: &str = "What it checks: the compose files Compose reads (those the running project was made \
from, by its containers' labels; else `COMPOSE_FILE` from the environment or `.env`; else \
`compose.yaml`, `compose.yml`, `docker-compose.yaml` or `docker-compose.yml`, in Compose v2's \
order, with an override file merged; and what v1 would read instead) are valid YAML (errors with line:column) and valid \
Compose (unknown keys named by their path, e.g. `services.web.port`, with a suggestion); one \
service is built from the workspace (`build: .`) and publishes the lab's \
`host_port:container_port`; that service's containers (found by Compose's labels, v1 and v2 \
alike) are running, and the host port answers as the app does. It explains the host port \
still held by the `docker run` container, an `image:` next to `build:` that re-tags the \
image, a service image older than the code (`up` without `--build`), and a container older \
than its image (rebuilt, not recreated; on the containerd image store the older build is gone \
from the image list, so the container's own record is read).\n\nWhy: Compose turns \
the run step's command line into a file; the mistakes move from flags to keys and \
indentation, and the old container from the run step is still in the way.";

/// The parameters of a `compose` check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The container port of the service.
    pub container_port: u16,
    /// The host port the service publishes.
    pub host_port: u16,
    /// What the service must answer on the host port.
    pub http: HttpExpect,
    /// Workspace paths whose changes make the service's image stale.
    pub sources: Vec<String>,
}
impl Kind for Spec {
    fn needs(&self) -> Needs {
        Needs {
            compose: true,
            ..Needs::ENGINE.and_port(self.host_port)
        }
    }
    fn makes(&self) -> Makes {
        Makes {
            compose_project: true,
            ..Makes::default()
        }
    }
}

pub use super::compose_files::FILE_NAMES;

/// The `config_files` label of this workspace's running Compose containers (the files the
/// project was made from), when such a container runs.
fn running_config_files(all: &[ContainerSummary], dir: &Path) -> Option<String> {
    all.iter()
        .filter(|c| c.state == ContainerState::Running && !c.labels.contains_key(PROBE_LABEL))
        .filter(|c| {
            c.labels
                .get(compose_label::WORKING_DIR)
                .is_some_and(|d| same_path(Path::new(d), dir))
        })
        .find_map(|c| c.labels.get(compose_label::CONFIG_FILES).cloned())
}

const TOP_KEYS: [&str; 8] = [
    "version", "services", "networks", "volumes", "configs", "secrets", "name", "include",
];
const SERVICE_KEYS: [&str; 62] = [
    "annotations",
    "attach",
    "blkio_config",
    "build",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_shares",
    "cpu_period",
    "cpu_quota",
    "cpus",
    "cpuset",
    "depends_on",
    "deploy",
    "develop",
    "devices",
    "dns",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "labels",
    "links",
    "logging",
    "mem_limit",
    "mem_reservation",
    "network_mode",
    "networks",
    "platform",
    "ports",
    "privileged",
    "profiles",
    "pull_policy",
    "read_only",
    "restart",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "tmpfs",
    "tty",
    "ulimits",
    "user",
    "volumes",
];
const MORE_SERVICE_KEYS: [&str; 6] = [
    "working_dir",
    "sysctls",
    "userns_mode",
    "pid",
    "mac_address",
    "scale",
];

/// A service publishing `host:container`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceFacts {
    pub name: String,
    pub build_context: Option<String>,
    pub image: Option<String>,
    /// (host port, container port) pairs, TCP.
    pub ports: Vec<(Option<u16>, u16)>,
    /// The same for UDP, which an HTTP app cannot answer on.
    pub udp_ports: Vec<(Option<u16>, u16)>,
}

/// Deeper than this is refused before parsing (a real compose file is 4 to 6 levels deep).
const MAX_NESTING: usize = 64;

/// The first line where YAML flow (`[`, `{`) or block (indentation) nesting passes `max`, in
/// one linear pass, so a hostile file never reaches the parser's recursion.
pub fn too_deep(text: &str, max: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches([' ', '-']).len();
        if indent / 2 > max {
            return Some(n + 1);
        }
        let mut quote: Option<char> = None;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > max {
                        return Some(n + 1);
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    None
}

fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_start().starts_with(&format!("{key}:")))
        .map(|i| i + 1)
}

fn suggest(key: &str, known: &[&str]) -> Option<String> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k.to_string())
}

/// The variables Compose interpolates with: this process's environment, over the workspace's
/// `.env` file (Compose reads it from the project directory).
pub fn compose_env(dir: &Path) -> std::collections::HashMap<String, String> {
    let mut vars = std::collections::HashMap::new();
    if let Ok(text) =
        crate::bounded::read_text(&dir.join(".env"), crate::bounded::MAX_SPEC_FILE, Some(dir))
    {
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                let v = v.trim().trim_matches('"').trim_matches('\'');
                vars.insert(k.trim().to_string(), v.to_string());
            }
        }
    }
    vars.extend(std::env::vars());
    vars
}

/// Interpolate a Compose string as Compose does: `$$` is a literal `$`; `$VAR`, `${VAR}`,
/// `${VAR:-default}` (unset or empty), `${VAR-default}` (unset), `${VAR:+alt}`, `${VAR+alt}`,
/// and `${VAR:?message}` / `${VAR?message}` (an error when missing).
pub fn interpolate(
    s: &str,
    vars: &std::collections::HashMap<String, String>,
) -> Result<String, String> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let b: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < b.len() {
        if b[i] != '$' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => {
                let close = b[i + 2..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or_else(|| format!("{s:?}: `${{` without a closing `}}`"))?;
                let inner: String = b[i + 2..i + 2 + close].iter().collect();
                let name_end = inner.find(|c: char| !is_name(c)).unwrap_or(inner.len());
                let (name, op) = inner.split_at(name_end);
                let set = vars.get(name);
                let nonempty = set.filter(|v| !v.is_empty());
                let value = match op {
                    "" => set.cloned().unwrap_or_default(),
                    _ if op.starts_with(":-") => match nonempty {
                        Some(v) => v.clone(),
                        None => interpolate(&op[2..], vars)?,
                    },
                    _ if op.starts_with('-') => match set {
                        Some(v) => v.clone(),
                        None => interpolate(&op[1..], vars)?,
                    },
                    _ if op.starts_with(":+") => match nonempty {
                        Some(_) => interpolate(&op[2..], vars)?,
                        None => String::new(),
                    },
                    _ if op.starts_with('+') => match set {
                        Some(_) => interpolate(&op[1..], vars)?,
                        None => String::new(),
                    },
                    _ if op.starts_with(":?") || op.starts_with('?') => match nonempty {
                        Some(v) => v.clone(),
                        None => {
                            return Err(format!(
                                "{name} is required: {}",
                                op.trim_start_matches(':').trim_start_matches('?')
                            ))
                        }
                    },
                    _ => return Err(format!("{s:?}: invalid interpolation `${{{inner}}}`")),
                };
                out.push_str(&value);
                i += close + 3;
            }
            Some(&c) if is_name(c) => {
                let end = b[i + 1..]
                    .iter()
                    .position(|&c| !is_name(c))
                    .map_or(b.len(), |p| i + 1 + p);
                let name: String = b[i + 1..end].iter().collect();
                out.push_str(vars.get(&name).map(String::as_str).unwrap_or(""));
                i = end;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

/// One entry of `ports:`, after interpolation: (host port, container port, protocol is UDP).
pub fn parse_port(
    v: &Value,
    vars: &std::collections::HashMap<String, String>,
) -> Result<(Option<u16>, u16, bool), String> {
    let port = |n: u64| {
        u16::try_from(n)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{n} is not a port (1 to 65535)"))
    };
    match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("{n} is not a port"))
            .and_then(port)
            .map(|p| (None, p, false)),
        Value::String(raw) => {
            let s = interpolate(raw, vars)?;
            let (s, proto) = s.split_once('/').unwrap_or((&s, "tcp"));
            let udp = proto.eq_ignore_ascii_case("udp");
            let parts: Vec<&str> = s.rsplitn(3, ':').collect();
            let num = |x: &str| {
                x.parse::<u64>()
                    .map_err(|_| format!("{x:?} is not a port number"))
                    .and_then(port)
            };
            match parts.as_slice() {
                [c] => Ok((None, num(c)?, udp)),
                [c, h] | [c, h, _] => Ok((
                    if h.is_empty() { None } else { Some(num(h)?) },
                    num(c)?,
                    udp,
                )),
                _ => Err(format!("{s:?} is not a port mapping")),
            }
        }
        Value::Mapping(m) => {
            let get = |k: &str| -> Result<Option<u16>, String> {
                match m.get(Value::String(k.into())) {
                    None => Ok(None),
                    Some(v) => {
                        let n = match v.as_u64() {
                            Some(n) => n,
                            None => interpolate(v.as_str().unwrap_or_default(), vars)?
                                .parse::<u64>()
                                .map_err(|_| format!("`{k}` is not a port number"))?,
                        };
                        port(n).map(Some)
                    }
                }
            };
            let target = get("target")?.ok_or("a long-form port needs `target`")?;
            let udp = m
                .get(Value::String("protocol".into()))
                .and_then(|p| p.as_str())
                .is_some_and(|p| p.eq_ignore_ascii_case("udp"));
            Ok((get("published")?, target, udp))
        }
        _ => Err("a port is a string like \"HOST:CONTAINER\"".into()),
    }
}

/// The name of a running container of the workspace's `service` that publishes container
/// `port`/tcp on `host_port`, as the engine reports it.
async fn running_binding(ctx: &Ctx, service: &str, port: u16, host_port: u16) -> Option<String> {
    let engine = ctx.engine("").ok()?;
    let all = engine.containers().await.ok()?;
    for c in all
        .iter()
        .filter(|c| c.state == ContainerState::Running && is_service_container(c, service, &ctx.dir))
    {
        if let Ok(Some(full)) = engine.container(&c.id).await {
            if full.host_port(port).as_deref() == Some(host_port.to_string().as_str()) {
                return Some(full.name);
            }
        }
    }
    None
}

/// Whether a container is one of this workspace's service `service`, by the labels Compose v1
/// and v2 both put on it (never by its name: v1 says `day11_web_1`, v2 `day11-web-1`).
pub fn is_service_container(c: &ContainerSummary, service: &str, workspace: &Path) -> bool {
    let label = |k: &str| c.labels.get(k).cloned().unwrap_or_default();
    label(compose_label::SERVICE) == service
        && same_path(Path::new(&label(compose_label::WORKING_DIR)), workspace)
}

/// Parse and validate a compose file's text into its services, or say what is wrong and where.
pub fn parse(
    text: &str,
    file: &str,
    vars: &std::collections::HashMap<String, String>,
) -> Result<Vec<ServiceFacts>, CheckResult> {
    let id = "compose.file";
    if let Some(line) = too_deep(text, MAX_NESTING) {
        return Err(CheckResult::fail(
            id,
            format!("{file} nests deeper than {MAX_NESTING} levels, which no Compose file needs"),
        )
        .at(format!("{file}:{line}"))
        .hint("a compose file is a few levels deep: services, a service, its keys"));
    }
    let mut value: Value = serde_norway::from_str(text).map_err(|e| {
        let mut r = CheckResult::fail(id, format!("{file} is not valid YAML: {e}"))
            .hint("YAML indents with spaces (never tabs); a key and its value are separated by `: `; list items start with `- `");
        if let Some(loc) = e.location() {
            r = r.at(format!("{file}:{}:{}", loc.line(), loc.column()));
        }
        r
    })?;
    // YAML merge keys (`<<: *defaults`) are part of Compose files: apply them as Compose does.
    value.apply_merge().map_err(|e| {
        CheckResult::fail(id, format!("{file}: a `<<:` merge key cannot be applied: {e}"))
            .hint("`<<:` takes an alias of a mapping (`<<: *defaults`) or a list of them")
    })?;
    let Value::Mapping(top) = &value else {
        return Err(CheckResult::fail(
            id,
            format!("{file} must be a mapping with a `services:` key"),
        ));
    };
    for k in top.keys() {
        let k = k.as_str().unwrap_or_default();
        if !TOP_KEYS.contains(&k) && !k.starts_with("x-") {
            let mut r = CheckResult::fail(id, format!("`{k}` is not a Compose key (top level)"))
                .found(k.to_string());
            if let Some(s) = suggest(k, &TOP_KEYS) {
                r = r.hint(format!("did you mean `{s}`?"));
            }
            if let Some(l) = line_of(text, k) {
                r = r.at(format!("{file}:{l}"));
            }
            return Err(r);
        }
    }
    let Some(Value::Mapping(services)) = top.get(Value::String("services".into())) else {
        return Err(
            CheckResult::fail(id, format!("{file} has no `services:` mapping"))
                .hint("add `services:` with one service under it, e.g. `web:`"),
        );
    };
    let mut out = Vec::new();
    for (name, svc) in services {
        let name = name.as_str().unwrap_or_default().to_string();
        let Value::Mapping(svc) = svc else {
            return Err(CheckResult::fail(
                id,
                format!("services.{name} must be a mapping of keys (build, ports, ...)"),
            )
            .hint("indent the service's keys under its name"));
        };
        let mut facts = ServiceFacts {
            name: name.clone(),
            build_context: None,
            image: None,
            ports: vec![],
            udp_ports: vec![],
        };
        for (k, v) in svc {
            let k = k.as_str().unwrap_or_default();
            if !SERVICE_KEYS.contains(&k) && !MORE_SERVICE_KEYS.contains(&k) && !k.starts_with("x-")
            {
                let mut r = CheckResult::fail(
                    id,
                    format!("services.{name}.{k}: `{k}` is not a service key"),
                )
                .found(format!("services.{name}.{k}"));
                if let Some(s) = suggest(k, &SERVICE_KEYS) {
                    r = r
                        .expected(format!("services.{name}.{s}"))
                        .hint(format!("did you mean `{s}`?"));
                }
                if let Some(l) = line_of(text, k) {
                    r = r.at(format!("{file}:{l}"));
                }
                return Err(r);
            }
            match k {
                "build" => {
                    facts.build_context = match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Mapping(m) => Some(
                            m.get(Value::String("context".into()))
                                .and_then(|c| c.as_str())
                                .unwrap_or(".")
                                .to_string(),
                        ),
                        _ => {
                            return Err(CheckResult::fail(
                                id,
                                format!(
                                "services.{name}.build must be a path or a mapping with `context`"
                            ),
                            ))
                        }
                    }
                }
                "image" => facts.image = v.as_str().map(String::from),
                "ports" => {
                    let Value::Sequence(items) = v else {
                        return Err(CheckResult::fail(id, format!("services.{name}.ports must be a list"))
                            .hint("write it as a list: `ports:` then `  - \"HOST:CONTAINER\"` on the next line"));
                    };
                    for item in items {
                        let (host, container, udp) = parse_port(item, vars).map_err(|e| {
                            CheckResult::fail(id, format!("services.{name}.ports: {e}"))
                                .hint("use \"HOST:CONTAINER\", quoted, e.g. \"8000:8000\"")
                        })?;
                        if udp {
                            facts.udp_ports.push((host, container));
                        } else {
                            facts.ports.push((host, container));
                        }
                    }
                }
                _ => {}
            }
        }
        out.push(facts);
    }
    if out.is_empty() {
        return Err(CheckResult::fail(id, "`services:` is empty")
            .hint("define one service, e.g. `web:` with `build: .` and `ports:`"));
    }
    Ok(out)
}

/// Grade the compose file and the running service.
pub async fn check(ctx: &Ctx, step: &str, spec: &Spec) -> Vec<CheckResult> {
    let port: u16 = spec.container_port;
    let host_port: u16 = spec.host_port;
    let http: &HttpExpect = &spec.http;
    let sources: &[String] = &spec.sources;
    let id = |s: &str| format!("{step}.{s}");
    let up = "docker compose up --build -d (Compose v1: docker-compose up --build -d)";
    // Grade the files Compose reads: those the running project was made from, else what
    // `docker compose` would read here now.
    let vars = compose_env(&ctx.dir);
    // One container list serves the file choice and, below, the running service.
    let listed = match ctx.engine(&id("running")) {
        Ok(e) => Some(e.containers().await),
        Err(_) => None,
    };
    let running = match &listed {
        _ if ctx.bindings.compose_files.is_some() => ctx.bindings.compose_files.clone(),
        Some(Ok(all)) => running_config_files(all, &ctx.dir),
        _ => None,
    };
    let Some(choice) = super::compose_files::choose(&ctx.dir, running.as_deref(), &vars) else {
        return vec![CheckResult::fail(id("file"), "there is no compose file in the workspace")
            .expected(FILE_NAMES.join(" or "))
            .hint(format!("create compose.yaml with `services:`, one service with `build: .` and `ports: [\"{host_port}:{port}\"]`"))];
    };
    let (text, file) = match super::compose_files::read(&choice, &ctx.dir, &id("file")) {
        Ok(t) => t,
        Err(r) => return vec![r],
    };
    let services = match parse(&text, &file, &vars) {
        Ok(s) => s,
        Err(mut r) => {
            r.id = id("file");
            return vec![r];
        }
    };
    let mut why = String::new();
    if choice.files.len() > 1 || choice.source != super::compose_files::Source::Default {
        why = format!(", read as Compose reads it: {}", choice.source.describe());
    }
    let mut out = vec![CheckResult::pass(
        id("file"),
        format!("{file} is valid ({} service(s)){why}", services.len()),
    )];
    if let Some(note) = &choice.v1_note {
        out[0].message.push_str(&format!(" ({note})"));
    }
    let built_here: Vec<&ServiceFacts> = services
        .iter()
        .filter(|s| {
            s.build_context
                .as_deref()
                .is_some_and(|c| same_path(&ctx.dir.join(c), &ctx.dir))
        })
        .collect();
    let Some(svc) = built_here
        .iter()
        .find(|s| s.ports.contains(&(Some(host_port), port)))
        .or(built_here.first())
    else {
        let with_build: Vec<String> = services
            .iter()
            .filter_map(|s| {
                s.build_context
                    .as_ref()
                    .map(|c| format!("{}: build {c}", s.name))
            })
            .collect();
        let mut r = CheckResult::fail(
            id("service"),
            "no service is built from the workspace (`build: .`)",
        )
        .expected("services.<name>.build: .")
        .hint("give the service `build: .` so Compose builds the Dockerfile in this directory");
        if !with_build.is_empty() {
            r = r.found(with_build.join("; "));
        } else if services.iter().any(|s| s.image.is_some()) {
            r = r.found("only `image:` (Compose would run an existing image and never build)");
        }
        out.push(r);
        return out;
    };
    // The file says one thing; when the service runs, the engine says what Compose actually
    // did (a `${PORT}` in the file may have been set differently in the shell that ran `up`).
    let made = if svc.ports.contains(&(Some(host_port), port)) {
        None
    } else {
        running_binding(ctx, &svc.name, port, ctx.bindings.port(host_port)).await
    };
    if let Some(name) = &made {
        out.push(
            CheckResult::pass(
                id("service"),
                format!(
                    "service {} publishes {host_port}:{port}: its running container {name} has that binding (the file, read with this shell's environment, says otherwise)",
                    svc.name
                ),
            )
            .evidence("the bindings Compose made, as the engine reports them"),
        );
    } else if !svc.ports.contains(&(Some(host_port), port)) {
        let found: Vec<String> = svc
            .ports
            .iter()
            .map(|(h, c)| {
                format!(
                    "{}:{c}",
                    h.map(|h| h.to_string())
                        .unwrap_or_else(|| "(random)".into())
                )
            })
            .collect();
        out.push(
            CheckResult::fail(
                id("service"),
                format!("service {} does not publish {host_port}:{port}", svc.name),
            )
            .expected(format!("ports: [\"{host_port}:{port}\"]"))
            .found(if found.is_empty() {
                "no ports".into()
            } else {
                found.join(", ")
            })
            .hint(if svc.udp_ports.contains(&(Some(host_port), port)) {
                format!("it is published as UDP (`/udp`), but HTTP runs over TCP: write `- \"{host_port}:{port}\"` without `/udp`")
            } else {
                format!(
                    "under services.{}, add `ports:` with `- \"{host_port}:{port}\"`",
                    svc.name
                )
            }),
        );
        return out;
    } else {
        out.push(CheckResult::pass(
            id("service"),
            format!(
                "service {} is built from the workspace and publishes {host_port}:{port}",
                svc.name
            ),
        ));
    }
    if let Some(img) = &svc.image {
        out.push(CheckResult::warn(id("image-key"), format!("service {} has both `build:` and `image: {img}`: Compose tags its build as {img}, replacing whatever carried that name (the run step's image and tags)", svc.name))
            .hint("drop `image:` to let Compose name the image after the project"));
    }

    // The running service.
    let engine = match ctx.engine(&id("running")) {
        Ok(e) => e.clone(),
        Err(r) => {
            out.push(r);
            return out;
        }
    };
    let all = match listed {
        Some(Ok(l)) => l,
        Some(Err(e)) => {
            out.push(engine_error(&id("running"), &e));
            return out;
        }
        // Listed only when the engine is there; without it `ctx.engine` has answered above.
        None => return out,
    };
    let mine: Vec<&ContainerSummary> = all
        .iter()
        .filter(|c| is_service_container(c, &svc.name, &ctx.dir))
        .collect();
    let Some(first) = mine.iter().find(|c| c.state == ContainerState::Running).or(mine.first()) else {
        out.push(
            CheckResult::fail(
                id("running"),
                format!(
                    "service {} has no containers: Compose has not been started in this directory",
                    svc.name
                ),
            )
            .hint(format!("`{up}` from the workspace")),
        );
        return out;
    };
    let version = first
        .labels
        .get(compose_label::VERSION)
        .cloned()
        .unwrap_or_default();
    let c = match engine.container(&first.id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            out.push(CheckResult::error(
                id("running"),
                "the service's container disappeared while being checked",
            ));
            return out;
        }
        Err(e) => {
            out.push(engine_error(&id("running"), &e));
            return out;
        }
    };
    if !c.running {
        // The holder is the running container (not Compose's, not a probe) that publishes
        // the host port, as the engine reports its bindings: other containers may run too.
        let wanted = ctx.bindings.port(host_port).to_string();
        let mut holder = None;
        for x in all.iter().filter(|x| {
            x.state == ContainerState::Running
                && !x.labels.contains_key(compose_label::PROJECT)
                && !x.labels.contains_key(PROBE_LABEL)
        }) {
            let holds = match engine.container(&x.id).await {
                Ok(Some(full)) => full
                    .published
                    .values()
                    .chain(full.port_bindings.values())
                    .flatten()
                    .any(|(_, p)| *p == wanted),
                _ => false,
            };
            if holds {
                holder = Some(x);
                break;
            }
        }
        let mut r = CheckResult::fail(
            id("running"),
            format!(
                "service {}'s container {} is {} (exit {})",
                svc.name, c.name, c.status, c.exit_code
            ),
        );
        if c.error.contains("port is already allocated")
            || c.error.contains("address already in use")
            || c.status == ContainerState::Created
        {
            let who = holder
                .map(|h| format!("container {} (from the run step)", h.name))
                .unwrap_or_else(|| "another container or program".into());
            r = r
                .found(format!(
                    "port {host_port} is already allocated: {who} still holds it"
                ))
                .hint(format!(
                    "stop it first (`docker stop {}`), then `{up}`",
                    holder.map(|h| h.name.as_str()).unwrap_or("<container>")
                ));
        } else {
            let log = engine.logs_tail(&c.id, 15).await.unwrap_or_default();
            r = r
                .hint(format!(
                    "`docker compose logs {}` shows why; then `{up}`",
                    svc.name
                ))
                .detail(format!("last log lines:\n{log}"));
        }
        out.push(r);
        return out;
    }
    let result = probe_container(engine.as_ref(), &c.id, port, ctx.bindings.port(host_port), http).await;
    match matches_expectation(http, &result.last) {
        Ok(()) => out.push(CheckResult::pass(id("running"), format!(
            "service {} runs (Compose {}) and http://localhost:{host_port}{} answers HTTP {}",
            svc.name,
            if version.is_empty() { "?".into() } else { version },
            http.path,
            http.status
        ))),
        Err(how) => out.push(CheckResult::fail(id("running"), format!("service {} runs but http://localhost:{host_port}{} does not answer as the app does", svc.name, http.path))
            .found(how)
            .hint(format!("`docker compose logs {}` shows what the app says", svc.name))),
    }
    let img = match engine.image(&c.image_id).await {
        Ok(i) => i,
        Err(e) => {
            out.push(engine_error(&id("fresh"), &e));
            return out;
        }
    };
    let Some(img) = img else {
        // The containerd image store forgets a build once its tag moves, while the container
        // made from it runs on: the tag the container was made from now names a newer build.
        // (The legacy store keeps the older build as a dangling image, compared by content below.)
        let now = match engine.image(&c.config_image).await {
            Ok(Some(i)) => format!("{} now names {}", c.config_image, short_id(&i.id)),
            _ => format!("{} is gone", c.config_image),
        };
        out.push(
            CheckResult::fail(id("fresh"), format!(
                "the service's container {} runs an older build ({}) than its image: {now}. The image was rebuilt (`build` or `up --build` of another run) but this container was not recreated",
                c.name, short_id(&c.image_id)))
                .evidence("the container's image id no longer names an image in the engine (containerd image store)")
                .hint(format!("`{up}` recreates it from the current build")),
        );
        return out;
    };
    {
        if let Ok(content) =
            compare_content(ctx, engine.as_ref(), &img.id, &img.working_dir, sources).await
        {
            if !content.differing.is_empty() {
                out.push(
                    CheckResult::fail(id("fresh"), format!("the service runs an image with an older {}: `up` without `--build` reuses the image it built before", content.differing.join(", ")))
                        .hint(format!("`{up}`")),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str =
        "version: \"3.8\"\nservices:\n  web:\n    build: .\n    ports:\n      - \"5000:5000\"\n";

    #[test]
    fn the_lesson_file_parses() {
        let s = parse(GOOD, "docker-compose.yml", &Default::default()).unwrap();
        assert_eq!(s[0].name, "web");
        assert_eq!(s[0].build_context.as_deref(), Some("."));
        assert_eq!(s[0].ports, vec![(Some(5000), 5000)]);
    }

    #[test]
    fn port_forms() {
        let s = parse("services:\n  web:\n    build: .\n    ports:\n      - 5000\n      - target: 5000\n        published: 5000\n      - \"127.0.0.1:8080:5000/tcp\"\n", "c.yml", &Default::default()).unwrap();
        assert_eq!(
            s[0].ports,
            vec![(None, 5000), (Some(5000), 5000), (Some(8080), 5000)]
        );
    }

    #[test]
    fn unknown_keys_are_named_by_path_with_a_suggestion() {
        let r = parse(&GOOD.replace("ports:", "port:"), "docker-compose.yml", &Default::default()).unwrap_err();
        assert!(r.message.contains("services.web.port"), "{}", r.message);
        assert_eq!(r.hint.as_deref(), Some("did you mean `ports`?"));
        assert_eq!(r.location.as_deref(), Some("docker-compose.yml:5"));
    }

    #[test]
    fn tabs_give_a_yaml_error_with_a_position() {
        let r = parse("services:\n\tweb:\n", "docker-compose.yml", &Default::default()).unwrap_err();
        assert!(r.message.contains("not valid YAML"), "{}", r.message);
        assert!(r.location.unwrap().starts_with("docker-compose.yml:2"));
    }

    #[test]
    fn compose_reads_merge_keys_interpolation_and_refuses_bad_ports() {
        let vars = |pairs: &[(&str, &str)]| -> std::collections::HashMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let merged = "x-base: &base\n  build: .\nservices:\n  web:\n    <<: *base\n    ports:\n      - \"5000:5000\"\n";
        let s = parse(merged, "c.yml", &vars(&[])).unwrap();
        assert_eq!(s[0].build_context.as_deref(), Some("."));
        let interp = GOOD.replace("\"5000:5000\"", "\"${PORT:-5000}:5000\"");
        let s = parse(&interp, "c.yml", &vars(&[])).unwrap();
        assert_eq!(s[0].ports, vec![(Some(5000), 5000)]);
        let s = parse(&interp, "c.yml", &vars(&[("PORT", "8080")])).unwrap();
        assert_eq!(s[0].ports, vec![(Some(8080), 5000)]);
        let e = parse(&GOOD.replace("5000:5000", "70536:5000"), "c.yml", &vars(&[])).unwrap_err();
        assert!(e.message.contains("not a port"), "{e:?}");
        let e = parse(&GOOD.replace("- \"5000:5000\"", "- 70536"), "c.yml", &vars(&[])).unwrap_err();
        assert!(e.message.contains("not a port"), "{e:?}");
        let s = parse(&GOOD.replace("5000:5000", "5000:5000/udp"), "c.yml", &vars(&[])).unwrap();
        assert!(s[0].ports.is_empty());
        assert_eq!(s[0].udp_ports, vec![(Some(5000), 5000)]);
        assert_eq!(interpolate("$$HOME", &vars(&[])).unwrap(), "$HOME");
        assert!(interpolate("${X:?set X}", &vars(&[])).unwrap_err().contains("set X"));
        assert_eq!(interpolate("${X-a}${Y:-b}", &vars(&[("Y", "")])).unwrap(), "ab");
    }

    #[test]
    fn deep_nesting_is_refused_in_linear_time() {
        let deep = format!("services: {}{}", "[".repeat(100_000), "]".repeat(100_000));
        let start = std::time::Instant::now();
        let e = parse(&deep, "c.yml", &Default::default()).unwrap_err();
        assert!(e.message.contains("nests deeper"), "{e:?}");
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn compose_v1_and_v2_containers_are_found_by_their_labels_not_their_names() {
        let ws = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let make = |name: &str, dir: &Path, service: &str| ContainerSummary {
            name: name.into(),
            labels: [
                (compose_label::PROJECT.to_string(), "day11".to_string()),
                (compose_label::SERVICE.to_string(), service.to_string()),
                (compose_label::WORKING_DIR.to_string(), dir.display().to_string()),
            ]
            .into_iter()
            .collect(),
            ..ContainerSummary::default()
        };
        assert!(is_service_container(&make("day11_web_1", ws.path(), "web"), "web", ws.path()));
        assert!(is_service_container(&make("day11-web-1", ws.path(), "web"), "web", ws.path()));
        assert!(!is_service_container(&make("day11-web-1", other.path(), "web"), "web", ws.path()));
        assert!(!is_service_container(&make("day11-db-1", ws.path(), "db"), "web", ws.path()));
        let unlabelled = ContainerSummary {
            name: "day11-web-1".into(),
            ..ContainerSummary::default()
        };
        assert!(!is_service_container(&unlabelled, "web", ws.path()));
    }
}
