//! The admin API: AWS JSON 1.1 on `POST /`, operation named by
//! `X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>`.
//!
//! Order of checks (each refusal writes nothing): `Host`/`Origin` ([`guard`]), body size,
//! SigV4 (when credentials are configured, except for the operations Cognito serves
//! unsigned: `GetClientToken`, `RevokeToken`), target, content type, JSON shape, model
//! validation, then the operation.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::AppState;

mod certificates;
mod client_secrets;
mod client_token;
mod clients;
mod domains;
pub(crate) mod error;
pub(crate) mod guard;
mod lambda_config;
mod mfa;
mod operation;
mod pools;
mod quotas;
mod resource_servers;
mod revocation;
pub(crate) mod sigv4;
mod tags;
mod validate;

use error::AdminError;
pub use operation::{AdminOperation, OPERATIONS};

const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// `POST /`.
pub(crate) async fn handle(
    State(state): State<AppState>,
    origin: crate::audit::Origin,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = crate::ids::uuid_v4().unwrap_or_default();
    let mut request_body = bytes::Bytes::new();
    let (operation, result) =
        match authenticate_and_parse(&state, &method, &uri, &headers, body).await {
            Ok((operation, body)) => {
                let result = dispatch(&state, operation, &body).await;
                request_body = body;
                (operation.name(), result)
            }
            Err((operation, error)) => (operation, Err(error)),
        };
    crate::audit::admin_request(&state, origin, &request_id, &request_body, &result);
    let outcome = match &result {
        Ok(_) => "ok",
        Err(error) => error.kind,
    };
    metrics::counter!(
        "authorization_server_admin_requests_total",
        "operation" => operation,
        "outcome" => outcome,
    )
    .increment(1);
    // Every admin call is `POST /`: the request's trace span is named by its operation.
    server_kit::trace_context::name(
        &tracing::Span::current(),
        "server",
        format_args!("POST / {operation}"),
    );
    let mut response = match result {
        Ok(value) => (StatusCode::OK, value.to_string()).into_response(),
        Err(error) => {
            tracing::info!(operation, exception = error.kind, message = %error.message, "admin request refused");
            let body = serde_json::json!({"__type": error.kind, "message": error.message});
            let mut response = (error.status, body.to_string()).into_response();
            if let Ok(value) = HeaderValue::from_str(error.kind) {
                response.headers_mut().insert("x-amzn-errortype", value);
            }
            if error.is_database_unavailable() {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, server_kit::db::retry_after());
            }
            response
        }
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

type Refusal = (&'static str, AdminError);

/// Reads the body, verifies the signature, and resolves the operation.
async fn authenticate_and_parse(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<(AdminOperation, bytes::Bytes), Refusal> {
    guard::check(state.config(), headers, uri).map_err(|e| ("unknown", e))?;
    let body = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            (
                "unknown",
                AdminError::serialization(format!(
                    "the request body is larger than {} bytes",
                    crate::MAX_BODY_BYTES
                )),
            )
        })?;
    let unsigned = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .and_then(AdminOperation::parse)
        .is_some_and(AdminOperation::is_unsigned);
    let verified = match state
        .config()
        .admin_credentials
        .as_ref()
        .filter(|_| !unsigned)
    {
        Some(credentials) => Some(
            sigv4::verify(
                credentials,
                &state.config().region,
                state.clock().now(),
                method,
                uri,
                headers,
                &body,
            )
            .map_err(|e| ("unknown", e))?,
        ),
        None => None,
    };
    let target = headers
        .get("x-amz-target")
        .ok_or_else(|| {
            (
                "unknown",
                AdminError::unknown_operation(
                    "missing X-Amz-Target header: expected AWSCognitoIdentityProviderService.<Operation>",
                ),
            )
        })?
        .to_str()
        .unwrap_or_default();
    let operation = target
        .strip_prefix(TARGET_PREFIX)
        .and_then(AdminOperation::parse)
        .ok_or_else(|| {
            let shown: String = target.chars().take(128).collect();
            (
                "unknown",
                AdminError::unknown_operation(format!(
                    "unknown operation {shown:?}: this server implements {TARGET_PREFIX}{{{}}}",
                    OPERATIONS.join(",")
                )),
            )
        })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case(CONTENT_TYPE) {
        let shown: String = content_type.chars().take(64).collect();
        return Err((
            operation.name(),
            AdminError::serialization(format!(
                "unsupported content type {shown:?}: expected {CONTENT_TYPE}"
            )),
        ));
    }
    if let Some(verified) =
        verified.filter(|_| state.config().refuse_replayed_signatures && !operation.is_read_only())
    {
        verified
            .first_use(state.replays())
            .map_err(|e| (operation.name(), e))?;
    }
    Ok((operation, body))
}

/// Runs one operation on a JSON body. Also used in-process by [`crate::test_util`].
pub(crate) async fn dispatch(
    state: &AppState,
    operation: AdminOperation,
    body: &[u8],
) -> Result<Value, AdminError> {
    let result = run(state, operation, body).await;
    // Any write may change what the token endpoint grants; a refused write costs one reload.
    if !operation.is_read_only() {
        state.grants().invalidate();
    }
    result
}

async fn run(
    state: &AppState,
    operation: AdminOperation,
    body: &[u8],
) -> Result<Value, AdminError> {
    use AdminOperation as Op;
    match operation {
        Op::CreateUserPool => pools::create(state, body).await,
        Op::DescribeUserPool => pools::describe(state, body).await,
        Op::ListUserPools => pools::list(state, body).await,
        Op::DeleteUserPool => pools::delete(state, body).await,
        Op::CreateUserPoolClient => clients::create(state, body).await,
        Op::DescribeUserPoolClient => clients::describe(state, body).await,
        Op::UpdateUserPoolClient => clients::update(state, body).await,
        Op::ListUserPoolClients => clients::list(state, body).await,
        Op::DeleteUserPoolClient => clients::delete(state, body).await,
        Op::AddUserPoolClientSecret => client_secrets::add(state, body).await,
        Op::ListUserPoolClientSecrets => client_secrets::list(state, body).await,
        Op::DeleteUserPoolClientSecret => client_secrets::delete(state, body).await,
        Op::CreateResourceServer => resource_servers::create(state, body).await,
        Op::DescribeResourceServer => resource_servers::describe(state, body).await,
        Op::UpdateResourceServer => resource_servers::update(state, body).await,
        Op::ListResourceServers => resource_servers::list(state, body).await,
        Op::DeleteResourceServer => resource_servers::delete(state, body).await,
        Op::CreateUserPoolDomain => domains::create(state, body).await,
        Op::DescribeUserPoolDomain => domains::describe(state, body).await,
        Op::DeleteUserPoolDomain => domains::delete(state, body).await,
        Op::UpdateUserPool => pools::update(state, body).await,
        Op::GetUserPoolMfaConfig => mfa::get(state, body).await,
        Op::SetUserPoolMfaConfig => mfa::set(state, body).await,
        Op::TagResource => tags::tag(state, body).await,
        Op::UntagResource => tags::untag(state, body).await,
        Op::ListTagsForResource => tags::list(state, body).await,
        Op::GetSigningCertificate => certificates::get(state, body).await,
        Op::UpdateUserPoolDomain => domains::update(state, body).await,
        Op::GetClientToken => client_token::get(state, body).await,
        Op::RevokeToken => revocation::revoke_token(state, body).await,
    }
}
