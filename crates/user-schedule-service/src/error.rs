//! The service's error type and its mapping to RFC 9457 problem documents.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use server_kit::errors::ErrorReport;
use utoipa::ToSchema;

use crate::domain::FieldError;
use crate::store::StoreError;

/// `Content-Type` of every error body.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// Everything a request can fail with, short of the authentication and scope refusals
/// (those come from `jwt-verifier`'s layers, in RFC 6750 form).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// A malformed request: unparsable JSON, a bad path segment or query parameter (400).
    #[error("malformed request: {detail}")]
    BadRequest {
        /// What is wrong overall.
        detail: String,
        /// Which fields were wrong, if any.
        errors: Vec<FieldError>,
    },
    /// A well-formed body whose values are invalid (422).
    #[error("invalid event: {}", list(.0))]
    Invalid(Vec<FieldError>),
    /// The body is larger than the configured limit (413).
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The body is not `application/json` (415).
    #[error("unsupported content type: expected application/json")]
    UnsupportedMediaType,
    /// A store failure: unknown user or event (404), version conflict (412), the database
    /// unavailable (503 with `Retry-After`), or an internal failure (500, details only in
    /// the logs).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something the service should have guaranteed did not hold (500).
    #[error("internal error: {0}")]
    Internal(&'static str),
}

fn list(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    /// A 400 naming one field.
    pub(crate) fn bad_field(error: FieldError) -> Self {
        Self::BadRequest {
            detail: format!("invalid {}: {}", error.field, error.problem),
            errors: vec![error],
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` when the status says it all).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// For validation problems: one entry per bad field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

/// One bad field in a validation problem.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemField {
    /// The field, as named in the request (`title`, `ends_at`, `limit`, `user_id`, …).
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors
            .into_iter()
            .map(|e| ProblemField {
                field: e.field.to_owned(),
                problem: e.problem,
            })
            .collect();
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

impl IntoResponse for ApiError {
    /// The problem document, with an [`ErrorReport`] for the error-logging middleware.
    fn into_response(self) -> Response {
        let mut response = self.problem_response();
        ErrorReport::attach(&mut response, &self);
        response
    }
}

impl ApiError {
    fn problem_response(&self) -> Response {
        let problem = match self {
            Self::BadRequest { detail, errors } => Problem::new(
                StatusCode::BAD_REQUEST,
                "urn:s2s:problem:malformed-request",
                detail.clone(),
            )
            .with_errors(errors.clone()),
            Self::Invalid(errors) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "urn:s2s:problem:invalid-event",
                format!("the event is invalid: {}", list(errors)),
            )
            .with_errors(errors.clone()),
            Self::PayloadTooLarge(limit) => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "about:blank",
                format!("the body is larger than the limit of {limit} bytes"),
            ),
            Self::UnsupportedMediaType => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "about:blank",
                "the body must be JSON with Content-Type: application/json",
            ),
            Self::Store(StoreError::UnknownUser(user)) => Problem::new(
                StatusCode::NOT_FOUND,
                "urn:s2s:problem:unknown-user",
                format!("no schedule for user {user:?}: users become known with their first event"),
            ),
            Self::Store(StoreError::UnknownEvent(id)) => Problem::new(
                StatusCode::NOT_FOUND,
                "urn:s2s:problem:unknown-event",
                format!("no event {id} in this user's schedule"),
            ),
            Self::Store(StoreError::VersionMismatch { current, .. }) => {
                let problem = Problem::new(
                    StatusCode::PRECONDITION_FAILED,
                    "urn:s2s:problem:etag-mismatch",
                    format!(
                        "the event has changed since it was read: If-Match does not match its current ETag \"{current}\""
                    ),
                );
                let mut response = problem.into_response();
                if let Ok(etag) = HeaderValue::from_str(&format!("\"{current}\"")) {
                    response.headers_mut().insert(header::ETAG, etag);
                }
                return response;
            }
            // A lost, refused or exhausted connection: the client may retry, and the pool
            // replaces the connection meanwhile. Details only in the logs.
            Self::Store(StoreError::Database(error)) if server_kit::db::is_unavailable(error) => {
                let mut response = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "urn:s2s:problem:database-unavailable",
                    "the database is unavailable; retry after the delay in Retry-After",
                )
                .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, server_kit::db::retry_after());
                return response;
            }
            // Logged by the middleware, never told to the client.
            Self::Store(_) | Self::Internal(_) => internal(),
        };
        problem.into_response()
    }
}

/// The answer to a request refused by the admission control (too many requests already
/// wait for the database): the database-unavailable answer's shape — `503`, `Retry-After`
/// — with its own type. Not an [`ApiError`]: a refusal under overload is not logged as a
/// failure (the trace layer still logs its status), so that refusing stays nearly free.
pub(crate) fn database_busy() -> Response {
    let mut response = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "urn:s2s:problem:database-busy",
        "too many requests are waiting for the database; retry after the delay in Retry-After",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, server_kit::db::retry_after());
    response
}

fn internal() -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "about:blank",
        "the request failed on our side; the request id in x-request-id identifies it in the logs",
    )
}
