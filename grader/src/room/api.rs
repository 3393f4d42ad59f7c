//! The JSON API's handlers (the table is [`super::API_DOC`]): learners join and post reports;
//! the instructor reads the room, its events and its exports.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;
use tokio::sync::broadcast;

use super::auth::{same, Instructor, LearnerAuth};
use super::error::ApiError;
use super::files::random_token;
use super::limit::PeerAddr;
use super::state::{now, Room};
use super::view::{csv, gradescope, RoomView};
use super::MAX_FOREIGN_STEPS;
use crate::report::{Report, SCHEMA_VERSION};

type Shared = State<Arc<Room>>;

#[derive(Deserialize)]
pub struct JoinBody {
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

fn name_taken(name: &str, e: ApiError) -> ApiError {
    match e.status {
        StatusCode::CONFLICT => ApiError::new(
            StatusCode::CONFLICT,
            format!("{name:?} is already in the room: join with another name, or ask the instructor to rename or remove it"),
        ),
        _ => e,
    }
}

pub async fn join(
    State(room): Shared,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    body: Result<Json<JoinBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let ip = match addr.ip() {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    room.joins
        .admit(&ip, "too many joins from this address; wait a moment")?;
    let Json(body) =
        body.map_err(|e| ApiError::bad_request(format!("expected {{\"code\", \"name\"}}: {e}")))?;
    if !same(
        body.code.trim().to_ascii_uppercase().as_bytes(),
        room.join_code.as_bytes(),
    ) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong join code: check the one on the whiteboard",
        ));
    }
    let name = valid_name(&body.name).map_err(ApiError::bad_request)?;
    let token = random_token();
    let id = room
        .store()
        .join(&name, &token, now())
        .map_err(|e| name_taken(&name, e.into()))?;
    room.changed("join");
    Ok(Json(
        serde_json::json!({ "learner_id": id, "token": token }),
    ))
}

/// Read a posted report: JSON, this schema version, this lab, a time, known-looking steps.
fn read_report(room: &Room, body: &str) -> Result<Report, ApiError> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| ApiError::bad_request(format!("not JSON: {e}")))?;
    let version = value.get("schema_version").and_then(|v| v.as_u64());
    if version != Some(SCHEMA_VERSION as u64) {
        return Err(ApiError::bad_request(format!(
            "schema_version {} is not supported: this room reads {SCHEMA_VERSION}; update lab",
            version
                .map(|v| v.to_string())
                .unwrap_or_else(|| "(missing)".into())
        )));
    }
    let report: Report = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("not a lab check report: {e}")))?;
    if report.lab != room.lab.id {
        return Err(ApiError::bad_request(format!(
            "this room runs lab {}, not {}",
            room.lab.id, report.lab
        )));
    }
    if time::OffsetDateTime::parse(
        &report.generated_at,
        &time::format_description::well_known::Rfc3339,
    )
    .is_err()
    {
        return Err(ApiError::bad_request(
            "generated_at must be an RFC 3339 time; update lab",
        ));
    }
    // A step id from a newer version of the lab is stored but not shown; a malformed one, or a
    // flood of ids the lab does not know, is refused.
    if let Some(bad) = report.steps.iter().find(|s| !crate::lab::is_step_id(&s.id)) {
        return Err(ApiError::bad_request(format!(
            "unknown step {:?}: a step id {}",
            crate::bounded::escape_control(&bad.id.chars().take(80).collect::<String>()),
            crate::lab::STEP_ID_RULE
        )));
    }
    let foreign = report
        .steps
        .iter()
        .filter(|s| room.lab.step(&s.id).is_none())
        .count();
    if foreign > MAX_FOREIGN_STEPS {
        return Err(ApiError::bad_request(format!(
            "{foreign} steps that lab {} does not know (at most {MAX_FOREIGN_STEPS}): update lab, or check that this is the room for your lab",
            room.lab.id
        )));
    }
    Ok(report)
}

pub async fn post_report(
    State(room): Shared,
    LearnerAuth(learner): LearnerAuth,
    body: String,
) -> Result<Json<serde_json::Value>, ApiError> {
    room.posts
        .admit(&learner.id.to_le_bytes(), "too many reports; slow down")?;
    let report = read_report(&room, &body)?;
    let stored = room
        .store()
        .record(learner.id, &report.generated_at, &report.steps, now())?;
    room.changed(&format!("report {}", learner.id));
    Ok(Json(serde_json::json!({ "stored_steps": stored })))
}

/// `GET /health`: the server answers. Public, constant, and about nothing in the room.
pub async fn health() -> &'static str {
    "ok"
}

pub async fn heartbeat(
    State(room): Shared,
    LearnerAuth(learner): LearnerAuth,
) -> Result<StatusCode, ApiError> {
    room.posts
        .admit(&learner.id.to_le_bytes(), "too many requests")?;
    room.store().seen(learner.id, now())?;
    room.changed("heartbeat");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn leave(
    State(room): Shared,
    LearnerAuth(learner): LearnerAuth,
) -> Result<StatusCode, ApiError> {
    room.store().leave(learner.id, now())?;
    room.changed("leave");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn room_view(State(room): Shared, _: Instructor) -> Result<Json<RoomView>, ApiError> {
    Ok(Json(room.view()?))
}

pub async fn events(
    State(room): Shared,
    _: Instructor,
) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>> {
    let rx = room.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(what) => return Some((Ok(Event::default().event("room").data(what)), rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

pub async fn export_csv(State(room): Shared, _: Instructor) -> Result<Response, ApiError> {
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

pub async fn export_junit(
    State(room): Shared,
    _: Instructor,
    UrlPath(id): UrlPath<i64>,
) -> Result<Response, ApiError> {
    let (_, report) = room.learner_report(id)?;
    Ok((
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        crate::report::junit::render(&report),
    )
        .into_response())
}

pub async fn export_results(
    State(room): Shared,
    _: Instructor,
    UrlPath(id): UrlPath<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (learner, report) = room.learner_report(id)?;
    Ok(Json(gradescope(&room.lab, &learner, &report)))
}

#[derive(Deserialize)]
pub struct RenameBody {
    name: String,
}

pub async fn rename(
    State(room): Shared,
    _: Instructor,
    UrlPath(id): UrlPath<i64>,
    axum::Form(body): axum::Form<RenameBody>,
) -> Result<Response, ApiError> {
    let name = valid_name(&body.name).map_err(ApiError::bad_request)?;
    let done = room.store().rename(id, &name).map_err(|e| {
        let e: ApiError = e.into();
        match e.status {
            StatusCode::CONFLICT => {
                ApiError::new(StatusCode::CONFLICT, format!("{name:?} is already taken"))
            }
            _ => e,
        }
    })?;
    if !done {
        return Err(ApiError::not_found(format!("no learner {id}")));
    }
    room.changed("rename");
    Ok(Redirect::to("/").into_response())
}

pub async fn remove(
    State(room): Shared,
    _: Instructor,
    UrlPath(id): UrlPath<i64>,
) -> Result<Response, ApiError> {
    if !room.store().remove(id)? {
        return Err(ApiError::not_found(format!("no learner {id}")));
    }
    room.changed("remove");
    Ok(Redirect::to("/").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(valid_name("  Ana  ").unwrap(), "Ana");
        assert!(valid_name("").is_err());
        assert!(valid_name(&"x".repeat(65)).is_err());
        assert!(valid_name("a\u{1b}[2J").is_err());
        assert!(
            valid_name("<script>alert(1)</script>").is_ok(),
            "escaped on the page, not refused"
        );
    }
}
