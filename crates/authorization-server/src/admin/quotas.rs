//! Cognito's per-pool resource quotas (developer guide "Quotas in Amazon Cognito",
//! resource quotas), so that scripts meet the same walls as in AWS: app clients per user
//! pool 1,000; resource servers per user pool 25 (`resource_servers.rs`); custom scopes
//! per resource server 100 (the model's limit on `Scopes`). Beyond them:
//! `LimitExceededException`.

use super::error::AdminError;
use crate::AppState;

/// App clients per user pool.
pub(crate) const APP_CLIENTS_PER_POOL: u32 = 1_000;

/// Refuses a new app client when the pool already has the maximum.
pub(crate) async fn check_app_clients(state: &AppState, pool_id: &str) -> Result<(), AdminError> {
    let count = state
        .store()
        .list_clients(pool_id, None, APP_CLIENTS_PER_POOL)
        .await?
        .len();
    if count >= APP_CLIENTS_PER_POOL as usize {
        return Err(AdminError::limit_exceeded(format!(
            "User pool {pool_id} already has the maximum number of app clients ({APP_CLIENTS_PER_POOL})."
        )));
    }
    Ok(())
}
