//! The instructor's pages, rendered on the server with minijinja from the templates in
//! `templates/` (embedded at build time; autoescaping, so everything a learner sends is text on
//! the page). The dashboard updates itself from the Server-Sent Events stream with a few lines
//! of plain JavaScript that fetch the panel and the grid again; no front-end build step.

use std::sync::{Arc, OnceLock};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::{context, Environment};
use serde::Deserialize;

use super::auth::{session_cookie, Instructor};
use super::error::ApiError;
use super::state::Room;
use super::store::Learner;
use super::view::RoomView;
use crate::report::{Report, Status};

const STYLE: &str = include_str!("templates/style.css");

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("glance.html", include_str!("templates/glance.html")),
    ("room.html", include_str!("templates/room.html")),
    ("dashboard.html", include_str!("templates/dashboard.html")),
    ("projector.html", include_str!("templates/projector.html")),
    ("learner.html", include_str!("templates/learner.html")),
    ("message.html", include_str!("templates/message.html")),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut e = Environment::new();
        // Autoescape follows the template name: every one here is .html.
        for (name, src) in TEMPLATES {
            e.add_template(name, src)
                .expect("the room's templates parse");
        }
        e
    })
}

fn render(name: &str, ctx: minijinja::Value) -> Result<String, String> {
    env()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| format!("cannot render {name}: {e}"))
}

/// The instructor's dashboard.
pub fn dashboard_html(room: &RoomView) -> Result<String, String> {
    render("dashboard.html", context! { room, style => STYLE })
}

/// The panel, the help list, the grid and the stuck list alone, for the live refresh.
pub fn room_fragment(room: &RoomView) -> Result<String, String> {
    render("room.html", context! { room })
}

/// The wall: the room at a glance, large, without names.
pub fn projector_html(room: &RoomView) -> Result<String, String> {
    render(
        "projector.html",
        context! { room, big => true, style => STYLE },
    )
}

/// One learner's latest report.
pub fn learner_html(l: &Learner, report: &Report) -> Result<String, String> {
    let steps: Vec<minijinja::Value> = report
        .steps
        .iter()
        .map(|s| {
            let shown: Vec<_> = s
                .checks
                .iter()
                .filter(|c| c.status != Status::Pass || s.status != Status::Pass)
                .collect();
            minijinja::Value::from_serialize(serde_json::json!({
                "id": s.id, "title": s.title, "status": s.status, "book": s.book,
                "hint": s.hint, "checks": shown,
            }))
        })
        .collect();
    render(
        "learner.html",
        context! { name => l.name, left => l.left, steps, generated_at => report.generated_at, style => STYLE },
    )
}

/// A page with one sentence.
pub fn message(text: &str) -> String {
    render("message.html", context! { text, style => STYLE })
        .unwrap_or_else(|_| "lab classroom".into())
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// A page of the room: the instructor's token arrives once in the URL, becomes an HttpOnly,
/// SameSite=Strict cookie, and the browser is sent to the clean URL.
fn page(
    room: &Room,
    who: Who,
    q: &TokenQuery,
    here: &str,
    render: impl FnOnce(&RoomView) -> Result<String, String>,
) -> Response {
    if let Some(t) = &q.token {
        if room.is_instructor_token(t) {
            let mut r = Redirect::to(here).into_response();
            if let Ok(v) = HeaderValue::from_str(&session_cookie(t)) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            return r;
        }
        return ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "That link's token is not this room's. Use the dashboard URL that `lab classroom serve` printed.",
        )
        .page();
    }
    if let Err(e) = who {
        let msg = format!(
            "{}. Open the dashboard URL that `lab classroom serve` printed.",
            e.message
        );
        return ApiError { message: msg, ..e }.page();
    }
    match room.view().map_err(|e| e.message).and_then(|v| render(&v)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e).page(),
    }
}

type Shared = State<Arc<Room>>;
/// The instructor, or why the request is not theirs (a page says so, with what to do).
type Who = Result<Instructor, ApiError>;
type Token = Query<TokenQuery>;

pub async fn dashboard(State(room): Shared, who: Who, Query(q): Token) -> Response {
    page(&room, who, &q, "/", dashboard_html)
}

pub async fn fragment(State(room): Shared, who: Who) -> Response {
    page(&room, who, &TokenQuery { token: None }, "/", room_fragment)
}

pub async fn projector(State(room): Shared, who: Who, Query(q): Token) -> Response {
    page(&room, who, &q, "/projector", projector_html)
}

pub async fn learner(State(room): Shared, who: Who, UrlPath(id): UrlPath<i64>) -> Response {
    let shown = who
        .and_then(|_| room.learner_report(id))
        .and_then(|(l, r)| {
            learner_html(&l, &r)
                .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e))
        });
    match shown {
        Ok(h) => Html(h).into_response(),
        Err(e) => e.page(),
    }
}
