//! The real stack in this process over loopback HTTP: authorization-server (provisioned
//! with the AWS SDK as `s2s provision` does), user-schedule-service verifying its tokens,
//! and articles-service calling it with a `TokenProvider`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{
    OAuthFlowType, ResourceServerScopeType, TimeUnitsType, TokenValidityUnitsType,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use oauth_proto::time::{Clock, SystemClock};
use oauth_proto::{ClientId, ClientSecret};
use reqwest::StatusCode;
use serde_json::{Value, json};
use token_provider::TokenProvider;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) const POOL: &str = "s2s-demo";
pub(crate) const DOMAIN: &str = "s2s-demo";
pub(crate) const RESOURCE_SERVER: &str = "user-schedule-service";
pub(crate) const CLIENT: &str = "articles-service";
/// A second client, with both scopes, that plays the author's calendar app: it seeds and
/// reads events directly in user-schedule-service.
pub(crate) const CALENDAR: &str = "calendar-app";
pub(crate) const READ: &str = "user-schedule-service/schedule.read";
pub(crate) const UPDATE: &str = "user-schedule-service/schedule.update";

/// The Prometheus recorder of this test binary (one per process).
pub(crate) fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().unwrap())
        .clone()
}

/// Logs go to the test output only when `TEST_LOG` is set.
fn init_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
    });
}

/// A server running in this process; [`Running::stop`] shuts it down gracefully.
pub(crate) struct Running {
    pub(crate) url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    fn spawn<F>(
        listener: TcpListener,
        serve: impl FnOnce(TcpListener, oneshot::Receiver<()>) -> F,
    ) -> Self
    where
        F: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, stopped));
        Self {
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

/// An app client as provisioned.
#[derive(Debug, Clone)]
pub(crate) struct AppClient {
    pub(crate) client_id: String,
    pub(crate) secret: String,
}

/// The three services, provisioned.
pub(crate) struct Stack {
    /// The authorization server (kept so it keeps running).
    _auth: Running,
    /// user-schedule-service (`None` once stopped).
    schedules: Option<Running>,
    pub(crate) schedules_url: String,
    pub(crate) articles: Running,
    pub(crate) sdk: cognito::Client,
    pub(crate) pool_id: String,
    pub(crate) token_url: String,
    pub(crate) client: AppClient,
    /// The provider articles-service uses (a clone: same cache, same counters).
    pub(crate) tokens: TokenProvider,
    /// The calendar app's provider (both scopes), for seeding and checking events.
    pub(crate) calendar: TokenProvider,
    pub(crate) http: reqwest::Client,
}

impl Stack {
    /// The whole stack with articles-service's default configuration.
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// The whole stack; `tweak` adjusts articles-service's configuration.
    pub(crate) async fn spawn_with(tweak: impl FnOnce(&mut articles_service::Config)) -> Self {
        init_logs();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);

        // The authorization server, provisioned through the AWS SDK.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let auth_url = format!("http://{}", listener.local_addr().unwrap());
        let store = authorization_server::store::connect("sqlite::memory:")
            .await
            .unwrap();
        let state = authorization_server::AppState::new(
            authorization_server::Config::new(auth_url.clone()),
            store,
            clock.clone(),
        );
        let auth = Running::spawn(listener, move |l, s| {
            authorization_server::serve(
                l,
                state.clone(),
                authorization_server::router(state),
                shutdown(s),
            )
        });
        let sdk = sdk(&auth.url);
        let (pool_id, client, calendar_client) = provision(&sdk).await;
        let token_url = format!("{}/oauth2/token", auth.url);
        let issuer = format!("{}/{pool_id}", auth.url);

        // user-schedule-service, trusting this pool's tokens for the two clients.
        let verifier = jwt_verifier::Verifier::builder()
            .issuer(issuer)
            .client_ids([client.client_id.clone(), calendar_client.client_id.clone()])
            .clock(clock.clone())
            .build()
            .unwrap();
        verifier.hydrate().await.unwrap();
        let store = user_schedule_service::store::connect("sqlite::memory:")
            .await
            .unwrap();
        let state = user_schedule_service::AppState::new(
            user_schedule_service::Config::default(),
            store,
            verifier,
            clock.clone(),
        );
        let router = user_schedule_service::router(state);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let schedules = Running::spawn(listener, move |l, s| {
            user_schedule_service::serve(l, router, shutdown(s))
        });

        // articles-service.
        let tokens = provider(&token_url, &client, None);
        let mut config = articles_service::Config::new(schedules.url.clone());
        config.metrics = Some(metrics_handle());
        tweak(&mut config);
        let articles = articles_service(config, tokens.clone()).await;

        Self {
            _auth: auth,
            schedules_url: schedules.url.clone(),
            schedules: Some(schedules),
            articles,
            sdk,
            pool_id,
            token_url: token_url.clone(),
            client,
            tokens,
            calendar: provider(&token_url, &calendar_client, None),
            http: reqwest::Client::new(),
        }
    }

    // === articles-service ===

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call(
            &self.http,
            method,
            &format!("{}{path}", self.articles.url),
            body,
        )
        .await
    }

    pub(crate) async fn create_article(&self, body: Value) -> Value {
        let (status, article) = self
            .call(reqwest::Method::POST, "/articles", Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{article:#}");
        article
    }

    pub(crate) async fn get_article(&self, id: &str) -> Value {
        let (status, article) = self
            .call(reqwest::Method::GET, &format!("/articles/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{article:#}");
        article
    }

    pub(crate) async fn author_schedule(&self, id: &str) -> (StatusCode, Value) {
        self.call(
            reqwest::Method::GET,
            &format!("/articles/{id}/author-schedule"),
            None,
        )
        .await
    }

    pub(crate) async fn publish(&self, id: &str) -> (StatusCode, Value) {
        self.call(
            reqwest::Method::POST,
            &format!("/articles/{id}/publication"),
            None,
        )
        .await
    }

    pub(crate) async fn metrics(&self) -> String {
        let response = self
            .http
            .get(format!("{}/metrics", self.articles.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    }

    // === user-schedule-service, as the calendar app ===

    /// Every event of `user`, read directly from user-schedule-service.
    pub(crate) async fn events_of(&self, user: &str) -> Vec<Value> {
        let token = self.calendar.token().await.unwrap();
        let response = self
            .http
            .get(format!(
                "{}/users/{user}/schedule?limit=200",
                self.schedules_url
            ))
            .bearer_auth(token.secret())
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::NOT_FOUND => Vec::new(),
            StatusCode::OK => {
                let page: Value = response.json().await.unwrap();
                assert!(page["next_cursor"].is_null());
                page["events"].as_array().unwrap().clone()
            }
            other => panic!("listing {user}'s events: {other}"),
        }
    }

    /// Books an event for `user` directly in user-schedule-service.
    pub(crate) async fn add_event(
        &self,
        user: &str,
        title: &str,
        starts_at: &str,
        ends_at: &str,
    ) -> Value {
        let token = self.calendar.token().await.unwrap();
        let response = self
            .http
            .post(format!(
                "{}/users/{user}/schedule/events",
                self.schedules_url
            ))
            .bearer_auth(token.secret())
            .json(&json!({"title": title, "starts_at": starts_at, "ends_at": ends_at}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// Stops user-schedule-service: its port refuses connections from now on.
    pub(crate) async fn stop_schedules(&mut self) {
        if let Some(schedules) = self.schedules.take() {
            schedules.stop().await;
        }
    }

    // === the operator ===

    /// `UpdateUserPoolClient` granting articles-service both scopes (the call replaces the
    /// whole configuration, so every field is restated).
    pub(crate) async fn grant_update(&self) {
        let updated = self
            .sdk
            .update_user_pool_client()
            .user_pool_id(&self.pool_id)
            .client_id(&self.client.client_id)
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
        let scopes = updated.user_pool_client().unwrap().allowed_o_auth_scopes();
        assert_eq!(scopes.len(), 2, "{scopes:?}");
    }
}

/// articles-service on 127.0.0.1:0 over an in-memory store.
pub(crate) async fn articles_service(
    config: articles_service::Config,
    tokens: TokenProvider,
) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    articles_service_at(listener, "sqlite::memory:", config, tokens).await
}

/// articles-service on 127.0.0.1:0 over the database at `database_url`.
pub(crate) async fn articles_service_over(
    database_url: &str,
    config: articles_service::Config,
    tokens: TokenProvider,
) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    articles_service_at(listener, database_url, config, tokens).await
}

/// articles-service on `listener` over an in-memory store.
pub(crate) async fn articles_service_on(
    listener: TcpListener,
    config: articles_service::Config,
    tokens: TokenProvider,
) -> Running {
    articles_service_at(listener, "sqlite::memory:", config, tokens).await
}

async fn articles_service_at(
    listener: TcpListener,
    database_url: &str,
    config: articles_service::Config,
    tokens: TokenProvider,
) -> Running {
    let store = articles_service::store::connect(database_url)
        .await
        .unwrap();
    let state =
        articles_service::AppState::new(config, store, tokens, Arc::new(SystemClock)).unwrap();
    let router = articles_service::router(state.clone());
    Running::spawn(listener, move |l, s| {
        articles_service::serve(l, state, router, shutdown(s))
    })
}

/// A token provider for `client`; `scopes` `None` asks for every scope the client is
/// allowed (Cognito's behaviour when the request names none).
pub(crate) fn provider(token_url: &str, client: &AppClient, scopes: Option<&str>) -> TokenProvider {
    let mut builder = TokenProvider::builder()
        .token_url(token_url)
        .client_id(ClientId::parse(&client.client_id).unwrap())
        .client_secret(ClientSecret::new(client.secret.clone()))
        .auth(token_provider::ClientAuth::Basic)
        .clock(Arc::new(SystemClock));
    if let Some(scopes) = scopes {
        builder = builder.scopes(scopes.parse().unwrap());
    }
    builder.build().unwrap()
}

pub(crate) async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    if !status.is_success() {
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{body:#}"
        );
    }
    (status, body)
}

/// A Cognito SDK client for the local server (which takes any signature when it has no
/// admin credentials: these are placeholders).
pub(crate) fn sdk(endpoint: &str) -> cognito::Client {
    use cognito::config::{BehaviorVersion, Credentials, Region};
    let config = cognito::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .build();
    cognito::Client::from_conf(config)
}

/// The reference stack: pool `s2s-demo` with a domain, resource server
/// `user-schedule-service` with `schedule.read` and `schedule.update`, client
/// `articles-service` (generated secret, client_credentials, `schedule.read` only, 60-minute
/// tokens), and the calendar app with both scopes.
async fn provision(sdk: &cognito::Client) -> (String, AppClient, AppClient) {
    let pool = sdk.create_user_pool().pool_name(POOL).send().await.unwrap();
    let pool_id = pool.user_pool().unwrap().id().unwrap().to_owned();
    sdk.create_user_pool_domain()
        .user_pool_id(&pool_id)
        .domain(DOMAIN)
        .send()
        .await
        .unwrap();
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
    let create = |name: &'static str, scopes: &'static [&'static str]| {
        let mut request = sdk
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name(name)
            .generate_secret(true)
            .allowed_o_auth_flows_user_pool_client(true)
            .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
            .supported_identity_providers("COGNITO")
            .access_token_validity(60)
            .token_validity_units(
                TokenValidityUnitsType::builder()
                    .access_token(TimeUnitsType::Minutes)
                    .build(),
            );
        for scope in scopes {
            request = request.allowed_o_auth_scopes(*scope);
        }
        async move {
            let created = request.send().await.unwrap();
            let client = created.user_pool_client().unwrap();
            AppClient {
                client_id: client.client_id().unwrap().to_owned(),
                secret: client.client_secret().unwrap().to_owned(),
            }
        }
    };
    let articles = create(CLIENT, &[READ]).await;
    let calendar = create(CALENDAR, &[READ, UPDATE]).await;
    (pool_id, articles, calendar)
}

/// A port on which something listens but never answers.
pub(crate) async fn black_hole() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// Upstream calls may take this long in the timeout tests.
pub(crate) const SHORT_TIMEOUT: Duration = Duration::from_millis(500);
