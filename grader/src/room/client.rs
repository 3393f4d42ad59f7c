//! The learner's side of a room: the link kept with the workspace's progress (never in the
//! workspace), sending each report within a budget, and a queue on disk for what could not
//! be sent. Plain HTTP/1.1 over TCP (the room is on the LAN): no TLS set-up on the hot path.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::state::RoomLink;

/// How long a `lab check` may spend sending its result: no visible slow-down.
pub const BUDGET: Duration = Duration::from_millis(50);
/// The most reports kept while the room cannot be reached (the room keeps the newest per
/// step, ordered by `generated_at`, so older ones only fill gaps).
const QUEUE_MAX: usize = 20;

/// A room URL's host and port (`http://host:port` or `https://host:port`, no path).
pub fn parse_url(url: &str) -> Result<(String, u16), String> {
    parse(url).map(|(h, p, _)| (h, p))
}

/// Host, port, and whether it is https.
fn parse(url: &str) -> Result<(String, u16, bool), String> {
    let url = url.trim_end_matches('/');
    let (rest, tls) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(r), _) => (r, false),
        (_, Some(r)) => (r, true),
        _ => {
            return Err(format!(
                "{url:?} is not an http:// or https:// room URL (copy the join command the instructor shows)"
            ))
        }
    };
    if rest.contains('/') {
        return Err(format!("{url:?}: the room URL is just http://HOST:PORT"));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            p.parse::<u16>()
                .map_err(|_| format!("{url:?}: {p:?} is not a port"))?,
        ),
        None => (rest.to_string(), if tls { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    Ok((host.trim_matches(['[', ']']).to_string(), port, tls))
}

/// A bodiless `POST` to the room as the joined learner, within `budget`: the status, or
/// `None` when the room did not answer in time or could not be reached.
pub async fn post_as(link: &RoomLink, path: &str, budget: Duration) -> Option<u16> {
    let fp = link.fingerprint.as_deref();
    let sent = request(&link.url, fp, "POST", path, Some(&link.token), None);
    match tokio::time::timeout(budget, sent).await {
        Ok(Ok((status, _))) => Some(status),
        _ => None,
    }
}

/// One HTTP/1.1 request; returns the status and body (at most 64 KiB read). An https:// room
/// needs the certificate's `fingerprint`, and only that certificate is trusted.
pub async fn request(
    url: &str,
    fingerprint: Option<&str>,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<(u16, String), String> {
    let (host, port, tls) = parse(url)?;
    let s = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot reach the room at {url}: {e}"))?;
    let _ = s.set_nodelay(true);
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\nUser-Agent: lab/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    req.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    let buf = if tls {
        let fp = fingerprint.ok_or_else(|| {
            format!(
                "{url} is an https room: pass --fingerprint with the SHA256 the instructor shows"
            )
        })?;
        exchange(super::tls::connect(s, &host, fp).await?, &req).await?
    } else {
        exchange(s, &req).await?
    };
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("the room at {url} gave no HTTP answer"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Write a request, read the answer (at most 64 KiB).
async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    req: &str,
) -> Result<Vec<u8>, String> {
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("sending to the room: {e}"))?;
    let mut buf = Vec::new();
    let r = (&mut s).take(64 * 1024).read_to_end(&mut buf).await;
    // A TLS peer that closes without close_notify still sent the whole answer.
    if buf.is_empty() {
        r.map_err(|e| format!("reading the room's answer: {e}"))?;
    }
    Ok(buf)
}

/// The `error` message of a room's JSON answer.
pub fn error_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
        .unwrap_or_else(|| body.chars().take(200).collect())
}

fn queue_path(workspace: &Path) -> PathBuf {
    let p = crate::state::path_for(workspace);
    p.with_extension("room-queue.json")
}

fn read_queue(workspace: &Path) -> Vec<String> {
    crate::bounded::read_text(&queue_path(workspace), 8 * 1024 * 1024, None)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn write_queue(workspace: &Path, q: &[String]) {
    let p = queue_path(workspace);
    if q.is_empty() {
        let _ = std::fs::remove_file(&p);
        return;
    }
    if let Some(d) = p.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    let _ =
        crate::fsutil::write_atomic(&p, serde_json::to_string(q).unwrap_or_default().as_bytes());
}

/// How many reports wait for the room.
pub fn queued(workspace: &Path) -> usize {
    read_queue(workspace).len()
}

/// What happened to a report.
#[derive(Debug, PartialEq)]
pub enum Sent {
    /// The room has it (and everything queued before it).
    Delivered,
    /// It is queued on disk; the line says why.
    Queued(String),
    /// The room refused it for good (a bad token, say); the line says what to do.
    Refused(String),
}

/// Post a report (JSON text) and anything queued before it, oldest first, within `budget`.
/// Whatever is not delivered in time stays queued, newest last, for the next try.
pub async fn send(
    link: &RoomLink,
    workspace: &Path,
    report: Option<String>,
    budget: Duration,
) -> Sent {
    // Another lab process may use the same queue at once: each read-change-write holds its
    // lock (never while sending), and what was delivered is taken out of the queue as it is
    // then, so an entry another process added meanwhile stays.
    let queue = queue_path(workspace);
    let pending = report.clone();
    let q = crate::fsutil::with_lock(&queue, || {
        let mut q = read_queue(workspace);
        if let Some(r) = report {
            q.push(r);
        }
        if q.len() > QUEUE_MAX {
            q.drain(..q.len() - QUEUE_MAX);
        }
        write_queue(workspace, &q);
        q
    })
    .unwrap_or_else(|_| read_queue(workspace).into_iter().chain(pending).collect());
    if q.is_empty() {
        return Sent::Delivered;
    }
    let work = async {
        let mut sent = 0;
        for r in &q {
            match request(
                &link.url,
                link.fingerprint.as_deref(),
                "POST",
                "/api/v1/reports",
                Some(&link.token),
                Some(r),
            )
            .await
            {
                Ok((200, _)) => sent += 1,
                // A report the room will never take (wrong lab, bad schema): drop it.
                Ok((400, body)) => {
                    sent += 1;
                    let _ = body;
                }
                Ok((401 | 403, body)) => return (sent, Err((true, error_of(&body)))),
                Ok((code, body)) => {
                    return (
                        sent,
                        Err((false, format!("HTTP {code}: {}", error_of(&body)))),
                    )
                }
                Err(e) => return (sent, Err((false, e))),
            }
        }
        (sent, Ok(()))
    };
    let (sent, outcome) = match tokio::time::timeout(budget, work).await {
        Ok(r) => r,
        Err(_) => (
            0,
            Err((false, format!("no answer within {} ms", budget.as_millis()))),
        ),
    };
    let delivered = &q[..sent.min(q.len())];
    let _ = crate::fsutil::with_lock(&queue, || {
        let mut now = read_queue(workspace);
        for d in delivered {
            if let Some(i) = now.iter().position(|x| x == d) {
                now.remove(i);
            }
        }
        write_queue(workspace, &now);
    });
    match outcome {
        Ok(()) => Sent::Delivered,
        Err((true, why)) => Sent::Refused(format!(
            "room {}: {why}; `lab classroom join` again (your results stay queued)",
            link.url
        )),
        Err((false, why)) => Sent::Queued(format!(
            "room {} not reached ({why}): the result is queued and goes with the next lab check, watch or status",
            link.url
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_urls_are_host_and_port_only() {
        assert_eq!(
            parse_url("http://10.0.0.5:8088").unwrap(),
            ("10.0.0.5".into(), 8088)
        );
        assert_eq!(
            parse_url("http://room.local/").unwrap(),
            ("room.local".into(), 80)
        );
        assert_eq!(
            parse_url("http://[::1]:8088").unwrap(),
            ("::1".into(), 8088)
        );
        assert_eq!(
            parse("https://10.0.0.5").unwrap(),
            ("10.0.0.5".into(), 443, true)
        );
        for bad in [
            "10.0.0.5:8088",
            "ftp://x:1",
            "http://x:99999",
            "http://x:1/api",
            "http://",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_room_queues_within_the_budget() {
        let state = tempfile::tempdir().unwrap();
        let ws = tempfile::tempdir().unwrap();
        // The queue lives with the progress files; point them at a temp dir for this test.
        let _ = state;
        let link = RoomLink {
            url: "http://192.0.2.1:9".into(), // TEST-NET-1: never answers
            token: "t".into(),
            learner_id: 1,
            name: "Ana".into(),
            fingerprint: None,
        };
        let start = std::time::Instant::now();
        let r = send(&link, ws.path(), Some("{}".into()), BUDGET).await;
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "{:?}",
            start.elapsed()
        );
        assert!(matches!(r, Sent::Queued(_)), "{r:?}");
        assert_eq!(queued(ws.path()), 1);
        let _ = std::fs::remove_file(queue_path(ws.path()));
    }
}
