//! Kind `compose`: a valid compose file defines the app's service, and it is up and serving.
//!
//! What it checks and why is [`DOC`]: the one text that rustdoc, `lab kinds` and the book's
//! reference page all show.

use serde::Deserialize;

use super::{Makes, Needs};
use std::path::Path;

use super::image::short_id;
use super::{compare_content, engine_error, probe_container, same_path, Ctx};
use crate::engine::{compose_label, ContainerState, ContainerSummary, PROBE_LABEL};
use crate::http::matches_expectation;
use crate::http::HttpExpect;
use crate::compose::{compose_env, parse, ServiceFacts};
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
kind!(
    needs: |s| Needs { compose: true, ..Needs::ENGINE.and_port(s.host_port) },
    makes: |_| Makes { compose_project: true, ..Makes::default() },
);

pub use crate::compose::files::FILE_NAMES;

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
    let Some(choice) = crate::compose::files::choose(&ctx.dir, running.as_deref(), &vars) else {
        return vec![CheckResult::fail(id("file"), "there is no compose file in the workspace")
            .expected(FILE_NAMES.join(" or "))
            .hint(format!("create compose.yaml with `services:`, one service with `build: .` and `ports: [\"{host_port}:{port}\"]`"))];
    };
    let (text, file) = match crate::compose::files::read(&choice, &ctx.dir, &id("file")) {
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
    if choice.files.len() > 1 || choice.source != crate::compose::files::Source::Default {
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
        let shown = |(h, c): &(Option<u16>, u16)| match h {
            Some(h) => format!("{h}:{c}"),
            None => format!("(random):{c}"),
        };
        let found: Vec<String> = svc.ports.iter().map(shown).collect();
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
