//! `GetClientToken`: the client-credentials token through the API, without a domain.
//!
//! Cognito serves it unsigned (IAM is not evaluated: the client authenticates with its
//! own id and secret), for clients whose only flow is `ALLOW_CLIENT_TOKEN_AUTH`, and
//! issues exactly the token `POST /oauth2/token` would: the same steps of
//! [`crate::token`] after authentication, including the pool's pre token generation
//! trigger, which receives `ClientMetadata` as `clientMetadata`.
//!
//! Exceptions (Cognito's, as for `InitiateAuth`): unknown client →
//! `ResourceNotFoundException`; wrong secret → `NotAuthorizedException`; flow not enabled →
//! `NotAuthorizedException`; a scope not allowed or not defined → `InvalidParameterException`;
//! a failed pre token generation trigger → `UserLambdaValidationException`,
//! `UnexpectedLambdaException` or `InvalidLambdaResponseException` (as `InitiateAuth`
//! names them; the `GetClientToken` model lists none of them, so SDKs surface them as
//! unmodelled errors with that code).
//! past the client's rate limit (off by default; shared with the token endpoint) →
//! `TooManyRequestsException`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::error::AdminError;
use super::validate::{Pattern, Violations, parse};
use crate::AppState;
use crate::token::{Authentication, IssueError, authenticate, issue_to};

/// The explicit auth flow that enables `GetClientToken`.
pub(crate) const FLOW: &str = "ALLOW_CLIENT_TOKEN_AUTH";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    client_id: Option<String>,
    secret: Option<String>,
    scopes: Option<Vec<String>>,
    client_metadata: Option<BTreeMap<String, String>>,
}

pub(crate) async fn get(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) = parse(
        body,
        "GetClientToken",
        &["ClientId", "Secret", "Scopes", "ClientMetadata"],
    )?;
    let mut v = Violations::default();
    if let Some(id) = v.required(&request.client_id, "ClientId") {
        v.string(id, "ClientId", 1, 128, Pattern::WordPlus);
    }
    if let Some(secret) = v.required(&request.secret, "Secret") {
        v.string(secret, "ClientSecret", 1, 64, Pattern::WordPlus);
    }
    v.list(&request.scopes, "Scopes", 50, 1, 256, Pattern::ScopeLike);
    v.finish()?;
    let client_id = request.client_id.unwrap_or_default();
    let secret = request.secret.unwrap_or_default();
    let grant = match authenticate(state, &client_id, &secret).await? {
        Authentication::Authenticated(grant) => grant,
        Authentication::UnknownClient => return Err(AdminError::client_not_found(&client_id)),
        Authentication::WrongSecret => {
            return Err(AdminError::not_authorized(format!(
                "Unable to verify secret for client {client_id}"
            )));
        }
    };
    crate::rate_limit::check_client(state, &grant.context.client.client_id)
        .map_err(|_| AdminError::too_many_requests())?;
    let flows = grant.context.client.settings.explicit_auth_flows.as_deref();
    if !flows.unwrap_or_default().iter().any(|f| f == FLOW) {
        return Err(AdminError::not_authorized(format!(
            "{FLOW} flow not enabled for this client"
        )));
    }
    let scope = request.scopes.map(|s| s.join(" "));
    let metadata = request.client_metadata.unwrap_or_default();
    let token = issue_to(state, &grant, scope.as_deref(), &metadata)
        .await
        .map_err(|error| match error {
            // What Cognito answers a throttled call; SDKs retry it with backoff.
            IssueError::Refused(refusal) if refusal.is_overload() => AdminError {
                kind: "TooManyRequestsException",
                message: "Too many token requests are waiting: retry in a second.".to_owned(),
                status: axum::http::StatusCode::BAD_REQUEST,
            },
            IssueError::Refused(refusal) if refusal.status.is_server_error() => {
                AdminError::internal()
            }
            IssueError::Refused(refusal) => AdminError::invalid_parameter(refusal.description),
            IssueError::Hook(hook) => AdminError {
                kind: hook.exception(),
                message: hook.to_string(),
                status: axum::http::StatusCode::BAD_REQUEST,
            },
        })?;
    metrics::counter!("authorization_server_tokens_issued_total").increment(1);
    Ok(json!({
        "ClientAuthenticationResult": {
            "AccessToken": token.response.access_token,
            "ExpiresIn": token.response.expires_in,
            "TokenType": "Bearer",
        }
    }))
}
