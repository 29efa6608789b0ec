//! Bounded admission for the API routes: with the database held (a lock another
//! connection keeps), one request runs, one waits, and the next is refused at once with
//! the `database-busy` problem (`503`, `Retry-After`); once the database is free, the two
//! admitted requests complete and nothing else was written. On SQLite always, on
//! PostgreSQL when `TEST_DATABASE_URL` is set.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use server_kit::admission::AdmissionLimits;
use sqlx::Connection as _;
use user_schedule_service::Config;
use user_schedule_service::store;

use crate::helpers::{PgDatabase, TestApp, TestResponse, event_body};

fn config() -> Config {
    Config {
        admission: AdmissionLimits {
            in_flight: 1,
            queue: 1,
        },
        ..Config::default()
    }
}

/// Yields until `condition` holds: the requests run on other tasks, and their progress is
/// read from the admission's counters, not guessed from time.
async fn until(condition: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !condition() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the condition never held");
}

fn assert_busy(response: &TestResponse) {
    let problem = response.problem(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(problem["type"], "urn:s2s:problem:database-busy");
    assert_eq!(response.header("retry-after"), Some("1"));
}

/// The scenario, on an app whose database is held until `release` completes.
async fn refuses_past_the_queue_and_loses_nothing(app: TestApp, release: impl Future<Output = ()>) {
    let app = Arc::new(app);
    let admission = app.state.admission().clone();
    let spawn_create = |title: &'static str| {
        let app = app.clone();
        tokio::spawn(async move { app.create_event("alice", &event_body(title, 9)).await })
    };

    let first = spawn_create("first");
    until(|| admission.running() == 1).await;
    let second = spawn_create("second");
    until(|| admission.waiting() == 1).await;

    // Full: refused at once (the database is still held, so this answer cannot have
    // waited for it), reads as well as writes.
    let refused = app.create_event("alice", &event_body("refused", 9)).await;
    assert_busy(&refused);
    assert_busy(&app.list_schedule("alice", "").await);
    // Operations routes are never refused.
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    assert_eq!((admission.running(), admission.waiting()), (1, 1));

    release.await;
    for request in [first, second] {
        let created = request.await.unwrap();
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    }
    assert_eq!((admission.running(), admission.waiting()), (0, 0));
    let listed = app.list_schedule("alice", "").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let mut titles: Vec<&str> = listed.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    titles.sort_unstable();
    assert_eq!(titles, ["first", "second"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_held_database_refuses_past_the_queue_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("schedule.db").display());
    let store = store::connect(&url).await.unwrap();
    let app = TestApp::spawn_with_store(config(), store).await;
    // Another connection takes the write lock: the service's writes wait for it (its
    // busy timeout is 5 s; the lock is released long before).
    let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    refuses_past_the_queue_and_loses_nothing(app, async move {
        sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_held_database_refuses_past_the_queue_and_loses_nothing() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let store = store::connect(db.url()).await.unwrap();
    let app = TestApp::spawn_with_store(config(), store).await;
    // Another connection locks the tables: every query of the service waits for it.
    let mut holder = sqlx::PgConnection::connect(db.url()).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("LOCK TABLE users, events IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    refuses_past_the_queue_and_loses_nothing(app, async move {
        sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
        holder.close().await.unwrap();
    })
    .await;
    db.drop_database().await;
}
