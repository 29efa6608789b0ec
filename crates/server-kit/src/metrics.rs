//! HTTP metrics, through the `metrics` facade (the caller installs the recorder).
//!
//! - `http_requests_total{service,route,method,status}`;
//! - `http_request_duration_seconds{service,route}`;
//! - `http_auth_refusals_total{service,route,reason}`: responses with a
//!   `WWW-Authenticate` challenge, by its `error` code (`missing_token` when it has none).
//!
//! `route` is the route template (`/articles/{id}`), never the raw path, which would make
//! one series per id; `service` tells apart the services `s2s up` runs behind one recorder.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use oauth_proto::bearer::{BearerChallenge, BearerErrorCode};

/// Counts and times every matched route of `router` under `service`.
///
/// Installed with `route_layer`, so an unmatched path is not a series of its own.
pub fn track<S>(router: Router<S>, service: &'static str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.route_layer(middleware::from_fn_with_state(service, track_metrics))
}

async fn track_metrics(
    State(service): State<&'static str>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status();
    let challenges = response
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    if let Some(challenge) = BearerChallenge::from_header_values(challenges).first() {
        let reason = challenge
            .error
            .as_ref()
            .map_or("missing_token", BearerErrorCode::as_str)
            .to_owned();
        metrics::counter!("http_auth_refusals_total", "service" => service, "route" => route.clone(), "reason" => reason)
            .increment(1);
    }
    metrics::counter!(
        "http_requests_total",
        "service" => service,
        "route" => route.clone(),
        "method" => method,
        "status" => status.as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!("http_request_duration_seconds", "service" => service, "route" => route)
        .record(start.elapsed().as_secs_f64());
    response
}
