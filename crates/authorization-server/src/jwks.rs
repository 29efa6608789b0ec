//! `GET /{userPoolId}/.well-known/jwks.json`: every signing key of the pool, newest first,
//! with Cognito's six members. Unknown pool → 404.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oauth_proto::{Jwk, Jwks};

use crate::AppState;

/// `GET /{pool_id}/.well-known/jwks.json`.
pub(crate) async fn handle(State(state): State<AppState>, Path(pool_id): Path<String>) -> Response {
    match state.store().signing_keys(&pool_id).await {
        Ok(keys) if keys.is_empty() => not_found(&pool_id),
        Ok(keys) => Json(Jwks {
            keys: keys
                .into_iter()
                .map(|k| Jwk {
                    alg: Some("RS256".to_owned()),
                    e: k.e,
                    kid: k.kid,
                    kty: "RSA".to_owned(),
                    n: k.n,
                    use_: Some("sig".to_owned()),
                })
                .collect(),
        })
        .into_response(),
        Err(error) => crate::error::store_failure_response("jwks", &error),
    }
}

/// The 404 of an unknown pool.
pub(crate) fn not_found(pool_id: &str) -> Response {
    let shown: String = pool_id.chars().take(64).collect();
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"message": format!("User pool {shown} does not exist.")})),
    )
        .into_response()
}
