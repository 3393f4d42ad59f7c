//! Who is asking: the instructor or a learner, as axum extractors. A token comes as
//! `Authorization: Bearer <token>` or, for the dashboard's pages, as the HttpOnly cookie; it is
//! compared by its SHA-256 in constant time.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};

use super::error::ApiError;
use super::state::Room;
use super::store::Learner;

/// The cookie that carries the instructor's token for the dashboard's pages.
pub const COOKIE: &str = "lab_room";

/// Equal in constant time (for equal lengths, which SHA-256 digests are).
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

/// Who a token belongs to.
enum Caller {
    Instructor,
    Learner(Learner),
}

fn caller(room: &Room, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let token = bearer(headers).or_else(|| cookie(headers)).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "no token: send `Authorization: Bearer <token>`",
        )
    })?;
    if room.is_instructor_token(&token) {
        return Ok(Caller::Instructor);
    }
    match room.store().learner_by_token(&token)? {
        Some(l) => Ok(Caller::Learner(l)),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unknown token: join the room again, or ask the instructor",
        )),
    }
}

/// The instructor's token came with the request.
pub struct Instructor;

impl FromRequestParts<Arc<Room>> for Instructor {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, room: &Arc<Room>) -> Result<Self, ApiError> {
        match caller(room, &parts.headers)? {
            Caller::Instructor => Ok(Instructor),
            Caller::Learner(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "a learner's token cannot read the room; this needs the instructor's token",
            )),
        }
    }
}

/// A learner's token came with the request: that learner.
pub struct LearnerAuth(pub Learner);

impl FromRequestParts<Arc<Room>> for LearnerAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, room: &Arc<Room>) -> Result<Self, ApiError> {
        match caller(room, &parts.headers)? {
            Caller::Learner(l) => Ok(LearnerAuth(l)),
            Caller::Instructor => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "this is for a learner's token (the instructor does not post reports)",
            )),
        }
    }
}

/// The instructor's token as a cookie (`Set-Cookie` value) for the dashboard's pages.
pub fn session_cookie(token: &str) -> String {
    format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_the_header_or_the_cookie_and_compare_in_constant_time() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer  abc ".parse().unwrap());
        assert_eq!(bearer(&h).as_deref(), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert(header::COOKIE, "a=1; lab_room=t0k; b=2".parse().unwrap());
        assert_eq!(cookie(&h).as_deref(), Some("t0k"));
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"a", b"ab"));
        assert!(session_cookie("x").contains("HttpOnly; SameSite=Strict"));
    }
}
