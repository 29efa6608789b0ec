//! Router tests: `router(state).oneshot(request)` in memory, on every store backend, with a
//! fake user-schedule-service on a loopback port for the upstream routes. (The tests
//! against the real user-schedule-service and authorization-server live in `tests/api`.)

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt as _;
use oauth_proto::time::ManualClock;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::store::ArticleStore;
use crate::store::conformance::TestDb;
use crate::tokens::Tokens;
use crate::{AppState, Config, router};

// === Harness ===

#[derive(Debug, Default)]
struct FakeTokens {
    broken: AtomicBool,
    hanging: AtomicBool,
    requests: AtomicU64,
}

#[async_trait]
impl Tokens for FakeTokens {
    async fn check(&self) -> Result<(), String> {
        if self.hanging.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.broken.load(Ordering::SeqCst) {
            Err("token endpoint unreachable".to_owned())
        } else {
            Ok(())
        }
    }
    fn requests_made(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

/// 2026-04-01T00:00:00Z.
const START: u64 = 1_775_001_600;

struct App {
    router: Router,
    store: Arc<dyn ArticleStore>,
    clock: ManualClock,
    tokens: Arc<FakeTokens>,
    db: TestDb,
}

impl App {
    async fn new(db: TestDb, schedules_url: &str) -> Self {
        Self::with_config(db, Config::new(schedules_url)).await
    }

    async fn with_config(db: TestDb, config: Config) -> Self {
        let clock = ManualClock::at_unix(START);
        let tokens = Arc::new(FakeTokens::default());
        let http =
            reqwest_middleware::ClientBuilder::new(crate::http_client(&config).unwrap()).build();
        let state = AppState::from_parts(
            config,
            db.store.clone(),
            http,
            tokens.clone(),
            Arc::new(clock.clone()),
        )
        .unwrap();
        Self {
            router: router(state),
            store: db.store.clone(),
            clock,
            tokens,
            db,
        }
    }

    async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        let body = match body {
            Some(v) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(&v).unwrap())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn post_article(&self, body: Value) -> Reply {
        self.call(Method::POST, "/articles", Some(body)).await
    }

    async fn create(&self, body: Value) -> String {
        let reply = self.post_article(body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// Every article, through the store (not the API under test).
    async fn all(&self) -> Vec<crate::domain::Article> {
        self.store
            .list(&crate::domain::PageRequest {
                limit: 100,
                after: None,
                status: None,
            })
            .await
            .unwrap()
            .articles
    }
}

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn assert_problem(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "{:#}", self.body);
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/problem+json",
            "{:#}",
            self.body
        );
        assert_eq!(self.body["status"], status.as_u16());
        assert!(self.body["type"].as_str().unwrap().starts_with("urn:"));
        assert!(self.body["title"].is_string());
        assert!(self.body["detail"].is_string());
        &self.body
    }

    fn fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        fields.sort();
        fields
    }
}

fn valid() -> Value {
    json!({
        "title": "Spring launch",
        "body": "We launch in spring.",
        "author_id": "alice",
        "publish_at": "2026-05-01T09:00:00Z",
    })
}

/// Runs each test on SQLite and, when `TEST_DATABASE_URL` is set, on PostgreSQL.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::TestDb::sqlite().await).await;
                }
            )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = super::TestDb::postgres().await else { return };
                    super::$name(db).await;
                }
            )*
        }
    };
}

on_every_backend!(
    crud_round_trip,
    invalid_writes_change_nothing,
    malformed_requests_are_400,
    list_paginates_and_filters,
    list_parameters_are_checked,
    author_schedule_reads_the_window_around_publish_at,
    author_schedule_without_publish_at_looks_ahead,
    publication_books_once,
    concurrent_publications_book_once,
    publication_needs_publish_at,
    refusals_are_502_and_change_nothing,
    upstream_down_is_503_and_changes_nothing,
    upstream_hanging_is_504_and_changes_nothing,
    lost_answer_is_not_booked_twice,
);

// === CRUD ===

async fn crud_round_trip(db: TestDb) {
    let app = App::new(db, "http://127.0.0.1:9").await;
    let created = app.post_article(valid()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:#}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.headers[header::LOCATION], format!("/articles/{id}"));
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    assert_eq!(created.body["title"], "Spring launch");
    assert_eq!(created.body["body"], "We launch in spring.");
    assert_eq!(created.body["author_id"], "alice");
    assert_eq!(created.body["publish_at"], "2026-05-01T09:00:00Z");
    assert_eq!(created.body["status"], "draft");
    assert_eq!(created.body["created_at"], "2026-04-01T00:00:00Z");
    assert_eq!(created.body["updated_at"], "2026-04-01T00:00:00Z");
    assert!(created.body.get("schedule_event_id").is_none());

    let read = app
        .call(Method::GET, &format!("/articles/{id}"), None)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, created.body);

    app.clock.advance(Duration::from_secs(60));
    let mut changed = read.body.clone();
    changed["title"] = json!("Summer launch");
    changed["status"] = json!("published");
    changed.as_object_mut().unwrap().remove("publish_at");
    let replaced = app
        .call(Method::PUT, &format!("/articles/{id}"), Some(changed))
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{:#}", replaced.body);
    assert_eq!(replaced.body["title"], "Summer launch");
    assert_eq!(replaced.body["status"], "published");
    assert!(replaced.body.get("publish_at").is_none());
    assert_eq!(replaced.body["created_at"], "2026-04-01T00:00:00Z");
    assert_eq!(replaced.body["updated_at"], "2026-04-01T00:01:00Z");
    let read = app
        .call(Method::GET, &format!("/articles/{id}"), None)
        .await;
    assert_eq!(read.body, replaced.body);

    let deleted = app
        .call(Method::DELETE, &format!("/articles/{id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.call(Method::GET, &format!("/articles/{id}"), None)
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    app.call(Method::DELETE, &format!("/articles/{id}"), None)
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    app.call(Method::PUT, &format!("/articles/{id}"), Some(valid()))
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    assert!(app.all().await.is_empty());
    app.db.finish().await;
}

async fn invalid_writes_change_nothing(db: TestDb) {
    let app = App::new(db, "http://127.0.0.1:9").await;
    let id = app.create(valid()).await;
    let before = app.all().await;

    // Every bad field is named at once.
    let reply = app
        .post_article(json!({
            "title": "",
            "body": "x",
            "author_id": "alice smith",
            "publish_at": "tomorrow",
            "status": "live",
        }))
        .await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.fields(),
        ["author_id", "publish_at", "status", "title"]
    );

    let cases = [
        (json!({"body": "x", "author_id": "a"}), vec!["title"]),
        (
            json!({"title": "x".repeat(201), "body": "x", "author_id": "a"}),
            vec!["title"],
        ),
        (
            json!({"title": 5, "body": "x", "author_id": "a"}),
            vec!["title"],
        ),
        (
            json!({"title": "t", "body": null, "author_id": "a"}),
            vec!["body"],
        ),
        (
            json!({"title": "t", "body": "x", "author_id": "a".repeat(65)}),
            vec!["author_id"],
        ),
        (
            json!({"title": "t", "body": "x", "author_id": ".."}),
            vec!["author_id"],
        ),
        (
            json!({"title": "t", "body": "x", "author_id": "a", "publsh_at": "2026-01-01T00:00:00Z"}),
            vec!["publsh_at"],
        ),
        (
            json!({"title": "t", "body": "x", "author_id": "a", "publish_at": 1_700_000_000}),
            vec!["publish_at"],
        ),
    ];
    for (body, fields) in cases {
        let reply = app.post_article(body.clone()).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.fields(), fields, "{body}");
        let reply = app
            .call(Method::PUT, &format!("/articles/{id}"), Some(body.clone()))
            .await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.fields(), fields, "{body}");
    }
    assert_eq!(app.all().await, before);

    // Read-only fields sent back are ignored, not refused.
    let mut echoed = valid();
    echoed["id"] = json!("00000000-0000-4000-8000-000000000000");
    echoed["created_at"] = json!("1999-01-01T00:00:00Z");
    echoed["schedule_event_id"] = json!("forged");
    let reply = app.post_article(echoed).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_ne!(reply.body["id"], "00000000-0000-4000-8000-000000000000");
    assert_eq!(reply.body["created_at"], "2026-04-01T00:00:00Z");
    assert!(reply.body.get("schedule_event_id").is_none());
    app.db.finish().await;
}

async fn malformed_requests_are_400(db: TestDb) {
    let app = App::new(db, "http://127.0.0.1:9").await;
    let id = app.create(valid()).await;
    let before = app.all().await;

    let raw = |method: Method, uri: String, content_type: Option<&str>, body: &str| {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            request = request.header(header::CONTENT_TYPE, ct);
        }
        request.body(Body::from(body.to_owned())).unwrap()
    };
    for (method, uri) in [
        (Method::POST, "/articles".to_owned()),
        (Method::PUT, format!("/articles/{id}")),
    ] {
        app.send(raw(
            method.clone(),
            uri.clone(),
            Some("application/json"),
            "{\"title\":",
        ))
        .await
        .assert_problem(StatusCode::BAD_REQUEST);
        app.send(raw(
            method.clone(),
            uri.clone(),
            Some("application/json"),
            "[1,2]",
        ))
        .await
        .assert_problem(StatusCode::BAD_REQUEST);
        app.send(raw(method.clone(), uri.clone(), Some("text/plain"), "{}"))
            .await
            .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let huge = format!("{{\"title\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
        app.send(raw(
            method.clone(),
            uri.clone(),
            Some("application/json"),
            &huge,
        ))
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE);
    }
    assert_eq!(app.all().await, before);

    app.call(Method::GET, "/articles/not-a-uuid", None)
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    app.call(Method::GET, "/nowhere", None)
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    app.call(Method::PATCH, &format!("/articles/{id}"), Some(valid()))
        .await
        .assert_problem(StatusCode::METHOD_NOT_ALLOWED);
    app.db.finish().await;
}

// === Pagination ===

async fn list_paginates_and_filters(db: TestDb) {
    let app = App::new(db, "http://127.0.0.1:9").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut body = valid();
        body["title"] = json!(format!("Article {i}"));
        if i % 2 == 0 {
            body["status"] = json!("published");
        }
        ids.push(app.create(body).await);
        app.clock.advance(Duration::from_secs(1));
    }

    let mut seen = Vec::new();
    let mut uri = "/articles?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let reply = app.call(Method::GET, &uri, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{:#}", reply.body);
        pages += 1;
        let articles = reply.body["articles"].as_array().unwrap();
        assert!(articles.len() <= 2);
        seen.extend(
            articles
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned()),
        );
        match reply.body["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/articles?limit=2&cursor={cursor}"),
            None => {
                assert!(reply.body["next_cursor"].is_null());
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);

    let default = app.call(Method::GET, "/articles", None).await;
    assert_eq!(default.body["articles"].as_array().unwrap().len(), 5);
    assert!(default.body["next_cursor"].is_null());

    let published = app
        .call(Method::GET, "/articles?status=published&limit=100", None)
        .await;
    let titles: Vec<&str> = published.body["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Article 0", "Article 2", "Article 4"]);
    app.db.finish().await;
}

async fn list_parameters_are_checked(db: TestDb) {
    let app = App::new(db, "http://127.0.0.1:9").await;
    for (uri, status, field) in [
        (
            "/articles?limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
        ),
        (
            "/articles?limit=101",
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
        ),
        ("/articles?limit=ten", StatusCode::BAD_REQUEST, "limit"),
        ("/articles?cursor=bm9wZQ", StatusCode::BAD_REQUEST, "cursor"),
        (
            "/articles?status=live",
            StatusCode::UNPROCESSABLE_ENTITY,
            "status",
        ),
        ("/articles?sort=title", StatusCode::BAD_REQUEST, "sort"),
        (
            "/articles?limit=1&limit=2",
            StatusCode::BAD_REQUEST,
            "limit",
        ),
    ] {
        let reply = app.call(Method::GET, uri, None).await;
        reply.assert_problem(status);
        assert_eq!(reply.fields(), [field], "{uri}");
    }
    app.db.finish().await;
}

// === Operations ===

#[tokio::test]
async fn ops_endpoints() {
    let mut config = Config::new("http://127.0.0.1:9");
    config.upstream_timeout = Duration::from_millis(200);
    let app = App::with_config(TestDb::sqlite().await, config).await;
    let health = app.call(Method::GET, "/healthz", None).await;
    assert_eq!(
        (health.status, health.body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );

    let ready = app.call(Method::GET, "/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    app.tokens.broken.store(true, Ordering::SeqCst);
    let not_ready = app.call(Method::GET, "/readyz", None).await;
    not_ready.assert_problem(StatusCode::SERVICE_UNAVAILABLE);
    assert!(not_ready.body["detail"].as_str().unwrap().contains("token"));

    app.tokens.broken.store(false, Ordering::SeqCst);
    app.tokens.hanging.store(true, Ordering::SeqCst);
    let not_ready = app.call(Method::GET, "/readyz", None).await;
    not_ready.assert_problem(StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        not_ready.body["detail"]
            .as_str()
            .unwrap()
            .contains("within")
    );

    app.tokens.requests.store(3, Ordering::SeqCst);
    let metrics = app.call(Method::GET, "/metrics", None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics
            .body
            .as_str()
            .unwrap()
            .contains("\narticles_service_token_requests_total 3\n"),
        "{}",
        metrics.body
    );

    let openapi = app.call(Method::GET, "/openapi.json", None).await;
    assert_eq!(openapi.status, StatusCode::OK);
    let paths = openapi.body["paths"].as_object().unwrap();
    for path in [
        "/articles",
        "/articles/{id}",
        "/articles/{id}/author-schedule",
        "/articles/{id}/publication",
        "/readyz",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(openapi.body["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn request_ids_are_set_and_propagated() {
    let app = App::new(TestDb::sqlite().await, "http://127.0.0.1:9").await;
    let reply = app.call(Method::GET, "/healthz", None).await;
    let generated = reply.headers["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");

    let request = Request::builder()
        .uri("/articles/unknown")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.headers["x-request-id"], "abc-123");
}

#[test]
fn bad_schedules_url_is_refused() {
    for url in ["", "not a url", "ftp://host/", "unix:/tmp/sock"] {
        assert!(crate::schedules_url(url).is_err(), "{url}");
    }
    assert!(crate::schedules_url("http://127.0.0.1:8082").is_ok());
}

// === A fake user-schedule-service ===

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    Refuse403,
    Refuse401,
    Fail500,
    Hang,
    /// Stores the event, then never answers (a lost answer).
    CreateThenHang,
}

#[derive(Debug)]
struct Upstream {
    mode: Mutex<Mode>,
    /// Events by user id.
    events: Mutex<Vec<(String, Value)>>,
    /// The query strings of the list calls.
    queries: Mutex<Vec<std::collections::HashMap<String, String>>>,
    creates: AtomicUsize,
    /// How long a create takes, so concurrent bookings overlap.
    create_delay: Duration,
}

struct FakeUpstream {
    url: String,
    state: Arc<Upstream>,
}

impl FakeUpstream {
    async fn spawn() -> Self {
        let state = Arc::new(Upstream {
            mode: Mutex::new(Mode::Normal),
            events: Mutex::new(Vec::new()),
            queries: Mutex::new(Vec::new()),
            creates: AtomicUsize::new(0),
            create_delay: Duration::from_millis(50),
        });
        let app = Router::new()
            .route("/users/{user}/schedule", get(list))
            .route("/users/{user}/schedule/events", post(create))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    fn set(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    fn event_count(&self) -> usize {
        self.state.events.lock().unwrap().len()
    }
}

async fn refusal(mode: Mode) -> Option<axum::response::Response> {
    match mode {
        Mode::Normal => None,
        Mode::Refuse403 => Some(
            (
                StatusCode::FORBIDDEN,
                [(
                    header::WWW_AUTHENTICATE,
                    r#"Bearer error="insufficient_scope", scope="user-schedule-service/schedule.update""#,
                )],
            )
                .into_response(),
        ),
        Mode::Refuse401 => Some(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#)],
            )
                .into_response(),
        ),
        Mode::Fail500 => Some(
            (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"detail": "disk full"}))).into_response(),
        ),
        Mode::Hang => std::future::pending().await,
        Mode::CreateThenHang => None,
    }
}

async fn list(
    State(state): State<Arc<Upstream>>,
    Path(user): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    let mode = *state.mode.lock().unwrap();
    if let Some(refused) = refusal(mode).await {
        return refused;
    }
    state.queries.lock().unwrap().push(query);
    let events: Vec<Value> = state
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|(u, _)| *u == user)
        .map(|(_, e)| e.clone())
        .collect();
    if events.is_empty() {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"title": "unknown user"})),
        )
            .into_response();
    }
    // Two pages, to exercise the cursor.
    let cursor = state
        .queries
        .lock()
        .unwrap()
        .last()
        .and_then(|q| q.get("cursor").cloned());
    let (page, next) = match cursor {
        None if events.len() > 1 => (events[..1].to_vec(), json!("page-2")),
        None => (events, Value::Null),
        Some(_) => (events[1..].to_vec(), Value::Null),
    };
    Json(json!({"events": page, "next_cursor": next})).into_response()
}

async fn create(
    State(state): State<Arc<Upstream>>,
    Path(user): Path<String>,
    Json(body): Json<Value>,
) -> axum::response::Response {
    let mode = *state.mode.lock().unwrap();
    if let Some(refused) = refusal(mode).await {
        return refused;
    }
    // Not synchronisation: widens the window in which concurrent bookings overlap, so the
    // store's claim (not luck) is what keeps them to one event.
    tokio::time::sleep(state.create_delay).await;
    let n = state.creates.fetch_add(1, Ordering::SeqCst);
    let event = json!({
        "id": format!("ev-{n}"),
        "title": body["title"],
        "starts_at": body["starts_at"],
        "ends_at": body["ends_at"],
        "created_by": "articles-client",
        "created_at": "2026-04-01T00:00:00Z",
        "updated_at": "2026-04-01T00:00:00Z",
    });
    state.events.lock().unwrap().push((user, event.clone()));
    if mode == Mode::CreateThenHang {
        std::future::pending::<()>().await;
    }
    (StatusCode::CREATED, Json(event)).into_response()
}

// === Upstream routes ===

async fn author_schedule_reads_the_window_around_publish_at(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    let app = App::new(db, &upstream.url).await;
    let id = app.create(valid()).await;

    // No events yet: user-schedule-service does not know alice (404) → an empty list.
    let reply = app
        .call(
            Method::GET,
            &format!("/articles/{id}/author-schedule"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:#}", reply.body);
    assert_eq!(
        reply.body,
        json!({
            "author_id": "alice",
            "from": "2026-04-24T09:00:00Z",
            "to": "2026-05-08T09:00:00Z",
            "events": [],
        })
    );
    let query = upstream.state.queries.lock().unwrap()[0].clone();
    assert_eq!(query["from"], "2026-04-24T09:00:00Z");
    assert_eq!(query["to"], "2026-05-08T09:00:00Z");

    // Two events over two upstream pages come back in order.
    for title in ["Dentist", "Offsite"] {
        upstream.state.events.lock().unwrap().push((
            "alice".to_owned(),
            json!({"id": title, "title": title, "starts_at": "2026-05-02T10:00:00Z",
                   "ends_at": "2026-05-02T11:00:00Z", "notes": "n", "created_by": "alice",
                   "created_at": "2026-04-01T00:00:00Z", "updated_at": "2026-04-01T00:00:00Z"}),
        ));
    }
    upstream.state.events.lock().unwrap().push((
        "bob".to_owned(),
        json!({"id": "x", "title": "Not alice's", "starts_at": "2026-05-02T10:00:00Z",
               "ends_at": "2026-05-02T11:00:00Z", "created_by": "bob",
               "created_at": "2026-04-01T00:00:00Z", "updated_at": "2026-04-01T00:00:00Z"}),
    ));
    let reply = app
        .call(
            Method::GET,
            &format!("/articles/{id}/author-schedule"),
            None,
        )
        .await;
    let titles: Vec<&str> = reply.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Dentist", "Offsite"]);
    assert_eq!(reply.body["events"][0]["notes"], "n");

    app.call(
        Method::GET,
        &format!("/articles/{}/author-schedule", uuid::Uuid::new_v4()),
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND);
    app.db.finish().await;
}

async fn author_schedule_without_publish_at_looks_ahead(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    let app = App::new(db, &upstream.url).await;
    let mut body = valid();
    body.as_object_mut().unwrap().remove("publish_at");
    let id = app.create(body).await;
    app.clock.advance(Duration::from_secs(3600));
    let reply = app
        .call(
            Method::GET,
            &format!("/articles/{id}/author-schedule"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:#}", reply.body);
    assert_eq!(reply.body["from"], "2026-04-01T01:00:00Z");
    assert_eq!(reply.body["to"], "2026-04-15T01:00:00Z");
    app.db.finish().await;
}

async fn publication_books_once(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    let app = App::new(db, &upstream.url).await;
    let id = app.create(valid()).await;
    app.clock.advance(Duration::from_secs(5));

    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:#}", reply.body);
    assert_eq!(reply.body["status"], "scheduled");
    assert_eq!(reply.body["schedule_event_id"], "ev-0");
    assert_eq!(reply.body["updated_at"], "2026-04-01T00:00:05Z");
    let (user, event) = upstream.state.events.lock().unwrap()[0].clone();
    assert_eq!(user, "alice");
    assert_eq!(event["title"], "Publish: Spring launch");
    assert_eq!(event["starts_at"], "2026-05-01T09:00:00Z");
    assert_eq!(event["ends_at"], "2026-05-01T09:30:00Z");

    let again = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, reply.body);
    assert_eq!(upstream.event_count(), 1);
    let stored = app
        .call(Method::GET, &format!("/articles/{id}"), None)
        .await;
    assert_eq!(stored.body, reply.body);

    app.call(
        Method::POST,
        &format!("/articles/{}/publication", uuid::Uuid::new_v4()),
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND);
    app.db.finish().await;
}

async fn concurrent_publications_book_once(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    let app = Arc::new(App::new(db, &upstream.url).await);
    let id = app.create(valid()).await;
    let calls = (0..8).map(|_| {
        let app = app.clone();
        let uri = format!("/articles/{id}/publication");
        tokio::spawn(async move { app.call(Method::POST, &uri, None).await })
    });
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap().status);
    }
    assert_eq!(upstream.event_count(), 1, "{statuses:?}");
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    // The others either saw it booked (200) or in progress (409).
    assert!(
        statuses
            .iter()
            .all(|s| [StatusCode::CREATED, StatusCode::OK, StatusCode::CONFLICT].contains(s)),
        "{statuses:?}"
    );
    let stored = app
        .call(Method::GET, &format!("/articles/{id}"), None)
        .await;
    assert_eq!(stored.body["schedule_event_id"], "ev-0");
    let app = Arc::try_unwrap(app).ok().unwrap();
    app.db.finish().await;
}

async fn publication_needs_publish_at(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    let app = App::new(db, &upstream.url).await;
    let mut body = valid();
    body["publish_at"] = Value::Null;
    let id = app.create(body).await;
    let before = app.all().await;
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.fields(), ["publish_at"]);
    assert_eq!(upstream.event_count(), 0);
    assert_eq!(app.all().await, before);
    app.db.finish().await;
}

async fn refusals_are_502_and_change_nothing(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    let app = App::new(db, &upstream.url).await;
    let id = app.create(valid()).await;
    let before = app.all().await;

    upstream.set(Mode::Refuse403);
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    let problem = reply.assert_problem(StatusCode::BAD_GATEWAY);
    assert_eq!(problem["title"], "user-schedule-service refused the call");
    assert_eq!(
        problem["detail"],
        "user-schedule-service refused: this service lacks scope user-schedule-service/schedule.update"
    );
    assert_eq!(problem["upstream_status"], 403);
    assert_eq!(
        problem["missing_scope"],
        "user-schedule-service/schedule.update"
    );
    assert_eq!(app.all().await, before);

    upstream.set(Mode::Refuse401);
    for uri in [
        format!("/articles/{id}/publication"),
        format!("/articles/{id}/author-schedule"),
    ] {
        let method = if uri.ends_with("publication") {
            Method::POST
        } else {
            Method::GET
        };
        let reply = app.call(method, &uri, None).await;
        let problem = reply.assert_problem(StatusCode::BAD_GATEWAY);
        assert_eq!(problem["upstream_status"], 401);
        assert!(problem.get("missing_scope").is_none());
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("invalid_token")
        );
    }

    upstream.set(Mode::Fail500);
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    let problem = reply.assert_problem(StatusCode::BAD_GATEWAY);
    assert_eq!(problem["upstream_status"], 500);
    assert!(problem["detail"].as_str().unwrap().contains("disk full"));
    assert_eq!(app.all().await, before);
    assert_eq!(upstream.event_count(), 0);

    // The claim was released each time: once the upstream accepts, the booking succeeds.
    upstream.set(Mode::Normal);
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:#}", reply.body);
    app.db.finish().await;
}

async fn upstream_down_is_503_and_changes_nothing(db: TestDb) {
    // A port that was just free: nothing listens there.
    let dead = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let app = App::new(db, &dead).await;
    let id = app.create(valid()).await;
    let before = app.all().await;
    for (method, uri) in [
        (Method::POST, format!("/articles/{id}/publication")),
        (Method::GET, format!("/articles/{id}/author-schedule")),
    ] {
        let reply = app.call(method, &uri, None).await;
        let problem = reply.assert_problem(StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            problem["detail"].as_str().unwrap().contains("unreachable"),
            "{problem:#}"
        );
    }
    assert_eq!(app.all().await, before);
    app.db.finish().await;
}

async fn upstream_hanging_is_504_and_changes_nothing(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    upstream.set(Mode::Hang);
    let mut config = Config::new(&upstream.url);
    config.upstream_timeout = Duration::from_secs(1);
    let app = App::with_config(db, config).await;
    let id = app.create(valid()).await;
    let before = app.all().await;
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    reply.assert_problem(StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(app.all().await, before);

    // The claim was released: a later booking goes through.
    upstream.set(Mode::Normal);
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:#}", reply.body);
    assert_eq!(upstream.event_count(), 1);
    app.db.finish().await;
}

async fn lost_answer_is_not_booked_twice(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    upstream.set(Mode::CreateThenHang);
    let mut config = Config::new(&upstream.url);
    config.upstream_timeout = Duration::from_secs(1);
    let app = App::with_config(db, config).await;
    let id = app.create(valid()).await;
    let before = app.all().await;

    // The event is stored upstream but the answer never comes.
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    reply.assert_problem(StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(app.all().await, before);
    assert_eq!(upstream.event_count(), 1);

    // The retry finds it and records it instead of booking a second one.
    upstream.set(Mode::Normal);
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:#}", reply.body);
    assert_eq!(reply.body["schedule_event_id"], "ev-0");
    assert_eq!(reply.body["status"], "scheduled");
    assert_eq!(upstream.event_count(), 1);

    // An event that merely overlaps (other title) is not taken for the booking.
    let mut other = valid();
    other["title"] = json!("Other launch");
    let other_id = app.create(other).await;
    let reply = app
        .call(
            Method::POST,
            &format!("/articles/{other_id}/publication"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:#}", reply.body);
    assert_eq!(reply.body["schedule_event_id"], "ev-1");
    assert_eq!(upstream.event_count(), 2);
    app.db.finish().await;
}
