//! Failures of the upstreams: the answer says whose fault it was, and the article is
//! never changed.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{SHORT_TIMEOUT, Stack, articles_service, black_hole, provider};

fn article() -> serde_json::Value {
    json!({
        "title": "Autumn launch",
        "body": "Later.",
        "author_id": "carol",
        "publish_at": "2030-09-01T09:00:00Z",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_is_503_and_changes_nothing() {
    let mut stack = Stack::spawn().await;
    stack.grant_update().await;
    let created = stack.create_article(article()).await;
    let id = created["id"].as_str().unwrap().to_owned();

    // Stop user-schedule-service: its port now refuses connections.
    stack.stop_schedules().await;

    for (status, problem) in [stack.publish(&id).await, stack.author_schedule(&id).await] {
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem:#}");
        assert_eq!(problem["status"], 503);
        assert!(
            problem["detail"].as_str().unwrap().contains("unreachable"),
            "{problem:#}"
        );
    }
    assert_eq!(stack.get_article(&id).await, created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_silent_is_504_and_changes_nothing() {
    let stack = Stack::spawn().await;
    stack.grant_update().await;
    // A second articles-service pointed at a port that accepts and never answers.
    let (_hole, hole_url) = black_hole().await;
    let mut config = articles_service::Config::new(hole_url);
    config.upstream_timeout = SHORT_TIMEOUT;
    let articles = articles_service(config, provider(&stack.token_url, &stack.client, None)).await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", articles.url);

    let (status, created) = crate::helpers::call(
        &http,
        reqwest::Method::POST,
        &url("/articles"),
        Some(article()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap();
    for (method, path) in [
        (reqwest::Method::POST, format!("/articles/{id}/publication")),
        (
            reqwest::Method::GET,
            format!("/articles/{id}/author-schedule"),
        ),
    ] {
        let (status, problem) = crate::helpers::call(&http, method, &url(&path), None).await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{problem:#}");
        assert_eq!(problem["status"], 504);
    }
    let (_, after) = crate::helpers::call(
        &http,
        reqwest::Method::GET,
        &url(&format!("/articles/{id}")),
        None,
    )
    .await;
    assert_eq!(after, created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_refusal_is_502_naming_the_oauth_error() {
    let stack = Stack::spawn().await;
    // Asking for a scope the client is not allowed: the token endpoint refuses.
    let greedy = provider(
        &stack.token_url,
        &stack.client,
        Some(crate::helpers::UPDATE),
    );
    let articles = articles_service(
        articles_service::Config::new(stack.schedules_url.clone()),
        greedy,
    )
    .await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", articles.url);
    let (_, created) = crate::helpers::call(
        &http,
        reqwest::Method::POST,
        &url("/articles"),
        Some(article()),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let (status, problem) = crate::helpers::call(
        &http,
        reqwest::Method::POST,
        &url(&format!("/articles/{id}/publication")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{problem:#}");
    let code = problem["oauth_error"].as_str().unwrap();
    assert_eq!(code, "invalid_scope");
    assert!(
        problem["detail"].as_str().unwrap().contains(code),
        "{problem:#}"
    );
    let (_, after) = crate::helpers::call(
        &http,
        reqwest::Method::GET,
        &url(&format!("/articles/{id}")),
        None,
    )
    .await;
    assert_eq!(after, created);

    // Readiness says no token can be had.
    let (status, problem) =
        crate::helpers::call(&http, reqwest::Method::GET, &url("/readyz"), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem:#}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("invalid_scope"),
        "{problem:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes() {
    let stack = Stack::spawn().await;
    let created = stack.create_article(article()).await;
    assert!(created["id"].is_string());
    let (status, _) = stack.call(reqwest::Method::GET, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    let Stack { articles, .. } = stack;
    articles.stop().await;
}
