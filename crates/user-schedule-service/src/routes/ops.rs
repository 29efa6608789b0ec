//! Operations: health, readiness, metrics and the OpenAPI document.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::Problem;

/// The operations routes, the same in every service.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
}

/// The body of a healthy `/healthz` or `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `"ok"`.
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Up", body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The database answers and the issuer's signing keys are loaded (fetched now if not).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready; the detail names what is missing", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let mut missing = Vec::new();
    if let Err(error) = state.store().ping().await {
        tracing::warn!(error = %error, source = ?std::error::Error::source(&error), "readiness: database unreachable");
        missing.push("database unreachable");
    }
    // Keys are otherwise fetched only when a token arrives, and no traffic reaches a
    // replica that is not ready: so the probe itself tries to load them, or a service
    // started before its issuer would never become ready.
    if !state.verifier().has_keys() {
        if let Err(error) = state.verifier().hydrate().await {
            tracing::warn!(error = %error, "readiness: cannot fetch the issuer's signing keys");
        }
        if !state.verifier().has_keys() {
            missing.push("issuer signing keys not loaded");
        }
    }
    if missing.is_empty() {
        Json(Health { status: "ok" }).into_response()
    } else {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "urn:s2s:problem:not-ready",
            format!("not ready: {}", missing.join(", ")),
        )
        .into_response()
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let body = state
        .config()
        .metrics
        .as_ref()
        .map(|handle| handle.render())
        .unwrap_or_default();
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub(crate) async fn openapi_json(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        state.openapi(),
    )
        .into_response()
}
