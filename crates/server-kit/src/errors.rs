//! Error logging in one place.
//!
//! A handler's error type turns itself into a response and puts an [`ErrorReport`] in
//! the response's extensions ([`ErrorReport::attach`]); [`log_errors`], installed by
//! [`crate::layers::instrument`] inside the request's trace span, logs it: server errors
//! at `error`, refusals at `debug`. So every log line of a failed request carries its
//! method, path and request id, and no service logs in its `IntoResponse`.

use axum::http::StatusCode;
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

/// Logs the [`ErrorReport`] of `response`, if it has one, in the current (request) span:
/// server errors at `error`, refusals at `debug`. [`crate::layers::instrument`] installs it
/// with tower's `map_response`, which neither boxes nor holds the request (an
/// `axum::middleware::from_fn` boxed both, for every request in flight, for a check made
/// on the response).
pub fn log_errors<B>(response: axum::http::Response<B>) -> axum::http::Response<B> {
    if let Some(report) = response.extensions().get::<ErrorReport>() {
        if report.status.is_server_error() {
            tracing::error!(status = report.status.as_u16(), error = %report.message, "request failed");
        } else {
            tracing::debug!(status = report.status.as_u16(), error = %report.message, "request refused");
        }
    }
    response
}

/// The answer to a request whose handler panicked: `500` with a report for
/// [`log_errors`] naming the panic. [`crate::layers::instrument`] installs it with tower-http's
/// catch-panic layer.
#[allow(
    clippy::needless_pass_by_value,
    reason = "the signature tower-http's catch-panic layer calls"
)]
pub(crate) fn panic_response(panic: Box<dyn std::any::Any + Send>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    let mut response = Response::new(axum::body::Body::from(
        "internal error: the x-request-id header identifies it in the logs",
    ));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response.extensions_mut().insert(ErrorReport {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("the handler panicked: {detail}"),
    });
    response
}

#[cfg(test)]
mod tests {
    use axum::extract::Request;

    use super::*;
    use crate::test_log::Captured;

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

    #[tokio::test]
    async fn the_layer_logs_a_server_error_report_and_passes_the_response_on() {
        use tower::{Layer as _, ServiceExt as _};
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let failing = tower::service_fn(|_: Request| async {
            let mut response = Response::new(axum::body::Body::empty());
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            ErrorReport::attach(&mut response, &Outer(std::io::Error::other("disk full")));
            Ok::<_, std::convert::Infallible>(response)
        });
        let response = tower::util::MapResponseLayer::new(log_errors)
            .layer(failing)
            .oneshot(Request::new(axum::body::Body::empty()))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        let logged = captured.text();
        assert!(logged.contains("ERROR"), "{logged}");
        assert!(logged.contains("request failed"), "{logged}");
        assert!(logged.contains("store failure: disk full"), "{logged}");
    }

    #[test]
    fn a_report_names_the_error_and_its_sources() {
        let error = Outer(std::io::Error::other("disk full"));
        let report = ErrorReport::new(StatusCode::INTERNAL_SERVER_ERROR, &error);
        assert_eq!(report.message, "store failure: disk full");
        assert_eq!(report.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
