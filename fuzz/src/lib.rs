//! Shared harness of the fuzz targets: an in-process authorization server provisioned
//! once, request helpers, and an `Arbitrary` JSON value that can name the ids the
//! server really has.
//!
//! Nothing here does network I/O per input: the server is driven with
//! `tower::ServiceExt::oneshot` on its `Router`, over `sqlite::memory:`.

// A fuzz harness: failing loudly on an impossible set-up error is what we want.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use authorization_server::{AppState, Config, router, store};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use oauth_proto::time::ManualClock;
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;

/// The fixed time of every harness (2023-11-14T22:13:20Z): inputs behave the same on
/// every run.
pub const NOW: u64 = 1_700_000_000;

/// The public URL the harness server is configured with (nothing listens there).
pub const PUBLIC_URL: &str = "http://127.0.0.1:9229";

/// The admin target prefix.
pub const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";

/// Every admin operation the server implements.
pub const OPERATIONS: &[&str] = authorization_server::ADMIN_OPERATIONS;

/// A single-threaded runtime with I/O and timers, used by every target.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a tokio runtime")
}

/// A client provisioned by [`Server::start`].
#[derive(Debug, Clone)]
pub struct KnownClient {
    /// Its pool.
    pub pool_id: String,
    /// Its id.
    pub client_id: String,
    /// Its secret, if it has one.
    pub secret: Option<String>,
    /// Whether a correct client-credentials request must get a token.
    pub issues_tokens: bool,
    /// The scopes a token may carry (allowed and still existing).
    pub active_scopes: Vec<String>,
}

/// An authorization server over `sqlite::memory:` with a fixed clock, provisioned with:
///
/// - pool A (with a domain and deletion protection, so inputs cannot delete it), resource server `user-schedule-service` (scopes
///   `schedule.read`, `schedule.update`, `schedule.delete`; `schedule.delete` is removed
///   again so a client still allowed it has an inactive scope) and `https://api.example.com/v1`
///   (scope `items.read`);
/// - clients in A: `cc` (client credentials, every scope above), `code` (code flow with a
///   secret), `public` (no secret, no OAuth);
/// - pool B (no domain) with a client-credentials client `nodomain`.
pub struct Server {
    /// The server state.
    pub state: AppState,
    /// `router(state)`.
    pub router: Router,
    /// Pool A.
    pub pool_id: String,
    /// Pool B (no domain).
    pub pool_without_domain: String,
    /// Pool A's domain prefix.
    pub domain: String,
    /// The clients, `cc` first.
    pub clients: Vec<KnownClient>,
    /// Every scope string of the provisioned resource servers, including the removed one.
    pub scopes: Vec<String>,
    /// Resource-server identifiers of pool A.
    pub identifiers: Vec<String>,
}

impl Server {
    /// Connects, provisions and returns the server (see the type docs).
    pub async fn start() -> Self {
        let store = store::connect("sqlite::memory:")
            .await
            .expect("open sqlite::memory:");
        let clock = Arc::new(ManualClock::at_unix(NOW));
        let state = AppState::new(Config::new(PUBLIC_URL), store, clock);
        let router = router(state.clone());
        let mut server = Self {
            state,
            router,
            pool_id: String::new(),
            pool_without_domain: String::new(),
            domain: String::new(),
            clients: Vec::new(),
            scopes: Vec::new(),
            identifiers: vec![
                "user-schedule-service".to_owned(),
                "https://api.example.com/v1".to_owned(),
            ],
        };
        server.provision().await;
        server
    }

    async fn provision(&mut self) {
        let pool = self
            .admin_ok(
                "CreateUserPool",
                json!({"PoolName": "fuzz-a", "DeletionProtection": "ACTIVE"}),
            )
            .await;
        let pool_a = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
        let pool = self
            .admin_ok("CreateUserPool", json!({"PoolName": "fuzz-b"}))
            .await;
        let pool_b = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
        self.domain = "fuzz-domain".to_owned();
        self.admin_ok(
            "CreateUserPoolDomain",
            json!({"UserPoolId": pool_a, "Domain": self.domain}),
        )
        .await;
        let rs_scopes = json!([
            {"ScopeName": "schedule.read", "ScopeDescription": "read"},
            {"ScopeName": "schedule.update", "ScopeDescription": "update"},
            {"ScopeName": "schedule.delete", "ScopeDescription": "delete"},
        ]);
        for pool in [&pool_a, &pool_b] {
            self.admin_ok(
                "CreateResourceServer",
                json!({"UserPoolId": pool, "Identifier": "user-schedule-service",
                       "Name": "schedule", "Scopes": rs_scopes}),
            )
            .await;
        }
        self.admin_ok(
            "CreateResourceServer",
            json!({"UserPoolId": pool_a, "Identifier": "https://api.example.com/v1",
                   "Name": "api", "Scopes": [{"ScopeName": "items.read", "ScopeDescription": "x"}]}),
        )
        .await;
        let all = [
            "user-schedule-service/schedule.read",
            "user-schedule-service/schedule.update",
            "user-schedule-service/schedule.delete",
            "https://api.example.com/v1/items.read",
        ];
        self.scopes = all.iter().map(|s| (*s).to_owned()).collect();

        let cc = self
            .create_client(json!({
                "UserPoolId": pool_a, "ClientName": "cc", "GenerateSecret": true,
                "AllowedOAuthFlowsUserPoolClient": true,
                "AllowedOAuthFlows": ["client_credentials"],
                "AllowedOAuthScopes": all,
                "AccessTokenValidity": 60,
                "TokenValidityUnits": {"AccessToken": "minutes"},
            }))
            .await;
        let code = self
            .create_client(json!({
                "UserPoolId": pool_a, "ClientName": "code",
                "ClientSecret": "codeclientsecret0123456789",
                "AllowedOAuthFlowsUserPoolClient": true,
                "AllowedOAuthFlows": ["code"],
                "AllowedOAuthScopes": ["user-schedule-service/schedule.read"],
                "CallbackURLs": ["https://app.example.com/cb"],
            }))
            .await;
        let public = self
            .create_client(json!({"UserPoolId": pool_a, "ClientName": "public"}))
            .await;
        let nodomain = self
            .create_client(json!({
                "UserPoolId": pool_b, "ClientName": "nodomain", "GenerateSecret": true,
                "AllowedOAuthFlowsUserPoolClient": true,
                "AllowedOAuthFlows": ["client_credentials"],
                "AllowedOAuthScopes": ["user-schedule-service/schedule.read"],
            }))
            .await;
        // Remove `schedule.delete` from pool A: `cc` keeps it allowed but inactive.
        self.admin_ok(
            "UpdateResourceServer",
            json!({"UserPoolId": pool_a, "Identifier": "user-schedule-service",
                   "Name": "schedule", "Scopes": [
                {"ScopeName": "schedule.read", "ScopeDescription": "read"},
                {"ScopeName": "schedule.update", "ScopeDescription": "update"},
            ]}),
        )
        .await;

        let client = |v: &Value, pool: &str, issues: bool, active: &[&str]| KnownClient {
            pool_id: pool.to_owned(),
            client_id: v["ClientId"].as_str().unwrap().to_owned(),
            secret: v["ClientSecret"].as_str().map(str::to_owned),
            issues_tokens: issues,
            active_scopes: active.iter().map(|s| (*s).to_owned()).collect(),
        };
        self.clients = vec![
            client(
                &cc,
                &pool_a,
                true,
                &[all[0], all[1], all[3]], // schedule.delete was removed
            ),
            client(&code, &pool_a, false, &[]),
            client(&public, &pool_a, false, &[]),
            client(&nodomain, &pool_b, false, &[]),
        ];
        self.pool_id = pool_a;
        self.pool_without_domain = pool_b;
    }

    async fn create_client(&self, body: Value) -> Value {
        self.admin_ok("CreateUserPoolClient", body).await["UserPoolClient"].clone()
    }

    /// An admin call that must succeed.
    pub async fn admin_ok(&self, operation: &str, body: Value) -> Value {
        let request = Request::post("/")
            .header("x-amz-target", format!("{TARGET_PREFIX}{operation}"))
            .header("content-type", "application/x-amz-json-1.1")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, _, body) = call(&self.router, request).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{operation}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap()
    }

    /// Strings worth substituting into fuzzed values: real ids, scopes and names.
    pub fn interesting_strings(&self) -> Vec<String> {
        let mut out = vec![
            self.pool_id.clone(),
            self.pool_without_domain.clone(),
            self.domain.clone(),
        ];
        for c in &self.clients {
            out.push(c.client_id.clone());
            if let Some(s) = &c.secret {
                out.push(s.clone());
            }
        }
        out.extend(self.scopes.iter().cloned());
        out.extend(self.identifiers.iter().cloned());
        out.extend(
            [
                "client_credentials",
                "code",
                "implicit",
                "minutes",
                "seconds",
                "hours",
                "days",
                "ACTIVE",
                "INACTIVE",
                "COGNITO",
                "openid",
                "email",
                "schedule.read",
                "ALLOW_REFRESH_TOKEN_AUTH",
                "ALLOW_USER_SRP_AUTH",
                "https://app.example.com/cb",
                "eu-west-1_AAAAAAAAA",
                "",
            ]
            .iter()
            .map(|s| (*s).to_owned()),
        );
        out
    }
}

/// Sends `request` through `router` and collects the response.
pub async fn call(router: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("collect the body").to_bytes();
    (parts.status, parts.headers, bytes)
}

/// A JSON value the fuzzer builds; [`FuzzJson::Known`] picks one of the harness's real
/// strings so inputs reach past "does not exist".
#[derive(Debug, Arbitrary)]
pub enum FuzzJson {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A small integer (most fields are ranges).
    Small(i16),
    /// Any integer.
    Int(i64),
    /// Any unsigned integer.
    UInt(u64),
    /// A float (non-finite ones become `null`).
    Float(f64),
    /// A string.
    Str(String),
    /// One of the harness's interesting strings.
    Known(u8),
    /// An array.
    Array(Vec<FuzzJson>),
    /// An object.
    Object(Vec<(FuzzKey, FuzzJson)>),
}

/// An object member name: one of a list of real names most of the time.
#[derive(Debug, Arbitrary)]
pub enum FuzzKey {
    /// Index into the caller's member names.
    Known(u8),
    /// Any name.
    Raw(String),
}

impl FuzzKey {
    /// The name, picking from `names`.
    pub fn to_key(&self, names: &[&str]) -> String {
        match self {
            Self::Known(i) if !names.is_empty() => names[*i as usize % names.len()].to_owned(),
            Self::Known(_) => String::new(),
            Self::Raw(s) => s.clone(),
        }
    }
}

impl FuzzJson {
    /// The value, with `Known` strings taken from `strings` and member names from `names`.
    pub fn to_value(&self, strings: &[String], names: &[&str]) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Small(n) => json!(n),
            Self::Int(n) => json!(n),
            Self::UInt(n) => json!(n),
            Self::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Self::Str(s) => Value::String(s.clone()),
            Self::Known(i) if !strings.is_empty() => {
                Value::String(strings[*i as usize % strings.len()].clone())
            }
            Self::Known(_) => Value::String(String::new()),
            Self::Array(items) => {
                Value::Array(items.iter().map(|v| v.to_value(strings, names)).collect())
            }
            Self::Object(members) => {
                let mut map = Map::new();
                for (k, v) in members {
                    map.insert(k.to_key(names), v.to_value(strings, names));
                }
                Value::Object(map)
            }
        }
    }
}

/// Outcome counts and time per label, printed to stderr every 500 inputs when
/// `S2S_FUZZ_STATS` is set (to see which paths a run reaches and what costs the time).
pub fn tally(label: &str, elapsed: std::time::Duration) {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    thread_local! {
        static COUNTS: RefCell<(u64, BTreeMap<String, (u64, f64)>)> =
            RefCell::new((0, BTreeMap::new()));
    }
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !*ENABLED.get_or_init(|| std::env::var_os("S2S_FUZZ_STATS").is_some()) {
        return;
    }
    COUNTS.with(|c| {
        let mut c = c.borrow_mut();
        c.0 += 1;
        let entry = c.1.entry(label.to_owned()).or_default();
        entry.0 += 1;
        entry.1 += elapsed.as_secs_f64();
        if c.0 % 500 == 0 {
            eprintln!("== stats after {} inputs", c.0);
            for (label, (n, secs)) in &c.1 {
                eprintln!("  {label:<60} {n:>8} {:>9.3}s", secs);
            }
        }
    });
}
