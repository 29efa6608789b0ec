//! Test helpers for other crates (feature `test-util`): a server on `127.0.0.1:0` over an
//! in-memory SQLite store, and the reference stack of DESIGN.md provisioned through the
//! same admin code the API runs.

use std::sync::Arc;

use oauth_proto::time::Clock;
use oauth_proto::{ClientId, ClientSecret};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::{AppState, Config};

/// A failure of a test helper.
pub type TestError = Box<dyn std::error::Error + Send + Sync>;

/// A running server; shut down when dropped.
#[derive(Debug)]
pub struct TestServer {
    url: String,
    state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
}

/// The reference stack: pool `s2s-demo` with a domain, resource server
/// `user-schedule-service` (scopes `schedule.read`, `schedule.update`), and client
/// `articles-service` (generated secret, `client_credentials` only, granted
/// `user-schedule-service/schedule.read`, access tokens valid 60 minutes).
#[derive(Debug, Clone)]
pub struct TestStack {
    /// The user pool id.
    pub pool_id: String,
    /// The client id of `articles-service`.
    pub client_id: ClientId,
    /// Its secret.
    pub client_secret: ClientSecret,
    /// `{url}/{pool_id}`: the `iss` of the pool's tokens.
    pub issuer: String,
    /// `{url}/oauth2/token`.
    pub token_url: String,
    /// `{issuer}/.well-known/jwks.json`.
    pub jwks_url: String,
}

impl TestServer {
    /// Binds `127.0.0.1:0`, opens `sqlite::memory:` and serves until dropped.
    pub async fn spawn(clock: Arc<dyn Clock>) -> Result<Self, TestError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let store = crate::store::connect("sqlite::memory:").await?;
        let state = AppState::new(Config::new(url.clone()), store, clock);
        let (tx, rx) = oneshot::channel::<()>();
        let served = state.clone();
        tokio::spawn(async move {
            let router = crate::router(served.clone());
            let _ = crate::serve(listener, served, router, async move {
                let _ = rx.await;
            })
            .await;
        });
        Ok(Self {
            url,
            state,
            shutdown: Some(tx),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's state (store, config).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs an admin operation in-process (no signature), e.g.
    /// `admin("CreateUserPool", json!({"PoolName": "p"}))`. An exception becomes an
    /// error whose message is `"<Exception>: <message>"`.
    pub async fn admin(&self, operation: &str, body: Value) -> Result<Value, TestError> {
        let result = match crate::AdminOperation::parse(operation) {
            Some(operation) => {
                crate::admin::dispatch(&self.state, operation, body.to_string().as_bytes()).await
            }
            None => Err(crate::admin::error::AdminError::unknown_operation(format!(
                "unknown operation {operation:?}"
            ))),
        };
        result.map_err(|e| format!("{}: {}", e.kind, e.message).into())
    }

    /// Provisions the reference stack (see [`TestStack`]).
    pub async fn create_stack(&self) -> Result<TestStack, TestError> {
        let pool = self
            .admin("CreateUserPool", json!({"PoolName": "s2s-demo"}))
            .await?;
        let pool_id = pool["UserPool"]["Id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let domain = format!(
            "s2s-demo-{}",
            pool_id
                .rsplit('_')
                .next()
                .unwrap_or_default()
                .to_lowercase()
        );
        self.admin(
            "CreateUserPoolDomain",
            json!({"UserPoolId": pool_id, "Domain": domain}),
        )
        .await?;
        self.admin(
            "CreateResourceServer",
            json!({
                "UserPoolId": pool_id,
                "Identifier": "user-schedule-service",
                "Name": "user-schedule-service",
                "Scopes": [
                    {"ScopeName": "schedule.read", "ScopeDescription": "Read schedules"},
                    {"ScopeName": "schedule.update", "ScopeDescription": "Update schedules"},
                ],
            }),
        )
        .await?;
        let client = self
            .admin(
                "CreateUserPoolClient",
                json!({
                    "UserPoolId": pool_id,
                    "ClientName": "articles-service",
                    "GenerateSecret": true,
                    "AllowedOAuthFlowsUserPoolClient": true,
                    "AllowedOAuthFlows": ["client_credentials"],
                    "AllowedOAuthScopes": ["user-schedule-service/schedule.read"],
                    "SupportedIdentityProviders": ["COGNITO"],
                    "AccessTokenValidity": 60,
                    "TokenValidityUnits": {"AccessToken": "minutes"},
                }),
            )
            .await?;
        let client = &client["UserPoolClient"];
        let issuer = format!("{}/{pool_id}", self.url);
        Ok(TestStack {
            client_id: ClientId::parse(client["ClientId"].as_str().unwrap_or_default())?,
            client_secret: ClientSecret::new(client["ClientSecret"].as_str().unwrap_or_default()),
            token_url: format!("{}/oauth2/token", self.url),
            jwks_url: format!("{issuer}/.well-known/jwks.json"),
            issuer,
            pool_id,
        })
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
