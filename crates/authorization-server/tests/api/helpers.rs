//! Spawning servers, SDK clients, raw admin calls and independent token verification.

use std::sync::Arc;

use authorization_server::{AdminCredentials, AppState, Config, router, serve, store};
use aws_sdk_cognitoidentityprovider as cognito;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth_proto::time::{Clock, SystemClock};
use oauth_proto::{ClientSecret, Jwks};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub(crate) const ACCESS_KEY_ID: &str = "AKIDS2STEST";
pub(crate) const SECRET_ACCESS_KEY: &str = "s2s-test-secret-access-key";

/// A running server; shut down when dropped.
pub(crate) struct TestApp {
    pub(crate) url: String,
    /// The configured public URL (issuer base); `url` unless overridden.
    pub(crate) public_url: String,
    pub(crate) state: AppState,
    pub(crate) http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub(crate) struct Options {
    pub(crate) database_url: String,
    pub(crate) credentials: bool,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) public_url: Option<String>,
    pub(crate) metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub(crate) refuse_replays: bool,
    /// Function ARN → local URL (`Config::lambda_endpoints`).
    pub(crate) lambdas: Vec<(String, String)>,
    /// `Config::lambda_timeout`, when not the default.
    pub(crate) lambda_timeout: Option<std::time::Duration>,
    pub(crate) client_rate_limit: Option<authorization_server::RateLimit>,
    pub(crate) address_rate_limit: Option<authorization_server::RateLimit>,
    pub(crate) audit: Option<authorization_server::audit::AuditLog>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            database_url: "sqlite::memory:".to_owned(),
            credentials: false,
            clock: Arc::new(SystemClock),
            public_url: None,
            metrics: None,
            refuse_replays: false,
            lambdas: Vec::new(),
            lambda_timeout: None,
            client_rate_limit: None,
            address_rate_limit: None,
            audit: None,
        }
    }
}

impl TestApp {
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub(crate) async fn spawn_with(options: Options) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let public_url = options.public_url.clone().unwrap_or_else(|| url.clone());
        let mut config = Config::new(public_url.clone());
        if options.credentials {
            config.admin_credentials = Some(AdminCredentials {
                access_key_id: ACCESS_KEY_ID.to_owned(),
                secret_access_key: ClientSecret::new(SECRET_ACCESS_KEY),
            });
        }
        config.metrics = options.metrics.clone();
        config.refuse_replayed_signatures = options.refuse_replays;
        config.lambda_endpoints = options.lambdas.iter().cloned().collect();
        if let Some(timeout) = options.lambda_timeout {
            config.lambda_timeout = timeout;
        }
        config.client_rate_limit = options.client_rate_limit;
        config.address_rate_limit = options.address_rate_limit;
        config.audit = options.audit.clone();
        config
            .check_listen_addr(listener.local_addr().unwrap())
            .unwrap();
        let store = store::connect(&options.database_url).await.unwrap();
        let state = AppState::new(config, store, options.clock);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            listener,
            state.clone(),
            router(state.clone()),
            async move {
                let _ = rx.await;
            },
        ));
        let task = tokio::spawn(async move {
            task.await.unwrap().unwrap();
        });
        Self {
            url,
            public_url,
            state,
            http: reqwest::Client::new(),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server and waits until it has released the store.
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    /// An SDK client with the test credentials (or the given secret).
    pub(crate) fn sdk(&self) -> cognito::Client {
        self.sdk_with(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    }

    pub(crate) fn sdk_with(&self, access_key_id: &str, secret: &str) -> cognito::Client {
        let config = cognito::Config::builder()
            .behavior_version(cognito::config::BehaviorVersion::latest())
            .region(cognito::config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                access_key_id,
                secret,
                None,
                None,
                "tests",
            ))
            .endpoint_url(&self.url)
            .build();
        cognito::Client::from_conf(config)
    }

    /// A raw admin call with an unsigned request: `(status, headers, body)`.
    pub(crate) async fn admin_raw(
        &self,
        target: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = self
            .http
            .post(format!("{}/", self.url))
            .header(
                "x-amz-target",
                format!("AWSCognitoIdentityProviderService.{target}"),
            )
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    /// An admin call with a JSON body; panics on an exception.
    pub(crate) async fn admin(&self, target: &str, body: Value) -> Value {
        let (status, _, response) = self
            .admin_raw(target, "application/x-amz-json-1.1", body.to_string())
            .await;
        assert_eq!(status, 200, "{target} failed: {response}");
        response
    }

    /// An admin call expected to fail: `(__type, message)`.
    pub(crate) async fn admin_error(&self, target: &str, body: Value) -> (String, String) {
        let (status, headers, response) = self
            .admin_raw(target, "application/x-amz-json-1.1", body.to_string())
            .await;
        assert_eq!(status, 400, "{target} should fail: {response}");
        let kind = response["__type"].as_str().unwrap().to_owned();
        assert_eq!(headers["x-amzn-errortype"].to_str().unwrap(), kind);
        assert!(headers.contains_key("x-amzn-requestid"));
        (kind, response["message"].as_str().unwrap().to_owned())
    }

    /// POSTs a form to the token endpoint, optionally with Basic credentials.
    pub(crate) async fn token_request(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/oauth2/token", self.url))
            .form(form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        request.send().await.unwrap()
    }

    pub(crate) async fn jwks(&self, pool_id: &str) -> Jwks {
        let response = self
            .http
            .get(format!("{}/{pool_id}/.well-known/jwks.json", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The reference stack, created over raw JSON (the SDK path has its own test).
pub(crate) struct Stack {
    pub(crate) pool_id: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
}

pub(crate) const READ: &str = "user-schedule-service/schedule.read";
pub(crate) const UPDATE: &str = "user-schedule-service/schedule.update";

pub(crate) async fn create_stack(app: &TestApp, allowed_scopes: &[&str]) -> Stack {
    let pool = app
        .admin("CreateUserPool", json!({"PoolName": "s2s-demo"}))
        .await;
    let pool_id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
    let domain = format!("s2s-{}", pool_id.rsplit('_').next().unwrap().to_lowercase());
    app.admin(
        "CreateUserPoolDomain",
        json!({"UserPoolId": pool_id, "Domain": domain}),
    )
    .await;
    app.admin(
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
    .await;
    let client = app
        .admin(
            "CreateUserPoolClient",
            json!({
                "UserPoolId": pool_id,
                "ClientName": "articles-service",
                "GenerateSecret": true,
                "AllowedOAuthFlowsUserPoolClient": true,
                "AllowedOAuthFlows": ["client_credentials"],
                "AllowedOAuthScopes": allowed_scopes,
                "AccessTokenValidity": 60,
                "TokenValidityUnits": {"AccessToken": "minutes"},
            }),
        )
        .await;
    Stack {
        pool_id,
        client_id: client["UserPoolClient"]["ClientId"]
            .as_str()
            .unwrap()
            .to_owned(),
        client_secret: client["UserPoolClient"]["ClientSecret"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

/// Verifies a token with `jsonwebtoken` against the JWKS fetched over HTTP and checks
/// the header and every claim; returns the claims.
pub(crate) async fn verify_token(
    app: &TestApp,
    pool_id: &str,
    token: &str,
    client_id: &str,
    scopes: &[&str],
    lifetime: u64,
) -> Value {
    let jwks = app.jwks(pool_id).await;
    let header_json: Value = {
        use base64::Engine as _;
        let raw = token.split('.').next().unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(raw)
                .unwrap(),
        )
        .unwrap()
    };
    let header_keys: Vec<&String> = header_json.as_object().unwrap().keys().collect();
    assert_eq!(
        header_keys.len(),
        2,
        "header must be exactly kid and alg: {header_json}"
    );
    assert_eq!(header_json["alg"], "RS256");
    let kid = header_json["kid"].as_str().unwrap();
    let jwk = jwks.find(kid).expect("the token's kid is published");
    assert_eq!(jwk.kty, "RSA");
    assert_eq!(jwk.alg.as_deref(), Some("RS256"));
    assert_eq!(jwk.use_.as_deref(), Some("sig"));
    let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e).unwrap();
    let issuer = format!("{}/{pool_id}", app.public_url);
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&issuer]);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("token verifies")
        .claims;
    let object = claims.as_object().unwrap();
    assert_eq!(object.len(), 10, "exactly ten claims: {claims}");
    assert_eq!(claims["sub"], client_id);
    assert_eq!(claims["client_id"], client_id);
    assert_eq!(claims["token_use"], "access");
    assert_eq!(claims["scope"], scopes.join(" "));
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["version"], 2);
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(claims["auth_time"].as_u64().unwrap(), iat);
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + lifetime);
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(jti.len(), 36);
    assert_eq!(jti.as_bytes()[14], b'4', "jti is a UUID v4: {jti}");
    // Cognito's claim order.
    let order: Vec<&str> = {
        use base64::Engine as _;
        let raw = token.split('.').nth(1).unwrap();
        let text = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(raw)
                .unwrap(),
        )
        .unwrap();
        let names = [
            "sub",
            "token_use",
            "scope",
            "auth_time",
            "iss",
            "exp",
            "iat",
            "version",
            "jti",
            "client_id",
        ];
        let mut positions: Vec<(usize, &str)> = names
            .iter()
            .map(|n| (text.find(&format!("\"{n}\":")).unwrap(), *n))
            .collect();
        positions.sort();
        positions.into_iter().map(|(_, n)| n).collect()
    };
    assert_eq!(
        order,
        [
            "sub",
            "token_use",
            "scope",
            "auth_time",
            "iss",
            "exp",
            "iat",
            "version",
            "jti",
            "client_id"
        ]
    );
    claims
}

/// A fresh, uniquely named PostgreSQL database on the `TEST_DATABASE_URL` server, or `None`
/// when the variable is not set.
pub(crate) async fn fresh_postgres_database(prefix: &str) -> Option<String> {
    use sqlx::Connection as _;
    use std::hash::{BuildHasher, Hasher};
    let server_url = std::env::var("TEST_DATABASE_URL").ok()?;
    let name = format!(
        "{prefix}_{:016x}",
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    );
    let mut admin = sqlx::PgConnection::connect(&server_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (scheme, rest) = server_url.split_once("://").unwrap();
    let (authority, query) = match rest.split_once('?') {
        Some((before, query)) => (before, format!("?{query}")),
        None => (rest, String::new()),
    };
    let host = authority.split('/').next().unwrap();
    Some(format!("{scheme}://{host}/{name}{query}"))
}
