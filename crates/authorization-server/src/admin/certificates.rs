//! `GetSigningCertificate`: `{"Certificate": "<base64 DER>"}`, the pool's self-signed
//! certificate (see [`crate::certificate`]): the same on every call and after restarts.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::AdminError;
use super::pools::{check_pool_id, existing};
use super::validate::{Violations, parse};
use crate::AppState;
use crate::error::StoreError;
use crate::store::KeyUse;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    user_pool_id: Option<String>,
}

pub(crate) async fn get(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) = parse(body, "GetSigningCertificate", &["UserPoolId"])?;
    let mut v = Violations::default();
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    v.finish()?;
    let pool = existing(state, &pool_id).await?;
    // The pool's first access-token key (keys come newest first): rotation leaves it be.
    let key = state
        .store()
        .signing_keys(&pool_id)
        .await?
        .into_iter()
        .rev()
        .find(|k| k.token_use == KeyUse::Access)
        .ok_or_else(|| StoreError::Internal(format!("user pool {pool_id} has no signing key")))?;
    let der = tokio::task::spawn_blocking(move || {
        crate::certificate::signing_certificate(&pool.id, pool.created_ms, &key)
    })
    .await
    .map_err(|_| StoreError::Internal("certificate task failed".to_owned()))??;
    Ok(json!({
        "Certificate": base64::engine::general_purpose::STANDARD.encode(der),
    }))
}
