//! `POST /oauth2/revoke` (RFC 7009) and the token classification `RevokeToken` shares.
//!
//! Cognito revokes refresh tokens only (and the tokens minted from them); this server
//! issues client-credentials access tokens, which Cognito cannot revoke: their only
//! lifetime control is `exp`. So, as Cognito answers (developer guide "Revoking tokens",
//! "Revoke endpoint"; cognito-compat §6):
//!
//! - bad client credentials → `invalid_client` (401 with `WWW-Authenticate: Basic` when
//!   they came in the header, else 400, as at the token endpoint);
//! - no `token`, or revocation disabled for the client (`EnableTokenRevocation`) →
//!   400 `invalid_request`;
//! - an access (or ID) token → 400 `unsupported_token_type`;
//! - anything else (an unknown or already revoked token: this server issued no refresh
//!   token) → 200 with an empty body, as RFC 7009 §2.2 asks.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use oauth_proto::{ErrorCode, ErrorResponse};

use crate::AppState;
use crate::token::{Authentication, Refusal, authenticate, credentials, param, read_form};

/// What a presented token is, as far as revocation cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A JWT with `token_use` `access` or `id`: not revocable.
    AccessOrId,
    /// Anything else: not a token this server issued, so nothing to revoke.
    Other,
}

/// Reads the `token_use` of a JWT's payload without verifying it: the answer is the same
/// whoever signed it, and a forged token gains nothing from it.
pub(crate) fn classify(token: &str) -> TokenKind {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return TokenKind::Other;
    };
    let token_use = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|claims| claims.get("token_use")?.as_str().map(str::to_owned));
    match token_use.as_deref() {
        Some("access" | "id") => TokenKind::AccessOrId,
        _ => TokenKind::Other,
    }
}

/// `POST /oauth2/revoke`.
pub(crate) async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut response = match revoke(&state, &headers, body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(refusal) => {
            tracing::info!(error = %refusal.code, description = %refusal.description, "revocation refused");
            let retry_after = refusal.retry_after();
            let unauthorized = refusal.status == StatusCode::UNAUTHORIZED;
            let body =
                serde_json::to_string(&ErrorResponse::new(refusal.code, refusal.description))
                    .unwrap_or_default();
            let mut response = (refusal.status, body).into_response();
            if let Some(value) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            if unauthorized {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"oauth2/revoke\""),
                );
            }
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json;charset=UTF-8"),
            );
            response
        }
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn revoke(state: &AppState, headers: &HeaderMap, body: Body) -> Result<(), Refusal> {
    let pairs = read_form(headers, body).await?;
    let (client_id, secret, basic) = credentials(headers, &pairs)?;
    let Authentication::Authenticated(grant) = authenticate(state, &client_id, &secret).await?
    else {
        return Err(Refusal::client(
            basic,
            "unknown client or wrong client secret",
        ));
    };
    let Some(token) = param(&pairs, "token").filter(|t| !t.is_empty()) else {
        return Err(Refusal::new(ErrorCode::InvalidRequest, "token is missing"));
    };
    if !grant.context.client.settings.enable_token_revocation {
        return Err(Refusal::new(
            ErrorCode::InvalidRequest,
            "token revocation is not enabled for this client (EnableTokenRevocation)",
        ));
    }
    match classify(token) {
        TokenKind::AccessOrId => Err(Refusal::new(
            ErrorCode::Other("unsupported_token_type".to_owned()),
            "only refresh tokens can be revoked; a client-credentials access token is valid until it expires",
        )),
        TokenKind::Other => Ok(()),
    }
}
