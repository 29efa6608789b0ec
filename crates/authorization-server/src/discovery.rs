//! `GET /{userPoolId}/.well-known/openid-configuration` (cognito-compat §4.2): Cognito's
//! members, endpoints on this server's public URL, no custom scopes advertised.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use oauth_proto::ProviderMetadata;

use crate::AppState;

/// `GET /{pool_id}/.well-known/openid-configuration`.
pub(crate) async fn handle(State(state): State<AppState>, Path(pool_id): Path<String>) -> Response {
    match state.store().user_pool(&pool_id).await {
        Ok(Some(_)) => {
            let base = &state.config().public_url;
            let strings =
                |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
            Json(ProviderMetadata {
                authorization_endpoint: format!("{base}/oauth2/authorize"),
                end_session_endpoint: Some(format!("{base}/logout")),
                id_token_signing_alg_values_supported: strings(&["RS256"]),
                issuer: format!("{base}/{pool_id}"),
                jwks_uri: format!("{base}/{pool_id}/.well-known/jwks.json"),
                response_types_supported: strings(&["code", "token"]),
                revocation_endpoint: Some(format!("{base}/oauth2/revoke")),
                scopes_supported: strings(&["openid", "email", "phone", "profile"]),
                subject_types_supported: strings(&["public"]),
                token_endpoint: format!("{base}/oauth2/token"),
                token_endpoint_auth_methods_supported: strings(&[
                    "client_secret_basic",
                    "client_secret_post",
                ]),
                userinfo_endpoint: format!("{base}/oauth2/userInfo"),
            })
            .into_response()
        }
        Ok(None) => crate::jwks::not_found(&pool_id),
        Err(error) => crate::error::store_failure_response("discovery", &error),
    }
}
