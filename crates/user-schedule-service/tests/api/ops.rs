//! Health, readiness, metrics, OpenAPI, request ids and serving on a real socket.

use std::sync::OnceLock;

use axum::http::{Method, StatusCode};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use user_schedule_service::Config;

use crate::helpers::{TestApp, event_body};

#[tokio::test]
async fn healthz_and_readyz() {
    let app = TestApp::spawn().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
}

#[tokio::test]
async fn request_ids_are_generated_or_echoed() {
    let app = TestApp::spawn().await;
    let generated = app.get("/healthz").await;
    let id = generated.header("x-request-id").unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let mut request = app.request(Method::GET, "/healthz", None);
    request
        .headers_mut()
        .insert("x-request-id", "caller-chosen-42".parse().unwrap());
    let echoed = app.send(request).await;
    assert_eq!(echoed.header("x-request-id"), Some("caller-chosen-42"));
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc.body["paths"].as_object().unwrap();
    for path in [
        "/users/{user_id}/schedule",
        "/users/{user_id}/schedule/events",
        "/users/{user_id}/schedule/events/{event_id}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    let put = &paths["/users/{user_id}/schedule/events/{event_id}"]["put"];
    assert_eq!(
        put["security"][0]["bearer"][0],
        "user-schedule-service/schedule.update"
    );
    assert!(put["responses"]["412"].is_object());
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
}

fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().unwrap())
        .clone()
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let config = Config {
        metrics: Some(prometheus()),
        ..Config::default()
    };
    let app = TestApp::spawn_with(config).await;
    app.create_event("metrics-user", &event_body("x", 1)).await;
    app.list_schedule("metrics-user", "").await;
    app.get_event("metrics-user", "7b0a3d1c-2a44-4c5e-9d2b-0f6f1a2b3c4d")
        .await;
    let anonymous = TestApp {
        authorization: None,
        ..app
    };
    assert_eq!(
        anonymous
            .get_event("metrics-user", "7b0a3d1c-2a44-4c5e-9d2b-0f6f1a2b3c4d")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let app = anonymous;
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text;
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total")
            && l.contains("service=\"user-schedule-service\"")
            && l.contains("route=\"/users/{user_id}/schedule/events/{event_id}\"")
            && l.contains("method=\"GET\"")
            && l.contains("status=\"404\"")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("http_request_duration_seconds")
                && l.contains("route=\"/users/{user_id}/schedule\"")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("http_auth_refusals_total")
                && l.contains("route=\"/users/{user_id}/schedule/events/{event_id}\"")
                && l.contains("reason=\"missing_token\"")),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_without_a_handle_is_empty() {
    let app = TestApp::spawn().await;
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert_eq!(metrics.text, "");
}

#[tokio::test]
async fn serve_answers_on_a_socket_and_shuts_down_gracefully() {
    let app = TestApp::spawn().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(user_schedule_service::serve(
        listener,
        app.router.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::new();
    let response = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .is_err(),
        "the listener is closed after shutdown"
    );
}

/// A store whose database is gone.
#[derive(Debug)]
struct BrokenStore;

fn broken() -> user_schedule_service::store::StoreError {
    // A failure that is not a lost connection (those are 503s, see `db_loss`).
    user_schedule_service::store::StoreError::Database(sqlx::Error::Decode("corrupt column".into()))
}

#[async_trait::async_trait]
impl user_schedule_service::store::ScheduleStore for BrokenStore {
    async fn ping(&self) -> Result<(), user_schedule_service::store::StoreError> {
        Err(broken())
    }
    async fn create_event(
        &self,
        _: &user_schedule_service::domain::Event,
    ) -> Result<(), user_schedule_service::store::StoreError> {
        Err(broken())
    }
    async fn get_event(
        &self,
        _: &user_schedule_service::domain::UserId,
        _: user_schedule_service::domain::EventId,
    ) -> Result<user_schedule_service::domain::Event, user_schedule_service::store::StoreError>
    {
        Err(broken())
    }
    async fn list_events(
        &self,
        _: &user_schedule_service::domain::UserId,
        _: &user_schedule_service::store::ListQuery,
    ) -> Result<Vec<user_schedule_service::domain::Event>, user_schedule_service::store::StoreError>
    {
        Err(broken())
    }
    async fn replace_event(
        &self,
        _: &user_schedule_service::domain::UserId,
        _: user_schedule_service::domain::EventId,
        _: &user_schedule_service::domain::EventDraft,
        _: user_schedule_service::domain::Timestamp,
        _: Option<i64>,
    ) -> Result<user_schedule_service::domain::Event, user_schedule_service::store::StoreError>
    {
        Err(broken())
    }
    async fn delete_event(
        &self,
        _: &user_schedule_service::domain::UserId,
        _: user_schedule_service::domain::EventId,
        _: Option<i64>,
    ) -> Result<(), user_schedule_service::store::StoreError> {
        Err(broken())
    }
}

#[tokio::test]
async fn a_broken_database_is_503_on_readyz_and_an_opaque_500_on_the_api() {
    let app = TestApp::spawn().await;
    let state = user_schedule_service::AppState::new(
        Config::default(),
        std::sync::Arc::new(BrokenStore),
        crate::helpers::verifier_for(&app.issuer).await,
        std::sync::Arc::new(app.clock.clone()),
    );
    let app = TestApp {
        router: user_schedule_service::router(state),
        ..app
    };
    let ready = app.get("/readyz").await;
    let problem = ready.problem(StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        problem["detail"].as_str().unwrap().contains("database"),
        "{problem}"
    );
    assert!(
        !problem["detail"].as_str().unwrap().contains("issuer"),
        "{problem}"
    );
    let failed = app.list_schedule("alice", "").await;
    let problem = failed.problem(StatusCode::INTERNAL_SERVER_ERROR);
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        !detail.to_lowercase().contains("pool"),
        "no internals leak: {detail}"
    );
    assert!(failed.header("x-request-id").is_some());
}

/// Delegates to a real store; `ping` waits at a gate so a request can be held in flight.
#[derive(Debug)]
struct GatedStore {
    inner: std::sync::Arc<dyn user_schedule_service::store::ScheduleStore>,
    entered: std::sync::Arc<tokio::sync::Notify>,
    release: std::sync::Arc<tokio::sync::Notify>,
}

#[async_trait::async_trait]
impl user_schedule_service::store::ScheduleStore for GatedStore {
    async fn ping(&self) -> Result<(), user_schedule_service::store::StoreError> {
        self.entered.notify_one();
        self.release.notified().await;
        self.inner.ping().await
    }
    async fn create_event(
        &self,
        event: &user_schedule_service::domain::Event,
    ) -> Result<(), user_schedule_service::store::StoreError> {
        self.inner.create_event(event).await
    }
    async fn get_event(
        &self,
        user: &user_schedule_service::domain::UserId,
        id: user_schedule_service::domain::EventId,
    ) -> Result<user_schedule_service::domain::Event, user_schedule_service::store::StoreError>
    {
        self.inner.get_event(user, id).await
    }
    async fn list_events(
        &self,
        user: &user_schedule_service::domain::UserId,
        query: &user_schedule_service::store::ListQuery,
    ) -> Result<Vec<user_schedule_service::domain::Event>, user_schedule_service::store::StoreError>
    {
        self.inner.list_events(user, query).await
    }
    async fn replace_event(
        &self,
        user: &user_schedule_service::domain::UserId,
        id: user_schedule_service::domain::EventId,
        draft: &user_schedule_service::domain::EventDraft,
        at: user_schedule_service::domain::Timestamp,
        expected: Option<i64>,
    ) -> Result<user_schedule_service::domain::Event, user_schedule_service::store::StoreError>
    {
        self.inner
            .replace_event(user, id, draft, at, expected)
            .await
    }
    async fn delete_event(
        &self,
        user: &user_schedule_service::domain::UserId,
        id: user_schedule_service::domain::EventId,
        expected: Option<i64>,
    ) -> Result<(), user_schedule_service::store::StoreError> {
        self.inner.delete_event(user, id, expected).await
    }
}

#[tokio::test]
async fn shutdown_finishes_the_requests_in_flight() {
    let app = TestApp::spawn().await;
    let entered = std::sync::Arc::new(tokio::sync::Notify::new());
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let store = GatedStore {
        inner: app.store.clone(),
        entered: entered.clone(),
        release: release.clone(),
    };
    let state = user_schedule_service::AppState::new(
        Config::default(),
        std::sync::Arc::new(store),
        crate::helpers::verifier_for(&app.issuer).await,
        std::sync::Arc::new(app.clock.clone()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(user_schedule_service::serve(
        listener,
        user_schedule_service::router(state),
        async move {
            let _ = stopped.await;
        },
    ));
    let in_flight = tokio::spawn(reqwest::get(format!("http://{addr}/readyz")));
    entered.notified().await;

    // Shut down while /readyz is held inside the store; wait until new connections are
    // refused, so the shutdown has certainly begun before the request is released.
    stop.send(()).unwrap();
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        tokio::task::yield_now().await;
    }
    assert!(
        !server.is_finished(),
        "serve waits for the request in flight"
    );
    release.notify_one();

    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    server.await.unwrap().unwrap();
}
