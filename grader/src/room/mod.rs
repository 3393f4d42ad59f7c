//! `lab classroom serve`: the room server an instructor runs on their laptop. Learners' `lab`
//! posts each check's JSON report to it; the instructor watches a live dashboard (HTML rendered
//! here with minijinja, updated by Server-Sent Events and a few lines of plain JavaScript).
//!
//! It does not grade: it stores the reports `lab check --format json` writes (the grader's own
//! report model, deserialized) and reads the lab (hints, book pages, points) through the lab
//! loader. Storage is SQLite in WAL mode ([`store`]). Security: tokens are 128-bit random,
//! stored as SHA-256, compared in constant time; every read needs the instructor's token;
//! learner tokens can post only their own reports; bodies are capped at 256 KiB; posts are
//! rate-limited per token and joins per address; everything a learner sends is escaped.

pub mod client;
pub mod load;
pub mod pages;
pub mod store;
pub mod tls;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::lab::Lab;
use crate::report::{Report, Status, StepReport, SCHEMA_VERSION};
use store::{JoinError, Store};

/// The HTTP API, documented next to the code that serves it (the book's reference page is
/// generated from this by `lab dev book`).
pub const API_DOC: &str = r#"All bodies are JSON; errors are `{"error": "what is wrong and what to do"}`. Tokens go in
`Authorization: Bearer <token>` (the dashboard's pages use an HttpOnly, SameSite=Strict cookie
set from the URL that `lab classroom serve` prints). A missing or unknown token is 401; a valid
token without the right (a learner's token on an instructor endpoint) is 403. Bodies are capped
at 256 KiB (413). Posts are limited per token (5 a second, bursts of 20) and joins per client
address (1 a second, bursts of 10), answered with 429 and `Retry-After`.

| method and path | who | body | answer |
|---|---|---|---|
| `POST /api/v1/join` | anyone with the join code | `{"code", "name"}` (name: 1-64 printable characters) | `{"learner_id", "token"}`; 403 wrong code; 409 the name is taken |
| `POST /api/v1/reports` | a learner | a `lab check --format json` report, as it is (`schema_version` 1) | `{"stored_steps": N}`: steps older than what the room has (by `generated_at`) are not stored; 400 for bad JSON, another schema version, another lab, no `generated_at`, a malformed step id, or more than 32 steps the lab does not know (fewer are stored but not shown) |
| `POST /api/v1/heartbeat` | a learner | none | 204; the learner is online (seen in the last 2 minutes) |
| `POST /api/v1/leave` | a learner | none | 204; the results stay, marked as left |
| `GET /api/v1/room` | the instructor | | `{"lab", "learners": [{"id", "name", "online", "left", "updated_at", "steps": {"<step id>": "pass\|fail\|warn\|skip\|error\|not started"}, "score", "max_score", "bonus", "current", "in_current", ...}], "stuck": [{"check", "learners", "since", "message", "hint", "book"}], "steps": [...]}` |
| `GET /api/v1/events` | the instructor | | Server-Sent Events: an event `room` (data `join`, `report <learner id>`, `heartbeat`, `leave`, `rename`, `remove`) each time the room changes |
| `GET /api/v1/export.csv` | the instructor | | one row per learner, one column per step, then `score,max_score,left`; cells starting with `=`, `+`, `-` or `@` are prefixed with `'` |
| `GET /api/v1/learners/{id}/junit.xml` | the instructor | | the learner's latest results as JUnit XML |
| `GET /api/v1/learners/{id}/results.json` | the instructor | | Gradescope's shape: `{"score", "max_score", "output", "tests": [{"name", "score", "max_score", "status", "output"}]}`; optional steps score as bonus (`max_score` 0) |
| `POST /learners/{id}/rename`, `POST /learners/{id}/remove` | the instructor (dashboard forms) | `name=...` | 303 back to the dashboard; 409 when the new name is taken |

Consumers must ignore fields they do not know: fields are added without a version change."#;

/// The largest request body (a report is a few KiB; checks' details are capped).
pub const MAX_BODY: usize = 256 * 1024;
/// Steps a report may carry that the room's lab does not know (a newer lab's steps are kept;
/// thousands of made-up ones are not).
pub const MAX_FOREIGN_STEPS: usize = 32;
/// Seen within this many seconds: online. A quiet `lab watch` heartbeats every minute.
pub const ONLINE_SECS: i64 = 120;
/// The cookie that carries the instructor's token for the dashboard's pages.
const COOKIE: &str = "lab_room";

/// The client's address, for the per-address join limit; for plain and TLS listeners alike.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for PeerAddr
{
    fn connect_info(s: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        PeerAddr(*s.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tls::TlsListener>>
    for PeerAddr
{
    fn connect_info(s: axum::serve::IncomingStream<'_, tls::TlsListener>) -> Self {
        PeerAddr(*s.remote_addr())
    }
}

/// The room's secrets and address, made on first start and reused after.
pub struct RoomFiles {
    pub dir: PathBuf,
    pub instructor_token: String,
    pub join_code: String,
}

/// 128 bits from the OS, as hex.
pub fn random_token() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A join code short enough for a whiteboard: six characters from an alphabet without
/// look-alikes (no 0/O, 1/I/L).
fn random_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).expect("the OS random source");
    b.iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect()
}

impl RoomFiles {
    /// Read `DIR/instructor-token` and `DIR/join-code`, or write them (the token mode 0600).
    pub fn open_or_create(dir: &Path) -> std::io::Result<RoomFiles> {
        std::fs::create_dir_all(dir)?;
        let read_or =
            |name: &str, make: &dyn Fn() -> String, private: bool| -> std::io::Result<String> {
                let p = dir.join(name);
                match crate::bounded::read_text(&p, 1024, None) {
                    Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
                    _ => {
                        let v = make();
                        let mut opts = std::fs::OpenOptions::new();
                        opts.write(true).create(true).truncate(true);
                        #[cfg(unix)]
                        if private {
                            use std::os::unix::fs::OpenOptionsExt;
                            opts.mode(0o600);
                        }
                        let _ = private;
                        use std::io::Write;
                        opts.open(&p)?.write_all(format!("{v}\n").as_bytes())?;
                        Ok(v)
                    }
                }
            };
        Ok(RoomFiles {
            dir: dir.to_path_buf(),
            instructor_token: read_or("instructor-token", &random_token, true)?,
            join_code: read_or("join-code", &random_code, false)?,
        })
    }
}

/// Token buckets: `rate` per second, up to `burst`.
struct Limiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<Vec<u8>, (f64, Instant)>>,
}

impl Limiter {
    fn new(rate: f64, burst: f64) -> Limiter {
        Limiter {
            rate,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }
    /// `Ok` when `key` may go now, else how many seconds until it may.
    fn check(&self, key: &[u8]) -> Result<(), u64> {
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() > 100_000 {
            b.clear();
        }
        let now = Instant::now();
        let (tokens, at) = b.entry(key.to_vec()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

/// Everything the handlers share.
pub struct Room {
    pub lab: Lab,
    store: Mutex<Store>,
    instructor_hash: Vec<u8>,
    join_code: String,
    events: broadcast::Sender<String>,
    posts: Limiter,
    joins: Limiter,
}

/// Now, Unix seconds.
fn now() -> i64 {
    crate::state::now() as i64
}

/// Equal in constant time (for equal lengths, which SHA-256 digests are).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An API error: a status and a message that says what to do.
pub struct ApiError(StatusCode, String, Option<u64>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response();
        if let Some(secs) = self.2 {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

fn err(status: StatusCode, msg: impl Into<String>) -> ApiError {
    ApiError(status, msg.into(), None)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    err(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("the room's store failed: {e}"),
    )
}

/// Who is asking.
enum Caller {
    Instructor,
    Learner(store::Learner),
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    auth.strip_prefix("Bearer ")
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            kv.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(String::from)
        })
}

impl Room {
    fn caller(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let token = bearer(headers).or_else(|| cookie(headers)).ok_or_else(|| {
            err(
                StatusCode::UNAUTHORIZED,
                "no token: send `Authorization: Bearer <token>`",
            )
        })?;
        if same(&store::token_hash(&token), &self.instructor_hash) {
            return Ok(Caller::Instructor);
        }
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        match store.learner_by_token(&token).map_err(internal)? {
            Some(l) => Ok(Caller::Learner(l)),
            None => Err(err(
                StatusCode::UNAUTHORIZED,
                "unknown token: join the room again, or ask the instructor",
            )),
        }
    }

    fn instructor(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        match self.caller(headers)? {
            Caller::Instructor => Ok(()),
            Caller::Learner(_) => Err(err(
                StatusCode::FORBIDDEN,
                "a learner's token cannot read the room; this needs the instructor's token",
            )),
        }
    }

    fn learner(&self, headers: &HeaderMap) -> Result<store::Learner, ApiError> {
        match self.caller(headers)? {
            Caller::Learner(l) => Ok(l),
            Caller::Instructor => Err(err(
                StatusCode::FORBIDDEN,
                "this is for a learner's token (the instructor does not post reports)",
            )),
        }
    }

    fn changed(&self, what: &str) {
        let _ = self.events.send(what.to_string());
    }

    /// The room as the dashboard, the projector and the API show it.
    pub fn view(&self) -> Result<RoomView, ApiError> {
        let (learners, results) = {
            let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
            (
                store.learners().map_err(internal)?,
                store.results().map_err(internal)?,
            )
        };
        Ok(view(&self.lab, &learners, &results, now()))
    }
}

/// One column of the grid.
#[derive(Debug, Clone, Serialize)]
pub struct StepHead {
    pub id: String,
    pub title: String,
    pub optional: bool,
    pub points: u32,
    /// How many learners pass it (for the projector).
    pub passed: usize,
}

/// One learner's row.
#[derive(Debug, Clone, Serialize)]
pub struct LearnerView {
    pub id: i64,
    pub name: String,
    pub online: bool,
    pub left: bool,
    /// The newest report's `generated_at`, or null before the first.
    pub updated_at: Option<String>,
    /// Step id to `pass | fail | warn | skip | error`, or `not started`.
    pub steps: BTreeMap<String, String>,
    pub score: u32,
    pub max_score: u32,
    pub bonus: u32,
    /// The first core step that does not pass.
    pub current: Option<String>,
    /// How long they have been on it, in words.
    pub in_current: String,
    /// When the last report arrived, in words.
    pub last_report: String,
    pub last_seen: String,
}

/// A failing check and who has it.
#[derive(Debug, Clone, Serialize)]
pub struct StuckView {
    pub check: String,
    pub step: String,
    pub learners: usize,
    /// RFC 3339, the earliest of them.
    pub since: String,
    pub since_ago: String,
    pub message: String,
    pub hint: String,
    pub book: String,
}

/// The whole room.
#[derive(Debug, Clone, Serialize)]
pub struct RoomView {
    pub lab: String,
    pub title: String,
    pub steps: Vec<StepHead>,
    pub learners: Vec<LearnerView>,
    pub stuck: Vec<StuckView>,
    pub online: usize,
}

fn ago(secs: i64) -> String {
    match secs.max(0) {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn status_word(s: Status) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Build the room's view from the store's rows (pure, so it is unit-tested).
pub fn view(
    lab: &Lab,
    learners: &[store::Learner],
    results: &[store::StoredStep],
    now: i64,
) -> RoomView {
    let known: HashMap<&str, &crate::lab::Step> =
        lab.steps.iter().map(|s| (s.id.as_str(), s)).collect();
    let max_score: u32 = lab.core_steps().map(|s| s.points()).sum();
    let mut by_learner: HashMap<i64, Vec<&store::StoredStep>> = HashMap::new();
    for r in results {
        // Steps the room's lab does not know are stored but not shown.
        if known.contains_key(r.step.id.as_str()) {
            by_learner.entry(r.learner_id).or_default().push(r);
        }
    }
    let mut rows = Vec::new();
    for l in learners {
        let mine = by_learner.get(&l.id).cloned().unwrap_or_default();
        let get = |id: &str| mine.iter().find(|r| r.step.id == id).copied();
        let mut steps = BTreeMap::new();
        let (mut score, mut bonus) = (0, 0);
        for s in &lab.steps {
            let st = get(&s.id)
                .map(|r| status_word(r.step.status))
                .unwrap_or_else(|| "not started".into());
            if st == "pass" {
                if s.optional {
                    bonus += s.points();
                } else {
                    score += s.points();
                }
            }
            steps.insert(s.id.clone(), st);
        }
        let current = lab
            .core_steps()
            .find(|s| steps.get(&s.id).map(String::as_str) != Some("pass"));
        let since = current
            .and_then(|s| get(&s.id))
            .map(|r| r.since)
            .unwrap_or(l.joined_at);
        let newest = mine
            .iter()
            .max_by(|a, b| a.generated_at.cmp(&b.generated_at));
        rows.push(LearnerView {
            id: l.id,
            name: l.name.clone(),
            online: !l.left && now - l.last_seen <= ONLINE_SECS,
            left: l.left,
            updated_at: newest.map(|r| r.generated_at.clone()),
            steps,
            score: score + bonus,
            max_score,
            bonus,
            current: current.map(|s| s.id.clone()),
            in_current: if current.is_some() {
                ago(now - since)
            } else {
                String::new()
            },
            last_report: newest
                .map(|r| format!("{} ago", ago(now - r.received_at)))
                .unwrap_or_else(|| "no check yet".into()),
            last_seen: format!("{} ago", ago(now - l.last_seen)),
        });
    }
    // Where the room is stuck: failing checks of the learners still in the room.
    let present: HashMap<i64, bool> = learners.iter().map(|l| (l.id, !l.left)).collect();
    let mut stuck: BTreeMap<String, StuckView> = BTreeMap::new();
    for r in results {
        if !present.get(&r.learner_id).copied().unwrap_or(false) {
            continue;
        }
        let Some(step) = known.get(r.step.id.as_str()) else {
            continue;
        };
        for c in r.step.checks.iter().filter(|c| c.status == Status::Fail) {
            let e = stuck.entry(c.id.clone()).or_insert_with(|| StuckView {
                check: c.id.clone(),
                step: step.id.clone(),
                learners: 0,
                since: rfc3339(r.since),
                since_ago: ago(now - r.since),
                message: c.message.clone(),
                hint: c.hint.clone().unwrap_or_else(|| step.hints[0].clone()),
                book: step.book.clone(),
            });
            e.learners += 1;
            if rfc3339(r.since) < e.since {
                e.since = rfc3339(r.since);
                e.since_ago = ago(now - r.since);
            }
        }
    }
    let mut stuck: Vec<StuckView> = stuck.into_values().collect();
    stuck.sort_by(|a, b| b.learners.cmp(&a.learners).then(a.since.cmp(&b.since)));
    let steps = lab
        .steps
        .iter()
        .map(|s| StepHead {
            id: s.id.clone(),
            title: s.title.clone(),
            optional: s.optional,
            points: s.points(),
            passed: rows
                .iter()
                .filter(|r| !r.left && r.steps.get(&s.id).map(String::as_str) == Some("pass"))
                .count(),
        })
        .collect();
    RoomView {
        lab: lab.id.clone(),
        title: lab.title.clone(),
        steps,
        online: rows.iter().filter(|r| r.online).count(),
        learners: rows,
        stuck,
    }
}

#[derive(Deserialize)]
struct JoinBody {
    code: String,
    name: String,
}

/// A name: trimmed, 1 to 64 characters, none of them a control character.
pub fn valid_name(name: &str) -> Result<String, String> {
    let n = name.trim();
    if n.is_empty() {
        return Err("the name is empty".into());
    }
    if n.chars().count() > 64 {
        return Err("the name is over 64 characters".into());
    }
    if n.chars().any(|c| c.is_control()) {
        return Err("the name has control characters; use printable characters only".into());
    }
    Ok(n.to_string())
}

async fn join(
    State(room): State<Arc<Room>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    body: Result<Json<JoinBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let ip = match addr.ip() {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    room.joins.check(&ip).map_err(|s| {
        ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "too many joins from this address; wait a moment".into(),
            Some(s),
        )
    })?;
    let Json(body) = body.map_err(|e| {
        err(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"code\", \"name\"}}: {e}"),
        )
    })?;
    if !same(
        body.code.trim().to_ascii_uppercase().as_bytes(),
        room.join_code.as_bytes(),
    ) {
        return Err(err(
            StatusCode::FORBIDDEN,
            "wrong join code: check the one on the whiteboard",
        ));
    }
    let name = valid_name(&body.name).map_err(|e| err(StatusCode::BAD_REQUEST, e))?;
    let token = random_token();
    let id = {
        let store = room.store.lock().unwrap_or_else(|e| e.into_inner());
        store.join(&name, &token, now())
    };
    match id {
        Ok(id) => {
            room.changed("join");
            Ok(Json(serde_json::json!({ "learner_id": id, "token": token })))
        }
        Err(JoinError::NameTaken) => Err(err(
            StatusCode::CONFLICT,
            format!("{name:?} is already in the room: join with another name, or ask the instructor to rename or remove it"),
        )),
        Err(JoinError::Other(e)) => Err(internal(e)),
    }
}

async fn post_report(
    State(room): State<Arc<Room>>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<serde_json::Value>, ApiError> {
    let learner = room.learner(&headers)?;
    room.posts.check(&learner.id.to_le_bytes()).map_err(|s| {
        ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "too many reports; slow down".into(),
            Some(s),
        )
    })?;
    let value: serde_json::Value = serde_json::from_str(&body)
        .map_err(|e| err(StatusCode::BAD_REQUEST, format!("not JSON: {e}")))?;
    let version = value.get("schema_version").and_then(|v| v.as_u64());
    if version != Some(SCHEMA_VERSION as u64) {
        return Err(err(
            StatusCode::BAD_REQUEST,
            format!(
                "schema_version {} is not supported: this room reads {SCHEMA_VERSION}; update lab",
                version
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "(missing)".into())
            ),
        ));
    }
    let report: Report = serde_json::from_value(value).map_err(|e| {
        err(
            StatusCode::BAD_REQUEST,
            format!("not a lab check report: {e}"),
        )
    })?;
    if report.lab != room.lab.id {
        return Err(err(
            StatusCode::BAD_REQUEST,
            format!("this room runs lab {}, not {}", room.lab.id, report.lab),
        ));
    }
    if report.generated_at.is_empty()
        || time::OffsetDateTime::parse(
            &report.generated_at,
            &time::format_description::well_known::Rfc3339,
        )
        .is_err()
    {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "generated_at must be an RFC 3339 time; update lab",
        ));
    }
    // A step id from a newer version of the lab is stored but not shown; a malformed one, or a
    // flood of ids the lab does not know, is refused.
    if let Some(bad) = report.steps.iter().find(|s| !crate::lab::is_step_id(&s.id)) {
        return Err(err(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown step {:?}: a step id {}",
                crate::bounded::escape_control(&bad.id.chars().take(80).collect::<String>()),
                crate::lab::STEP_ID_RULE
            ),
        ));
    }
    let foreign = report
        .steps
        .iter()
        .filter(|s| !room.lab.steps.iter().any(|l| l.id == s.id))
        .count();
    if foreign > MAX_FOREIGN_STEPS {
        return Err(err(
            StatusCode::BAD_REQUEST,
            format!(
                "{foreign} steps that lab {} does not know (at most {MAX_FOREIGN_STEPS}): update lab, or check that this is the room for your lab",
                room.lab.id
            ),
        ));
    }
    let stored = {
        let mut store = room.store.lock().unwrap_or_else(|e| e.into_inner());
        store
            .record(learner.id, &report.generated_at, &report.steps, now())
            .map_err(internal)?
    };
    room.changed(&format!("report {}", learner.id));
    Ok(Json(serde_json::json!({ "stored_steps": stored })))
}

async fn heartbeat(
    State(room): State<Arc<Room>>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let learner = room.learner(&headers)?;
    room.posts.check(&learner.id.to_le_bytes()).map_err(|s| {
        ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests".into(),
            Some(s),
        )
    })?;
    room.store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .seen(learner.id, now())
        .map_err(internal)?;
    room.changed("heartbeat");
    Ok(StatusCode::NO_CONTENT)
}

async fn leave(State(room): State<Arc<Room>>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let learner = room.learner(&headers)?;
    room.store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .leave(learner.id, now())
        .map_err(internal)?;
    room.changed("leave");
    Ok(StatusCode::NO_CONTENT)
}

async fn api_room(
    State(room): State<Arc<Room>>,
    headers: HeaderMap,
) -> Result<Json<RoomView>, ApiError> {
    room.instructor(&headers)?;
    Ok(Json(room.view()?))
}

async fn events(
    State(room): State<Arc<Room>>,
    headers: HeaderMap,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError>
{
    room.instructor(&headers)?;
    let rx = room.events.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(what) => return Some((Ok(Event::default().event("room").data(what)), rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

pub use crate::report::scores::csv_cell;

/// One row per learner, one column per step, then the score.
pub fn csv(view: &RoomView) -> String {
    let mut out = String::from("name");
    for s in &view.steps {
        out.push(',');
        out.push_str(&csv_cell(&s.id));
    }
    out.push_str(",score,max_score,left\n");
    for l in &view.learners {
        out.push_str(&csv_cell(&l.name));
        for s in &view.steps {
            out.push(',');
            out.push_str(&csv_cell(
                l.steps.get(&s.id).map(String::as_str).unwrap_or(""),
            ));
        }
        out.push_str(&format!(",{},{},{}\n", l.score, l.max_score, l.left));
    }
    out
}

async fn export_csv(
    State(room): State<Arc<Room>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    room.instructor(&headers)?;
    let body = csv(&room.view()?);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"room.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// A learner's latest results as one report (the steps the lab knows, in its order).
fn learner_report(room: &Room, id: i64) -> Result<(store::Learner, Report), ApiError> {
    let (learner, results) = {
        let store = room.store.lock().unwrap_or_else(|e| e.into_inner());
        (
            store.learner(id).map_err(internal)?,
            store.results().map_err(internal)?,
        )
    };
    let learner = learner.ok_or_else(|| {
        err(
            StatusCode::NOT_FOUND,
            format!("no learner {id} in this room"),
        )
    })?;
    let steps: Vec<StepReport> = room
        .lab
        .steps
        .iter()
        .filter_map(|s| {
            results
                .iter()
                .find(|r| r.learner_id == id && r.step.id == s.id)
                .map(|r| r.step.clone())
        })
        .collect();
    let generated_at = results
        .iter()
        .filter(|r| r.learner_id == id)
        .map(|r| r.generated_at.clone())
        .max()
        .unwrap_or_default();
    let report = Report {
        schema_version: SCHEMA_VERSION,
        generated_at,
        lab: room.lab.id.clone(),
        workspace: format!("room learner {}", learner.name),
        engine: "reported by the learner's lab".into(),
        engine_reachable: true,
        summary: Report::summarize(&steps),
        steps,
        duration_ms: 0,
    };
    Ok((learner, report))
}

async fn export_junit(
    State(room): State<Arc<Room>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
) -> Result<Response, ApiError> {
    room.instructor(&headers)?;
    let (_, report) = learner_report(&room, id)?;
    Ok((
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        crate::report::junit::render(&report),
    )
        .into_response())
}

/// Gradescope's `results.json` for one learner.
pub fn gradescope(lab: &Lab, learner: &store::Learner, report: &Report) -> serde_json::Value {
    use crate::report::scores;
    scores::gradescope(
        &scores::rows(lab, report),
        &format!(
            "{}: latest results of {} in lab {}",
            lab.title, learner.name, lab.id
        ),
    )
}

async fn export_results(
    State(room): State<Arc<Room>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    room.instructor(&headers)?;
    let (learner, report) = learner_report(&room, id)?;
    Ok(Json(gradescope(&room.lab, &learner, &report)))
}

#[derive(Deserialize)]
struct RenameBody {
    name: String,
}

async fn rename(
    State(room): State<Arc<Room>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
    axum::Form(body): axum::Form<RenameBody>,
) -> Result<Response, ApiError> {
    room.instructor(&headers)?;
    let name = valid_name(&body.name).map_err(|e| err(StatusCode::BAD_REQUEST, e))?;
    let done = room
        .store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .rename(id, &name);
    match done {
        Ok(true) => {
            room.changed("rename");
            Ok(Redirect::to("/").into_response())
        }
        Ok(false) => Err(err(StatusCode::NOT_FOUND, format!("no learner {id}"))),
        Err(JoinError::NameTaken) => Err(err(
            StatusCode::CONFLICT,
            format!("{name:?} is already taken"),
        )),
        Err(JoinError::Other(e)) => Err(internal(e)),
    }
}

async fn remove(
    State(room): State<Arc<Room>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
) -> Result<Response, ApiError> {
    room.instructor(&headers)?;
    let done = room
        .store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(id)
        .map_err(internal)?;
    if !done {
        return Err(err(StatusCode::NOT_FOUND, format!("no learner {id}")));
    }
    room.changed("remove");
    Ok(Redirect::to("/").into_response())
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Pages: the instructor's token arrives once in the URL, becomes an HttpOnly, SameSite=Strict
/// cookie, and the browser is sent to the clean URL.
async fn page(
    room: &Room,
    headers: &HeaderMap,
    q: &TokenQuery,
    here: &str,
    render: impl FnOnce(&RoomView) -> Result<String, String>,
) -> Response {
    if let Some(t) = &q.token {
        if same(&store::token_hash(t), &room.instructor_hash) {
            let cookie = format!("{COOKIE}={t}; HttpOnly; SameSite=Strict; Path=/");
            let mut r = Redirect::to(here).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            return r;
        }
        return (StatusCode::UNAUTHORIZED, Html(pages::message("That link's token is not this room's. Use the dashboard URL that `lab classroom serve` printed."))).into_response();
    }
    match room.instructor(headers) {
        Err(ApiError(code, msg, _)) => (
            code,
            Html(pages::message(&format!(
                "{msg}. Open the dashboard URL that `lab classroom serve` printed."
            ))),
        )
            .into_response(),
        Ok(()) => match room
            .view()
            .map_err(|ApiError(_, m, _)| m)
            .and_then(|v| render(&v))
        {
            Ok(html) => Html(html).into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Html(pages::message(&e))).into_response(),
        },
    }
}

async fn dashboard(
    State(room): State<Arc<Room>>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    page(&room, &headers, &q, "/", pages::dashboard).await
}

async fn fragment(State(room): State<Arc<Room>>, headers: HeaderMap) -> Response {
    page(
        &room,
        &headers,
        &TokenQuery { token: None },
        "/",
        pages::room_fragment,
    )
    .await
}

async fn projector(
    State(room): State<Arc<Room>>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    page(&room, &headers, &q, "/projector", pages::projector).await
}

async fn learner_page(
    State(room): State<Arc<Room>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
) -> Response {
    if let Err(ApiError(code, msg, _)) = room.instructor(&headers) {
        return (code, Html(pages::message(&msg))).into_response();
    }
    match learner_report(&room, id) {
        Ok((l, r)) => match pages::learner(&room.lab, &l, &r) {
            Ok(h) => Html(h).into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Html(pages::message(&e))).into_response(),
        },
        Err(ApiError(code, msg, _)) => (code, Html(pages::message(&msg))).into_response(),
    }
}

/// The room's HTTP application.
pub fn app(room: Arc<Room>) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/projector", get(projector))
        .route("/fragment/room", get(fragment))
        .route("/learners/{id}", get(learner_page))
        .route("/learners/{id}/rename", post(rename))
        .route("/learners/{id}/remove", post(remove))
        .route("/api/v1/join", post(join))
        .route("/api/v1/reports", post(post_report))
        .route("/api/v1/heartbeat", post(heartbeat))
        .route("/api/v1/leave", post(leave))
        .route("/api/v1/room", get(api_room))
        .route("/api/v1/events", get(events))
        .route("/api/v1/export.csv", get(export_csv))
        .route("/api/v1/learners/{id}/junit.xml", get(export_junit))
        .route("/api/v1/learners/{id}/results.json", get(export_results))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(room)
}

/// Open the room on `data` for `lab`.
pub fn open(lab: Lab, files: &RoomFiles) -> Result<Arc<Room>, String> {
    let store = Store::open(&files.dir).map_err(|e| {
        format!(
            "cannot open the room's database in {}: {e}",
            files.dir.display()
        )
    })?;
    let (events, _) = broadcast::channel(256);
    Ok(Arc::new(Room {
        lab,
        store: Mutex::new(store),
        instructor_hash: store::token_hash(&files.instructor_token),
        join_code: files.join_code.clone(),
        events,
        posts: Limiter::new(5.0, 20.0),
        joins: Limiter::new(1.0, 10.0),
    }))
}

/// This machine's address on the LAN, for the join command (no packet is sent).
pub fn lan_address() -> Option<IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    s.local_addr()
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_csv_cells_and_tokens() {
        assert_eq!(valid_name("  Ana  ").unwrap(), "Ana");
        assert!(valid_name("").is_err());
        assert!(valid_name(&"x".repeat(65)).is_err());
        assert!(valid_name("a\u{1b}[2J").is_err());
        assert!(
            valid_name("<script>alert(1)</script>").is_ok(),
            "escaped on the page, not refused"
        );
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("Ana"), "Ana");
        assert_eq!(random_token().len(), 32);
        assert_ne!(random_token(), random_token());
        let code = random_code();
        assert_eq!(code.len(), 6);
        assert!(!code.contains(['0', 'O', '1', 'I']));
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"a", b"ab"));
    }

    #[test]
    fn the_limiter_allows_a_burst_then_asks_to_wait() {
        let l = Limiter::new(5.0, 20.0);
        for _ in 0..20 {
            assert!(l.check(b"k").is_ok());
        }
        assert_eq!(l.check(b"k"), Err(1));
        assert!(l.check(b"other").is_ok());
    }
}
