//! Shared test helpers: a PostgreSQL database per test, and `TestApp`, the service in
//! memory with typed helpers per endpoint.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use jwt_verifier::Verifier;
use jwt_verifier::test_util::TestIssuer;
use oauth_proto::time::ManualClock;
use serde_json::Value;
use sqlx::Connection;
use tower::ServiceExt;
use user_schedule_service::store::{self, ScheduleStore};
use user_schedule_service::{AppState, Config};

pub fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    bytes
}

/// A uniquely named database on the server `TEST_DATABASE_URL` names.
pub struct PgDatabase {
    server: String,
    name: String,
    url: String,
}

impl PgDatabase {
    /// `None` (with a note) when `TEST_DATABASE_URL` is unset.
    pub async fn create() -> Option<Self> {
        let Ok(server) = std::env::var("TEST_DATABASE_URL") else {
            eprintln!("TEST_DATABASE_URL unset: skipping the PostgreSQL half of this test");
            return None;
        };
        let hex: String = random_bytes()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let name = format!("user_schedule_service_test_{hex}");
        let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let mut url = url_with_database(&server, &name);
        if url.is_empty() {
            url = server.clone();
        }
        Some(Self { server, name, url })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn drop_database(self) {
        let mut conn = sqlx::PgConnection::connect(&self.server).await.unwrap();
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
}

/// `postgres://user@host:port/db?x` with the database replaced by `name`.
fn url_with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A response, its body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn etag(&self) -> String {
        self.header("etag").expect("an ETag header").to_owned()
    }

    /// Asserts a problem document with this status and returns it.
    pub fn problem(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(self.body["status"], status.as_u16());
        assert!(self.body["title"].is_string());
        assert!(self.body["type"].is_string());
        assert!(self.body["detail"].is_string());
        &self.body
    }

    /// The `field` names of a validation problem.
    pub fn problem_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The service in memory, on an in-memory SQLite store and a manual clock, with a local
/// token issuer whose tokens its verifier trusts.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub store: Arc<dyn ScheduleStore>,
    pub clock: ManualClock,
    pub issuer: Arc<TestIssuer>,
    /// The `Authorization` header sent by the typed helpers (default: a token holding
    /// both scopes).
    pub authorization: Option<String>,
}

/// 2026-01-01T00:00:00Z.
pub const START: u64 = 1_767_225_600;

/// The client every test token is issued to.
pub const CLIENT_ID: &str = "articlesservice";
pub const READ: &str = "user-schedule-service/schedule.read";
pub const UPDATE: &str = "user-schedule-service/schedule.update";

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Config::default()).await
    }

    pub async fn spawn_with(config: Config) -> Self {
        let store = store::connect("sqlite::memory:").await.unwrap();
        Self::spawn_with_store(config, store).await
    }

    /// The service over `store` (e.g. a PostgreSQL database).
    pub async fn spawn_with_store(config: Config, store: Arc<dyn ScheduleStore>) -> Self {
        let issuer = Arc::new(TestIssuer::start().await);
        let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(START));
        let state = AppState::new(
            config,
            store.clone(),
            verifier_for(&issuer).await,
            Arc::new(clock.clone()),
        );
        let authorization = Some(format!(
            "Bearer {}",
            issuer.access_token(CLIENT_ID, [READ, UPDATE])
        ));
        Self {
            router: user_schedule_service::router(state.clone()),
            state,
            store,
            clock,
            issuer,
            authorization,
        }
    }

    /// The client id events are created by.
    pub fn expected_client_id(&self) -> &'static str {
        CLIENT_ID
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers,
            body,
            text,
        }
    }

    /// A request with the app's `Authorization` header and a JSON body if given.
    pub fn request(&self, method: Method, uri: &str, body: Option<&Value>) -> Request<Body> {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(auth) = &self.authorization {
            builder = builder.header(header::AUTHORIZATION, auth);
        }
        match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        }
    }

    pub async fn list_schedule(&self, user: &str, query: &str) -> TestResponse {
        let uri = if query.is_empty() {
            format!("/users/{user}/schedule")
        } else {
            format!("/users/{user}/schedule?{query}")
        };
        self.send(self.request(Method::GET, &uri, None)).await
    }

    pub async fn create_event(&self, user: &str, body: &Value) -> TestResponse {
        let uri = format!("/users/{user}/schedule/events");
        self.send(self.request(Method::POST, &uri, Some(body)))
            .await
    }

    pub async fn get_event(&self, user: &str, id: &str) -> TestResponse {
        let uri = format!("/users/{user}/schedule/events/{id}");
        self.send(self.request(Method::GET, &uri, None)).await
    }

    pub async fn replace_event(
        &self,
        user: &str,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> TestResponse {
        let uri = format!("/users/{user}/schedule/events/{id}");
        let mut request = self.request(Method::PUT, &uri, Some(body));
        if let Some(tag) = if_match {
            request
                .headers_mut()
                .insert(header::IF_MATCH, HeaderValue::from_str(tag).unwrap());
        }
        self.send(request).await
    }

    pub async fn delete_event(&self, user: &str, id: &str, if_match: Option<&str>) -> TestResponse {
        let uri = format!("/users/{user}/schedule/events/{id}");
        let mut request = self.request(Method::DELETE, &uri, None);
        if let Some(tag) = if_match {
            request
                .headers_mut()
                .insert(header::IF_MATCH, HeaderValue::from_str(tag).unwrap());
        }
        self.send(request).await
    }

    pub async fn get(&self, uri: &str) -> TestResponse {
        self.send(self.request(Method::GET, uri, None)).await
    }
}

/// A verifier that trusts `issuer` and only the client [`CLIENT_ID`], keys loaded.
pub async fn verifier_for(issuer: &TestIssuer) -> Verifier {
    let verifier = Verifier::builder()
        .issuer(issuer.issuer())
        .client_id(CLIENT_ID)
        .build()
        .unwrap();
    verifier.hydrate().await.unwrap();
    verifier
}

/// A valid event body starting `hour` hours after START.
pub fn event_body(title: &str, hour: u32) -> Value {
    serde_json::json!({
        "title": title,
        "starts_at": format!("2026-01-01T{hour:02}:00:00Z"),
        "ends_at": format!("2026-01-01T{hour:02}:30:00Z"),
    })
}

#[test]
fn database_url_rewriting() {
    assert_eq!(
        url_with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        url_with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(url_with_database("postgres://h:1", "x"), "postgres://h:1/x");
}
