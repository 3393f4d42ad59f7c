//! Kind `probe`: the built-in runtime proves the image serves, whatever the learner's containers.
//!
//! What it checks and why is [`DOC`]: the one text that rustdoc, `lab kinds` and the book's
//! reference page all show.

use serde::Deserialize;

use super::Makes;
use super::{engine_error, probe_container, Ctx};
use crate::engine::ProbeSpec;
use crate::http::{matches_expectation, Attempt};
use crate::http::HttpExpect;
use crate::report::CheckResult;

/// What this kind checks and why.
pub const DOC: &str = "What it checks: a container started by `lab` from the image (labelled as the grader's, \
memory- and CPU-limited, its port published on a free loopback port) answers HTTP as the app \
does within a deadline. The probe stops waiting the moment the container exits, and then \
reports the exit code, the last log lines, and what they mean (gunicorn cannot import the \
app, is not installed, binds 127.0.0.1, ...). The probe container is always removed: on \
success, failure, timeout, panic, Ctrl-C and SIGTERM (see `cleanup`).\n\nWhy: a learner's \
`docker run` may be missing, stopped, or on another port; the probe separates \"the image is \
broken\" from \"the container was run the wrong way\".";

/// The parameters of a `probe` check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The image to start.
    pub image: String,
    /// The container port the app listens on.
    pub container_port: u16,
    /// Memory limit of the probe container, in MiB.
    pub memory_mib: i64,
    /// What the app must answer.
    pub http: HttpExpect,
}
kind!(makes: |s| Makes::image(&s.image));

/// What a probe verdict answers: this image id, served on this port, answering this request.
fn verdict_key(image_id: &str, port: u16, http: &HttpExpect) -> String {
    format!(
        "probe {image_id} {port} {} {} {:?}",
        http.path, http.status, http.json
    )
}

/// Why a learner's container is (or is not) evidence that the image serves: it runs the
/// image's own process, environment, user and working directory, with nothing mounted over
/// the image's code. A `docker run IMAGE CMD` override, `-e`, `-u`, `-w` or `-v $PWD:/app`
/// would prove something else.
pub fn runs_as_built(c: &crate::engine::Container, img: &crate::engine::Image) -> Result<(), String> {
    let r = &c.run;
    if r.entrypoint != img.entrypoint || r.cmd != img.cmd {
        return Err("its command differs from the image's".into());
    }
    let env: std::collections::BTreeSet<&String> = r.env.iter().collect();
    let want: std::collections::BTreeSet<&String> = img.env.iter().collect();
    if env != want {
        return Err("its environment differs from the image's".into());
    }
    if r.user != img.user {
        return Err("it runs as another user".into());
    }
    if crate::dockerfile::normalize_path(&r.working_dir)
        != crate::dockerfile::normalize_path(&img.working_dir)
    {
        return Err("its working directory differs".into());
    }
    let code = crate::dockerfile::normalize_path(&img.working_dir);
    if let Some(m) = c.mounts.iter().find(|m| {
        let m = crate::dockerfile::normalize_path(m);
        m == code || code.starts_with(&format!("{}/", m.trim_end_matches('/'))) || m.starts_with(&format!("{code}/")) || m == "/"
    }) {
        return Err(format!("{m} is mounted over the image's code"));
    }
    Ok(())
}

/// The learner's own running container of exactly this image, as evidence that it serves:
/// chosen like the run step's (lab's port mapping first, then newest), and only when it runs
/// the image as built and answers as the lab expects. `None` means: probe as usual.
async fn learners_container(
    engine: &dyn crate::engine::Engine,
    img: &crate::engine::Image,
    id: &str,
    port: u16,
    http: &HttpExpect,
) -> Option<CheckResult> {
    let list = engine.containers().await.ok()?;
    let mut candidates = Vec::new();
    for s in list.iter().filter(|s| {
        s.image_id == img.id
            && s.state == crate::engine::ContainerState::Running
            && !s.labels.contains_key(crate::engine::PROBE_LABEL)
    }) {
        if let Ok(Some(c)) = engine.container(&s.id).await {
            candidates.push(c);
        }
    }
    candidates.sort_by_key(|c| super::selector_key(c, &img.id, port, None));
    for c in candidates {
        if runs_as_built(&c, img).is_err() {
            continue;
        }
        let Some(host_port) = c.host_port(port).and_then(|p| p.parse::<u16>().ok()) else {
            continue;
        };
        let answer = crate::http::get_once("127.0.0.1", host_port, &http.path, std::time::Duration::from_secs(2)).await;
        if matches_expectation(http, &answer).is_ok() {
            return Some(
                CheckResult::pass(
                    id,
                    format!(
                        "the image serves: container {} runs it exactly as built and answered GET {} with HTTP {}",
                        c.name, http.path, http.status
                    ),
                )
                .evidence(format!(
                    "the learner's own container {} (image {}, no override of command, environment, user or working directory, nothing mounted over {}), so no probe container was needed",
                    c.name,
                    super::image::short_id(&img.id),
                    img.working_dir
                )),
            );
        }
    }
    None
}

/// Read a container's death: what the log and exit code say, and the fix.
pub fn diagnose(log: &str, exit_code: i64, port: u16) -> Option<(String, String)> {
    let l = log;
    if l.contains("executable file not found") || exit_code == 127 {
        return Some((
            "the command in CMD is not installed in the image (exit 127, \"executable file not found\")".into(),
            "make sure requirements.txt lists gunicorn and is installed with pip before CMD runs; check CMD is valid JSON".into(),
        ));
    }
    if l.contains("Failed to find attribute") {
        return Some((
            "gunicorn imported the module but found no such application variable".into(),
            "gunicorn's last argument is MODULE:VARIABLE: check both names against the code".into(),
        ));
    }
    if l.contains("No module named '-") {
        return Some((
            "gunicorn took a flag for the app's name: a flag and its value share one array element".into(),
            format!("give each flag and value its own element: [\"gunicorn\",\"--bind\",\"0.0.0.0:{port}\",\"MODULE:app\"]"),
        ));
    }
    if l.contains("No module named") || l.contains("ModuleNotFoundError") {
        let what = l
            .lines()
            .find(|x| x.contains("No module named"))
            .map(|x| x.trim().to_string())
            .unwrap_or_default();
        return Some((
            format!("gunicorn cannot import the app: {what}"),
            "check the app path in CMD (MODULE:VARIABLE), that `COPY . .` copies the code, and PYTHONPATH".into(),
        ));
    }
    if l.contains("Listening at: http://127.0.0.1") || l.contains("Listening at: http://localhost")
    {
        return Some((
            "gunicorn listens on 127.0.0.1 inside the container, which the published port cannot reach".into(),
            format!("bind all interfaces: \"--bind\", \"0.0.0.0:{port}\""),
        ));
    }
    if l.contains("Listening at: http://") && !l.contains(&format!(":{port}")) {
        return Some((
            "gunicorn listens on another port than the one the app publishes".into(),
            format!("use \"--bind\", \"0.0.0.0:{port}\""),
        ));
    }
    if l.contains("Error: No application module specified") || l.contains("usage: gunicorn") {
        return Some((
            "gunicorn could not read its command line (a flag and its value in one array element?)".into(),
            format!("give each flag and value its own element: [\"gunicorn\",\"--bind\",\"0.0.0.0:{port}\",\"MODULE:app\"]"),
        ));
    }
    if exit_code == 137 {
        return Some((
            "the container was killed (exit 137: out of memory or SIGKILL)".into(),
            "check the app's memory use; with a shell-form CMD, `docker stop` also ends in 137"
                .into(),
        ));
    }
    None
}

/// Start the image, probe it, remove it.
pub async fn check(ctx: &Ctx, step: &str, spec: &Spec) -> Vec<CheckResult> {
    let image: &str = &ctx.bindings.image(&spec.image);
    let port: u16 = spec.container_port;
    let memory_mib: i64 = spec.memory_mib;
    let http: &HttpExpect = &spec.http;
    let id = format!("{step}.serves");
    let (img, engine) = match ctx.built_image_and_engine(&id, image, "run").await {
        Err(r) => return vec![r],
        Ok(found) => found,
    };
    let image_id = img.id.clone();
    // Evidence, cheapest first: a verdict already reached for this image id (what an id holds
    // never changes), then the learner's own container running this image exactly as built,
    // and only then a probe container of our own.
    let key = verdict_key(&image_id, port, http);
    if let Some(hit) = ctx.cache.probe(&key) {
        return vec![hit];
    }
    if let Some(r) = learners_container(engine.as_ref(), &img, &id, port, http).await {
        ctx.cache.store_probe(&key, &r);
        return vec![r];
    }
    let spec = ProbeSpec::new(image, port, memory_mib);
    let cid = match engine.start_probe(&spec).await {
        Ok(cid) => cid,
        Err(e) => {
            let msg = e.to_string();
            let mut r =
                CheckResult::fail(&id, format!("a container from {image} cannot start: {msg}"));
            if let Some((why, fix)) = diagnose(&msg, 0, port) {
                r = r.found(why).hint(fix);
            } else {
                r = engine_error(&id, &e);
            }
            return vec![r];
        }
    };
    ctx.cleanup.add_container(&cid);
    let result = probe_started(ctx, &id, &cid, image, port, http).await;
    if engine.remove(&cid).await.is_ok() {
        ctx.cleanup.remove_container(&cid);
    }
    let result = if result.status == crate::report::Status::Pass {
        result.evidence(format!(
            "a probe container lab started from image {}",
            super::image::short_id(&image_id)
        ))
    } else {
        result
    };
    ctx.cache.store_probe(&key, &result);
    vec![result]
}

async fn probe_started(
    ctx: &Ctx,
    id: &str,
    cid: &str,
    image: &str,
    port: u16,
    http: &HttpExpect,
) -> CheckResult {
    let engine = ctx.engine(id).expect("checked by the caller");
    let info = match engine.container(cid).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return CheckResult::error(id, "the probe container vanished right after starting")
        }
        Err(e) => return engine_error(id, &e),
    };
    let Some(host_port) = info.host_port(port).and_then(|p| p.parse::<u16>().ok()) else {
        return CheckResult::error(
            id,
            format!("the engine did not publish the probe's port {port}"),
        );
    };
    let result = probe_container(engine.as_ref(), cid, port, host_port, http).await;
    match matches_expectation(http, &result.last) {
        Ok(()) => CheckResult::pass(
            id,
            format!(
                "a fresh container from {image} answered GET {} with HTTP {} in {:.1} s",
                http.path,
                http.status,
                result.elapsed.as_secs_f64()
            ),
        ),
        Err(how) => {
            let state = engine.container(cid).await.ok().flatten();
            let log = engine.logs_tail(cid, 15).await.unwrap_or_default();
            let (running, code) = state
                .map(|c| (c.running, c.exit_code))
                .unwrap_or((false, 0));
            let mut r = if running {
                CheckResult::fail(id, format!("a fresh container from {image} is running but its app does not answer as expected: {how}"))
            } else {
                CheckResult::fail(
                    id,
                    format!(
                        "a fresh container from {image} exited with code {code} after {:.1} s",
                        result.elapsed.as_secs_f64()
                    ),
                )
            };
            r = r
                .expected(format!("HTTP {} on GET {}", http.status, http.path))
                .found(result.last.describe());
            if let Some((why, fix)) = diagnose(&log, if running { 0 } else { code }, port) {
                r.message = format!("{}: {why}", r.message);
                r = r.hint(fix);
            } else if matches!(result.last, Attempt::EmptyReply) {
                r = r.hint(format!("the port is published but nothing answers behind it: bind gunicorn to 0.0.0.0:{port}"));
            } else {
                r = r.hint(format!("read the log below; try `docker run --rm -p {port}:{port} {image}` to watch it start"));
            }
            r.detail(format!("last log lines:\n{}", log.trim_end()))
        }
    }
}
