//! A tiny HTTP/1.0 client for probing the app, and the retrying probe loop.
//!
//! Plain TCP rather than an HTTP library, because the failure *shape* is the diagnosis:
//! refused (nothing listens), reset or empty reply (docker-proxy accepted, but the app inside
//! binds 127.0.0.1 or is not up yet), a timeout, or a status line. docker-proxy accepts before
//! the app listens, so the probe retries until a status line arrives or the deadline passes,
//! and stops early when the caller says the server is gone.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An HTTP answer the app must give.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpExpect {
    /// Path to request, e.g. `/`.
    pub path: String,
    /// Status code expected.
    pub status: u16,
    /// Top-level JSON string fields the body must carry, e.g. `{ app = "python-docker-app" }`.
    #[serde(default)]
    pub json: BTreeMap<String, String>,
    /// How long to keep trying before giving up, in seconds.
    pub deadline_secs: u64,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// A status line arrived.
    Response { status: u16, body: String },
    /// Nothing listens on the port.
    Refused,
    /// A connection was accepted, then closed or reset with no status line.
    EmptyReply,
    /// No answer in time.
    TimedOut,
    /// Something else went wrong.
    Other(String),
}

impl Attempt {
    /// A sentence for reports.
    pub fn describe(&self) -> String {
        match self {
            Attempt::Response { status, .. } => format!("HTTP {status}"),
            Attempt::Refused => "connection refused (nothing listens on the port)".into(),
            Attempt::EmptyReply => {
                "the connection was accepted and closed with no answer (reset or empty reply)"
                    .into()
            }
            Attempt::TimedOut => "no answer in time".into(),
            Attempt::Other(e) => e.clone(),
        }
    }
}

/// One GET to `127.0.0.1:port` + `path`, within `timeout`.
pub async fn get_once(host: &str, port: u16, path: &str, timeout: Duration) -> Attempt {
    let attempt = async {
        let mut stream = match TcpStream::connect((host, port)).await {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Attempt::Refused,
            Err(e) => return Attempt::Other(e.to_string()),
        };
        let req = format!("GET {path} HTTP/1.0\r\nHost: localhost:{port}\r\nUser-Agent: lab\r\nAccept: */*\r\n\r\n");
        if stream.write_all(req.as_bytes()).await.is_err() {
            return Attempt::EmptyReply;
        }
        // The learner's app answers: at most MAX_BODY bytes are read (the lab's JSON is tiny).
        let mut buf = Vec::new();
        let mut capped = (&mut stream).take(crate::bounded::MAX_HTTP_BODY as u64);
        if capped.read_to_end(&mut buf).await.is_err() && buf.is_empty() {
            return Attempt::EmptyReply;
        }
        parse_response(&buf)
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(Attempt::TimedOut)
}

fn parse_response(buf: &[u8]) -> Attempt {
    let text = String::from_utf8_lossy(buf);
    let Some(first) = text.lines().next().filter(|l| l.starts_with("HTTP/")) else {
        return Attempt::EmptyReply;
    };
    let status = first
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Attempt::Response { status, body }
}

/// The result of a probe: the last attempt, and how long it took.
#[derive(Debug, Clone)]
pub struct Probe {
    pub last: Attempt,
    pub elapsed: Duration,
    /// True when the probe stopped because `alive` said the server was gone.
    pub server_gone: bool,
}

/// Retry GETs until a status line arrives, the deadline passes, or `alive()` turns false.
/// The first attempt is immediate; then every 100 ms (`alive` is asked every few attempts).
pub async fn probe<F, Fut>(
    host: &str,
    port: u16,
    path: &str,
    deadline: Duration,
    mut alive: F,
) -> Probe
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let left = deadline.saturating_sub(start.elapsed());
        let last = get_once(host, port, path, left.min(Duration::from_secs(5))).await;
        if matches!(last, Attempt::Response { .. }) {
            return Probe {
                last,
                elapsed: start.elapsed(),
                server_gone: false,
            };
        }
        if start.elapsed() >= deadline {
            return Probe {
                last,
                elapsed: start.elapsed(),
                server_gone: false,
            };
        }
        if attempts % 3 == 1 && !alive().await {
            return Probe {
                last,
                elapsed: start.elapsed(),
                server_gone: true,
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Compare an HTTP answer with what the lab expects; `Err` says how it differs.
pub fn matches_expectation(expect: &HttpExpect, attempt: &Attempt) -> Result<(), String> {
    let Attempt::Response { status, body } = attempt else {
        return Err(attempt.describe());
    };
    if *status != expect.status {
        return Err(format!("HTTP {status} (expected {})", expect.status));
    }
    if expect.json.is_empty() {
        return Ok(());
    }
    let value: serde_json::Value = serde_json::from_str(body)
        .map_err(|_| format!("HTTP {status}, but the body is not JSON: {}", short(body)))?;
    for (k, want) in &expect.json {
        match value.get(k).and_then(|v| v.as_str()) {
            Some(got) if got == want => {}
            Some(got) => return Err(format!("\"{k}\" is {got:?}, expected {want:?}")),
            None => return Err(format!("the JSON body has no \"{k}\": {}", short(body))),
        }
    }
    Ok(())
}

fn short(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 120 {
        format!("{}...", s.chars().take(120).collect::<String>())
    } else {
        s.to_string()
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released for the caller to use).
pub fn free_loopback_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Whether something other than us holds `port` on the host (we cannot bind it).
pub fn host_port_taken(port: u16) -> bool {
    std::net::TcpListener::bind(("0.0.0.0", port)).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn expect() -> HttpExpect {
        HttpExpect {
            path: "/".into(),
            status: 200,
            json: BTreeMap::from([("app".into(), "python-docker-app".into())]),
            deadline_secs: 1,
        }
    }

    #[test]
    fn parses_status_and_body() {
        let a = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Type: x\r\n\r\n{\"app\":\"python-docker-app\"}",
        );
        assert_eq!(matches_expectation(&expect(), &a), Ok(()));
        assert_eq!(parse_response(b""), Attempt::EmptyReply);
    }

    #[test]
    fn reports_how_an_answer_differs() {
        let told = |status: u16, body: &str| {
            let a = Attempt::Response {
                status,
                body: body.into(),
            };
            matches_expectation(&expect(), &a).unwrap_err()
        };
        assert!(told(200, "{\"app\":\"other\"}").contains("\"other\""));
        assert!(told(200, "<html>").contains("not JSON"));
        assert!(told(404, "").contains("HTTP 404"));
        assert!(matches_expectation(&expect(), &Attempt::Refused)
            .unwrap_err()
            .contains("refused"));
    }

    #[tokio::test]
    async fn refused_and_empty_reply_are_told_apart() {
        let port = free_loopback_port().unwrap();
        assert_eq!(
            get_once("127.0.0.1", port, "/", Duration::from_secs(1)).await,
            Attempt::Refused
        );
        // A server that accepts and closes at once, like docker-proxy with nothing behind it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                drop(s);
            }
        });
        assert_eq!(
            get_once("127.0.0.1", port, "/", Duration::from_secs(1)).await,
            Attempt::EmptyReply
        );
    }

    #[tokio::test]
    async fn probe_stops_when_the_server_is_gone() {
        let port = free_loopback_port().unwrap();
        let p = probe("127.0.0.1", port, "/", Duration::from_secs(10), || async {
            false
        })
        .await;
        assert!(p.server_gone);
        assert!(p.elapsed < Duration::from_secs(2));
    }
}
