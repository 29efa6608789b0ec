//! The layers around every route: request ids, the trace span, error logging.

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderName;
use axum::middleware;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// The header that carries the request id.
pub const REQUEST_ID: &str = "x-request-id";

/// Wraps `router` so that every request (routed or not):
///
/// 1. gets an `x-request-id` (a fresh UUID unless the client sent one), which the response
///    echoes;
/// 2. runs in a span `request` with `method`, `path` and `request_id` — never headers
///    (they carry tokens and SigV4 signatures) and never the query string — and logs its
///    status and latency at `info`;
/// 3. has the error it failed with logged inside that span ([`crate::errors::log_errors`]).
pub fn instrument(router: Router) -> Router {
    let x_request_id = HeaderName::from_static(REQUEST_ID);
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(
                x_request_id.clone(),
                MakeRequestUuid,
            ))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(make_span)
                    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::new(x_request_id))
            .layer(middleware::from_fn(crate::errors::log_errors)),
    )
}

/// The span of one request: method, path and request id.
fn make_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}
