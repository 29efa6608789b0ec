//! The console's changes (`POST`). Each passes [`check_post`] first, then runs the admin
//! operation the API would run for it, with the same request, through
//! [`crate::admin::dispatch`]: a refusal is the API's exception and message, shown inline,
//! and nothing is changed. After a change, the browser is sent back to the page (`303`)
//! with a notice, except after a secret is created: that page, which shows the secret's
//! value once, is the answer itself.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::client_page::client_page;
use super::html::{Notice, seg};
use super::pages::sign_in_page;
use super::{Visit, check_post, see_other, session};
use crate::AppState;
use crate::admin::error::AdminError;
use crate::admin::{AdminOperation, dispatch};

/// Runs one admin operation with a JSON request, as the admin API would.
async fn run(
    state: &AppState,
    operation: AdminOperation,
    request: &Value,
) -> Result<Value, AdminError> {
    dispatch(state, operation, request.to_string().as_bytes()).await
}

fn refusal(error: &AdminError) -> Notice {
    Notice::Refused(format!("{}: {}", error.kind, error.message))
}

fn visit_of(session: session::Session) -> Visit {
    Visit {
        session,
        set_cookie: None,
    }
}

fn client_url(pool_id: &str, client_id: &str) -> String {
    format!("/console/pools/{}/clients/{}", seg(pool_id), seg(client_id))
}

/// `UpdateUserPoolClient` replaces the whole configuration (members left out return to
/// their defaults), so a change of one member sends the client's current configuration
/// (`DescribeUserPoolClient`) with that member replaced — what Cognito's console and the
/// SDK examples do.
async fn update_client(
    state: &AppState,
    pool_id: &str,
    client_id: &str,
    change: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> Result<(), AdminError> {
    let ids = json!({"UserPoolId": pool_id, "ClientId": client_id});
    let described = run(state, AdminOperation::DescribeUserPoolClient, &ids).await?;
    let mut request = match described.get("UserPoolClient") {
        Some(Value::Object(client)) => client.clone(),
        _ => return Err(AdminError::internal()),
    };
    // Read-only members of the description; the API would ignore them, but a secret has no
    // business travelling back.
    for member in ["ClientSecret", "CreationDate", "LastModifiedDate"] {
        request.remove(member);
    }
    change(&mut request);
    run(
        state,
        AdminOperation::UpdateUserPoolClient,
        &Value::Object(request),
    )
    .await?;
    Ok(())
}

/// After a refused change: the client's page as it is (unchanged), with the refusal.
async fn refused_page(
    state: &AppState,
    session: session::Session,
    pool_id: &str,
    client_id: &str,
    error: &AdminError,
) -> Response {
    let status = if error.status.is_server_error() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    client_page(
        state,
        &visit_of(session),
        pool_id,
        client_id,
        status,
        Some(refusal(error)),
        None,
    )
    .await
}

fn done(state: &AppState, session: &session::Session, location: &str, message: String) -> Response {
    state.console().sessions.set_flash(&session.id, message);
    see_other(location)
}

/// `POST .../clients/{client_id}/scopes`: the checked scopes become `AllowedOAuthScopes`.
pub(crate) async fn update_scopes(
    State(state): State<AppState>,
    Path((pool_id, client_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let (session, form) = match check_post(&state, &headers, &uri, body, true).await {
        Ok(checked) => checked,
        Err(r) => return r,
    };
    let scopes = form.all("scope");
    let result = update_client(&state, &pool_id, &client_id, |request| {
        request.insert("AllowedOAuthScopes".to_owned(), json!(scopes));
    })
    .await;
    match result {
        Ok(()) => {
            let shown = if scopes.is_empty() {
                "none".to_owned()
            } else {
                scopes.join(", ")
            };
            done(
                &state,
                &session,
                &client_url(&pool_id, &client_id),
                format!("Scopes saved: the client may now request {shown}."),
            )
        }
        Err(error) => refused_page(&state, session, &pool_id, &client_id, &error).await,
    }
}

/// `POST .../clients/{client_id}/validity`: `AccessTokenValidity` and its unit.
pub(crate) async fn update_validity(
    State(state): State<AppState>,
    Path((pool_id, client_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let (session, form) = match check_post(&state, &headers, &uri, body, true).await {
        Ok(checked) => checked,
        Err(r) => return r,
    };
    let raw = form.get("access_token_validity").unwrap_or_default().trim();
    // A number goes as a number; anything else goes as typed, for the API to refuse with
    // its own message (a `SerializationException`), as it would refuse it from the SDK.
    let value = raw.parse::<i64>().map_or_else(|_| json!(raw), |n| json!(n));
    let unit = form.get("unit").unwrap_or_default().to_owned();
    let result = update_client(&state, &pool_id, &client_id, |request| {
        request.insert("AccessTokenValidity".to_owned(), value.clone());
        let units = request
            .entry("TokenValidityUnits")
            .or_insert_with(|| json!({}));
        if !units.is_object() {
            *units = json!({});
        }
        units["AccessToken"] = json!(unit);
    })
    .await;
    match result {
        Ok(()) => done(
            &state,
            &session,
            &client_url(&pool_id, &client_id),
            format!("Access tokens are now valid for {raw} {unit}."),
        ),
        Err(error) => refused_page(&state, session, &pool_id, &client_id, &error).await,
    }
}

/// `POST .../clients/{client_id}/secrets`: `AddUserPoolClientSecret` with a generated
/// value, shown in this answer only.
pub(crate) async fn add_secret(
    State(state): State<AppState>,
    Path((pool_id, client_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let (session, _) = match check_post(&state, &headers, &uri, body, true).await {
        Ok(checked) => checked,
        Err(r) => return r,
    };
    let request = json!({"UserPoolId": pool_id, "ClientId": client_id});
    match run(&state, AdminOperation::AddUserPoolClientSecret, &request).await {
        Ok(answer) => {
            let descriptor = &answer["ClientSecretDescriptor"];
            let id = descriptor["ClientSecretId"].as_str().unwrap_or_default();
            let value = descriptor["ClientSecretValue"].as_str().unwrap_or_default();
            client_page(
                &state,
                &visit_of(session),
                &pool_id,
                &client_id,
                StatusCode::OK,
                Some(Notice::Done(format!("Secret {id} added."))),
                Some((id, value)),
            )
            .await
        }
        Err(error) => refused_page(&state, session, &pool_id, &client_id, &error).await,
    }
}

/// `POST .../clients/{client_id}/secrets/delete`: `DeleteUserPoolClientSecret`.
pub(crate) async fn delete_secret(
    State(state): State<AppState>,
    Path((pool_id, client_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let (session, form) = match check_post(&state, &headers, &uri, body, true).await {
        Ok(checked) => checked,
        Err(r) => return r,
    };
    let secret_id = form.get("secret_id").unwrap_or_default().to_owned();
    let request = json!({
        "UserPoolId": pool_id,
        "ClientId": client_id,
        "ClientSecretId": secret_id,
    });
    match run(&state, AdminOperation::DeleteUserPoolClientSecret, &request).await {
        Ok(_) => done(
            &state,
            &session,
            &client_url(&pool_id, &client_id),
            format!("Secret {secret_id} deleted: it no longer authenticates the client."),
        ),
        Err(error) => refused_page(&state, session, &pool_id, &client_id, &error).await,
    }
}

/// `POST /console/pools/{pool_id}/keys/rotate`: the rotation of `s2s keys rotate`
/// (Cognito has no API for it).
pub(crate) async fn rotate_key(
    State(state): State<AppState>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let (session, _) = match check_post(&state, &headers, &uri, body, true).await {
        Ok(checked) => checked,
        Err(r) => return r,
    };
    let location = format!("/console/pools/{}", seg(&pool_id));
    match state.rotate_signing_key(&pool_id).await {
        Ok(Some(kid)) => done(
            &state,
            &session,
            &location,
            format!(
                "Signing key rotated: {kid} signs new tokens; the older keys stay in the JWKS."
            ),
        ),
        Ok(None) => super::refused(
            StatusCode::NOT_FOUND,
            &format!("ResourceNotFoundException: User pool {pool_id} does not exist."),
        ),
        Err(error) => {
            tracing::error!(%error, "console key rotation failed");
            super::refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the key rotation failed: see the server's log",
            )
        }
    }
}

/// `POST /console/login`: the admin access key id and secret, compared in constant time.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let Some(credentials) = state.config().admin_credentials.clone() else {
        return see_other("/console");
    };
    let (session, form) = match check_post(&state, &headers, &uri, body, false).await {
        Ok(checked) => checked,
        Err(r) => return r,
    };
    let id = form.get("access_key_id").unwrap_or_default();
    let secret = form.get("secret_access_key").unwrap_or_default();
    // Both compared, without an early exit.
    let matches = session::same_secret(&credentials.access_key_id, id)
        & session::same_secret(credentials.secret_access_key.expose(), secret);
    if !matches {
        tracing::info!("console sign-in refused");
        return sign_in_page(
            &state,
            session,
            false,
            StatusCode::UNAUTHORIZED,
            Some(Notice::Refused(
                "The access key id or the secret access key is wrong.".to_owned(),
            )),
        );
    }
    let sessions = &state.console().sessions;
    sessions.remove(&session.id);
    let Some(signed_in) = sessions.create(&state, true) else {
        return super::refused(StatusCode::INTERNAL_SERVER_ERROR, "no random numbers");
    };
    let mut response = see_other("/console");
    if let Ok(value) = session::set_cookie(&state, &signed_in).parse() {
        response
            .headers_mut()
            .insert(axum::http::header::SET_COOKIE, value);
    }
    response
}

/// `POST /console/logout`: forgets the session.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let (session, _) = match check_post(&state, &headers, &uri, body, false).await {
        Ok(checked) => checked,
        Err(r) => return r,
    };
    state.console().sessions.remove(&session.id);
    let mut response = see_other("/console/login");
    if let Ok(value) = session::clear_cookie().parse() {
        response
            .headers_mut()
            .insert(axum::http::header::SET_COOKIE, value);
    }
    response
}
