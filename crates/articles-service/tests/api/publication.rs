//! The scenario of the stack: read with `schedule.read`, refused without
//! `schedule.update`, granted, booked once; and the token cache under load.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::task::JoinSet;

use crate::helpers::{Stack, UPDATE};

fn article() -> serde_json::Value {
    json!({
        "title": "Spring launch",
        "body": "We launch in spring.",
        "author_id": "alice",
        "publish_at": "2030-05-01T09:00:00Z",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_refused_granted_booked_once() {
    let stack = Stack::spawn().await;
    stack
        .add_event(
            "alice",
            "Dentist",
            "2030-05-02T10:00:00Z",
            "2030-05-02T11:00:00Z",
        )
        .await;
    stack
        .add_event(
            "alice",
            "Long ago",
            "2030-01-02T10:00:00Z",
            "2030-01-02T11:00:00Z",
        )
        .await;
    stack
        .add_event(
            "bob",
            "Not alice's",
            "2030-05-02T10:00:00Z",
            "2030-05-02T11:00:00Z",
        )
        .await;
    let created = stack.create_article(article()).await;
    let id = created["id"].as_str().unwrap();

    // schedule.read is enough to read the author's schedule around publish_at.
    let (status, schedule) = stack.author_schedule(id).await;
    assert_eq!(status, StatusCode::OK, "{schedule:#}");
    assert_eq!(schedule["author_id"], "alice");
    assert_eq!(schedule["from"], "2030-04-24T09:00:00Z");
    assert_eq!(schedule["to"], "2030-05-08T09:00:00Z");
    let titles: Vec<&str> = schedule["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Dentist"]);

    // Without schedule.update the booking is refused, and says why.
    let (status, problem) = stack.publish(id).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{problem:#}");
    assert_eq!(problem["status"], 502);
    assert_eq!(problem["title"], "user-schedule-service refused the call");
    assert_eq!(
        problem["detail"],
        "user-schedule-service refused: this service lacks scope user-schedule-service/schedule.update"
    );
    assert_eq!(problem["upstream_status"], 403);
    assert_eq!(problem["missing_scope"], UPDATE);
    assert!(problem["type"].is_string());
    assert_eq!(stack.get_article(id).await, created);
    assert_eq!(stack.events_of("alice").await.len(), 2);

    // The operator grants schedule.update; the next token carries it (here fetched at
    // once; see below for the refusal itself replacing the token).
    stack.grant_update().await;
    let refreshed = stack.tokens.refresh().await.unwrap();
    assert!(
        refreshed
            .scopes()
            .is_some_and(|s| s.iter().any(|s| s.as_str() == UPDATE)),
        "{:?}",
        refreshed.scopes()
    );

    let (status, booked) = stack.publish(id).await;
    assert_eq!(status, StatusCode::CREATED, "{booked:#}");
    assert_eq!(booked["status"], "scheduled");
    assert_eq!(booked["title"], created["title"]);
    assert_eq!(booked["created_at"], created["created_at"]);
    let event_id = booked["schedule_event_id"].as_str().unwrap();
    let events = stack.events_of("alice").await;
    let event = events.iter().find(|e| e["id"] == event_id).unwrap();
    assert_eq!(event["title"], "Publish: Spring launch");
    assert_eq!(event["starts_at"], "2030-05-01T09:00:00Z");
    assert_eq!(event["ends_at"], "2030-05-01T09:30:00Z");
    assert_eq!(event["created_by"], stack.client.client_id.as_str());
    assert_eq!(stack.get_article(id).await, booked);

    // Repeating the call books nothing.
    for _ in 0..3 {
        let (status, again) = stack.publish(id).await;
        assert_eq!(status, StatusCode::OK, "{again:#}");
        assert_eq!(again, booked);
    }
    assert_eq!(stack.events_of("alice").await.len(), 3);

    // The author's schedule now shows the booking too.
    let (_, schedule) = stack.author_schedule(id).await;
    let titles: Vec<&str> = schedule["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Publish: Spring launch", "Dentist"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_scope_is_used_by_the_next_call_without_a_restart() {
    // No wait between scope-triggered refreshes, so the refusal before the grant does not
    // hold back the one after it (the default 5 s would, in a fast test).
    let stack = Stack::spawn_with(|config| {
        config.scope_refresh_first_wait = Duration::ZERO;
        config.scope_refresh_max_wait = Duration::ZERO;
    })
    .await;
    let created = stack.create_article(article()).await;
    let id = created["id"].as_str().unwrap();

    // Refused: the token is replaced once (the new one still lacks the scope).
    let (status, problem) = stack.publish(id).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{problem:#}");
    assert_eq!(problem["missing_scope"], UPDATE);
    assert_eq!(stack.tokens.stats().requests, 2);

    // The operator grants schedule.update; nobody touches the token provider.
    stack.grant_update().await;
    let (status, booked) = stack.publish(id).await;
    assert_eq!(status, StatusCode::CREATED, "{booked:#}");
    assert_eq!(booked["status"], "scheduled");
    assert_eq!(stack.tokens.stats().requests, 3);
    let current = stack.tokens.cached().unwrap();
    assert!(
        current
            .scopes()
            .is_some_and(|s| s.iter().any(|s| s.as_str() == UPDATE)),
        "{:?}",
        current.scopes()
    );

    // The new token is kept: the next calls make no token request.
    let (status, _) = stack.publish(id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stack.tokens.stats().requests, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bookings_book_once() {
    let stack = Stack::spawn().await;
    stack.grant_update().await;
    let created = stack.create_article(article()).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let stack = std::sync::Arc::new(stack);
    let mut calls = JoinSet::new();
    for _ in 0..10 {
        let (stack, id) = (stack.clone(), id.clone());
        calls.spawn(async move { stack.publish(&id).await.0 });
    }
    let statuses: Vec<StatusCode> = calls.join_all().await;
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| [StatusCode::CREATED, StatusCode::OK, StatusCode::CONFLICT].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(stack.events_of("alice").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_reads_make_one_token_request() {
    let stack = std::sync::Arc::new(Stack::spawn().await);
    let created = stack.create_article(article()).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(stack.tokens.stats().requests, 0);

    // Ten callers at a time, from a cold cache: the first ones race for the token.
    let mut done = 0;
    while done < 1_000 {
        let mut calls = JoinSet::new();
        for _ in 0..10 {
            let (stack, id) = (stack.clone(), id.clone());
            calls.spawn(async move { stack.author_schedule(&id).await.0 });
        }
        for status in calls.join_all().await {
            assert_eq!(status, StatusCode::OK);
            done += 1;
        }
    }
    // Readiness probes are served from the cache too.
    for _ in 0..20 {
        let response = stack
            .http
            .get(format!("{}/readyz", stack.articles.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    assert_eq!(stack.tokens.stats().requests, 1);
    let metrics = stack.metrics().await;
    assert!(
        metrics.contains("\narticles_service_token_requests_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"http_requests_total{service="articles-service",route="/articles/{id}/author-schedule",method="GET",status="200"}"#),
        "{metrics}"
    );
    // The author has no events yet: user-schedule-service answers an empty schedule.
    // (The recorder is shared by the tests of this binary, so only the presence of the
    // series is checked.)
    assert!(
        metrics.contains(r#"upstream_requests_total{status="200"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("http_request_duration_seconds"),
        "{metrics}"
    );
}
