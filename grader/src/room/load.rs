//! A load generator for the room (`lab dev room-load`, run by `bench/room-load.sh`): N
//! simulated learners join from their own loopback addresses (127.0.x.y, so the per-address
//! join limit applies to each as it would in a real room), then each posts a realistic report
//! every interval for a fixed time, while one instructor connection listens to the event
//! stream. It measures post latency and how long a report takes to show on the stream.
//! Loopback only, and it stops by itself.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpSocket;

use crate::report::{CheckResult, Report, Status, StepReport, SCHEMA_VERSION};

/// What the run measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Each report's round trip, and the time until the instructor's stream told of it.
    pub latencies: Vec<Duration>,
    pub to_stream: Vec<Duration>,
    pub posts: usize,
    pub errors: usize,
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

impl Outcome {
    /// The summary lines the benchmark prints.
    pub fn summary(&mut self) -> String {
        let l = &mut self.latencies;
        let (p50, p90, p99, max) = (pct(l, 0.5), pct(l, 0.9), pct(l, 0.99), pct(l, 1.0));
        let s = &mut self.to_stream;
        let (s50, s99, smax) = (pct(s, 0.5), pct(s, 0.99), pct(s, 1.0));
        format!(
            "posts: {}  errors: {}\npost latency: p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms\nreport to event stream: p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms ({} seen)",
            self.posts,
            self.errors,
            p50.as_secs_f64() * 1e3,
            p90.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
            s50.as_secs_f64() * 1e3,
            s99.as_secs_f64() * 1e3,
            smax.as_secs_f64() * 1e3,
            self.to_stream.len(),
        )
    }
}

/// A report shaped like a real one mid-lab: seven steps, a few failing with the diagnosis
/// text, hints and a log tail `lab check` gives (about 6 KiB of JSON).
pub fn sample_report(lab: &str, n: usize) -> String {
    // The seven core steps of Day 11, in order.
    let ids = "dockerfile build run tag push compose editable".split(' ');
    let steps = ids
        .enumerate()
        .map(|(i, id)| {
            let failing = (i + n) % 3 == 0;
            let mut checks = vec![
                CheckResult::pass(format!("{id}.exists"), format!("{id}: what the lesson asks is there")),
                CheckResult::pass(format!("{id}.config"), "its config (working dir, env, port, command) matches the Dockerfile"),
            ];
            if failing {
                checks.push(
                    CheckResult::fail(format!("{id}.cmd"), "the CMD is in shell form: /bin/sh becomes PID 1, so `docker stop` signals the shell, waits 10 s and kills gunicorn (exit 137)")
                        .expected(r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#)
                        .found("CMD gunicorn --bind 0.0.0.0:5000 src.main:app")
                        .at("Dockerfile:10:1")
                        .hint("write it in exec form (a JSON array)")
                        .detail("[2026-11-29 10:00:00 +0000] [1] [INFO] Starting gunicorn 23.0.0\n".repeat(8)),
                );
            }
            StepReport {
                id: id.to_string(),
                title: format!("Step {id}"),
                status: if failing { Status::Fail } else { Status::Pass },
                optional: false,
                points: 1,
                book: format!("{id}.md"),
                checks,
                hint: "Start from the slim Python 3.9 image, set /app as the working directory, and copy requirements.txt in before anything else.".into(),
                duration_ms: 3,
            }
        })
        .collect::<Vec<_>>();
    let report = Report {
        schema_version: SCHEMA_VERSION,
        generated_at: crate::grade::now_rfc3339(),
        lab: lab.into(),
        workspace: format!("/home/learner{n}/day11"),
        engine:
            "Docker 20.10.24 (API 1.41) at unix:///var/run/docker.sock, from the default socket"
                .into(),
        engine_reachable: true,
        summary: Report::summarize(&steps),
        steps,
        duration_ms: 640,
    };
    serde_json::to_string(&report).unwrap_or_default()
}

/// The source address of simulated learner `i`: 127.0.(1 + i / 250).(1 + i % 250).
fn source(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        (1 + i / 250) as u8,
        (1 + i % 250) as u8,
    ))
}

async fn http(
    from: IpAddr,
    to: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Result<(u16, String), String> {
    let sock = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    sock.bind(SocketAddr::new(from, 0))
        .map_err(|e| e.to_string())?;
    let mut s = sock.connect(to).await.map_err(|e| e.to_string())?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("no HTTP status")?;
    Ok((
        code,
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    ))
}

/// Run the load: `learners` join with `code`, then post every `interval` for `secs`.
pub async fn run(
    addr: SocketAddr,
    code: &str,
    instructor: &str,
    lab: &str,
    learners: usize,
    secs: u64,
    interval: Duration,
) -> Result<Outcome, String> {
    if !addr.ip().is_loopback() {
        return Err("the load generator sends traffic to loopback only".into());
    }
    let mut tokens = Vec::new();
    let run_id = std::process::id();
    for i in 0..learners {
        let body =
            serde_json::json!({"code": code, "name": format!("load-{run_id}-{i}")}).to_string();
        let (status, answer) = http(source(i), addr, "POST", "/api/v1/join", None, &body).await?;
        if status != 200 {
            return Err(format!("join {i}: HTTP {status}: {answer}"));
        }
        let v: serde_json::Value = serde_json::from_str(&answer).map_err(|e| e.to_string())?;
        tokens.push((
            v["token"].as_str().unwrap_or_default().to_string(),
            v["learner_id"].as_i64().unwrap_or_default(),
        ));
    }
    let pending: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let to_stream: Arc<Mutex<Vec<Duration>>> = Arc::default();
    // The instructor's event stream.
    let stream = {
        let (pending, to_stream, instructor) =
            (pending.clone(), to_stream.clone(), instructor.to_string());
        tokio::spawn(async move {
            let Ok(sock) = TcpSocket::new_v4() else {
                return;
            };
            let Ok(mut s) = sock.connect(addr).await else {
                return;
            };
            let req = format!("GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {instructor}\r\n\r\n");
            if s.write_all(req.as_bytes()).await.is_err() {
                return;
            }
            let mut lines = BufReader::new(s).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.strip_prefix("data: report ") {
                    if let Ok(id) = rest.trim().parse::<i64>() {
                        if let Some(t) = pending.lock().unwrap().remove(&id) {
                            to_stream.lock().unwrap().push(t.elapsed());
                        }
                    }
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (i, (token, id)) in tokens.into_iter().enumerate() {
        let (pending, lab) = (pending.clone(), lab.to_string());
        tasks.push(tokio::spawn(async move {
            // Spread the learners over the interval, as a real room's checks are.
            tokio::time::sleep(interval.mul_f64(i as f64 / learners.max(1) as f64)).await;
            let mut out = Outcome::default();
            let mut n = 0;
            while Instant::now() < deadline {
                let body = sample_report(&lab, i + n);
                n += 1;
                let start = Instant::now();
                pending.lock().unwrap().insert(id, start);
                let r = http(
                    source(i),
                    addr,
                    "POST",
                    "/api/v1/reports",
                    Some(&token),
                    &body,
                )
                .await;
                out.latencies.push(start.elapsed());
                out.posts += 1;
                if !matches!(r, Ok((200, _))) {
                    out.errors += 1;
                }
                tokio::time::sleep(interval.saturating_sub(start.elapsed())).await;
            }
            out
        }));
    }
    let mut total = Outcome::default();
    for t in tasks {
        let o = t.await.map_err(|e| e.to_string())?;
        total.posts += o.posts;
        total.errors += o.errors;
        total.latencies.extend(o.latencies);
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    stream.abort();
    total.to_stream = std::mem::take(&mut *to_stream.lock().unwrap());
    Ok(total)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sample_report_is_a_real_report_of_realistic_size() {
        let r = super::sample_report("day11", 0);
        let back: crate::report::Report = serde_json::from_str(&r).unwrap();
        assert_eq!(back.steps.len(), 7);
        assert!(r.len() > 3_000 && r.len() < 20_000, "{}", r.len());
    }
}
