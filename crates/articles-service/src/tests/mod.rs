//! Router tests: `router(state).oneshot(request)` in memory, on every store backend, with a
//! fake user-schedule-service on a loopback port for the upstream routes. (The tests
//! against the real user-schedule-service and authorization-server live in `tests/api`.)
//!
//! This file is the harness; the tests are by topic: `admission` (the bounded database
//! queue), `crud` (CRUD and pagination), `ops`
//! (operations routes, request ids), `upstream` (the routes that call
//! user-schedule-service, against `fake_schedules`).

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
    state: AppState,
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
            router: router(state.clone()),
            state,
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

// The topics (after the macro, which they use).
mod admission;
mod crud;
mod fake_schedules;
mod ops;
mod upstream;
