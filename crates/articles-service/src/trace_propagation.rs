//! The client side of a trace hop: every request to user-schedule-service runs in a
//! client span and carries its W3C `traceparent`, so user-schedule-service's span becomes
//! its child ([`server_kit::trace_context`]).

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use tracing::Instrument as _;

/// The innermost middleware of the schedule client: one `http.client` span per request
/// actually sent (a retry after a token refresh is a second one). A debug span, like the
/// token and verification spans: without a trace exporter it is disabled and costs a
/// level check.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TracePropagation;

#[async_trait::async_trait]
impl Middleware for TracePropagation {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        // Method, host and path only: the query may carry anything, headers a token.
        let url = request.url();
        let span = tracing::debug_span!(
            "http.client",
            otel.name = tracing::field::Empty,
            otel.kind = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            method = %request.method(),
            host = url.host_str().unwrap_or_default(),
            path = url.path(),
            status = tracing::field::Empty,
        );
        let host = url.host_str().unwrap_or_default();
        server_kit::trace_context::name(
            &span,
            "client",
            format_args!("{} {host}", request.method()),
        );
        span.in_scope(|| server_kit::trace_context::inject_current(request.headers_mut()));
        let result = next.run(request, extensions).instrument(span.clone()).await;
        match &result {
            Ok(response) => {
                span.record("status", response.status().as_u16());
                if response.status().is_server_error() {
                    span.record("otel.status_code", "error");
                }
            }
            Err(_) => {
                span.record("otel.status_code", "error");
            }
        }
        result
    }
}
