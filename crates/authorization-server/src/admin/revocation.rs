//! `RevokeToken` (unsigned, like Cognito's): the API twin of `POST /oauth2/revoke`, with
//! Cognito's exceptions. Only refresh tokens are revocable and this server issues none,
//! so an access token gets `UnsupportedTokenTypeException` and any other token `{}`
//! (see [`crate::revocation`]).

use serde::Deserialize;
use serde_json::{Value, json};

use super::error::AdminError;
use super::validate::{Pattern, Violations, parse};
use crate::AppState;
use crate::revocation::{TokenKind, classify};
use crate::token::{Authentication, authenticate};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    revoke_associated_sessions: Option<String>,
}

pub(crate) async fn revoke_token(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) = parse(
        body,
        "RevokeToken",
        &[
            "Token",
            "ClientId",
            "ClientSecret",
            "RevokeAssociatedSessions",
        ],
    )?;
    let mut v = Violations::default();
    if let Some(token) = v.required(&request.token, "Token") {
        v.string(token, "Token", 1, 131_072, Pattern::Text);
    }
    if let Some(id) = v.required(&request.client_id, "ClientId") {
        v.string(id, "ClientId", 1, 128, Pattern::WordPlus);
    }
    v.opt_string(
        &request.client_secret,
        "ClientSecret",
        1,
        64,
        Pattern::WordPlus,
    );
    v.one_of(
        &request.revoke_associated_sessions,
        "RevokeAssociatedSessions",
        &["NONE", "LINKED"],
    );
    v.finish()?;
    let client_id = request.client_id.unwrap_or_default();
    let secret = request.client_secret.unwrap_or_default();
    let grant = match authenticate(state, &client_id, &secret).await? {
        Authentication::Authenticated(grant) => grant,
        Authentication::UnknownClient | Authentication::WrongSecret => {
            return Err(AdminError::not_authorized(format!(
                "Unable to verify secret for client {client_id}"
            )));
        }
    };
    if !grant.context.client.settings.enable_token_revocation {
        return Err(AdminError::unsupported_operation(
            "Token revocation is not enabled for this app client.",
        ));
    }
    match classify(request.token.as_deref().unwrap_or_default()) {
        TokenKind::AccessOrId => Err(AdminError::unsupported_token_type(
            "Only refresh tokens can be revoked: a client-credentials access token is valid until it expires.",
        )),
        TokenKind::Other => Ok(json!({})),
    }
}
