//! The room's API errors: a status, a message that says what to do, and for 429 a
//! `Retry-After`. JSON for the API, a one-sentence page for the dashboard's pages.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;

/// An API error.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds, for `Retry-After` (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    pub fn too_many(message: impl Into<String>, retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, message)
        }
    }
    /// The same error as a page (for the dashboard's HTML routes).
    pub fn page(self) -> Response {
        (self.status, Html(super::dashboard::message(&self.message))).into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the room's store failed: {e}"),
        )
    }
}

impl From<super::store::JoinError> for ApiError {
    fn from(e: super::store::JoinError) -> ApiError {
        match e {
            super::store::JoinError::NameTaken => ApiError::new(
                StatusCode::CONFLICT,
                "that name is already in the room: join with another name, or ask the instructor to rename or remove it",
            ),
            super::store::JoinError::Other(e) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the room's store failed: {e}"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_429_says_when_to_retry_and_a_store_error_is_a_500() {
        let r = ApiError::too_many("slow down", 3).into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "3");
        let e: ApiError = rusqlite::Error::InvalidQuery.into();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(e.message.contains("store"));
        let e: ApiError = crate::room::store::JoinError::NameTaken.into();
        assert_eq!(e.status, StatusCode::CONFLICT);
    }
}
