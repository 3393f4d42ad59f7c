//! The room's handlers in process, through the router (`tower::ServiceExt::oneshot`), and the
//! route table against its documentation. The end-to-end tests (tests/classroom.rs) run the
//! real binary.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

use super::*;

/// Every `METHOD PATH` of the documentation's table, in its order.
fn documented() -> Vec<String> {
    API_DOC
        .lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| {
            let cell = l.trim_start_matches("| ").split(" | ").next().unwrap_or("");
            cell.split(", ")
                .map(|c| c.trim_matches('`').to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_route_has_a_documentation_row_and_every_row_a_route_in_the_same_order() {
    let routes: Vec<String> = ROUTES
        .iter()
        .map(|r| {
            let (m, p) = r.split_once(' ').unwrap();
            format!("{} {p}", m.to_ascii_uppercase())
        })
        .collect();
    assert_eq!(routes, documented());
    // The check can fail: a row without a route is seen.
    assert!(!routes.contains(&"GET /api/v1/nothing".to_string()));
}

struct TestRoom {
    room: Arc<Room>,
    token: String,
    code: String,
    _dir: tempfile::TempDir,
}

fn test_room() -> TestRoom {
    let dir = tempfile::tempdir().unwrap();
    let lab = crate::lab::shipped("day11");
    let files = RoomFiles::open_or_create(dir.path()).unwrap();
    let room = open(lab, &files, DEFAULT_ALARM_SECS).unwrap();
    TestRoom {
        room,
        token: files.instructor_token.clone(),
        code: files.join_code.clone(),
        _dir: dir,
    }
}

async fn call(
    room: &Arc<Room>,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = auth {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let mut req = req
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(PeerAddr(peer)));
    let res = app(room.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 22)
        .await
        .unwrap();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn report(step: &str, status: &str, at: &str) -> String {
    serde_json::json!({
        "schema_version": 1, "generated_at": at, "lab": "day11", "workspace": "w",
        "engine": "e", "engine_reachable": true, "duration_ms": 1,
        "summary": {"total": 1, "passed": 0, "failed": 1, "skipped": 0, "errors": 0, "warnings": 0},
        "steps": [{"id": step, "title": step, "status": status, "book": "x.md", "hint": "h", "duration_ms": 1,
            "checks": [{"id": format!("{step}.x"), "status": status, "message": "what they see"}]}]
    })
    .to_string()
}

#[tokio::test]
async fn the_health_check_answers_anyone_and_tells_nothing() {
    let t = test_room();
    let (s, _, body) = call(&t.room, "GET", "/health", None, "").await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, "ok"));
    let (s, _, _) = call(&t.room, "POST", "/health", None, "").await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn reading_the_room_needs_the_instructors_token() {
    let t = test_room();
    let (s, _, body) = call(&t.room, "GET", "/api/v1/room", None, "").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("Bearer"));
    let (s, _, _) = call(&t.room, "GET", "/api/v1/room", Some("nope"), "").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let join = format!(r#"{{"code": "{}", "name": "Ana"}}"#, t.code.to_lowercase());
    let (s, _, body) = call(&t.room, "POST", "/api/v1/join", None, &join).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let learner: serde_json::Value = serde_json::from_str(&body).unwrap();
    let lt = learner["token"].as_str().unwrap().to_string();
    let (s, _, _) = call(&t.room, "GET", "/api/v1/room", Some(&lt), "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call(&t.room, "POST", "/api/v1/reports", Some(&t.token), "{}").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the instructor posts no reports");
    // The same name again is a 409; a wrong code a 403.
    let (s, _, body) = call(&t.room, "POST", "/api/v1/join", None, &join).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(
        body.contains("\\\"Ana\\\" is already in the room"),
        "{body}"
    );
    let (s, _, _) = call(
        &t.room,
        "POST",
        "/api/v1/join",
        None,
        r#"{"code": "XXXXXX", "name": "Bo"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, body) = call(&t.room, "POST", "/api/v1/join", None, "not json").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn the_panel_is_there_before_anyone_reports_and_a_report_moves_it() {
    let t = test_room();
    let (s, _, body) = call(&t.room, "GET", "/api/v1/room", Some(&t.token), "").await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["glance"]["present"], 0);
    assert_eq!(v["glance"]["steps"].as_array().unwrap().len(), 7);
    assert!(v["glance"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["passed"] == 0));
    assert_eq!(
        v["glance"]["steps"][0]["planned_min"], 45,
        "from the schedule"
    );
    // The dashboard draws the zeros.
    let cookie = format!("{}={}", auth::COOKIE, t.token);
    let req = Request::builder()
        .uri("/")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .unwrap();
    let res = app(t.room.clone()).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = axum::body::to_bytes(res.into_body(), 1 << 22)
        .await
        .unwrap();
    let html = String::from_utf8_lossy(&html);
    assert!(
        html.contains("id=\"funnel\"") && html.contains("0 / 0"),
        "{html}"
    );
    // A learner reports a pass: the panel counts it.
    let join = format!(r#"{{"code": "{}", "name": "Ana"}}"#, t.code);
    let (_, _, body) = call(&t.room, "POST", "/api/v1/join", None, &join).await;
    let lt = serde_json::from_str::<serde_json::Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _, body) = call(
        &t.room,
        "POST",
        "/api/v1/reports",
        Some(&lt),
        &report("dockerfile", "pass", "2026-12-02T10:00:00Z"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (_, _, body) = call(&t.room, "GET", "/api/v1/room", Some(&t.token), "").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["glance"]["steps"][0]["passed"], 1);
    assert_eq!(v["glance"]["steps"][0]["percent"], 100);
    assert_eq!(v["glance"]["steps"][1]["passed"], 0);
    // Bad reports are 400 with what to do; a flood is 429 with Retry-After.
    let (s, _, body) = call(&t.room, "POST", "/api/v1/reports", Some(&lt), "{").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("not JSON"));
    let other =
        report("dockerfile", "pass", "2026-12-02T10:00:00Z").replace("\"day11\"", "\"day12\"");
    let (s, _, body) = call(&t.room, "POST", "/api/v1/reports", Some(&lt), &other).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("not day12"), "{body}");
    let mut limited = None;
    for _ in 0..30 {
        let (s, h, _) = call(&t.room, "POST", "/api/v1/heartbeat", Some(&lt), "").await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(h);
            break;
        }
    }
    let h = limited.expect("the limit answers 429");
    assert!(h.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn a_page_link_sets_the_cookie_and_a_learners_token_gets_a_page_not_json() {
    let t = test_room();
    let (s, h, _) = call(&t.room, "GET", &format!("/?token={}", t.token), None, "").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let set = h[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let (s, _, body) = call(&t.room, "GET", "/?token=wrong", None, "").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        body.contains("not this room") && body.contains("<html"),
        "{body}"
    );
    let (s, _, body) = call(&t.room, "GET", "/projector", None, "").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(body.contains("lab classroom serve"), "{body}");
    let (s, _, body) = call(&t.room, "GET", "/learners/99", Some(&t.token), "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.contains("no learner 99"), "{body}");
}
