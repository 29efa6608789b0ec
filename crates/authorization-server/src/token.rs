//! `POST /oauth2/token`: the client-credentials grant as Cognito serves it (cognito-compat §2).
//!
//! Decisions where Cognito's behaviour is unconfirmed (documented here and in the README):
//! - `invalid_client` is **401 with `WWW-Authenticate: Basic`** when the client used the
//!   `Authorization` header (RFC 6749 §5.2 requires it), **400** when the credentials came in
//!   the body (Cognito's documented status); every other error is 400, internal errors 500.
//! - A requested scope the client is not allowed → `invalid_scope` (nothing is issued).
//!   Allowed scopes whose resource server or scope was since deleted are inactive: they are
//!   left out of the token, as Cognito does; if nothing active remains → `invalid_scope`.
//! - A client without `client_credentials` in its OAuth flows → `unauthorized_client`.
//! - A pool without a domain has no token endpoint in Cognito → `unauthorized_client` with a
//!   description saying to create a domain.
//! - A parameter sent twice, credentials sent both in the header and the body, or a body
//!   `client_id` that differs from the header's → `invalid_request`.
//! - Unknown parameters are ignored (RFC 6749 §3.2). `aws_client_metadata` (a URL-encoded
//!   JSON object of strings) reaches the pool's pre token generation trigger as
//!   `clientMetadata`; one that is not such an object → `invalid_request`.
//! - A pre token generation trigger that fails (see `crate::pretoken`) →
//!   `invalid_request` naming the failure, and no token.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use oauth_proto::{
    AccessTokenClaims, ClientId, ErrorCode, ErrorResponse, Scope, Scopes, TokenResponse, TokenType,
    TokenUse,
};

use crate::AppState;
use crate::error::StoreError;
use crate::grants::Grant;
use crate::pretoken::{ClientMetadata, HookError};
use crate::rate_limit::TooManyRequests;
use crate::signer::SignError;

/// Compared against when the client is unknown, so that an unknown client id and a wrong
/// secret take the same time.
const DUMMY_SECRET: &str = "0000000000000000000000000000000000000000000000000000";

/// A refused token request: the RFC 6749 error, its description and the HTTP status.
pub(crate) struct Refusal {
    pub(crate) code: ErrorCode,
    pub(crate) description: String,
    pub(crate) status: StatusCode,
    /// The client used HTTP Basic: answer 401 with `WWW-Authenticate: Basic`.
    basic: bool,
    /// `Retry-After` of a 503 (database unavailable) or a 429 (rate limit).
    retry_after: Option<HeaderValue>,
}

impl Refusal {
    pub(crate) fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            status: StatusCode::BAD_REQUEST,
            basic: false,
            retry_after: None,
        }
    }

    /// Too many requests wait for a signature: `429 Too Many Requests`, `Retry-After: 1`,
    /// `temporarily_unavailable` (the choice and its sources: docs/cognito-notes.md,
    /// "Overload"). Nothing was issued.
    pub(crate) fn overloaded() -> Self {
        Self {
            code: ErrorCode::Other("temporarily_unavailable".to_owned()),
            description: "too many token requests are waiting: retry in a second".to_owned(),
            status: StatusCode::TOO_MANY_REQUESTS,
            basic: false,
            retry_after: Some(HeaderValue::from_static("1")),
        }
    }

    /// Whether this refusal says the server is too busy (the signing queue is full, or the
    /// client's rate limit is reached): retry later.
    pub(crate) fn is_overload(&self) -> bool {
        self.status == StatusCode::TOO_MANY_REQUESTS
    }

    pub(crate) fn client(basic: bool, description: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::InvalidClient,
            description: description.into(),
            status: if basic {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_REQUEST
            },
            basic,
            retry_after: None,
        }
    }
}

impl Refusal {
    /// The `Retry-After` of a 503 (the database is unavailable) or a 429 (rate limit).
    pub(crate) fn retry_after(&self) -> Option<HeaderValue> {
        self.retry_after.clone()
    }
}

impl From<StoreError> for Refusal {
    /// A lost or refused database is `503 temporarily_unavailable` (the handlers add
    /// `Retry-After`): RFC 6749 defines that code for the authorization endpoint only and
    /// Cognito documents no token-endpoint error for its own failures, but it is the one
    /// registered OAuth code that says "retry later" (see docs/cognito-notes.md). Any other
    /// store failure is `500 server_error`.
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(%error, "token request failed: the database is unavailable");
            return Self {
                code: ErrorCode::Other("temporarily_unavailable".to_owned()),
                description: "the database is unavailable; retry after the delay in Retry-After"
                    .to_owned(),
                status: StatusCode::SERVICE_UNAVAILABLE,
                basic: false,
                retry_after: Some(server_kit::db::retry_after()),
            };
        }
        tracing::error!(%error, "token request failed in the store");
        Self {
            code: ErrorCode::Other("server_error".to_owned()),
            description: "internal error".to_owned(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
            basic: false,
            retry_after: None,
        }
    }
}

impl From<TooManyRequests> for Refusal {
    /// Past the client's rate limit: `429 slow_down` with `Retry-After` (see `rate_limit`).
    fn from(refusal: TooManyRequests) -> Self {
        Self {
            code: ErrorCode::Other(crate::rate_limit::SLOW_DOWN.to_owned()),
            description: crate::rate_limit::DESCRIPTION.to_owned(),
            status: StatusCode::TOO_MANY_REQUESTS,
            basic: false,
            retry_after: Some(HeaderValue::from(refusal.retry_after_seconds)),
        }
    }
}

/// `POST /oauth2/token`.
pub(crate) async fn handle(
    State(state): State<AppState>,
    origin: crate::audit::Origin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let outcome = issue(&state, &headers, body).await;
    crate::console::activity::record(&state, &headers, &outcome);
    crate::audit::token_request(&state, origin, outcome.as_ref().map(|i| &i.response));
    let mut response = match outcome {
        Ok(issued) => {
            metrics::counter!("authorization_server_tokens_issued_total").increment(1);
            let body = serde_json::to_string(&issued.response).unwrap_or_default();
            (StatusCode::OK, body).into_response()
        }
        Err(refusal) => {
            metrics::counter!(
                "authorization_server_token_requests_refused_total",
                "error" => refusal.code.as_str().to_owned(),
            )
            .increment(1);
            tracing::info!(error = %refusal.code, description = %refusal.description, "token request refused");
            let retry_after = refusal.retry_after();
            let overloaded = refusal.is_overload();
            let body =
                serde_json::to_string(&ErrorResponse::new(refusal.code, refusal.description))
                    .unwrap_or_default();
            let mut response = (refusal.status, body).into_response();
            if refusal.basic {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"oauth2/token\""),
                );
            }
            if let Some(value) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            if overloaded {
                // The caller is to come back after Retry-After: its connection is not
                // needed until then. Closing it also stops a caller that ignores
                // Retry-After from re-asking at once on the same connection, a refusal
                // storm that takes the CPU the waiting requests' signatures need.
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Some(value) = crate::ids::uuid_v4()
        .ok()
        .and_then(|id| HeaderValue::from_str(&id).ok())
    {
        headers.insert("x-amz-cognito-request-id", value);
    }
    response
}

/// Any method but POST: 405 with an OAuth error body and `Allow: POST`.
pub(crate) async fn method_not_allowed() -> Response {
    let body = serde_json::to_string(&ErrorResponse::new(
        ErrorCode::InvalidRequest,
        "the token endpoint accepts POST only",
    ))
    .unwrap_or_default();
    let mut response = (StatusCode::METHOD_NOT_ALLOWED, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The form, with each parameter at most once.
pub(crate) fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, Refusal> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| {
        Refusal::new(
            ErrorCode::InvalidRequest,
            format!("malformed form body: {e}"),
        )
    })?;
    let mut seen = HashSet::new();
    if let Some((name, _)) = pairs.iter().find(|(name, _)| !seen.insert(name.as_str())) {
        let name: String = name.chars().take(64).collect();
        return Err(Refusal::new(
            ErrorCode::InvalidRequest,
            format!("parameter {name:?} is repeated"),
        ));
    }
    Ok(pairs)
}

pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Who the client says it is: `(client_id, secret, used_basic)`.
pub(crate) fn credentials(
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<(String, String, bool), Refusal> {
    let body_id = param(pairs, "client_id");
    let body_secret = param(pairs, "client_secret");
    if headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        return Err(Refusal::new(
            ErrorCode::InvalidRequest,
            "the Authorization header is repeated: send it once",
        ));
    }
    if let Some(authorization) = headers.get(header::AUTHORIZATION) {
        let value = authorization.to_str().unwrap_or_default();
        let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(Refusal::new(
                ErrorCode::InvalidRequest,
                "unsupported Authorization scheme: use Basic (client_secret_basic) or send \
                 client_id and client_secret in the body (client_secret_post)",
            ));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                Refusal::client(
                    true,
                    "malformed Basic credentials: expected base64 of client_id:client_secret",
                )
            })?;
        let (id, secret) = decoded.split_once(':').ok_or_else(|| {
            Refusal::client(
                true,
                "malformed Basic credentials: expected base64 of client_id:client_secret",
            )
        })?;
        if body_secret.is_some() {
            return Err(Refusal::new(
                ErrorCode::InvalidRequest,
                "the client authenticated twice: send the secret either in the Authorization header or in the body, not both",
            ));
        }
        if body_id.is_some_and(|body_id| body_id != id) {
            return Err(Refusal::new(
                ErrorCode::InvalidRequest,
                "client_id in the body does not match the client id of the Authorization header",
            ));
        }
        return Ok((id.to_owned(), secret.to_owned(), true));
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok((id.to_owned(), secret.to_owned(), false)),
        (None, _) => Err(Refusal::client(
            false,
            "no client authentication: send Authorization: Basic base64(client_id:client_secret) \
             or client_id and client_secret in the body",
        )),
        (Some(_), None) => Err(Refusal::client(false, "client_secret is missing")),
    }
}

/// The whole grant, one step after another; each step refuses with its own error.
async fn issue(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Issued, Refusal> {
    let pairs = read_form(headers, body).await?;
    check_grant_type(&pairs)?;
    let metadata = client_metadata(&pairs)?;
    let grant = authenticate_client(state, headers, &pairs).await?;
    crate::rate_limit::check_client(state, &grant.context.client.client_id)?;
    check_client_may_use_grant(&grant)?;
    Ok(issue_to(state, &grant, param(&pairs, "scope"), &metadata).await?)
}

/// The steps after the client is authenticated and allowed, shared with `GetClientToken`:
/// scopes, claims, the pre token generation hook, signature. `scope` is space-separated;
/// none or empty means every scope allowed for the client.
pub(crate) async fn issue_to(
    state: &AppState,
    grant: &Grant,
    scope: Option<&str>,
    metadata: &ClientMetadata,
) -> Result<Issued, IssueError> {
    let scopes = grant_scopes(grant, scope)?;
    let lifetime = grant.context.client.settings.access_token_lifetime();
    let claims = build_claims(state, grant, scopes, lifetime)?;
    // The pool's pre token generation trigger may add, change or drop claims and scopes.
    let claims = crate::pretoken::customise(state, grant, claims, metadata)
        .await
        .map_err(IssueError::Hook)?;
    sign_and_respond(state, grant, claims, lifetime)
        .await
        .map_err(IssueError::Refused)
}

/// A signed token, with the two claims the console's activity shows of it.
pub(crate) struct Issued {
    pub(crate) response: TokenResponse,
    /// The token's `client_id` claim.
    pub(crate) client_id: String,
    /// The token's `scope` claim, as signed (after the pre token generation trigger).
    pub(crate) scope: String,
}

/// Why [`issue_to`] issued nothing: a refusal of the token endpoint's own steps, or the
/// pre token generation trigger's failure (which `GetClientToken` names by its Cognito
/// exception).
pub(crate) enum IssueError {
    Refused(Refusal),
    Hook(HookError),
}

impl From<Refusal> for IssueError {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

impl From<StoreError> for IssueError {
    fn from(error: StoreError) -> Self {
        Self::Refused(error.into())
    }
}

impl From<IssueError> for Refusal {
    fn from(error: IssueError) -> Self {
        match error {
            IssueError::Refused(refusal) => refusal,
            IssueError::Hook(hook) => Refusal::new(ErrorCode::InvalidRequest, hook.to_string()),
        }
    }
}

/// `aws_client_metadata`: a JSON object of strings, for the pre token generation trigger.
fn client_metadata(pairs: &[(String, String)]) -> Result<ClientMetadata, Refusal> {
    match param(pairs, "aws_client_metadata") {
        None => Ok(ClientMetadata::new()),
        Some(raw) => serde_json::from_str(raw).map_err(|_| {
            Refusal::new(
                ErrorCode::InvalidRequest,
                "aws_client_metadata must be a JSON object whose values are strings",
            )
        }),
    }
}

/// The form body: at most [`crate::MAX_BODY_BYTES`], `application/x-www-form-urlencoded`,
/// each parameter once.
pub(crate) async fn read_form(
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<(String, String)>, Refusal> {
    let body = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            Refusal::new(
                ErrorCode::InvalidRequest,
                format!(
                    "the request body is larger than {} bytes",
                    crate::MAX_BODY_BYTES
                ),
            )
        })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    {
        return Err(Refusal::new(
            ErrorCode::InvalidRequest,
            "the content type must be application/x-www-form-urlencoded",
        ));
    }
    parse_form(&body)
}

/// `grant_type` is `client_credentials`, the only grant this server serves.
fn check_grant_type(pairs: &[(String, String)]) -> Result<(), Refusal> {
    match param(pairs, "grant_type") {
        None => Err(Refusal::new(
            ErrorCode::InvalidRequest,
            "grant_type is missing",
        )),
        Some("client_credentials") => Ok(()),
        Some(other) => {
            let other: String = other.chars().take(64).collect();
            Err(Refusal::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant type {other:?} is not supported: this server issues client_credentials tokens only"
                ),
            ))
        }
    }
}

/// The client named by the credentials, if the secret matches one of its active secrets
/// (two during a rotation). Every active secret is compared, each in constant time, with
/// no early exit; an unknown client costs the same comparison as a wrong secret, and both
/// get the same refusal.
async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<Arc<Grant>, Refusal> {
    let (client_id, secret, basic) = credentials(headers, pairs)?;
    match authenticate(state, &client_id, &secret).await? {
        Authentication::Authenticated(grant) => Ok(grant),
        Authentication::UnknownClient | Authentication::WrongSecret => Err(Refusal::client(
            basic,
            "unknown client or wrong client secret",
        )),
    }
}

/// The outcome of checking a client id and secret. The token endpoint answers the two
/// failures alike; `GetClientToken` and `RevokeToken` name them as Cognito does.
pub(crate) enum Authentication {
    Authenticated(Arc<Grant>),
    UnknownClient,
    WrongSecret,
}

/// Checks a client's secret. An unknown client costs the same secret comparison as a
/// wrong secret.
pub(crate) async fn authenticate(
    state: &AppState,
    client_id: &str,
    secret: &str,
) -> Result<Authentication, StoreError> {
    let grant = match ClientId::parse(client_id) {
        Ok(_) => crate::grants::grant(state, client_id).await?,
        Err(_) => None,
    };
    Ok(match grant {
        Some(grant) => {
            // Every active secret is compared, with no early exit, so the time taken does
            // not tell which one matched.
            let matches = grant.context.secrets.iter().fold(false, |found, expected| {
                secret_matches(expected.expose(), secret) | found
            });
            if matches {
                Authentication::Authenticated(grant)
            } else {
                Authentication::WrongSecret
            }
        }
        None => {
            let _ = secret_matches(DUMMY_SECRET, secret);
            Authentication::UnknownClient
        }
    })
}

/// Whether `presented` is the secret `expected`, in a time that depends on neither
/// secret's content nor length: the SHA-256 digests (always 32 bytes) are compared in
/// constant time, where comparing the secrets themselves would return early on a length
/// mismatch.
fn secret_matches(expected: &str, presented: &str) -> bool {
    use aws_lc_rs::digest::{SHA256, digest};
    use subtle::ConstantTimeEq as _;
    let expected = digest(&SHA256, expected.as_bytes());
    let presented = digest(&SHA256, presented.as_bytes());
    expected.as_ref().ct_eq(presented.as_ref()).into()
}

/// The client has the `client_credentials` flow and its pool has a domain.
fn check_client_may_use_grant(grant: &Grant) -> Result<(), Refusal> {
    let context = &grant.context;
    let client = &context.client;
    if !client.settings.allows_client_credentials() {
        return Err(Refusal::new(
            ErrorCode::UnauthorizedClient,
            "the client is not allowed the client_credentials grant (AllowedOAuthFlows)",
        ));
    }
    if !context.pool_has_domain {
        return Err(Refusal::new(
            ErrorCode::UnauthorizedClient,
            format!(
                "user pool {} has no domain, so it has no token endpoint: create one with CreateUserPoolDomain",
                client.pool_id
            ),
        ));
    }
    Ok(())
}

/// The scopes of the token: those requested (all allowed ones when `scope` is absent or
/// empty), each allowed for the client, keeping only those still defined in the pool.
fn grant_scopes(grant: &Grant, scope: Option<&str>) -> Result<Scopes, Refusal> {
    let allowed: Vec<Scope> = grant
        .context
        .client
        .settings
        .allowed_oauth_scopes
        .iter()
        .flatten()
        .filter_map(|s| Scope::parse(s).ok())
        .collect();
    let requested: Option<Scopes> = match scope.map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse()
                .map_err(|e| Refusal::new(ErrorCode::InvalidScope, format!("{e}")))?,
        ),
    };
    let wanted: Vec<Scope> = match &requested {
        None => allowed,
        Some(requested) => {
            if let Some(denied) = requested.iter().find(|s| !allowed.contains(s)) {
                return Err(Refusal::new(
                    ErrorCode::InvalidScope,
                    format!("scope {denied} is not allowed for this client"),
                ));
            }
            requested.iter().cloned().collect()
        }
    };
    let granted: Scopes = wanted
        .into_iter()
        .filter(|s| grant.active_scopes.contains(s.as_str()))
        .collect();
    if granted.is_empty() {
        return Err(Refusal::new(
            ErrorCode::InvalidScope,
            "none of the scopes is active: their resource servers or scopes no longer exist",
        ));
    }
    Ok(granted)
}

/// Cognito's ten access-token claims, issued now for `lifetime`.
fn build_claims(
    state: &AppState,
    grant: &Grant,
    scope: Scopes,
    lifetime: Duration,
) -> Result<AccessTokenClaims, Refusal> {
    let client = &grant.context.client;
    let now = state.clock().unix_seconds();
    Ok(AccessTokenClaims {
        sub: client.client_id.clone(),
        token_use: TokenUse::Access,
        scope,
        auth_time: now,
        iss: format!("{}/{}", state.config().public_url, client.pool_id),
        exp: now.saturating_add(lifetime.as_secs()),
        iat: now,
        version: 2,
        jti: crate::ids::uuid_v4()?,
        client_id: ClientId::parse(&client.client_id)
            .map_err(|e| StoreError::Internal(format!("stored client id: {e}")))?,
    })
}

/// Signs the claims with the pool's newest access-token key when this request's turn comes,
/// in arrival order, or refused at once when too many requests already wait
/// ([`crate::signer`]).
async fn sign_and_respond(
    state: &AppState,
    grant: &Grant,
    claims: crate::pretoken::CustomisedClaims,
    lifetime: Duration,
) -> Result<Issued, Refusal> {
    let key = grant.signing_key.as_ref().ok_or_else(|| {
        StoreError::Internal(format!(
            "user pool {} has no signing key",
            grant.context.client.pool_id
        ))
    })?;
    let access_token = match state.signer().sign(key, &claims).await {
        Ok(token) => token,
        Err(SignError::Busy) => return Err(Refusal::overloaded()),
        Err(SignError::Failed(error)) => return Err(error.into()),
    };
    Ok(Issued {
        response: TokenResponse {
            access_token,
            expires_in: i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX),
            token_type: TokenType::Bearer,
        },
        client_id: claims.standard.client_id.as_str().to_owned(),
        scope: claims.standard.scope.to_string(),
    })
}
