//! Losing the database: connections terminated under load, and a database that refuses
//! connections, are answered in each protocol's retryable form — the token and revocation
//! endpoints `503 temporarily_unavailable` with `Retry-After`, the admin API Cognito's
//! `InternalErrorException` naming the database, JWKS and discovery `503` with
//! `Retry-After` — never an unexplained `500`; and the server recovers without a restart.
//! PostgreSQL only: skipped, with a note, when `TEST_DATABASE_URL` is unset.

use std::sync::Arc;

use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde_json::{Value, json};
use server_kit::test_util::TestPostgres;

use crate::helpers::{Options, READ, Stack, TestApp, create_stack};

const CLIENTS: usize = 6;
const ROUNDS_PER_CLIENT: usize = 25;

/// Asserts a `Retry-After` in delay-seconds.
fn assert_retry_after(headers: &HeaderMap, what: &str) {
    let value = headers
        .get(RETRY_AFTER)
        .unwrap_or_else(|| panic!("{what}: no Retry-After"));
    assert!(
        value.to_str().unwrap().parse::<u32>().is_ok(),
        "{what}: {value:?}"
    );
}

/// A token-endpoint (or revocation) answer that failed: `503`, `Retry-After`, and the OAuth
/// error `temporarily_unavailable`.
fn assert_oauth_unavailable(status: u16, headers: &HeaderMap, body: &Value) {
    assert_eq!(status, 503, "{body}");
    assert_retry_after(headers, "token endpoint");
    assert!(
        headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
    );
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("database is unavailable"),
        "{body}"
    );
}

/// An admin answer that failed: Cognito's `InternalErrorException` (500) naming the database.
fn assert_admin_unavailable(status: u16, headers: &HeaderMap, body: &Value) {
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["__type"], "InternalErrorException", "{body}");
    assert_eq!(headers["x-amzn-errortype"], "InternalErrorException");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("database is unavailable"),
        "{body}"
    );
    assert_retry_after(headers, "admin API");
}

/// A JWKS or discovery answer that failed: `503` with `Retry-After` and a message.
fn assert_public_unavailable(status: u16, headers: &HeaderMap, body: &Value) {
    assert_eq!(status, 503, "{body}");
    assert_retry_after(headers, "jwks/discovery");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("database is unavailable"),
        "{body}"
    );
}

async fn parts(response: reqwest::Response) -> (u16, HeaderMap, Value) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

async fn token(app: &TestApp, stack: &Stack) -> (u16, HeaderMap, Value) {
    parts(
        app.token_request(
            &[("grant_type", "client_credentials")],
            Some((&stack.client_id, &stack.client_secret)),
        )
        .await,
    )
    .await
}

async fn revoke(app: &TestApp, stack: &Stack) -> (u16, HeaderMap, Value) {
    let response = app
        .http
        .post(format!("{}/oauth2/revoke", app.url))
        .basic_auth(&stack.client_id, Some(&stack.client_secret))
        .form(&[("token", "not-a-refresh-token")])
        .send()
        .await
        .unwrap();
    parts(response).await
}

async fn get(app: &TestApp, path: &str) -> (u16, HeaderMap, Value) {
    parts(
        app.http
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn admin(app: &TestApp, target: &str, body: Value) -> (u16, HeaderMap, Value) {
    app.admin_raw(target, "application/x-amz-json-1.1", body.to_string())
        .await
}

/// One client's rounds: tag the pool (an admin write, which also empties the token
/// endpoint's grant cache, so the next token request reads the store), ask for a token,
/// describe the client, fetch the JWKS. Every answer is a success or the endpoint's
/// database-unavailable answer. Returns how many were the latter.
async fn client_load(app: Arc<TestApp>, stack: Arc<Stack>, arn: String) -> usize {
    let mut unavailable = 0;
    for round in 0..ROUNDS_PER_CLIENT {
        let (status, headers, body) = admin(
            &app,
            "TagResource",
            json!({"ResourceArn": arn, "Tags": {"round": round.to_string()}}),
        )
        .await;
        if status != 200 {
            assert_admin_unavailable(status, &headers, &body);
            unavailable += 1;
        }
        let (status, headers, body) = token(&app, &stack).await;
        if status != 200 {
            assert_oauth_unavailable(status, &headers, &body);
            unavailable += 1;
        }
        let (status, headers, body) = admin(
            &app,
            "DescribeUserPoolClient",
            json!({"UserPoolId": stack.pool_id, "ClientId": stack.client_id}),
        )
        .await;
        if status != 200 {
            assert_admin_unavailable(status, &headers, &body);
            unavailable += 1;
        }
        let (status, headers, body) =
            get(&app, &format!("/{}/.well-known/jwks.json", stack.pool_id)).await;
        if status != 200 {
            assert_public_unavailable(status, &headers, &body);
            unavailable += 1;
        }
    }
    unavailable
}

async fn pool_arn(app: &TestApp, pool_id: &str) -> String {
    let pool = app
        .admin("DescribeUserPool", json!({"UserPoolId": pool_id}))
        .await;
    pool["UserPool"]["Arn"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_connections_terminated_under_load_are_503_with_retry_after() {
    let Some(db) = TestPostgres::create("authorization_server_dbloss").await else {
        return;
    };
    let app = Arc::new(
        TestApp::spawn_with(Options {
            database_url: db.url.clone(),
            ..Options::default()
        })
        .await,
    );
    let stack = Arc::new(create_stack(&app, &[READ]).await);
    let arn = pool_arn(&app, &stack.pool_id).await;

    let killer = db.start_killing_connections().await;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            tokio::spawn(client_load(
                Arc::clone(&app),
                Arc::clone(&stack),
                arn.clone(),
            ))
        })
        .collect();
    let mut unavailable = 0;
    for client in clients {
        unavailable += client.await.unwrap();
    }
    let terminated = killer.stop().await;
    eprintln!("{terminated} connections terminated; {unavailable} answers were unavailable");
    assert!(
        terminated > 0,
        "no connection was terminated: the test proves nothing"
    );

    // Recovery: with the killing stopped, everything succeeds again, no restart.
    for round in 0..5 {
        let (status, _, body) = admin(
            &app,
            "TagResource",
            json!({"ResourceArn": arn, "Tags": {"after": round.to_string()}}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (status, _, body) = token(&app, &stack).await;
        assert_eq!(status, 200, "{body}");
        let (status, _, body) =
            get(&app, &format!("/{}/.well-known/jwks.json", stack.pool_id)).await;
        assert_eq!(status, 200, "{body}");
    }

    drop(stack);
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_refuses_connections_is_503_with_retry_after() {
    let Some(db) = TestPostgres::create("authorization_server_refused").await else {
        return;
    };
    let (relay, url) = db.relay().await;
    let app = TestApp::spawn_with(Options {
        database_url: url,
        ..Options::default()
    })
    .await;
    // The admin writes leave the grant cache empty: the token endpoint must read the store.
    let stack = create_stack(&app, &[READ]).await;

    // The database host goes away: open connections are cut, new ones refused.
    relay.refuse().await;

    // Concurrently: each waits for the pool's acquire timeout (5 s) before giving up.
    let jwks_path = format!("/{}/.well-known/jwks.json", stack.pool_id);
    let discovery_path = format!("/{}/.well-known/openid-configuration", stack.pool_id);
    let (token, revoked, described, client_token, jwks, discovery) = tokio::join!(
        token(&app, &stack),
        revoke(&app, &stack),
        admin(
            &app,
            "DescribeUserPool",
            json!({"UserPoolId": stack.pool_id})
        ),
        admin(
            &app,
            "GetClientToken",
            json!({"ClientId": stack.client_id, "Secret": stack.client_secret})
        ),
        get(&app, &jwks_path),
        get(&app, &discovery_path),
    );
    assert_oauth_unavailable(token.0, &token.1, &token.2);
    assert_oauth_unavailable(revoked.0, &revoked.1, &revoked.2);
    assert_admin_unavailable(described.0, &described.1, &described.2);
    assert_admin_unavailable(client_token.0, &client_token.1, &client_token.2);
    assert_public_unavailable(jwks.0, &jwks.1, &jwks.2);
    assert_public_unavailable(discovery.0, &discovery.1, &discovery.2);

    app.stop().await;
    db.drop_database().await;
}
