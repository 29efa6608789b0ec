//! Error logging in one place.
//!
//! A handler's error type turns itself into a response and puts an [`ErrorReport`] in
//! the response's extensions ([`ErrorReport::attach`]); [`log_errors`], installed by
//! [`crate::layers::instrument`] inside the request's trace span, logs it: server errors
//! at `error`, refusals at `debug`. So every log line of a failed request carries its
//! method, path and request id, and no service logs in its `IntoResponse`.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

/// What a failed response was made from: its status and the error with its sources.
#[derive(Debug, Clone)]
pub struct ErrorReport {
    /// The status of the response.
    pub status: StatusCode,
    /// The error and its sources, `: `-separated. Must hold no secret: it is logged.
    pub message: String,
}

impl ErrorReport {
    /// The report of `error`, answered with `status`.
    pub fn new(status: StatusCode, error: &dyn std::error::Error) -> Self {
        Self {
            status,
            message: error_chain(error),
        }
    }

    /// Puts the report of `error` in `response`'s extensions, for [`log_errors`].
    pub fn attach(response: &mut Response, error: &dyn std::error::Error) {
        let report = Self::new(response.status(), error);
        response.extensions_mut().insert(report);
    }
}

/// The error and its sources, `: `-separated: what a log line or a problem document
/// says of an error whose own message says little (reqwest's, sqlx's).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Logs the [`ErrorReport`] of a response, if it has one, in the current (request) span.
pub async fn log_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(report) = response.extensions().get::<ErrorReport>() {
        if report.status.is_server_error() {
            tracing::error!(status = report.status.as_u16(), error = %report.message, "request failed");
        } else {
            tracing::debug!(status = report.status.as_u16(), error = %report.message, "request refused");
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("store failure")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_report_names_the_error_and_its_sources() {
        let error = Outer(std::io::Error::other("disk full"));
        let report = ErrorReport::new(StatusCode::INTERNAL_SERVER_ERROR, &error);
        assert_eq!(report.message, "store failure: disk full");
        assert_eq!(report.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
