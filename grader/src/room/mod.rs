//! `lab classroom serve`: the room server an instructor runs on their laptop. Learners' `lab`
//! posts each check's JSON report to it; the instructor watches a live dashboard (HTML rendered
//! here with minijinja, updated by Server-Sent Events and a few lines of plain JavaScript).
//!
//! It does not grade: it stores the reports `lab check --format json` writes (the grader's own
//! report model, deserialized) and reads the lab (hints, book pages, points, the schedule)
//! through the lab loader. Storage is SQLite in WAL mode ([`store`]). Security: tokens are
//! 128-bit random, stored as SHA-256, compared in constant time ([`auth`]); every read needs
//! the instructor's token; learner tokens can post only their own reports; bodies are capped at
//! 256 KiB; posts are rate-limited per token and joins per address ([`limit`]); everything a
//! learner sends is escaped ([`dashboard`]).
//!
//! This file is the route table (in [`API_DOC`]'s order, which a test holds it to) and
//! [`open`]. The handlers are in [`api`] (JSON) and [`dashboard`] (pages), the shared state in
//! [`state`], what they show in [`view`], errors in [`error`].

pub mod api;
pub mod auth;
pub mod client;
pub mod dashboard;
pub mod error;
pub mod files;
pub mod limit;
pub mod load;
pub mod state;
pub mod store;
pub mod tls;
pub mod view;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use api::valid_name;
pub use files::{lan_address, random_token, RoomFiles};
pub use limit::PeerAddr;
pub use state::{Room, DEFAULT_ALARM_SECS};
pub use view::{RoomView, ONLINE_SECS};

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
| `GET /health` | anyone | | `ok` (text): the room server answers on this network; the morning-of check from a second device. It says nothing about the room |
| `POST /api/v1/join` | anyone with the join code | `{"code", "name"}` (name: 1-64 printable characters) | `{"learner_id", "token"}`; 403 wrong code; 409 the name is taken |
| `POST /api/v1/reports` | a learner | a `lab check --format json` report, as it is (`schema_version` 1) | `{"stored_steps": N}`: steps older than what the room has (by `generated_at`) are not stored; 400 for bad JSON, another schema version, another lab, no `generated_at`, a malformed step id, or more than 32 steps the lab does not know (fewer are stored but not shown) |
| `POST /api/v1/heartbeat` | a learner | none | 204; the learner is online (seen in the last 2 minutes) |
| `POST /api/v1/leave` | a learner | none | 204; the results stay, marked as left |
| `GET /api/v1/room` | the instructor | | `{"lab", "learners": [{"id", "name", "online", "left", "updated_at", "steps": {"<step id>": "pass\|fail\|warn\|skip\|error\|not started"}, "score", "max_score", "bonus", "current", "in_current", ...}], "stuck": [{"check", "learners", "since", "message", "hint", "book"}], "steps": [...], "glance": {"present", "online", "steps": [...], "pace": {"behind", "planned", "median_on"}}, "help": [...]}` |
| `GET /api/v1/events` | the instructor | | Server-Sent Events: an event `room` (data `join`, `report <learner id>`, `heartbeat`, `leave`, `rename`, `remove`) each time the room changes |
| `GET /api/v1/export.csv` | the instructor | | one row per learner, one column per step, then `score,max_score,left`; cells starting with `=`, `+`, `-` or `@` are prefixed with `'` |
| `GET /api/v1/learners/{id}/junit.xml` | the instructor | | the learner's latest results as JUnit XML |
| `GET /api/v1/learners/{id}/results.json` | the instructor | | Gradescope's shape: `{"score", "max_score", "output", "tests": [{"name", "score", "max_score", "status", "output"}]}`; optional steps score as bonus (`max_score` 0) |
| `GET /` | the instructor (the URL `lab classroom serve` prints sets the cookie) | | the dashboard: the room at a glance, who needs help first, the grid |
| `GET /projector` | the instructor | | the room at a glance, large, without names |
| `GET /fragment/room` | the instructor | | the dashboard's live part alone (HTML), fetched on each event |
| `GET /learners/{id}` | the instructor | | one learner's latest results (HTML) |
| `POST /learners/{id}/rename`, `POST /learners/{id}/remove` | the instructor (dashboard forms) | `name=...` | 303 back to the dashboard; 409 when the new name is taken |

Consumers must ignore fields they do not know: fields are added without a version change."#;

/// The largest request body (a report is a few KiB; checks' details are capped).
pub const MAX_BODY: usize = 256 * 1024;
/// Steps a report may carry that the room's lab does not know (a newer lab's steps are kept;
/// thousands of made-up ones are not).
pub const MAX_FOREIGN_STEPS: usize = 32;

/// The route table: each route once, in the order of [`API_DOC`]'s rows; [`ROUTES`] lists them
/// for the test that holds the two together.
macro_rules! routes {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// Every route as `METHOD PATH`.
        pub const ROUTES: &[&str] = &[$(concat!(stringify!($method), " ", $path)),*];

        /// The room's HTTP application.
        pub fn app(room: Arc<Room>) -> Router {
            Router::new()
                $(.route($path, $method($handler)))*
                .layer(DefaultBodyLimit::max(MAX_BODY))
                .with_state(room)
        }
    };
}

routes! {
    get "/health" => api::health,
    post "/api/v1/join" => api::join,
    post "/api/v1/reports" => api::post_report,
    post "/api/v1/heartbeat" => api::heartbeat,
    post "/api/v1/leave" => api::leave,
    get "/api/v1/room" => api::room_view,
    get "/api/v1/events" => api::events,
    get "/api/v1/export.csv" => api::export_csv,
    get "/api/v1/learners/{id}/junit.xml" => api::export_junit,
    get "/api/v1/learners/{id}/results.json" => api::export_results,
    get "/" => dashboard::dashboard,
    get "/projector" => dashboard::projector,
    get "/fragment/room" => dashboard::fragment,
    get "/learners/{id}" => dashboard::learner,
    post "/learners/{id}/rename" => api::rename,
    post "/learners/{id}/remove" => api::remove,
}

/// Open the room on `files.dir` for `lab`; "needs help first" highlights a learner after
/// `alarm_secs` on one failing step.
pub fn open(lab: crate::lab::Lab, files: &RoomFiles, alarm_secs: i64) -> Result<Arc<Room>, String> {
    Room::open(lab, files, alarm_secs)
}

#[cfg(test)]
mod tests;
