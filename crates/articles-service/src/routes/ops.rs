//! Operations: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, Problem};

/// The operations routes, the same in every service.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
}

/// The body of `/healthz` and `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok` or `ready`.
    status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers and an access token can be had. The token comes from
/// the provider's cache while it is fresh, so probes do not call the token endpoint.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready, and why", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state
        .inner
        .store
        .ping()
        .await
        .map_err(|e| ApiError::NotReady(format!("the database does not answer: {e}")))?;
    // A cold cache with a struggling token endpoint retries with backoff: a probe must
    // not hang on it.
    let limit = state.inner.config.upstream_timeout;
    match tokio::time::timeout(limit, state.inner.tokens.check()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(ApiError::NotReady(format!(
                "no access token can be had: {e}"
            )));
        }
        Err(_) => {
            return Err(ApiError::NotReady(format!(
                "no access token could be had within {limit:?}"
            )));
        }
    }
    Ok(Json(Health { status: "ready" }))
}

/// Prometheus metrics: what the installed recorder holds (nothing when the service was
/// built without a handle), plus the count of token requests this service made.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let mut body = state
        .inner
        .config
        .metrics
        .as_ref()
        .map(|handle| handle.render())
        .unwrap_or_default();
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    body.push_str(&format!(
        "# HELP articles_service_token_requests_total Requests this service made to the token endpoint.\n\
         # TYPE articles_service_token_requests_total counter\n\
         articles_service_token_requests_total {}\n",
        state.inner.tokens.requests_made()
    ));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub(crate) async fn openapi_json(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.inner.openapi.clone(),
    )
        .into_response()
}
