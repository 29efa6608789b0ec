//! The three servers on 127.0.0.1:0 with real stores, and the stack provisioned through the
//! AWS SDK, exactly as `s2s up` wires them (minus the process concerns).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{
    OAuthFlowType, ResourceServerScopeType, TimeUnitsType, TokenValidityUnitsType,
};
use oauth_proto::time::Clock;
use oauth_proto::{ClientId, ClientSecret};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) const POOL: &str = "s2s-demo";
pub(crate) const DOMAIN: &str = "s2s-demo-local";
pub(crate) const RESOURCE_SERVER: &str = "user-schedule-service";
pub(crate) const CLIENT: &str = "articles-service";
pub(crate) const READ: &str = "user-schedule-service/schedule.read";
pub(crate) const UPDATE: &str = "user-schedule-service/schedule.update";

/// A server running in this process; [`Running::stop`] shuts it down gracefully.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    pub(crate) url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn spawn<S, F>(listener: TcpListener, serve: S) -> Self
    where
        S: FnOnce(TcpListener, oneshot::Receiver<()>) -> F,
        F: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, stopped));
        Self {
            addr,
            url: format!("http://{addr}"),
            stop,
            task,
        }
    }

    /// Graceful shutdown; panics if the server failed.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

async fn shutdown(stopped: oneshot::Receiver<()>) {
    let _ = stopped.await;
}

/// The authorization server on `addr` (port 0 for any), with its SQLite file in `data`.
pub(crate) async fn authorization_server(
    data: &Path,
    addr: SocketAddr,
    clock: Arc<dyn Clock>,
) -> Running {
    let listener = TcpListener::bind(addr).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let config = authorization_server::Config::new(url);
    let db = format!("sqlite://{}/authorization-server.db", data.display());
    let store = authorization_server::store::connect(&db).await.unwrap();
    let state = authorization_server::AppState::new(config, store, clock);
    Running::spawn(listener, move |listener, stopped| {
        authorization_server::serve(
            listener,
            state.clone(),
            authorization_server::router(state),
            shutdown(stopped),
        )
    })
    .await
}

/// A Cognito SDK client for the local server. The server has no admin credentials, so
/// any signature is accepted; these are placeholders.
pub(crate) fn sdk(endpoint: &str) -> cognito::Client {
    use cognito::config::{BehaviorVersion, Credentials, Region};
    let config = cognito::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("e2e", "e2e", None, None, "e2e"))
        .build();
    cognito::Client::from_conf(config)
}

/// What provisioning produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Provisioned {
    pub(crate) pool_id: String,
    pub(crate) client_id: String,
    pub(crate) secret: String,
}

/// The reference stack, found or created: pool, domain, resource server, app client with
/// `schedule.read` only. The minimal SDK calls of `s2s provision`.
pub(crate) async fn provision(sdk: &cognito::Client) -> Provisioned {
    let pools = sdk.list_user_pools().max_results(60).send().await.unwrap();
    let pool_id = match pools.user_pools().iter().find(|p| p.name() == Some(POOL)) {
        Some(pool) => pool.id().unwrap().to_owned(),
        None => sdk
            .create_user_pool()
            .pool_name(POOL)
            .send()
            .await
            .unwrap()
            .user_pool()
            .unwrap()
            .id()
            .unwrap()
            .to_owned(),
    };

    let domain = sdk
        .describe_user_pool_domain()
        .domain(DOMAIN)
        .send()
        .await
        .unwrap();
    let owner = domain.domain_description().and_then(|d| d.user_pool_id());
    match owner {
        Some(owner) if !owner.is_empty() => assert_eq!(owner, pool_id),
        _ => {
            sdk.create_user_pool_domain()
                .user_pool_id(&pool_id)
                .domain(DOMAIN)
                .send()
                .await
                .unwrap();
        }
    }

    let servers = sdk
        .list_resource_servers()
        .user_pool_id(&pool_id)
        .max_results(50)
        .send()
        .await
        .unwrap();
    if !servers
        .resource_servers()
        .iter()
        .any(|rs| rs.identifier() == Some(RESOURCE_SERVER))
    {
        let scope = |name: &str, description: &str| {
            ResourceServerScopeType::builder()
                .scope_name(name)
                .scope_description(description)
                .build()
                .unwrap()
        };
        sdk.create_resource_server()
            .user_pool_id(&pool_id)
            .identifier(RESOURCE_SERVER)
            .name(RESOURCE_SERVER)
            .scopes(scope("schedule.read", "Read users' schedules"))
            .scopes(scope("schedule.update", "Change users' schedules"))
            .send()
            .await
            .unwrap();
    }

    let clients = sdk
        .list_user_pool_clients()
        .user_pool_id(&pool_id)
        .max_results(60)
        .send()
        .await
        .unwrap();
    let client = match clients
        .user_pool_clients()
        .iter()
        .find(|c| c.client_name() == Some(CLIENT))
    {
        Some(found) => sdk
            .describe_user_pool_client()
            .user_pool_id(&pool_id)
            .client_id(found.client_id().unwrap())
            .send()
            .await
            .unwrap()
            .user_pool_client()
            .cloned()
            .unwrap(),
        None => sdk
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name(CLIENT)
            .generate_secret(true)
            .allowed_o_auth_flows_user_pool_client(true)
            .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
            .allowed_o_auth_scopes(READ)
            .supported_identity_providers("COGNITO")
            .access_token_validity(60)
            .token_validity_units(
                TokenValidityUnitsType::builder()
                    .access_token(TimeUnitsType::Minutes)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .user_pool_client()
            .cloned()
            .unwrap(),
    };
    Provisioned {
        pool_id,
        client_id: client.client_id().unwrap().to_owned(),
        secret: client.client_secret().unwrap().to_owned(),
    }
}

/// `UpdateUserPoolClient` with the whole configuration (it resets omitted fields) and
/// both scopes.
pub(crate) async fn grant_update(sdk: &cognito::Client, p: &Provisioned) {
    let updated = sdk
        .update_user_pool_client()
        .user_pool_id(&p.pool_id)
        .client_id(&p.client_id)
        .client_name(CLIENT)
        .allowed_o_auth_flows_user_pool_client(true)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .allowed_o_auth_scopes(READ)
        .allowed_o_auth_scopes(UPDATE)
        .supported_identity_providers("COGNITO")
        .access_token_validity(60)
        .token_validity_units(
            TokenValidityUnitsType::builder()
                .access_token(TimeUnitsType::Minutes)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let client = updated.user_pool_client().unwrap();
    assert_eq!(client.client_id(), Some(p.client_id.as_str()));
    assert_eq!(client.allowed_o_auth_scopes().len(), 2);
}

/// A verifier of the pool's access tokens for this client.
pub(crate) fn verifier(
    issuer: &str,
    client_id: &str,
    clock: Arc<dyn Clock>,
) -> jwt_verifier::Verifier {
    jwt_verifier::Verifier::builder()
        .issuer(issuer)
        .client_ids([client_id.to_owned()])
        .clock(clock)
        .build()
        .unwrap()
}

/// user-schedule-service trusting `issuer` and `client_id`, over a SQLite file in `data`.
pub(crate) async fn user_schedule_service(
    data: &Path,
    issuer: &str,
    client_id: &str,
    clock: Arc<dyn Clock>,
) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let verifier = verifier(issuer, client_id, clock.clone());
    verifier.hydrate().await.unwrap();
    let db = format!("sqlite://{}/user-schedule-service.db", data.display());
    let store = user_schedule_service::store::connect(&db).await.unwrap();
    let config = user_schedule_service::Config::default();
    let state = user_schedule_service::AppState::new(config, store, verifier, clock);
    let router = user_schedule_service::router(state);
    Running::spawn(listener, move |listener, stopped| {
        user_schedule_service::serve(listener, router, shutdown(stopped))
    })
    .await
}

/// A token provider for the provisioned client (every allowed scope).
pub(crate) fn token_provider(
    token_url: &str,
    p: &Provisioned,
    clock: Arc<dyn Clock>,
) -> token_provider::TokenProvider {
    token_provider::TokenProvider::builder()
        .token_url(token_url)
        .client_id(ClientId::parse(&p.client_id).unwrap())
        .client_secret(ClientSecret::new(p.secret.clone()))
        .clock(clock)
        .build()
        .unwrap()
}

/// articles-service calling `schedules_url` with the provisioned client's tokens.
pub(crate) async fn articles_service(
    data: &Path,
    token_url: &str,
    p: &Provisioned,
    schedules_url: &str,
    clock: Arc<dyn Clock>,
) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tokens = token_provider(token_url, p, clock.clone());
    let db = format!("sqlite://{}/articles-service.db", data.display());
    let store = articles_service::store::connect(&db).await.unwrap();
    let config = articles_service::Config::new(schedules_url);
    let state = articles_service::AppState::new(config, store, tokens, clock).unwrap();
    let router = articles_service::router(state.clone());
    Running::spawn(listener, move |listener, stopped| {
        articles_service::serve(listener, state, router, shutdown(stopped))
    })
    .await
}
