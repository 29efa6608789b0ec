//! Errors: the crate's [`Error`] (building the service) and `ApiError`, what a request can
//! fail with, answered as an RFC 9457 problem document.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use server_kit::errors::ErrorReport;
use utoipa::ToSchema;

use crate::domain::{ArticleId, InvalidField};
use crate::store::StoreError;

/// Why the service could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The HTTP client for user-schedule-service could not be built.
    #[error("cannot build the http client")]
    HttpClient(#[source] reqwest::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The media type of every error body.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// What a request can fail with. Each variant maps to one status and one problem `type`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// Malformed JSON, query string or header (400).
    #[error("{detail}")]
    BadRequest {
        detail: String,
        errors: Vec<InvalidField>,
    },
    /// Well-formed but invalid values (422).
    #[error("invalid request: {}", list(.0))]
    Validation(Vec<InvalidField>),
    /// The request body is not JSON (415).
    #[error("request body must be application/json")]
    UnsupportedMediaType,
    /// The request body is too large (413).
    #[error("request body is too large")]
    PayloadTooLarge,
    /// No article with this id (404).
    #[error("no article with id {0}")]
    ArticleNotFound(String),
    /// No such route (404).
    #[error("no such resource")]
    RouteNotFound,
    /// Another request is booking this article's publication right now (409).
    #[error("the publication of article {0} is being booked by another request")]
    PublicationInProgress(ArticleId),
    /// user-schedule-service answered 401 or 403 (502).
    #[error("user-schedule-service refused: {detail}")]
    UpstreamRefused {
        upstream_status: u16,
        missing_scope: Option<String>,
        detail: String,
    },
    /// The token endpoint refused to issue a token (502).
    #[error("the token endpoint refused to issue a token: {code}")]
    TokenRefused {
        code: String,
        description: Option<String>,
    },
    /// user-schedule-service (or the token endpoint) answered something unusable (502).
    #[error("{detail}")]
    UpstreamFailed {
        upstream_status: Option<u16>,
        detail: String,
    },
    /// user-schedule-service (or the token endpoint) could not be reached (503).
    #[error("{0}")]
    UpstreamUnavailable(String),
    /// user-schedule-service (or the token endpoint) did not answer in time (504).
    #[error("{0}")]
    UpstreamTimeout(String),
    /// The route exists, the method does not (405).
    #[error("method not allowed on this resource")]
    MethodNotAllowed,
    /// A readiness check failed (503).
    #[error("not ready: {0}")]
    NotReady(String),
    /// The store failed: 503 with `Retry-After` when the database is unavailable (a lost,
    /// refused or exhausted connection), else 500; opaque to the client either way.
    #[error("store failure")]
    Store(#[from] StoreError),
}

fn list(errors: &[InvalidField]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// A short summary of the kind of problem.
    pub(crate) title: String,
    /// The HTTP status.
    pub(crate) status: u16,
    /// What went wrong this time.
    pub(crate) detail: String,
    /// Which fields were wrong and how (400 and 422 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) errors: Vec<InvalidField>,
    /// The status user-schedule-service answered (502 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) upstream_status: Option<u16>,
    /// The scope user-schedule-service said this service lacks (502 after a 403 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) missing_scope: Option<String>,
    /// The OAuth error code of the token endpoint (502 after a token refusal only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) oauth_error: Option<String>,
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ArticleNotFound(_) | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::PublicationInProgress(_) => StatusCode::CONFLICT,
            Self::UpstreamRefused { .. }
            | Self::TokenRefused { .. }
            | Self::UpstreamFailed { .. } => StatusCode::BAD_GATEWAY,
            Self::UpstreamUnavailable(_) | Self::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Store(_) if self.database_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The store failed because the database is unavailable, so a retry may succeed.
    fn database_unavailable(&self) -> bool {
        match self {
            Self::Store(StoreError::Query(error) | StoreError::Connect(error)) => {
                server_kit::db::is_unavailable(error)
            }
            _ => false,
        }
    }

    fn problem(&self) -> Problem {
        let status = self.status();
        let (slug, title) = match self {
            Self::BadRequest { .. } => ("bad-request", "The request is malformed"),
            Self::Validation(_) => ("validation", "The request has invalid values"),
            Self::UnsupportedMediaType => ("unsupported-media-type", "The body must be JSON"),
            Self::PayloadTooLarge => ("payload-too-large", "The body is too large"),
            Self::ArticleNotFound(_) => ("article-not-found", "No such article"),
            Self::RouteNotFound => ("not-found", "No such resource"),
            Self::PublicationInProgress(_) => {
                ("publication-in-progress", "The publication is being booked")
            }
            Self::UpstreamRefused { .. } => {
                ("upstream-refused", "user-schedule-service refused the call")
            }
            Self::TokenRefused { .. } => (
                "token-refused",
                "The authorization server refused to issue a token",
            ),
            Self::UpstreamFailed { .. } => ("upstream-failed", "An upstream call failed"),
            Self::UpstreamUnavailable(_) => ("upstream-unavailable", "An upstream is unreachable"),
            Self::UpstreamTimeout(_) => ("upstream-timeout", "An upstream did not answer in time"),
            Self::NotReady(_) => ("not-ready", "The service is not ready"),
            Self::MethodNotAllowed => ("method-not-allowed", "Method not allowed"),
            Self::Store(_) if self.database_unavailable() => {
                ("database-unavailable", "The database is unavailable")
            }
            Self::Store(_) => ("internal", "Internal error"),
        };
        let detail = match self {
            // Never leak database details to clients.
            Self::Store(_) if self.database_unavailable() => {
                "the database is unavailable; retry after the delay in Retry-After".to_owned()
            }
            Self::Store(_) => {
                "the service failed; the request id identifies it in the logs".to_owned()
            }
            Self::TokenRefused { code, description } => match description {
                Some(description) => {
                    format!("the token endpoint refused to issue a token: {code} ({description})")
                }
                None => format!("the token endpoint refused to issue a token: {code}"),
            },
            other => other.to_string(),
        };
        let (errors, upstream_status, missing_scope, oauth_error) = match self {
            Self::BadRequest { errors, .. } | Self::Validation(errors) => {
                (errors.clone(), None, None, None)
            }
            Self::UpstreamRefused {
                upstream_status,
                missing_scope,
                ..
            } => (
                Vec::new(),
                Some(*upstream_status),
                missing_scope.clone(),
                None,
            ),
            Self::UpstreamFailed {
                upstream_status, ..
            } => (Vec::new(), *upstream_status, None, None),
            Self::TokenRefused { code, .. } => (Vec::new(), None, None, Some(code.clone())),
            _ => (Vec::new(), None, None, None),
        };
        Problem {
            kind: format!("urn:s2s:articles-service:problem:{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            errors,
            upstream_status,
            missing_scope,
            oauth_error,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.problem())).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if self.database_unavailable() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, server_kit::db::retry_after());
        }
        // Logged once, inside the request's span, by server-kit's middleware.
        ErrorReport::attach(&mut response, &self);
        response
    }
}

/// The answer to a request refused by the admission control (too many requests already
/// wait for the database): the database-unavailable answer's shape — `503`, `Retry-After`
/// — with its own type. Not an [`ApiError`]: a refusal under overload is not logged as a
/// failure (the trace layer still logs its status), so that refusing stays nearly free.
pub(crate) fn database_busy() -> Response {
    let problem = Problem {
        kind: "urn:s2s:articles-service:problem:database-busy".to_owned(),
        title: "Too many requests are waiting for the database".to_owned(),
        status: StatusCode::SERVICE_UNAVAILABLE.as_u16(),
        detail: "too many requests are waiting for the database; retry after the delay in \
                 Retry-After"
            .to_owned(),
        errors: Vec::new(),
        upstream_status: None,
        missing_scope: None,
        oauth_error: None,
    };
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(problem)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    headers.insert(header::RETRY_AFTER, server_kit::db::retry_after());
    response
}
