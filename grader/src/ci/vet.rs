//! The compose allow-list of `lab ci`: a learner's compose file, read as Compose reads it
//! (files chosen and merged, `<<:` applied, interpolated), is run on a course's runner only
//! when every key and value is inside what a Day-11 service needs, and then only as the
//! vetted copy this module writes (so nothing the YAML hides reaches Compose).
//!
//! Refused, each with the key and what to do: host paths outside the repository (bind mounts,
//! build contexts, `env_file`, secrets and configs), the Docker socket, `privileged`,
//! `cap_add`, devices, host (or another container's) `network_mode`, `pid`, `ipc`, `userns_mode`,
//! `include` and `extends`, and any key this list does not know. Host ports other than the
//! lab's are refused too: the runner is shared, and the lab's own port is replaced by the run's.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use serde_norway::{Mapping, Value};

use crate::compose::{interpolate, parse_port};

/// A refusal: where, and what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{at}: {why}")]
pub struct Refusal {
    /// `services.web.volumes[0]`.
    pub at: String,
    pub why: String,
}

/// Top-level keys a run accepts.
const TOP: &[&str] = &["version", "name", "services", "networks", "volumes"];
/// Service keys a run accepts as they are (their values are plain settings of the container).
const SERVICE_PLAIN: &[&str] = &[
    "image",
    "command",
    "entrypoint",
    "working_dir",
    "user",
    "environment",
    "expose",
    "healthcheck",
    "depends_on",
    "restart",
    "labels",
    "stop_signal",
    "stop_grace_period",
    "init",
    "tty",
    "stdin_open",
    "hostname",
    "read_only",
    "tmpfs",
    "shm_size",
    "mem_limit",
    "mem_reservation",
    "cpus",
    "ulimits",
    "logging",
    "pull_policy",
    "platform",
    "profiles",
    "links",
    "dns",
    "extra_hosts",
    "cap_drop",
    "develop",
];
/// Service keys that would hand the container the runner: refused with this reason.
const SERVICE_REFUSED: &[(&str, &str)] = &[
    ("privileged", "a privileged container owns the runner's kernel"),
    ("cap_add", "added capabilities reach past the container"),
    ("devices", "host devices are the runner's"),
    ("device_cgroup_rules", "host devices are the runner's"),
    ("pid", "the host's process namespace is the runner's"),
    ("ipc", "the host's IPC namespace is the runner's"),
    ("userns_mode", "the host's user namespace is the runner's"),
    ("uts", "the host's UTS namespace is the runner's"),
    ("cgroup", "the host's cgroup namespace is the runner's"),
    ("cgroup_parent", "the runner's cgroups are not the lab's"),
    ("security_opt", "security options can turn confinement off"),
    ("sysctls", "kernel settings are the runner's"),
    ("volumes_from", "another container's volumes are not the repository's"),
    ("extends", "it reads another file, possibly outside the repository"),
    ("secrets", "secrets are read from the runner"),
    ("configs", "configs are read from the runner"),
    ("runtime", "another runtime is not the runner's default"),
    ("gpus", "the runner has no GPU for the lab"),
    ("container_name", "a fixed name collides with other gradings on the same runner; Compose names the container itself"),
];

/// Where a vetted run publishes: the lab's host port and the run's in its place.
#[derive(Debug, Clone, Copy)]
pub struct PortSwap {
    pub lab: u16,
    pub run: u16,
}

/// What a run vets a compose model against.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// The repository's copy: every path must stay inside it.
    pub repo: &'a Path,
    /// What Compose interpolates with.
    pub vars: &'a HashMap<String, String>,
    pub port: PortSwap,
    /// Added to every service (the run's sweep finds them by label).
    pub labels: &'a [(String, String)],
}

/// Vet the merged compose model of a repository and return the YAML to run instead.
pub fn vet(model: &Value, run: &Run) -> Result<String, Refusal> {
    let refuse = |at: &str, why: String| Refusal {
        at: at.to_string(),
        why,
    };
    let Value::Mapping(top) = model else {
        return Err(refuse(
            "(top)",
            "a compose file is a mapping with `services:`".into(),
        ));
    };
    let mut out = Mapping::new();
    for (k, v) in top {
        let key = k.as_str().unwrap_or_default();
        match key {
            _ if key.starts_with("x-") => {}
            "version" | "name" => {}
            "services" => {
                let Value::Mapping(services) = v else {
                    return Err(refuse("services", "`services:` must be a mapping of services".into()));
                };
                let mut vetted = Mapping::new();
                for (name, svc) in services {
                    let n = name.as_str().unwrap_or_default();
                    let at = format!("services.{n}");
                    vetted.insert(
                        name.clone(),
                        vet_service(svc, &at, run)?,
                    );
                }
                out.insert(k.clone(), Value::Mapping(vetted));
            }
            "networks" => out.insert(k.clone(), vet_networks(v)?).map_or((), |_| ()),
            "volumes" => out.insert(k.clone(), vet_volumes(v)?).map_or((), |_| ()),
            "include" => {
                return Err(refuse(
                    "include",
                    "`include:` reads other files, possibly outside the repository: put the services in this file".into(),
                ))
            }
            _ if TOP.contains(&key) => {}
            _ => {
                return Err(refuse(
                    key,
                    format!("`{key}:` is outside what lab ci runs (it accepts {})", TOP.join(", ")),
                ))
            }
        }
    }
    serde_norway::to_string(&escape_dollars(Value::Mapping(out)))
        .map_err(|e| refuse("(top)", format!("cannot be written back: {e}")))
}

fn vet_service(svc: &Value, at: &str, run: &Run) -> Result<Value, Refusal> {
    let Run {
        repo,
        vars,
        port,
        labels,
    } = *run;
    let refuse = |key: &str, why: String| Refusal {
        at: format!("{at}.{key}"),
        why,
    };
    let Value::Mapping(m) = svc else {
        return Err(Refusal {
            at: at.to_string(),
            why: "a service is a mapping of its settings".into(),
        });
    };
    let mut out = Mapping::new();
    for (k, v) in m {
        let key = k.as_str().unwrap_or_default();
        let v = &interpolated(v, vars).map_err(|e| refuse(key, e))?;
        if key.starts_with("x-") {
            continue;
        }
        if let Some((_, why)) = SERVICE_REFUSED.iter().find(|(r, _)| *r == key) {
            return Err(refuse(
                key,
                format!("`{key}` is refused on a course's runner: {why}"),
            ));
        }
        let kept = match key {
            _ if SERVICE_PLAIN.contains(&key) => v.clone(),
            "build" => vet_build(v, repo).map_err(|e| refuse(key, e))?,
            "env_file" => {
                for f in strings(v, "path") {
                    inside(repo, &f).map_err(|e| refuse(key, e))?;
                }
                v.clone()
            }
            "ports" => vet_ports(v, vars, port).map_err(|e| refuse(key, e))?,
            "volumes" => vet_mounts(v, repo).map_err(|e| refuse(key, e))?,
            "network_mode" => match v.as_str().unwrap_or_default() {
                "bridge" | "none" | "default" => v.clone(),
                other => {
                    return Err(refuse(
                        key,
                        format!("`network_mode: {other}` is refused: the host's network (or another container's) is the runner's; leave it out, Compose gives the service its own network"),
                    ))
                }
            },
            "networks" => {
                if let Value::Mapping(nets) = v {
                    for (name, opts) in nets {
                        if matches!(opts, Value::Mapping(o) if o.keys().any(|k| k.as_str() != Some("aliases")))
                        {
                            return Err(refuse(key, format!("network {:?} may only set `aliases`", name.as_str().unwrap_or_default())));
                        }
                    }
                }
                v.clone()
            }
            _ => {
                return Err(refuse(
                    key,
                    format!("`{key}` is outside what lab ci runs; a Day-11 service needs `build`, `ports` and perhaps `environment`"),
                ))
            }
        };
        out.insert(k.clone(), kept);
    }
    let mut lab_labels = Mapping::new();
    if let Some(Value::Mapping(l)) = out.get("labels") {
        lab_labels = l.clone();
    } else if let Some(Value::Sequence(l)) = out.get("labels") {
        for item in l {
            if let Some((a, b)) = item.as_str().and_then(|s| s.split_once('=')) {
                lab_labels.insert(a.into(), b.into());
            }
        }
    }
    for (a, b) in labels {
        lab_labels.insert(a.as_str().into(), b.as_str().into());
    }
    out.insert("labels".into(), Value::Mapping(lab_labels));
    Ok(Value::Mapping(out))
}

/// Every string in `v` (a string, or a list of strings or of mappings with `key`).
fn strings(v: &Value, key: &str) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Mapping(m) => m.get(key).and_then(|p| p.as_str()).map(str::to_string),
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

/// `rel` (relative to the repository, or absolute) names a place inside `repo`, judged by
/// its components (no `..` above the root); symlinks are judged when Compose opens them,
/// and the copy `lab ci` runs holds none (its walker follows none).
pub fn inside(repo: &Path, rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        repo.join(p)
    };
    let mut norm = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                if !norm.pop() {
                    return Err(format!("{rel:?} leaves the filesystem root"));
                }
            }
            Component::CurDir => {}
            other => norm.push(other),
        }
    }
    if norm.starts_with(repo) {
        Ok(norm)
    } else {
        Err(format!(
            "{rel:?} is outside the repository: a course's runner gives a service only the repository's own files"
        ))
    }
}

fn vet_build(v: &Value, repo: &Path) -> Result<Value, String> {
    match v {
        Value::String(ctx) => {
            inside(repo, ctx)?;
            Ok(v.clone())
        }
        Value::Mapping(m) => {
            for (k, val) in m {
                let key = k.as_str().unwrap_or_default();
                match key {
                    "context" => {
                        let ctx = val.as_str().unwrap_or(".");
                        if ctx.contains("://") || ctx.starts_with("git@") {
                            return Err(format!("the build context {ctx:?} is fetched from elsewhere; build from the repository (`build: .`)"));
                        }
                        inside(repo, ctx)?;
                    }
                    "dockerfile" => {
                        let base = m.get("context").and_then(|c| c.as_str()).unwrap_or(".");
                        let ctx = inside(repo, base)?;
                        inside(&ctx, val.as_str().unwrap_or("Dockerfile"))
                            .and_then(|p| inside(repo, &p.to_string_lossy()))?;
                    }
                    "args" | "target" | "labels" | "cache_from" | "pull" | "shm_size"
                    | "platforms" | "tags" | "no_cache" => {}
                    other => {
                        return Err(format!(
                            "`build.{other}` is outside what lab ci runs (it accepts context, dockerfile, args, target, labels)"
                        ))
                    }
                }
            }
            Ok(v.clone())
        }
        _ => Err("`build:` is a path or a mapping with `context:`".into()),
    }
}

fn vet_ports(v: &Value, vars: &HashMap<String, String>, port: PortSwap) -> Result<Value, String> {
    let Value::Sequence(items) = v else {
        return Err("`ports:` is a list".into());
    };
    let mut out = Vec::new();
    for item in items {
        let (host, container, udp) = parse_port(item, vars)?;
        let proto = if udp { "/udp" } else { "" };
        match host {
            None => out.push(Value::String(format!("{container}{proto}"))),
            Some(h) if h == port.lab => {
                out.push(Value::String(format!("127.0.0.1:{}:{container}{proto}", port.run)))
            }
            Some(h) => {
                return Err(format!(
                    "host port {h} is refused: on a shared runner only the lab's port {} is published (lab ci moves it to a port of the run's own)",
                    port.lab
                ))
            }
        }
    }
    Ok(Value::Sequence(out))
}

/// A bind mount or a named volume; a bind mount's source must be inside the repository.
fn vet_mounts(v: &Value, repo: &Path) -> Result<Value, String> {
    let Value::Sequence(items) = v else {
        return Err("`volumes:` is a list".into());
    };
    for item in items {
        let source = match item {
            Value::String(s) => {
                let parts: Vec<&str> = s.split(':').collect();
                if parts.len() < 2 {
                    continue; // an anonymous volume: `/data`
                }
                parts[0].to_string()
            }
            Value::Mapping(m) => {
                let ty = m.get("type").and_then(|t| t.as_str()).unwrap_or("volume");
                if !matches!(ty, "bind" | "volume" | "tmpfs") {
                    return Err(format!("a `{ty}` mount is outside what lab ci runs"));
                }
                if m.contains_key("bind") && ty != "bind" {
                    return Err("`bind:` options belong to a bind mount".into());
                }
                let Some(src) = m.get("source").and_then(|s| s.as_str()) else {
                    continue;
                };
                if ty == "volume" && !src.contains('/') {
                    continue;
                }
                src.to_string()
            }
            _ => return Err("a volume is a string `SOURCE:TARGET` or a mapping".into()),
        };
        let is_path = source.starts_with('/') || source.starts_with('.') || source.starts_with('~');
        if !is_path {
            continue; // a named volume
        }
        if source.starts_with('~') {
            return Err(format!(
                "{source:?} is in the runner's home directory, outside the repository"
            ));
        }
        if source.contains("docker.sock") || source.ends_with("/run") {
            return Err(format!(
                "{source:?} is the Docker socket: a container holding it owns the runner"
            ));
        }
        inside(repo, &source)?;
    }
    Ok(v.clone())
}

fn vet_networks(v: &Value) -> Result<Value, Refusal> {
    let allowed = |key: &str, val: &Value| match key {
        "driver" => matches!(val.as_str(), Some("bridge")),
        "labels" | "internal" | "attachable" => true,
        _ => false,
    };
    let why = "a run's networks are plain bridge networks of its own (no `external`, no other driver, no `name`)";
    vet_entries(v, "networks", allowed, why)
}

fn vet_volumes(v: &Value) -> Result<Value, Refusal> {
    let why = "a run's volumes are plain local volumes of its own (`driver_opts` can mount any host path; `external` reaches another project's)";
    vet_entries(v, "volumes", |key, _| key == "labels", why)
}

/// Refuse the first option of a top-level `networks:` or `volumes:` entry that `allowed`
/// does not accept.
fn vet_entries(
    v: &Value,
    section: &str,
    allowed: impl Fn(&str, &Value) -> bool,
    why: &str,
) -> Result<Value, Refusal> {
    let Value::Mapping(entries) = v else {
        return Ok(v.clone());
    };
    for (name, opts) in entries {
        let Value::Mapping(o) = opts else { continue };
        for (k, val) in o {
            let key = k.as_str().unwrap_or_default();
            if !allowed(key, val) {
                return Err(Refusal {
                    at: format!("{section}.{}.{key}", name.as_str().unwrap_or_default()),
                    why: why.into(),
                });
            }
        }
    }
    Ok(v.clone())
}

/// Interpolate every string in `v` (keys too) as Compose would.
fn interpolated(v: &Value, vars: &HashMap<String, String>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => Value::String(interpolate(s, vars)?),
        Value::Sequence(items) => Value::Sequence(
            items
                .iter()
                .map(|i| interpolated(i, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Mapping(m) => {
            let mut out = Mapping::new();
            for (k, val) in m {
                out.insert(interpolated(k, vars)?, interpolated(val, vars)?);
            }
            Value::Mapping(out)
        }
        Value::Tagged(t) => interpolated(&t.value, vars)?,
        other => other.clone(),
    })
}

/// The vetted values are final: `$` is written `$$` so Compose interpolates nothing again.
fn escape_dollars(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace('$', "$$")),
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(escape_dollars).collect()),
        Value::Mapping(m) => Value::Mapping(
            m.into_iter()
                .map(|(k, v)| (escape_dollars(k), escape_dollars(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(yaml: &str) -> Result<String, Refusal> {
        let mut v: Value = serde_norway::from_str(yaml).unwrap();
        v.apply_merge().unwrap();
        let vars = HashMap::from([("HOST_DIR".to_string(), "/etc".to_string())]);
        let labels = [("org.sre-lab.ci.run".into(), "r1".into())];
        let port = PortSwap {
            lab: 5000,
            run: 41234,
        };
        vet(
            &v,
            &Run {
                repo: Path::new("/w/repo"),
                vars: &vars,
                port,
                labels: &labels,
            },
        )
    }

    #[test]
    fn the_lessons_service_written_several_ways_is_kept_with_the_runs_port() {
        for ok in [
            "services:\n  web:\n    build: .\n    ports: [\"5000:5000\"]\n",
            "services:\n  web:\n    build: {context: ., dockerfile: Dockerfile}\n    ports:\n      - target: 5000\n        published: \"5000\"\n",
            "version: '3.8'\nx-base: &b\n  build: ./\nservices:\n  web:\n    <<: *b\n    ports: [\"0.0.0.0:5000:5000/tcp\"]\n    volumes: [\"./src:/app/src\", \"data:/data\"]\nvolumes:\n  data: {}\n",
        ] {
            let out = run(ok).unwrap_or_else(|r| panic!("{ok}: {r}"));
            assert!(out.contains("127.0.0.1:41234:5000"), "{out}");
            assert!(out.contains("org.sre-lab.ci.run: r1"), "{out}");
            assert!(!out.contains("5000:5000"), "{out}");
        }
    }

    #[test]
    fn what_reaches_the_runner_is_refused_with_its_key() {
        for (bad, at) in [
            ("services:\n  web:\n    build: .\n    volumes: [\"/:/host\"]\n", "services.web.volumes"),
            ("services:\n  web:\n    build: .\n    volumes: [\"/var/run/docker.sock:/var/run/docker.sock\"]\n", "services.web.volumes"),
            ("services:\n  web:\n    build: .\n    volumes: [{type: bind, source: /var/run, target: /r}]\n", "services.web.volumes"),
            ("services:\n  web:\n    build: .\n    volumes: [\"${HOST_DIR}:/e\"]\n", "services.web.volumes"),
            ("services:\n  web:\n    build: .\n    volumes: [\"../../:/up\"]\n", "services.web.volumes"),
            ("services:\n  web:\n    build: ../other\n", "services.web.build"),
            ("services:\n  web:\n    build: {context: ., dockerfile: ../../etc/Dockerfile}\n", "services.web.build"),
            ("services:\n  web:\n    build: .\n    env_file: /etc/environment\n", "services.web.env_file"),
            ("services:\n  web:\n    build: .\n    privileged: true\n", "services.web.privileged"),
            ("services:\n  web:\n    build: .\n    cap_add: [SYS_ADMIN]\n", "services.web.cap_add"),
            ("services:\n  web:\n    build: .\n    devices: [\"/dev/sda:/dev/sda\"]\n", "services.web.devices"),
            ("services:\n  web:\n    build: .\n    network_mode: host\n", "services.web.network_mode"),
            ("services:\n  web:\n    build: .\n    pid: host\n", "services.web.pid"),
            ("services:\n  web:\n    build: .\n    ipc: host\n", "services.web.ipc"),
            ("services:\n  web:\n    build: .\n    extends: {file: /tmp/x.yml, service: a}\n", "services.web.extends"),
            ("include:\n  - /etc/compose.yml\nservices: {}\n", "include"),
            ("services:\n  web:\n    build: .\n    secrets: [s]\nsecrets:\n  s: {file: /etc/shadow}\n", "services.web.secrets"),
            ("services:\n  web:\n    build: .\n    ports: [\"22:22\"]\n", "services.web.ports"),
            ("services:\n  web:\n    build: .\n    frobnicate: 1\n", "services.web.frobnicate"),
            ("services:\n  web:\n    build: .\nvolumes:\n  v: {driver_opts: {type: none, o: bind, device: /}}\n", "volumes.v.driver_opts"),
        ] {
            let r = run(bad).expect_err(bad);
            assert_eq!(r.at, at, "{bad}: {r}");
            assert!(!r.why.is_empty());
        }
    }

    #[test]
    fn values_are_written_final() {
        let out = run(
            "services:\n  web:\n    build: .\n    environment: {A: \"${HOST_DIR}\", B: \"$$x\"}\n",
        )
        .unwrap();
        assert!(out.contains("A: /etc"), "{out}");
        assert!(out.contains("B: $$x"), "{out}");
    }
}
