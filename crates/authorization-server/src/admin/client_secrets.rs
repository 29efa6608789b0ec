//! AddUserPoolClientSecret, ListUserPoolClientSecrets, DeleteUserPoolClientSecret: an app
//! client holds up to [`MAX_ACTIVE_SECRETS`] secrets so that one can be replaced without a
//! failed call (add the new one, move every caller to it, delete the old one). The Cognito
//! behaviour they follow, with sources, is in `docs/cognito-notes.md`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::clients::existing_client;
use super::error::AdminError;
use super::pools::check_pool_id;
use super::validate::{Pattern, Violations, parse, timestamp};
use crate::AppState;
use crate::store::{AddSecretOutcome, ClientSecretRecord, DeleteSecretOutcome};

/// Active secrets per app client, as in Cognito ("up to 2 active secrets per app client").
pub(crate) const MAX_ACTIVE_SECRETS: usize = 2;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SecretRequest {
    user_pool_id: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_id: Option<String>,
    next_token: Option<String>,
}

fn check_ids(v: &mut Violations, request: &SecretRequest) -> (String, String) {
    let pool_id = check_pool_id(v, &request.user_pool_id);
    let client_id = v
        .required(&request.client_id, "ClientId")
        .map(|id| {
            v.string(id, "ClientId", 1, 128, Pattern::WordPlus);
            id.clone()
        })
        .unwrap_or_default();
    (pool_id, client_id)
}

/// `ClientSecretDescriptorType`; the value only when the server generated it.
fn descriptor(secret: &ClientSecretRecord, show_value: bool) -> Value {
    let mut out = json!({
        "ClientSecretId": secret.secret_id,
        "ClientSecretCreateDate": timestamp(secret.created_ms),
    });
    if show_value {
        out["ClientSecretValue"] = json!(secret.secret.expose());
    }
    out
}

fn no_secret(client_id: &str) -> AdminError {
    AdminError::invalid_parameter(format!(
        "User pool client {client_id} does not have a client secret: secrets can only be \
         added to a confidential client (created with GenerateSecret or ClientSecret)."
    ))
}

pub(crate) async fn add(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (SecretRequest, _) = parse(
        body,
        "AddUserPoolClientSecret",
        &["UserPoolId", "ClientId", "ClientSecret"],
    )?;
    let mut v = Violations::default();
    let (pool_id, client_id) = check_ids(&mut v, &request);
    v.opt_string(
        &request.client_secret,
        "ClientSecret",
        24,
        64,
        Pattern::WordPlus,
    );
    v.finish()?;
    existing_client(state, &pool_id, &client_id).await?;
    let generated = request.client_secret.is_none();
    let value = match &request.client_secret {
        Some(value) => value.clone(),
        None => crate::ids::client_secret()?,
    };
    // Ids are `<client-id>--<creation time>`; a secret created in the same millisecond as
    // the newest one (or under a clock that went back) takes the next millisecond, so ids
    // stay unique and creation order stays the order of the ids.
    let newest = state
        .store()
        .client_secrets(&pool_id, &client_id)
        .await?
        .iter()
        .map(|s| s.created_ms)
        .max();
    let created_ms = newest.map_or(state.now_ms(), |ms| state.now_ms().max(ms + 1));
    let secret = ClientSecretRecord {
        secret_id: format!("{client_id}--{created_ms}"),
        client_id: client_id.clone(),
        secret: oauth_proto::ClientSecret::new(value),
        created_ms,
    };
    match state
        .store()
        .add_client_secret(&pool_id, &secret, MAX_ACTIVE_SECRETS)
        .await?
    {
        AddSecretOutcome::Added => Ok(json!({
            "ClientSecretDescriptor": descriptor(&secret, generated),
        })),
        AddSecretOutcome::NoClient => Err(AdminError::client_not_found(&client_id)),
        AddSecretOutcome::PublicClient => Err(no_secret(&client_id)),
        AddSecretOutcome::LimitReached => Err(AdminError::limit_exceeded(format!(
            "User pool client {client_id} already has {MAX_ACTIVE_SECRETS} client secrets, the \
             maximum: delete one with DeleteUserPoolClientSecret before adding another."
        ))),
        // Only a concurrent add for the same client in the same millisecond gets here.
        AddSecretOutcome::DuplicateId => Err(AdminError::limit_exceeded(format!(
            "another client secret of {client_id} was added at the same time: list the \
             secrets and try again"
        ))),
    }
}

pub(crate) async fn list(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (SecretRequest, _) = parse(
        body,
        "ListUserPoolClientSecrets",
        &["UserPoolId", "ClientId", "NextToken"],
    )?;
    let mut v = Violations::default();
    let (pool_id, client_id) = check_ids(&mut v, &request);
    v.opt_string(&request.next_token, "NextToken", 1, 131_072, Pattern::Text);
    v.finish()?;
    existing_client(state, &pool_id, &client_id).await?;
    // At most two secrets: everything fits in one page, and Cognito returns no NextToken.
    let secrets: Vec<Value> = state
        .store()
        .client_secrets(&pool_id, &client_id)
        .await?
        .iter()
        .map(|s| descriptor(s, false))
        .collect();
    Ok(json!({ "ClientSecrets": secrets }))
}

pub(crate) async fn delete(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (SecretRequest, _) = parse(
        body,
        "DeleteUserPoolClientSecret",
        &["UserPoolId", "ClientId", "ClientSecretId"],
    )?;
    let mut v = Violations::default();
    let (pool_id, client_id) = check_ids(&mut v, &request);
    let secret_id = v
        .required(&request.client_secret_id, "ClientSecretId")
        .map(|id| {
            v.string(id, "ClientSecretId", 1, 128, Pattern::Text);
            id.clone()
        })
        .unwrap_or_default();
    v.finish()?;
    let client = existing_client(state, &pool_id, &client_id).await?;
    if client.secret.is_none() {
        return Err(no_secret(&client_id));
    }
    match state
        .store()
        .delete_client_secret(&pool_id, &client_id, &secret_id)
        .await?
    {
        DeleteSecretOutcome::Deleted => Ok(json!({})),
        DeleteSecretOutcome::NotFound => Err(AdminError::not_found(format!(
            "Client secret {secret_id} does not exist for user pool client {client_id}."
        ))),
        DeleteSecretOutcome::LastSecret => Err(AdminError::invalid_parameter(format!(
            "Client secret {secret_id} is the last secret of user pool client {client_id} and \
             cannot be deleted: add a new secret first."
        ))),
    }
}
