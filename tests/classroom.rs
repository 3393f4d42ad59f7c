//! The workshop room for real: `lab classroom serve` as a process on loopback, learners' real
//! `lab` in real workspaces joining and checking, the HTTP API read with the instructor's
//! token, the exports, the security rules (401/403/409/413/429, escaping, CSV formulas), a
//! SIGKILL in the middle with the queued results arriving after the restart, and (in a real
//! headless Chromium) the live dashboard and the projector view.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use predicates::prelude::PredicateBooleanExt;
use serde_json::Value;

use crate::common::*;

/// A running room server.
pub struct Server {
    child: Child,
    pub url: String,
    pub token: String,
    pub code: String,
    pub fingerprint: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `lab classroom serve --listen ADDR --data DIR`, waiting for its printed URLs.
    pub fn start(data: &Path, listen: &str) -> Server {
        Server::start_with(data, listen, &[])
    }

    pub fn start_with(data: &Path, listen: &str, extra: &[&str]) -> Server {
        let mut child = lab_command()
            .args([
                "classroom",
                "serve",
                "--lab",
                "day11",
                "--listen",
                listen,
                "--data",
            ])
            .arg(data)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut url, mut token, mut code, mut fingerprint) = (None, None, None, None);
        let start = Instant::now();
        while token.is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "serve printed no dashboard URL"
            );
            let Some(Ok(line)) = lines.next() else {
                panic!("serve ended early")
            };
            if let Some(rest) = line.trim().strip_prefix("lab classroom join ") {
                let mut w = rest.split_whitespace();
                url = w.next().map(String::from);
                code = rest
                    .split("--code ")
                    .nth(1)
                    .and_then(|c| c.split_whitespace().next())
                    .map(String::from);
                fingerprint = rest
                    .split("--fingerprint ")
                    .nth(1)
                    .map(|f| f.trim().to_string());
            }
            if let Some((_, t)) = line.split_once("/?token=") {
                token = Some(t.trim().to_string());
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            url: url.unwrap(),
            token: token.unwrap(),
            code: code.unwrap(),
            fingerprint,
        }
    }

    pub fn kill9(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request: (status, headers, body).
pub fn http(
    method: &str,
    url: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let hostport = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(hostport).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    // Chunked bodies (axum's JSON is not, but pages may be): keep the text as it is.
    (status, head.to_string(), body.to_string())
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

fn get_json(server: &Server, path: &str) -> Value {
    let (code, _, body) = http(
        "GET",
        &server.url,
        path,
        &[("Authorization", &bearer(&server.token))],
        "",
    );
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

fn learner<'a>(room: &'a Value, name: &str) -> &'a Value {
    entry(room, "learners", "name", name)
}

fn lab_in(ws: &Path) -> assert_cmd::Command {
    let mut c = lab();
    c.current_dir(ws);
    c
}

/// `lab classroom join` from a workspace, with a code and extra arguments of the test's choosing.
fn join_as(
    server: &Server,
    ws: &Path,
    code: &str,
    name: &str,
    extra: &[&str],
) -> assert_cmd::assert::Assert {
    lab_in(ws)
        .args([
            "classroom",
            "join",
            &server.url,
            "--code",
            code,
            "--name",
            name,
        ])
        .args(extra)
        .assert()
}

fn join(server: &Server, ws: &Path, name: &str) {
    join_as(server, ws, &server.code, name, &[])
        .success()
        .stdout(predicates::str::contains("Joined the room"))
        .stdout(predicates::str::contains("sends the room its result"));
}

/// The token a workspace's join stored with its progress (never in the workspace).
fn token_of(ws: &Path) -> String {
    let hash = std::fs::read_dir(state_dir())
        .unwrap()
        .flatten()
        .find_map(|e| {
            let t = std::fs::read_to_string(e.path()).ok()?;
            let v: Value = serde_json::from_str(&t).ok()?;
            (v["workspace"] == ws.canonicalize().unwrap().display().to_string())
                .then(|| v["room"]["token"].as_str().map(String::from))?
        });
    hash.expect("the join stored a token with the workspace's progress")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn three_learners_reach_the_room_and_the_exports_follow() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), "127.0.0.1:0");
    // Ana has the lesson's Dockerfile, Ben one with a shell-form CMD, Cy has not checked yet.
    let ana = Workspace::solution();
    let ben = Workspace::solution();
    ben.edit(
        "Dockerfile",
        r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#,
        "CMD gunicorn --bind 0.0.0.0:5000 src.main:app",
    );
    let cy = Workspace::sample_app();
    join(&server, ana.path(), "Ana");
    join(&server, ben.path(), "=HYPERLINK(\"http://evil\")");
    join(&server, cy.path(), "Cy");
    // The same name again: 409, and nobody's row changes hands.
    join_as(&server, cy.path(), &server.code, "Ana", &[])
        .code(1)
        .stderr(predicates::str::contains("already in the room"));
    // A wrong code joins nobody.
    join_as(&server, cy.path(), "WRONG1", "Dee", &[])
        .code(1)
        .stderr(predicates::str::contains("wrong join code"));

    let start = Instant::now();
    lab_in(ana.path())
        .args(["check", "day11", "--step", "dockerfile"])
        .assert()
        .success();
    let budget = start.elapsed();
    lab_in(ben.path())
        .args(["check", "day11", "--step", "dockerfile"])
        .assert()
        .code(1);

    let room = get_json(&server, "/api/v1/room");
    assert_eq!(room["lab"], "day11");
    assert_eq!(learner(&room, "Ana")["steps"]["dockerfile"], "pass");
    assert_eq!(learner(&room, "Ana")["steps"]["build"], "not started");
    assert_eq!(learner(&room, "Ana")["score"], 1);
    assert_eq!(
        learner(&room, "=HYPERLINK(\"http://evil\")")["steps"]["dockerfile"],
        "fail"
    );
    assert_eq!(learner(&room, "Cy")["steps"]["dockerfile"], "not started");
    assert_eq!(learner(&room, "Cy")["online"], true, "joined just now");
    let stuck = room["stuck"].as_array().unwrap();
    assert_eq!(stuck[0]["check"], "dockerfile.cmd", "{room:#}");
    assert_eq!(stuck[0]["learners"], 1);
    assert!(stuck[0]["since"].as_str().unwrap().ends_with('Z'));
    assert!(budget < Duration::from_secs(5), "{budget:?}");

    // A partial report updates only its steps; an older one never overwrites a newer one.
    let ana_token = token_of(ana.path());
    let (report, _) = check_json(ana.path(), &["--step", "dockerfile"]);
    let mut old = report.clone();
    old["generated_at"] = "2020-01-01T00:00:00Z".into();
    old["steps"][0]["status"] = "fail".into();
    let (code, _, body) = http(
        "POST",
        &server.url,
        "/api/v1/reports",
        &[("Authorization", &bearer(&ana_token))],
        &old.to_string(),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["stored_steps"],
        0
    );
    assert_eq!(
        learner(&get_json(&server, "/api/v1/room"), "Ana")["steps"]["dockerfile"],
        "pass"
    );

    // Access: no token 401, a learner's token 403 on instructor reads, bad tokens 401.
    for path in [
        "/api/v1/room",
        "/api/v1/export.csv",
        "/api/v1/learners/1/junit.xml",
        "/api/v1/events",
    ] {
        assert_eq!(http("GET", &server.url, path, &[], "").0, 401, "{path}");
        assert_eq!(
            http(
                "GET",
                &server.url,
                path,
                &[("Authorization", &bearer(&ana_token))],
                ""
            )
            .0,
            403,
            "{path}"
        );
        assert_eq!(
            http(
                "GET",
                &server.url,
                path,
                &[("Authorization", "Bearer nope")],
                ""
            )
            .0,
            401,
            "{path}"
        );
    }
    // The join code reads nothing.
    assert_eq!(
        http(
            "GET",
            &server.url,
            "/api/v1/room",
            &[("Authorization", &bearer(&server.code))],
            ""
        )
        .0,
        401
    );
    // Bad reports: 400 with what is wrong; too big: 413; the instructor cannot post: 403.
    let post = |body: &str| {
        http(
            "POST",
            &server.url,
            "/api/v1/reports",
            &[("Authorization", &bearer(&ana_token))],
            body,
        )
    };
    let (c, _, b) = post("{not json");
    assert!(c == 400 && b.contains("not JSON"), "{c} {b}");
    let mut v2 = report.clone();
    v2["schema_version"] = 2.into();
    let (c, _, b) = post(&v2.to_string());
    assert!(c == 400 && b.contains("schema_version 2"), "{c} {b}");
    let mut other = report.clone();
    other["lab"] = "day12".into();
    let (c, _, b) = post(&other.to_string());
    assert!(c == 400 && b.contains("runs lab day11"), "{c} {b}");
    // A step of a newer version of the lab is stored but not shown; a malformed step id, or a
    // flood of made-up ones, is refused.
    let with_step = |id: &str| {
        let mut s = report["steps"][0].clone();
        s["id"] = id.into();
        s
    };
    let mut newer = report.clone();
    newer["steps"] = vec![with_step("dockerfile"), with_step("day11-extra")].into();
    let (c, _, b) = post(&newer.to_string());
    assert!(c == 200 && b.contains("\"stored_steps\":2"), "{c} {b}");
    let ana = learner(&get_json(&server, "/api/v1/room"), "Ana").clone();
    assert!(ana["steps"].get("dockerfile").is_some(), "{ana:#}");
    assert!(ana["steps"].get("day11-extra").is_none(), "{ana:#}");
    let mut bad_id = report.clone();
    bad_id["steps"] = vec![with_step("<b>Dockerfile</b>")].into();
    let (c, _, b) = post(&bad_id.to_string());
    assert!(
        c == 400 && b.contains("unknown step") && b.contains("a-z, 0-9"),
        "{c} {b}"
    );
    let mut flood = report.clone();
    flood["steps"] = (0..40)
        .map(|i| with_step(&format!("made-up-{i}")))
        .collect::<Vec<_>>()
        .into();
    let (c, _, b) = post(&flood.to_string());
    assert!(
        c == 400 && b.contains("40 steps that lab day11 does not know"),
        "{c} {b}"
    );
    let (c, _, _) = post(&format!("{{\"pad\": \"{}\"}}", "x".repeat(300 * 1024)));
    assert_eq!(c, 413);
    let (c, _, _) = http(
        "POST",
        &server.url,
        "/api/v1/reports",
        &[("Authorization", &bearer(&server.token))],
        &report.to_string(),
    );
    assert_eq!(c, 403);
    // Rate limit: a burst of 20, then 429 with Retry-After.
    let mut limited = None;
    for _ in 0..40 {
        let (c, head, _) = post(&report.to_string());
        if c == 429 {
            limited = Some(head);
            break;
        }
    }
    let head = limited.expect("posting 40 times at once is rate-limited");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");

    // Exports: CSV (formula neutralised), JUnit and Gradescope results per learner.
    let (c, _, csv) = http(
        "GET",
        &server.url,
        "/api/v1/export.csv",
        &[("Authorization", &bearer(&server.token))],
        "",
    );
    assert_eq!(c, 200);
    assert!(
        csv.starts_with(
            "name,dockerfile,build,run,tag,push,compose,editable,nonroot,healthcheck,devloop,size,score,max_score"
        ),
        "{csv}"
    );
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil\"\")\",fail"),
        "{csv}"
    );
    assert!(csv.contains("Ana,pass,not started"), "{csv}");
    let ana_id = learner(&get_json(&server, "/api/v1/room"), "Ana")["id"]
        .as_i64()
        .unwrap();
    let (c, _, xml) = http(
        "GET",
        &server.url,
        &format!("/api/v1/learners/{ana_id}/junit.xml"),
        &[("Authorization", &bearer(&server.token))],
        "",
    );
    assert_eq!(c, 200);
    assert!(
        xml.contains("<testsuite name=\"dockerfile\"") || xml.contains("testsuite"),
        "{xml}"
    );
    assert!(xml.contains("dockerfile.cmd"), "{xml}");
    let results = get_json(&server, &format!("/api/v1/learners/{ana_id}/results.json"));
    assert_eq!(results["score"], 1);
    assert_eq!(results["max_score"], 7);
    let tests = results["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 11, "7 core steps and 4 optional ones");
    assert_eq!(tests[8]["max_score"], 0, "optional steps are bonus");
    assert_eq!(tests[0]["status"], "passed");
    assert_eq!(tests[1]["status"], "failed");
    assert_eq!(tests[1]["output"], "not checked yet");

    // The dashboard escapes what learners send.
    let cookie = format!("lab_room={}", server.token);
    let (c, head, _) = http(
        "GET",
        &server.url,
        &format!("/?token={}", server.token),
        &[],
        "",
    );
    assert_eq!(c, 303);
    assert!(
        head.contains("HttpOnly") && head.contains("SameSite=Strict"),
        "{head}"
    );
    join(
        &server,
        cy.path().join("src").as_path(),
        "<script>alert(1)</script>",
    );
    let (c, _, html) = http("GET", &server.url, "/", &[("Cookie", &cookie)], "");
    assert_eq!(c, 200);
    assert!(html.contains("&lt;script&gt;alert(1)&lt;"), "escaped");
    assert!(!html.contains("<script>alert(1)</script>"), "never raw");
    let (_, _, proj) = http("GET", &server.url, "/projector", &[("Cookie", &cookie)], "");
    assert!(
        !proj.contains("Ana") && !proj.contains("HYPERLINK"),
        "the projector shows no names"
    );

    // The instructor renames and removes rows (dashboard forms, cookie-authenticated).
    let cy_id = learner(&get_json(&server, "/api/v1/room"), "Cy")["id"]
        .as_i64()
        .unwrap();
    // Rename Cy with this cookie: the status.
    let rename = |cookie: &str, name: &str| {
        let form = ("Content-Type", "application/x-www-form-urlencoded");
        let path = format!("/learners/{cy_id}/rename");
        http(
            "POST",
            &server.url,
            &path,
            &[("Cookie", cookie), form],
            &format!("name={name}"),
        )
        .0
    };
    let c = rename(&cookie, "Ana");
    assert_eq!(c, 409, "a rename cannot take a name that is in the room");
    let c = rename(&cookie, "Cyrus");
    assert_eq!(c, 303);
    assert_eq!(
        learner(&get_json(&server, "/api/v1/room"), "Cyrus")["id"],
        cy_id
    );
    let c = rename(&format!("lab_room={ana_token}"), "Mallory");
    assert_eq!(c, 403, "a learner cannot rename anyone");
    let xss = learner(
        &get_json(&server, "/api/v1/room"),
        "<script>alert(1)</script>",
    )["id"]
        .as_i64()
        .unwrap();
    let (c, _, _) = http(
        "POST",
        &server.url,
        &format!("/learners/{xss}/remove"),
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!(c, 303);
    assert!(get_json(&server, "/api/v1/room")["learners"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["id"] != xss));

    // Leaving keeps the results, marked as left; `lab status` shows the room.
    lab_in(cy.path())
        .args(["status"])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            "Joined the room at {}",
            server.url
        )));
    lab_in(cy.path())
        .args(["classroom", "leave"])
        .assert()
        .success()
        .stdout(predicates::str::contains("marked as left"));
    let cyrus = learner(&get_json(&server, "/api/v1/room"), "Cyrus").clone();
    assert_eq!(cyrus["online"], false);
    assert_eq!(cyrus["left"], true);
}

#[test]
fn a_killed_room_loses_nothing_and_queued_results_arrive_after_the_restart() {
    let data = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut server = Server::start(data.path(), &listen);
    let ws = Workspace::solution();
    join(&server, ws.path(), "Ana");
    lab_in(ws.path())
        .args(["check", "day11", "--step", "dockerfile"])
        .assert()
        .success();
    let (token, code) = (server.token.clone(), server.code.clone());
    server.kill9();

    // The room is down: the check prints and exits as usual, with one line, quickly.
    ws.edit("Dockerfile", "EXPOSE 5000\n", "");
    let start = Instant::now();
    lab_in(ws.path())
        .args(["check", "day11", "--step", "dockerfile"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("FAIL"))
        .stderr(predicates::str::contains(
            "is queued and goes with the next lab check",
        ));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );

    // Restarted on the same data: same token and code, the acknowledged result is there.
    let server = Server::start(data.path(), &listen);
    assert_eq!(
        (server.token.as_str(), server.code.as_str()),
        (token.as_str(), code.as_str())
    );
    assert_eq!(
        learner(&get_json(&server, "/api/v1/room"), "Ana")["steps"]["dockerfile"],
        "pass"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.path().join("instructor-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The queued result goes with `lab status`.
    lab_in(ws.path()).args(["status"]).assert().success();
    assert_eq!(
        learner(&get_json(&server, "/api/v1/room"), "Ana")["steps"]["dockerfile"],
        "fail"
    );
}

#[test]
fn two_processes_queueing_at_once_lose_no_result_and_leave_no_temporary_file() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(data.path(), "127.0.0.1:0");
    let ws = Workspace::solution();
    join(&server, ws.path(), "Ana");
    server.kill9();
    // The room is down: two lab processes in one workspace (a check and a watch, say) queue
    // their results at the same time, 9 each.
    let loops: Vec<_> = (0..2)
        .map(|_| {
            let dir = ws.path().to_path_buf();
            std::thread::spawn(move || {
                for _ in 0..9 {
                    let out = lab_command()
                        .current_dir(&dir)
                        .args(["check", "day11", "--step", "dockerfile"])
                        .output()
                        .unwrap();
                    assert_succeeded(&out);
                }
            })
        })
        .collect();
    for l in loops {
        l.join().unwrap();
    }
    let mut queues = Vec::new();
    for e in std::fs::read_dir(state_dir()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "a temporary file is left: {name}");
        if name.ends_with(".room-queue.json") {
            queues.push(e.path());
        }
    }
    let mine: Vec<Vec<String>> = queues
        .iter()
        .filter_map(|q| serde_json::from_str(&std::fs::read_to_string(q).unwrap()).ok())
        .filter(|q: &Vec<String>| q.iter().any(|r| r.contains(&*ws.path().to_string_lossy())))
        .collect();
    assert_eq!(mine.len(), 1, "one queue for the workspace");
    assert_eq!(mine[0].len(), 18, "every result is queued, none lost");
    for r in &mine[0] {
        let v: Value = serde_json::from_str(r).expect("no torn entry");
        assert_eq!(v["lab"], "day11");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_room_is_trusted_by_its_fingerprint_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let mut openssl = Command::new("openssl");
    openssl
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=room",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert);
    run_ok(&mut openssl, "openssl");
    let server = Server::start_with(
        &dir.path().join("room"),
        "127.0.0.1:0",
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let fp = server
        .fingerprint
        .clone()
        .expect("serve prints the fingerprint in the join command");
    assert!(fp.starts_with("SHA256:"), "{fp}");
    let ws = Workspace::solution();
    // The wrong fingerprint: refused, nothing stored.
    let wrong = format!("SHA256:{}", "AB:".repeat(31) + "AB");
    join_as(
        &server,
        ws.path(),
        &server.code,
        "Ana",
        &["--fingerprint", &wrong],
    )
    .code(1)
    .stderr(predicates::str::contains("certificate"));
    // No fingerprint for an https room: told what to pass.
    join_as(&server, ws.path(), &server.code, "Ana", &[])
        .code(1)
        .stderr(predicates::str::contains("--fingerprint"));
    // The right one, written in lowercase without the prefix, as people copy it.
    let lower = fp.trim_start_matches("SHA256:").to_ascii_lowercase();
    join_as(
        &server,
        ws.path(),
        &server.code,
        "Ana",
        &["--fingerprint", &lower],
    )
    .success();
    // A TLS handshake on a loaded 2-core CI machine can take longer than the 50 ms budget:
    // then the result waits in the queue, and `lab status` delivers it (over TLS too).
    lab_in(ws.path())
        .args(["check", "day11", "--step", "dockerfile"])
        .assert()
        .success();
    lab_in(ws.path())
        .args(["status"])
        .assert()
        .success()
        .stdout(predicates::str::contains("queued").not());
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let room: Value = client
        .get(format!("{}/api/v1/room", server.url))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(learner(&room, "Ana")["steps"]["dockerfile"], "pass");
    // Plain HTTP to the TLS port gets nothing.
    let plain = server.url.replace("https://", "http://");
    let r = client
        .get(format!("{plain}/api/v1/room"))
        .bearer_auth(&server.token)
        .send()
        .await;
    assert!(r.is_err() || !r.unwrap().status().is_success());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Chromium: scripts/test.sh"]
async fn the_dashboard_is_live_escapes_names_and_the_projector_shows_none() {
    use crate::browser::Driver;
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), "127.0.0.1:0");
    let ana = Workspace::solution();
    let bad = Workspace::solution();
    join(&server, ana.path(), "Ana");
    join(&server, bad.path(), "<script>alert(1)</script>");
    let d = Driver::start().await;
    d.open(&format!("{}/?token={}", server.url, server.token))
        .await;
    d.wait_for("return !!document.querySelector('#grid')", "the dashboard")
        .await;
    assert_eq!(
        d.js("return location.search").await,
        "",
        "the token left the URL"
    );
    // The name renders as text: no script ran, the text is there.
    assert_eq!(
        d.js("return document.querySelectorAll('#grid script').length")
            .await,
        0
    );
    d.wait_for("return [...document.querySelectorAll('#grid td a')].some(a => a.textContent === '<script>alert(1)</script>')", "the name as text").await;
    // Live: a check in Ana's workspace shows up without a reload.
    d.js("window.__marker = 1; return true").await;
    let ana_cell = "return (document.querySelector('tr[data-learner] td[data-step=dockerfile]') || {}).textContent";
    let before = d.js(ana_cell).await;
    assert_eq!(before, "not started");
    lab_in(ana.path())
        .args(["check", "day11", "--step", "dockerfile"])
        .assert()
        .success();
    d.wait_for("return [...document.querySelectorAll('tr[data-learner]')].some(r => r.querySelector('td a').textContent === 'Ana' && r.querySelector('td[data-step=dockerfile]').textContent === 'pass')", "Ana's pass, live").await;
    assert_eq!(
        d.js("return window.__marker").await,
        1,
        "updated without a reload"
    );
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("room-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    d.screenshot(&shots.join("dashboard.png")).await;
    let errors = d.console_errors().await;
    assert!(errors.is_empty(), "{errors:?}");
    // The projector: counts, no names.
    d.open(&format!("{}/projector", server.url)).await;
    d.wait_for(
        "return !!document.querySelector('#counts')",
        "the projector",
    )
    .await;
    let text = d
        .js("return document.querySelector('#counts').textContent")
        .await;
    let text = text.as_str().unwrap();
    assert!(!text.contains("Ana") && !text.contains("script"), "{text}");
    assert!(text.contains("1 / 2"), "{text}");
    d.screenshot(&shots.join("projector.png")).await;
    // A learner's token gets 403 on the dashboard.
    d.quit().await;
    let d = Driver::start().await;
    d.open(&format!("{}/?token={}", server.url, token_of(ana.path())))
        .await;
    d.wait_for(
        "return document.body && document.body.innerText.length > 0",
        "a page",
    )
    .await;
    let text = d.js("return document.body.innerText").await;
    assert!(text.as_str().unwrap().contains("not this room's"), "{text}");
    d.quit().await;
    let (code, _, _) = http(
        "GET",
        &server.url,
        "/",
        &[("Cookie", &format!("lab_room={}", token_of(ana.path())))],
        "",
    );
    assert_eq!(code, 403);
}
