//! Proving that an image serves: the probe containers a run starts (and always removes), how a
//! container's published port is asked until the app answers, and how the candidates for the
//! learner's own container are ordered.

use super::{engine_error, probe, Ctx};
use crate::engine::Engine;
use crate::report::CheckResult;

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

/// Whether a gunicorn log shows it listening where a published `container_port` cannot reach
/// (127.0.0.1, or another port).
pub fn unreachable_bind(log: &str, container_port: u16) -> bool {
    log.lines()
        .filter_map(|l| l.split("Listening at: http://").nth(1))
        .any(|addr| !addr.starts_with(&format!("0.0.0.0:{container_port}")))
}

/// How long a gunicorn whose log shows a bind out of reach is given to fail at its app before
/// its log is read for a diagnosis. The bind is logged before the worker imports the app, and
/// a failing import (a flag taken for the app's name, a wrong module) is the cause to report:
/// `--bind 0.0.0.0:5000` in one array element leaves gunicorn on its default 127.0.0.1:8000
/// for the second or so its worker takes to fail.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(5);

/// Wait (at most `within`) while the container runs with its log showing an unreachable bind,
/// so that a worker that is about to fail has failed, and said why, before anyone reads the log.
async fn settle(engine: &dyn Engine, id: &str, container_port: u16, within: std::time::Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < within {
        let running = matches!(engine.container(id).await, Ok(Some(c)) if c.running);
        let log = engine.logs_tail(id, 20).await.unwrap_or_default();
        if !running || !unreachable_bind(&log, container_port) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Probe a container's published port until the app answers, the deadline passes, the
/// container stops running, or its log shows gunicorn bound out of reach (waiting out the
/// deadline then would only delay the diagnosis; the worker is given `SETTLE` to fail first).
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
    let probe = crate::http::probe(
        "127.0.0.1",
        host_port,
        &http.path,
        std::time::Duration::from_secs(http.deadline_secs),
        alive,
    )
    .await;
    if crate::http::matches_expectation(http, &probe.last).is_err() {
        settle(engine, id, container_port, SETTLE).await;
    }
    probe
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fake::FakeEngine;

    const BOUND_LOCAL: &str = "[INFO] Starting gunicorn 23.0.0\n[INFO] Listening at: http://127.0.0.1:8000 (1)\n[INFO] Booting worker with pid: 7\n";

    fn running(fake: &FakeEngine, id: &str, log: &str) {
        fake.containers
            .lock()
            .unwrap()
            .push(crate::engine::Container {
                id: id.into(),
                running: true,
                ..Default::default()
            });
        fake.logs.lock().unwrap().insert(id.into(), log.into());
    }

    #[tokio::test]
    async fn a_worker_that_fails_after_the_bind_is_logged_is_diagnosed_by_its_failure() {
        let fake = std::sync::Arc::new(FakeEngine::default());
        running(&fake, "c1", BOUND_LOCAL);
        // Read at once, the log names only the bind.
        let early = fake.logs_tail("c1", 20).await.unwrap();
        assert!(probe::diagnose(&early, 0, 5000)
            .unwrap()
            .0
            .contains("127.0.0.1"));
        // The worker fails 300 ms later, as gunicorn's does when a flag is taken for the app.
        let later = fake.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let failed = format!("{BOUND_LOCAL}ModuleNotFoundError: No module named '--bind 0'\n[INFO] Reason: Worker failed to boot.\n");
            later.logs.lock().unwrap().insert("c1".into(), failed);
            later.containers.lock().unwrap()[0].running = false;
        });
        let start = std::time::Instant::now();
        settle(fake.as_ref(), "c1", 5000, std::time::Duration::from_secs(5)).await;
        assert!(
            start.elapsed() < std::time::Duration::from_secs(2),
            "settled as soon as it stopped"
        );
        let log = fake.logs_tail("c1", 20).await.unwrap();
        let (why, _) = probe::diagnose(&log, 3, 5000).unwrap();
        assert!(why.contains("took a flag for the app's name"), "{why}");
    }

    #[tokio::test]
    async fn a_settled_bind_waits_no_longer_than_its_bound_and_a_good_one_not_at_all() {
        let fake = FakeEngine::default();
        running(&fake, "local", BOUND_LOCAL);
        let start = std::time::Instant::now();
        settle(&fake, "local", 5000, std::time::Duration::from_millis(600)).await;
        let waited = start.elapsed();
        assert!(
            waited >= std::time::Duration::from_millis(600),
            "{waited:?}"
        );
        assert!(waited < std::time::Duration::from_secs(3), "{waited:?}");
        // Bound where the published port reaches: nothing to wait for.
        running(
            &fake,
            "good",
            "[INFO] Listening at: http://0.0.0.0:5000 (1)\n",
        );
        let start = std::time::Instant::now();
        settle(&fake, "good", 5000, std::time::Duration::from_secs(5)).await;
        assert!(start.elapsed() < std::time::Duration::from_millis(500));
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
}
