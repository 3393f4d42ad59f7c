//! Kind `container`: the learner ran the image detached, with the app's port published.
//!
//! What it checks and why is [`DOC`]: the one text that rustdoc, `lab kinds` and the book's
//! reference page all show.

use serde::Deserialize;

use super::{Makes, Needs};
use std::collections::HashMap;

use super::image::short_id;
use super::probe::diagnose;
use super::{engine_error, probe_container, Ctx};
use crate::engine::{
    compose_label, Container, ContainerState, ContainerSummary, Engine, PROBE_LABEL,
};
use crate::reference::Reference;
use crate::http::{host_port_taken, matches_expectation};
use crate::http::HttpExpect;
use crate::report::CheckResult;

/// What this kind checks and why.
pub const DOC: &str = "What it checks: a container created from the image *by id* (so one running an older build is \
told apart), not one of Compose's or the grader's, started detached (`-d`), with the lab's \
`container_port`/tcp published on its `host_port` (`-p HOST:CONTAINER`), and answering HTTP \
on that port as the app does. A container stopped because the compose step now holds that \
host port is fine. When the host port is taken by something else on the machine (macOS's \
AirPlay receiver listens there), the learner's other port is accepted, with a note.\n\nWhy: \
`-p` is the step learners get wrong most (only the container port, the wrong host port, \
none), followed by running in the foreground and stopping it with Ctrl-C, and running an \
image built before their last change.";

/// The parameters of a `container` check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The image the learner runs.
    pub image: String,
    /// The container port the app listens on.
    pub container_port: u16,
    /// The host port the lesson publishes it on.
    pub host_port: u16,
    /// What the published port must answer.
    pub http: HttpExpect,
}
kind!(
    needs: |s| Needs::ENGINE.and_port(s.host_port),
    makes: |s| Makes::image(&s.image),
);


fn is_compose(c: &ContainerSummary) -> bool {
    c.labels.contains_key(compose_label::PROJECT)
}

/// Whether a running Compose container publishes `host_port`: then the run step's container
/// is rightly stopped, since only one process can hold the port. (Another project's Compose
/// service, on another port, is no reason.)
async fn compose_holds(engine: &dyn Engine, all: &[ContainerSummary], host_port: u16) -> bool {
    let port = host_port.to_string();
    for c in all
        .iter()
        .filter(|c| is_compose(c) && c.state == ContainerState::Running)
        .take(20)
    {
        if let Ok(Some(full)) = engine.container(&c.id).await {
            if full.published.values().flatten().any(|(_, p)| *p == port) {
                return true;
            }
        }
    }
    false
}

/// Grade the learner's own `docker run`.
pub async fn check(ctx: &Ctx, step: &str, spec: &Spec) -> Vec<CheckResult> {
    let image: &str = &ctx.bindings.image(&spec.image);
    let port: u16 = spec.container_port;
    let host_port: u16 = ctx.bindings.port(spec.host_port);
    let http: &HttpExpect = &spec.http;
    let id = format!("{step}.container");
    let (app, engine) = match ctx.built_image_and_engine(&id, image, "run").await {
        Err(r) => return vec![r],
        Ok(found) => found,
    };
    let all = match engine.containers().await {
        Ok(l) => l,
        Err(e) => return vec![engine_error(&id, &e)],
    };
    let repo = super::image::repo_of(image);
    // The learner's containers: from this image, or from an older build of it. Once a rebuild
    // moves the tag, the engine lists old containers by image id, so an older build is
    // recognized by its config (same command and working dir) rather than by name.
    let mut mine: Vec<&ContainerSummary> = Vec::new();
    let mut older_builds: HashMap<String, bool> = HashMap::new();
    for c in all
        .iter()
        .filter(|c| !c.labels.contains_key(PROBE_LABEL) && !is_compose(c))
    {
        if c.image_id == app.id || c.image == repo || c.image == image {
            mine.push(c);
            continue;
        }
        if !older_builds.contains_key(&c.image_id) {
            // An image that still carries another repository's name is that repository's
            // image, however alike its config (another project served by gunicorn).
            let same = match engine.image(&c.image_id).await {
                Ok(Some(i)) => {
                    !i.cmd.is_empty()
                        && i.cmd == app.cmd
                        && i.working_dir == app.working_dir
                        && i.repo_tags.iter().all(|t| {
                            t == "<none>:<none>"
                                || Reference::parse(t).name() == Reference::parse(repo).name()
                        })
                }
                // The containerd image store forgets an older build once its tag moves, while
                // its containers run on: the name given at `docker run` still tells whose it is.
                Ok(None) => matches!(engine.container(&c.id).await, Ok(Some(full))
                    if !full.config_image.is_empty()
                        && Reference::parse(&full.config_image).name() == Reference::parse(repo).name()),
                Err(_) => false,
            };
            older_builds.insert(c.image_id.clone(), same);
        }
        if older_builds[&c.image_id] {
            mine.push(c);
        }
    }
    let run_cmd = format!("docker run -d -p {host_port}:{port} {repo}");

    // When several containers could be the learner's answer, choose in a fixed, documented
    // order (the same selector the evidence reuse uses): built from the current image id,
    // then publishing the lab's mapping, then running, then the newest. The others are named.
    let mut candidates: Vec<Container> = Vec::new();
    for summary in mine.iter().take(20) {
        match engine.container(&summary.id).await {
            Ok(Some(c)) => candidates.push(c),
            Ok(None) => {}
            Err(e) => return vec![engine_error(&id, &e)],
        }
    }
    candidates.sort_by_key(|c| super::selector_key(c, &app.id, port, Some(host_port)));
    let mut candidates = candidates.into_iter();
    let Some(c) = candidates.next() else {
        return vec![
            CheckResult::fail(&id, format!("no container was created from {image}"))
                .expected(run_cmd.clone())
                .hint(format!("start one in the background: `{run_cmd}`")),
        ];
    };
    let others: Vec<String> = candidates.map(|o| o.name).collect();
    let c_name = c.name.clone();
    let note = |mut out: Vec<CheckResult>| {
        if !others.is_empty() {
            for r in out.iter_mut().filter(|r| r.id == id) {
                r.message.push_str(&format!(
                    " (graded {} of {} containers from this image, chosen by: current image, then -p {host_port}:{port}, then running, then newest; the others: {})",
                    c_name,
                    others.len() + 1,
                    others.join(", ")
                ));
            }
        }
        out
    };
    let name = c.name.clone();
    let mut out = Vec::new();

    if c.image_id != app.id {
        return vec![CheckResult::fail(
            &id,
            format!(
                "container {name} runs an older build of {repo} ({}), not the current image ({})",
                short_id(&c.image_id),
                short_id(&app.id)
            ),
        )
        .hint(format!(
            "replace it: `docker rm -f {name}` then `{run_cmd}`"
        ))];
    }

    // Ports. When the network mode makes the engine drop -p, that is the cause to name (the
    // bindings asked for are still recorded, but nothing is published).
    // The cause is the network mode, not a missing -p: the engine drops -p there.
    let mode = c.network_mode.as_str();
    let cause = match mode {
        "host" => Some(format!("container {name} runs with `--network host`: it shares the host's network, so Docker ignores -p and publishes nothing (on Linux the app may still answer on the host's port {port} directly; Docker Desktop's host networking is opt-in and differs). The lesson's bridge network with -p is what the step grades")),
        "none" => Some(format!("container {name} runs with `--network none`: it has no network but loopback, so no port can be published and nothing outside reaches it")),
        m if m.starts_with("container:") => Some(format!("container {name} shares another container's network (`--network {m}`): it can publish no ports of its own")),
        _ => None,
    };
    if let Some(cause) = cause {
        out.push(
            CheckResult::fail(format!("{step}.ports"), cause)
                .expected(format!("-p {host_port}:{port} on the default bridge network"))
                .found(format!("--network {mode}"))
                .hint(format!("`docker rm -f {name}` then `{run_cmd}` (without --network)")),
        );
        return note(out);
    }
    let published = c.host_port(port);
    match published.as_deref() {
        None => {
            // `5000/tcp -> 8080,8081`: the container port and the host ports bound to it.
            let binding = |(k, v): (&String, &Vec<(String, String)>)| {
                let hosts: Vec<&str> = v.iter().map(|(_, p)| p.as_str()).collect();
                format!("{k} -> {}", hosts.join(","))
            };
            let other: Vec<String> = c.port_bindings.iter().map(binding).collect();
            let found = if other.is_empty() {
                "no published ports (no -p)".to_string()
            } else {
                format!("published: {}", other.join("; "))
            };
            out.push(CheckResult::fail(format!("{step}.ports"), format!("container {name} does not publish the app's port {port}/tcp, so nothing on the host reaches it"))
                .expected(format!("-p {host_port}:{port} (host port first, then the container port)"))
                .found(found)
                .hint(format!("`docker rm -f {name}` then `{run_cmd}`")));
        }
        Some(p) if p == host_port.to_string() => out.push(CheckResult::pass(
            format!("{step}.ports"),
            format!("container port {port} is published on host port {host_port}"),
        )),
        Some(p) => {
            let someone_else = host_port_taken(host_port)
                && !all.iter().any(|x| x.state == ContainerState::Running && x.id != c.id);
            if someone_else {
                out.push(CheckResult::warn(format!("{step}.ports"), format!("published on host port {p}, because port {host_port} is taken on this machine by another program (on macOS, the AirPlay receiver): accepted")));
            } else {
                out.push(
                    CheckResult::fail(
                        format!("{step}.ports"),
                        format!(
                            "container port {port} is published on host port {p}, not {host_port}"
                        ),
                    )
                    .expected(format!("-p {host_port}:{port}"))
                    .found(format!("-p {p}:{port}"))
                    .hint(format!("`docker rm -f {name}` then `{run_cmd}`")),
                );
            }
        }
    }

    // State.
    if c.restarting || c.restart_count > 0 && !c.running {
        let log = engine.logs_tail(&c.id, 15).await.unwrap_or_default();
        let mut r = CheckResult::fail(
            &id,
            format!(
                "container {name} is crash-looping (restarted {} times, last exit {})",
                c.restart_count, c.exit_code
            ),
        );
        if let Some((why, fix)) = diagnose(&log, c.exit_code, port) {
            r = r.found(why).hint(fix);
        }
        out.push(r.detail(format!("last log lines:\n{log}")));
        return note(out);
    }
    if !c.running {
        if c.exit_code != 127 && compose_holds(engine.as_ref(), &all, host_port).await {
            out.push(CheckResult::pass(&id, format!("container {name} was run detached and is stopped now: the compose service holds port {host_port}, as it should")));
            return note(out);
        }
        if c.attached && c.status == ContainerState::Exited {
            out.push(CheckResult::fail(&id, format!("container {name} was started in the foreground (no -d) and has stopped (Ctrl-C or a closed terminal stops it)"))
                .expected(run_cmd.clone())
                .hint(format!("run it detached: `{run_cmd}`")));
            return note(out);
        }
        out.push(stopped(&engine, &c, &id, &run_cmd, port).await);
        return note(out);
    }
    if c.attached {
        out.push(CheckResult::warn(format!("{step}.detached"), format!("container {name} runs in the foreground (no -d): it stops when that terminal closes")).hint(format!("use `{run_cmd}`")));
    }
    let Some(p) = published.and_then(|p| p.parse::<u16>().ok()) else {
        return note(out);
    };
    let cid = c.id.clone();
    let result = probe_container(engine.as_ref(), &cid, port, p, http).await;
    match matches_expectation(http, &result.last) {
        Ok(()) => out.push(CheckResult::pass(
            &id,
            format!(
                "container {name} runs detached and http://localhost:{p}{} answers HTTP {}",
                http.path, http.status
            ),
        )),
        Err(how) => {
            let log = engine.logs_tail(&c.id, 15).await.unwrap_or_default();
            let mut r = CheckResult::fail(&id, format!("container {name} is running but http://localhost:{p}{} does not answer as the app does", http.path))
                .expected(format!("HTTP {}", http.status))
                .found(how);
            if let Some((why, fix)) = diagnose(&log, 0, port) {
                r.message = format!("{}: {why}", r.message);
                r = r.hint(fix);
            } else {
                r = r.hint(format!("`docker logs {name}` shows what the app says"));
            }
            out.push(r.detail(format!("last log lines:\n{log}")));
        }
    }
    note(out)
}

async fn stopped(
    engine: &std::sync::Arc<dyn crate::engine::Engine>,
    c: &Container,
    id: &str,
    run_cmd: &str,
    port: u16,
) -> CheckResult {
    let log = engine.logs_tail(&c.id, 15).await.unwrap_or_default();
    let mut r = CheckResult::fail(
        id,
        format!(
            "container {} is not running ({}, exit code {})",
            c.name, c.status, c.exit_code
        ),
    );
    if c.oom_killed {
        r = r.found("killed for using too much memory (OOMKilled)");
    }
    if c.error.contains("port is already allocated") || c.error.contains("address already in use") {
        return r
            .found(c.error.clone())
            .hint("another container or program holds that host port: stop it (`docker ps`), or pick a free host port");
    }
    if let Some((why, fix)) = diagnose(&format!("{}\n{log}", c.error), c.exit_code, port) {
        r = r.found(why).hint(fix);
    } else {
        r = r.hint(format!(
            "start it again with `docker start {}`, or run a new one: `{run_cmd}`",
            c.name
        ));
    }
    r.detail(format!("last log lines:\n{log}"))
}

#[cfg(test)]
mod tests {
    //! The run step against the in-memory engine: states that are slow or awkward to produce
    //! for real (a crash loop, another project's containers). The real engine is tested end to
    //! end in `tests/`.
    use std::collections::BTreeMap;

    use super::*;
    use crate::checks::testkit::{app_image, ctx, http, workspace};
    use crate::engine::fake::FakeEngine;
    use crate::engine::{Container, ContainerState};
    use crate::report::Status;

    /// The run step's container check of `python-docker-app:latest` on port 5000.
    async fn grade_run(fake: FakeEngine) -> Vec<CheckResult> {
        let spec = Spec {
            image: "python-docker-app:latest".into(),
            container_port: 5000,
            host_port: 5000,
            http: http(),
        };
        check(&ctx(fake, &workspace()), "run", &spec).await
    }

    /// A container named as its id, of `image_id`, in `status`.
    fn container(id: &str, image_id: &str, status: ContainerState) -> Container {
        Container {
            id: id.into(),
            name: id.into(),
            image_id: image_id.into(),
            status,
            running: status == ContainerState::Running,
            restarting: status == ContainerState::Restarting,
            ..Container::default()
        }
    }

    #[tokio::test]
    async fn a_crash_loop_is_diagnosed_from_the_log() {
        let fake = FakeEngine::default();
        fake.add_image(app_image("sha256:aaa", &["python-docker-app:latest"]));
        fake.containers.lock().unwrap().push(Container {
            name: "web".into(),
            restart_count: 4,
            exit_code: 127,
            ..container("c1", "sha256:aaa", ContainerState::Restarting)
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
    async fn another_projects_image_is_not_an_older_build_and_its_compose_port_is_not_ours() {
        let fake = FakeEngine::default();
        fake.add_image(app_image("sha256:aaa", &["python-docker-app:latest"]));
        // Another project, served the same way (same CMD and WORKDIR), under its own name.
        fake.add_image(app_image("sha256:bbb", &["other-app:latest"]));
        let theirs = container("theirs", "sha256:bbb", ContainerState::Running);
        fake.containers.lock().unwrap().push(theirs);
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
            name: "proj-web-1".into(),
            published: BTreeMap::from([(
                "5000/tcp".to_string(),
                vec![("0.0.0.0".to_string(), port.to_string())],
            )]),
            labels: std::collections::HashMap::from([(
                crate::engine::compose_label::PROJECT.to_string(),
                "proj".to_string(),
            )]),
            ..container("svc", "sha256:ccc", ContainerState::Running)
        };
        let ours = container("web", "sha256:aaa", ContainerState::Exited);
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
