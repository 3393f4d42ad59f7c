//! Kind `healthcheck`: the image has a HEALTHCHECK that uses the app's health endpoint, and
//! the engine reports a container of it healthy.
//!
//! What it checks and why is [`DOC`]: the one text that rustdoc, `lab kinds` and the book's
//! reference page all show.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{Ctx, Makes};
use crate::engine::ProbeSpec;
use crate::http::HttpExpect;
use crate::report::CheckResult;

/// What this kind checks and why.
pub const DOC: &str = "What it checks: the image has a HEALTHCHECK whose command asks the \
app's health path (with a tool the image has: the slim Python image has no curl or wget, so \
Python's urllib), and the engine reports a probe container of the image healthy within the \
deadline. The probe container keeps the learner's test command but runs it every second: Docker \
20.10 waits one whole interval (30 s by default) before the first check, and the report says \
so. It explains no HEALTHCHECK, a test that calls curl or wget, a test on another path, and an \
unhealthy container with the test's own output.\n\nWhy: a container can be running and still \
not serving; a health check lets the engine, Compose (`depends_on: condition: \
service_healthy`) and orchestrators tell the difference.";

/// The parameters of a `healthcheck` check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The image to run.
    pub image: String,
    /// How long the container may take to become healthy, in seconds.
    pub deadline_secs: u64,
    /// The container port the app listens on.
    pub container_port: u16,
    /// The health path the test must ask, e.g. `/health`.
    pub path: String,
}

kind!(makes: |s| Makes::image(&s.image));

/// The test command as one line, and whether it is one the lesson's image can run.
pub fn judge_test(test: &[String], path: &str) -> Result<String, (String, String)> {
    let line = match test.first().map(String::as_str) {
        Some("CMD-SHELL") => test[1..].join(" "),
        Some("CMD") => test[1..].join(" "),
        Some("NONE") | None => {
            return Err((
                "the image has no HEALTHCHECK".into(),
                format!("add one that asks {path} with Python: HEALTHCHECK CMD python -c \"import urllib.request; urllib.request.urlopen('http://localhost:5000{path}')\""),
            ))
        }
        Some(_) => test.join(" "),
    };
    for tool in ["curl", "wget"] {
        if line.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == tool) {
            return Err((
                format!("the HEALTHCHECK calls {tool}, which the slim Python image does not have: every check fails"),
                format!("use Python's urllib instead: python -c \"import urllib.request; urllib.request.urlopen('http://localhost:5000{path}')\""),
            ));
        }
    }
    if !line.contains(path) {
        return Err((
            format!("the HEALTHCHECK does not ask the app's health path {path}"),
            format!("ask {path}: it answers only when the app is up"),
        ));
    }
    Ok(line)
}

pub async fn check(ctx: &Ctx, step: &str, spec: &Spec) -> Vec<CheckResult> {
    let id = format!("{step}.healthy");
    let img = match ctx.built_image(&id, &spec.image, "run").await {
        Err(r) => return vec![r],
        Ok(i) => i,
    };
    let line = match judge_test(&img.healthcheck, &spec.path) {
        Ok(l) => l,
        Err((msg, fix)) => {
            return vec![CheckResult::fail(&id, msg)
                .found(if img.healthcheck.is_empty() { "no HEALTHCHECK".to_string() } else { img.healthcheck.join(" ") })
                .hint(fix)]
        }
    };
    let engine = match ctx.engine(&id) {
        Ok(e) => e.clone(),
        Err(r) => return vec![r],
    };
    let mut probe = ProbeSpec::new(&spec.image, spec.container_port, 256);
    probe.health_interval = Some(Duration::from_secs(1));
    let http = HttpExpect {
        path: "/".into(),
        status: 200,
        json: Default::default(),
        deadline_secs: spec.deadline_secs,
    };
    let (cid, _) = match super::start_serving(ctx, &id, probe, &http).await {
        Ok(x) => x,
        Err(r) => return vec![*r],
    };
    let start = Instant::now();
    let mut last = (String::new(), String::new());
    while start.elapsed() < Duration::from_secs(spec.deadline_secs) {
        match engine.container(&cid).await {
            Ok(Some(c)) => {
                if let Some(h) = c.health {
                    last = h;
                    if last.0 == "healthy" || last.0 == "unhealthy" {
                        break;
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                super::stop_probe(ctx, &cid).await;
                return vec![super::engine_error(&id, &e)];
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    super::stop_probe(ctx, &cid).await;
    let note = "lab ran the image's own test command every second (Docker 20.10 waits a whole interval, 30 s by default, before the first check)";
    let r = match last.0.as_str() {
        "healthy" => CheckResult::pass(&id, format!("the engine reports a container of {} healthy: `{line}` succeeded", spec.image))
            .evidence(note),
        "unhealthy" => CheckResult::fail(&id, format!("the engine reports a container of {} unhealthy: `{line}` fails", spec.image))
            .found(crate::bounded::cap_tail(last.1.trim(), 800))
            .hint("run the test yourself: `docker exec <container> ` followed by the command, and read its error")
            .evidence(note),
        other => CheckResult::fail(&id, format!("the container was not healthy within {} s (health: {})", spec.deadline_secs, if other.is_empty() { "none reported" } else { other }))
            .found(last.1)
            .hint("a health check must finish well within its --timeout; check that the command exits 0 when the app answers")
            .evidence(note),
    };
    vec![r]
}

#[cfg(test)]
mod tests {
    use super::judge_test;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_test_command_is_judged_by_what_the_image_can_run() {
        let py = v(&["CMD-SHELL", "python -c \"import urllib.request; urllib.request.urlopen('http://localhost:5000/health')\""]);
        assert!(judge_test(&py, "/health").is_ok());
        let exec = v(&["CMD", "python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:5000/health')"]);
        assert!(judge_test(&exec, "/health").is_ok());
        let curl = v(&["CMD-SHELL", "curl -f http://localhost:5000/health || exit 1"]);
        assert!(judge_test(&curl, "/health").unwrap_err().0.contains("curl"));
        assert!(judge_test(&v(&["CMD-SHELL", "python -c 'import urllib.request as u; u.urlopen(\"http://localhost:5000/\")'"]), "/health").is_err());
        assert!(judge_test(&[], "/health").unwrap_err().0.contains("no HEALTHCHECK"));
        assert!(judge_test(&v(&["NONE"]), "/health").is_err());
    }
}
