//! The layers around every route: request ids, the trace span, error logging, panic
//! capture.

use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderName;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The header that carries the request id.
pub const REQUEST_ID: &str = "x-request-id";

/// Wraps `router` of the server `server` (its name, as in its logs) so that every
/// request (routed or not):
///
/// 1. gets an `x-request-id` (a fresh UUID unless the client sent one), which the response
///    echoes;
/// 2. runs in a span `request` with `server`, `method`, `path`, `route` and `request_id`
///    — never headers (they carry tokens and SigV4 signatures) and never the query string
///    — which continues the caller's trace when the request carries a W3C `traceparent`
///    ([`crate::trace_context`]), records the response `status`, and logs status and
///    latency at `info`;
/// 3. has the error it failed with logged inside that span ([`crate::errors::log_errors`]);
/// 4. is answered `500 Internal Server Error` if its handler panics, logged like any other
///    server error, and the server keeps serving.
///
/// One `Router::layer` call for all of them: axum boxes each layer level of every route
/// and clones it for every request, so each level costs allocations per request.
pub fn instrument(router: Router, server: &'static str) -> Router {
    let x_request_id = HeaderName::from_static(REQUEST_ID);
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(
                x_request_id.clone(),
                MakeRequestUuid,
            ))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(move |request: &Request| make_span(server, request))
                    .on_response(on_response),
            )
            .layer(PropagateRequestIdLayer::new(x_request_id))
            .map_response(crate::errors::log_errors)
            .layer(CatchPanicLayer::custom(crate::errors::panic_response)),
    )
}

/// The span of one request. The `otel.*` fields name and classify the span for
/// OpenTelemetry (`tracing-opentelemetry` reads them), when spans are exported; the route
/// (the path pattern, not the path) keeps span names few.
fn make_span(server: &'static str, request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    // `Router::layer` runs after routing: the matched route is known here (none for a 404).
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str);
    let span = tracing::info_span!(
        "request",
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        server,
        method = %request.method(),
        path = %request.uri().path(),
        route,
        request_id = %request_id,
        status = tracing::field::Empty,
    );
    let shown_route = if route.is_empty() { "unrouted" } else { route };
    crate::trace_context::name(
        &span,
        "server",
        format_args!("{} {shown_route}", request.method()),
    );
    crate::trace_context::continue_trace(&span, request.headers());
    span
}

/// Records the status on the request's span (an error status for OpenTelemetry on a 5xx,
/// as its HTTP conventions say for servers) and logs status and latency at `info`.
fn on_response<B>(response: &axum::http::Response<B>, latency: Duration, span: &tracing::Span) {
    let status = response.status();
    span.record("status", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
    tracing::info!(
        status = status.as_u16(),
        latency_ms = latency.as_millis() as u64,
        "finished processing request"
    );
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;
    use crate::test_log::Captured;

    #[tokio::test]
    async fn a_panicking_handler_is_a_logged_500_with_a_request_id() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        async fn boom() -> &'static str {
            panic!("boom at the handler")
        }
        let router = instrument(Router::new().route("/boom", get(boom)), "test-server");

        let response = router
            .clone()
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let id = response.headers()[REQUEST_ID].to_str().unwrap().to_owned();
        let logged = captured.text();
        let failed = logged
            .lines()
            .find(|line| line.contains("request failed"))
            .unwrap_or_else(|| panic!("no error logged: {logged}"));
        assert!(failed.contains("ERROR"), "{failed}");
        assert!(
            failed.contains("the handler panicked: boom at the handler"),
            "{failed}"
        );
        assert!(
            failed.contains(&id),
            "the log line names the request id: {failed}"
        );

        // The server goes on serving.
        let response = router
            .oneshot(Request::get("/unknown").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
