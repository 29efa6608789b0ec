//! Losing the database: connections terminated under load, and a database that refuses
//! connections, are answered with a retryable `503` problem document with `Retry-After`
//! (never a `500`), and the service recovers without a restart. PostgreSQL only: skipped,
//! with a note, when `TEST_DATABASE_URL` is unset.

use std::sync::Arc;

use axum::http::StatusCode;
use server_kit::test_util::{TestPostgres, assert_database_unavailable_problem};
use user_schedule_service::Config;
use user_schedule_service::store;

use crate::helpers::{TestApp, TestResponse, event_body};

/// Concurrent clients, and the requests each makes while connections are being killed.
const CLIENTS: usize = 8;
const REQUESTS_PER_CLIENT: usize = 40;

/// 2xx, or the database-unavailable problem; anything else fails the test. Returns whether
/// it was a 503.
fn assert_success_or_unavailable(response: &TestResponse) -> bool {
    if response.status.is_success() {
        return false;
    }
    assert_database_unavailable_problem(
        response.status.as_u16(),
        &response.headers,
        response.text.as_bytes(),
    );
    true
}

/// One client's requests: create an event, read it back, list the schedule. Returns how
/// many answers were 503s.
async fn client_load(app: Arc<TestApp>, client: usize) -> usize {
    let user = format!("user{client}");
    let mut unavailable = 0;
    let mut created_any = false;
    for i in 0..REQUESTS_PER_CLIENT {
        let hour = u32::try_from(i % 20).unwrap();
        let created = app
            .create_event(&user, &event_body(&format!("event {i}"), hour))
            .await;
        unavailable += usize::from(assert_success_or_unavailable(&created));
        if created.status == StatusCode::CREATED {
            created_any = true;
            let id = created.body["id"].as_str().unwrap().to_owned();
            let read = app.get_event(&user, &id).await;
            unavailable += usize::from(assert_success_or_unavailable(&read));
        }
        if created_any {
            let listed = app.list_schedule(&user, "limit=5").await;
            unavailable += usize::from(assert_success_or_unavailable(&listed));
        }
    }
    unavailable
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_connections_terminated_under_load_are_503_with_retry_after() {
    let Some(db) = TestPostgres::create("user_schedule_dbloss").await else {
        return;
    };
    let store = store::connect(&db.url).await.unwrap();
    let app = Arc::new(TestApp::spawn_with_store(Config::default(), store).await);

    let killer = db.start_killing_connections().await;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| tokio::spawn(client_load(Arc::clone(&app), client)))
        .collect();
    let mut unavailable = 0;
    for client in clients {
        unavailable += client.await.unwrap();
    }
    let terminated = killer.stop().await;
    eprintln!("{terminated} connections terminated; {unavailable} answers were 503");
    assert!(
        terminated > 0,
        "no connection was terminated: the test proves nothing"
    );

    // Recovery: with the killing stopped, every request succeeds again, no restart.
    for i in 0..10 {
        let created = app.create_event("recovered", &event_body("after", i)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    }
    let listed = app.list_schedule("recovered", "").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);

    drop(app);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_refuses_connections_is_503_with_retry_after() {
    let Some(db) = TestPostgres::create("user_schedule_refused").await else {
        return;
    };
    let (relay, url) = db.relay().await;
    let store = store::connect(&url).await.unwrap();
    let app = TestApp::spawn_with_store(Config::default(), store).await;
    let created = app.create_event("alice", &event_body("before", 9)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();

    // The database host goes away: open connections are cut, new ones refused.
    relay.refuse().await;

    // Concurrently: each waits for the pool's acquire timeout (5 s) before giving up.
    let during = event_body("during", 10);
    let (read, listed, created) = tokio::join!(
        app.get_event("alice", &id),
        app.list_schedule("alice", ""),
        app.create_event("alice", &during),
    );
    for response in [read, listed, created] {
        assert_database_unavailable_problem(
            response.status.as_u16(),
            &response.headers,
            response.text.as_bytes(),
        );
    }

    drop(app);
    db.drop_database().await;
}
