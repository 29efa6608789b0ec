//! The token endpoint's rate limits (off by default): past a client's or an address's
//! limit, `429 slow_down` with `Retry-After` (and `TooManyRequestsException` on
//! `GetClientToken`), until the bucket refills on the manual clock.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use oauth_proto::time::ManualClock;
use serde_json::{Value, json};

use crate::helpers::{Options, READ, Stack, TestApp, create_stack};
use crate::newer_operations::token_auth_client;

async fn token(app: &TestApp, id: &str, secret: &str) -> (u16, Option<String>, Value) {
    let response = app
        .token_request(&[("grant_type", "client_credentials")], Some((id, secret)))
        .await;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.unwrap())
}

fn assert_slow_down(answer: &(u16, Option<String>, Value), retry_after: &str) {
    let (status, header, body) = answer;
    assert_eq!(*status, 429, "{body}");
    assert_eq!(header.as_deref(), Some(retry_after), "{body}");
    assert_eq!(body["error"], "slow_down", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

async fn spawn(clock: &ManualClock, client: Option<&str>, address: Option<&str>) -> TestApp {
    TestApp::spawn_with(Options {
        clock: Arc::new(clock.clone()),
        client_rate_limit: client.map(|r| r.parse().unwrap()),
        address_rate_limit: address.map(|r| r.parse().unwrap()),
        ..Options::default()
    })
    .await
}

fn clock() -> ManualClock {
    ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_767_225_600))
}

#[tokio::test]
async fn rate_limit_exceeded_is_429_with_retry_after() {
    // Per client: 1 token a second, bursts of 2.
    let clock = clock();
    let app = spawn(&clock, Some("1:2"), None).await;
    let Stack {
        pool_id,
        client_id,
        client_secret,
    } = create_stack(&app, &[READ]).await;

    // Wrong secrets spend nothing: nobody without the secret can lock the client out.
    for _ in 0..5 {
        let (status, _, body) = token(&app, &client_id, "wrong").await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client");
    }
    for _ in 0..2 {
        let (status, _, body) = token(&app, &client_id, &client_secret).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_slow_down(&token(&app, &client_id, &client_secret).await, "1");

    // Another client has its own bucket.
    let (other_id, other_secret) = token_auth_client(&app, &pool_id, &[READ]).await;
    let (status, _, body) = token(&app, &other_id, &other_secret).await;
    assert_eq!(status, 200, "{body}");
    // GetClientToken draws from the same bucket: one left, then TooManyRequestsException.
    let get_client_token = json!({"ClientId": other_id, "Secret": other_secret});
    app.admin("GetClientToken", get_client_token.clone()).await;
    let (status, headers, body) = app
        .admin_raw(
            "GetClientToken",
            "application/x-amz-json-1.1",
            get_client_token.to_string(),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["__type"], "TooManyRequestsException", "{body}");
    assert_eq!(headers["x-amzn-errortype"], "TooManyRequestsException");

    // A second later the first client has one token again, and only one.
    clock.advance(Duration::from_secs(1));
    let (status, _, body) = token(&app, &client_id, &client_secret).await;
    assert_eq!(status, 200, "{body}");
    assert_slow_down(&token(&app, &client_id, &client_secret).await, "1");

    // Per address: 0.5 requests a second, bursts of 3, counted before authentication (so
    // wrong secrets count), with no client limit.
    let clock = self::clock();
    let app = spawn(&clock, None, Some("0.5:3")).await;
    let stack = create_stack(&app, &[READ]).await;
    let (status, _, _) = token(&app, &stack.client_id, "wrong").await;
    assert_eq!(status, 401);
    for _ in 0..2 {
        let (status, _, body) = token(&app, &stack.client_id, &stack.client_secret).await;
        assert_eq!(status, 200, "{body}");
    }
    // The next token comes in 2 s.
    assert_slow_down(
        &token(&app, &stack.client_id, &stack.client_secret).await,
        "2",
    );
    assert_slow_down(&token(&app, "any", "thing").await, "2");
    clock.advance(Duration::from_secs(2));
    let (status, _, body) = token(&app, &stack.client_id, &stack.client_secret).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn rate_limits_are_off_by_default() {
    let config = authorization_server::Config::new("http://127.0.0.1:9229");
    assert_eq!(config.client_rate_limit, None);
    assert_eq!(config.address_rate_limit, None);

    let app = TestApp::spawn_with(Options {
        clock: Arc::new(clock()),
        ..Options::default()
    })
    .await;
    let stack = create_stack(&app, &[READ]).await;
    // A hundred requests in the same instant, from one client and one address.
    for _ in 0..100 {
        let (status, _, body) = token(&app, &stack.client_id, &stack.client_secret).await;
        assert_eq!(status, 200, "{body}");
    }
}
