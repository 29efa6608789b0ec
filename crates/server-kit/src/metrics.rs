//! HTTP metrics, through the `metrics` facade (the caller installs the recorder).
//!
//! - `http_requests_total{service,route,method,status}`;
//! - `http_request_duration_seconds{service,route}`;
//! - `http_auth_refusals_total{service,route,reason}`: responses with a
//!   `WWW-Authenticate` challenge, by its `error` code (`missing_token` when it has none).
//!
//! `route` is the route template (`/articles/{id}`), never the raw path, which would make
//! one series per id; `service` tells apart the services `s2s up` runs behind one recorder.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{Method, header};
use axum::response::Response;
use oauth_proto::bearer::{BearerChallenge, BearerErrorCode};

/// Counts and times every matched route of `router` under `service`.
///
/// Installed with `route_layer`, so an unmatched path is not a series of its own.
pub fn track<S>(router: Router<S>, service: &'static str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.route_layer(TrackLayer { service })
}

/// The layer of [`track`]. A tower layer rather than an `axum::middleware::from_fn`: that
/// one boxes a clone of the inner service and a future holding the request twice for every
/// request — about a kilobyte and two allocations per request in flight, and under
/// overload every connection has a request in flight.
#[derive(Debug, Clone, Copy)]
struct TrackLayer {
    service: &'static str,
}

impl<S> tower::Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track {
            inner,
            service: self.service,
        }
    }
}

#[derive(Debug, Clone)]
struct Track<S> {
    inner: S,
    service: &'static str,
}

impl<S> tower::Service<Request> for Track<S>
where
    S: tower::Service<Request, Response = Response>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Tracked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = request.method().clone();
        Tracked {
            inner: self.inner.call(request),
            service: self.service,
            route,
            method,
            start: Instant::now(),
        }
    }
}

/// A request being answered: what its series need once the response is there.
struct Tracked<F> {
    inner: F,
    service: &'static str,
    route: Option<MatchedPath>,
    method: Method,
    start: Instant,
}

impl<F, E> Future for Tracked<F>
where
    F: Future<Output = Result<Response, E>> + Unpin,
{
    type Output = Result<Response, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = std::task::ready!(Pin::new(&mut self.inner).poll(cx));
        if let Ok(response) = &result {
            record(
                self.service,
                self.route.as_ref().map_or("unmatched", MatchedPath::as_str),
                &self.method,
                self.start,
                response,
            );
        }
        Poll::Ready(result)
    }
}

fn record(
    service: &'static str,
    route: &str,
    method: &Method,
    start: Instant,
    response: &Response,
) {
    let route = route.to_owned();
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
        "method" => method.to_string(),
        "status" => status.as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!("http_request_duration_seconds", "service" => service, "route" => route)
        .record(start.elapsed().as_secs_f64());
}
