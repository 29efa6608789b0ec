//! `BearerMiddleware` against a resource server on loopback.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::any;
use token_provider::{BearerMiddleware, TokenProvider};

use crate::helpers::*;

/// Accepts only `Bearer token-<accepted>`; answers 401 with the given challenge otherwise.
/// Records the `Authorization` header of every request.
struct ResourceServer {
    addr: String,
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

async fn spawn_resource_server(accepted: &'static str, challenge: &'static str) -> ResourceServer {
    spawn_refusing_server(accepted, StatusCode::UNAUTHORIZED, challenge).await
}

/// Like [`spawn_resource_server`], refusing with `status`; an empty `challenge` sends no
/// `WWW-Authenticate` header.
async fn spawn_refusing_server(
    accepted: &'static str,
    status: StatusCode,
    challenge: &'static str,
) -> ResourceServer {
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let record = Arc::clone(&seen);
    let app = Router::new().route(
        "/protected",
        any(move |headers: HeaderMap, _body: String| {
            let record = Arc::clone(&record);
            async move {
                let auth = headers
                    .get(header::AUTHORIZATION)
                    .map(|v| v.to_str().unwrap().to_owned());
                record.lock().unwrap().push(auth.clone());
                let mut headers = HeaderMap::new();
                if auth.as_deref() == Some(&format!("Bearer {accepted}")) {
                    return (StatusCode::OK, headers, "ok");
                }
                if !challenge.is_empty() {
                    headers.insert(
                        header::WWW_AUTHENTICATE,
                        header::HeaderValue::from_static(challenge),
                    );
                }
                (status, headers, "no")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    ResourceServer { addr, seen }
}

fn client(
    provider: TokenProvider,
    hosts: impl IntoIterator<Item = String>,
) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerMiddleware::new(provider, hosts))
        .build()
}

fn provider(endpoint: &MockEndpoint) -> TokenProvider {
    builder(endpoint, Arc::new(oauth_proto::time::SystemClock))
        .build()
        .unwrap()
}

const INVALID_TOKEN: &str =
    r#"Bearer realm="api", error="invalid_token", error_description="The access token expired""#;

#[tokio::test]
async fn refused_token_is_refreshed_and_the_request_retried_once() {
    let server = spawn_resource_server("token-2", INVALID_TOKEN).await;
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let provider = provider(&endpoint);
    let client = client(provider.clone(), [server.addr.clone()]);

    let response = client
        .post(format!("http://{}/protected", server.addr))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        *server.seen.lock().unwrap(),
        [
            Some("Bearer token-1".to_owned()),
            Some("Bearer token-2".to_owned())
        ]
    );
    assert_eq!(endpoint.count(), 2);

    // The new token is cached: the next request needs no refresh.
    let response = client
        .get(format!("http://{}/protected", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(endpoint.count(), 2);
}

#[tokio::test]
async fn retries_at_most_once() {
    let server = spawn_resource_server("never", INVALID_TOKEN).await;
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let client = client(provider(&endpoint), [server.addr.clone()]);
    let response = client
        .get(format!("http://{}/protected", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.seen.lock().unwrap().len(), 2);
    assert_eq!(endpoint.count(), 2);
}

#[tokio::test]
async fn other_401s_are_not_retried() {
    for challenge in [
        r#"Bearer realm="api""#,
        r#"Bearer error="insufficient_scope""#,
    ] {
        let server = spawn_resource_server("never", challenge).await;
        let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
        let client = client(provider(&endpoint), [server.addr.clone()]);
        let response = client
            .get(format!("http://{}/protected", server.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(server.seen.lock().unwrap().len(), 1, "{challenge}");
        assert_eq!(endpoint.count(), 1, "{challenge}");
    }
}

#[tokio::test]
async fn request_that_cannot_be_cloned_is_not_retried() {
    let server = spawn_resource_server("token-2", INVALID_TOKEN).await;
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let client = client(provider(&endpoint), [server.addr.clone()]);
    let response = client
        .post(format!("http://{}/protected", server.addr))
        .body(reqwest::Body::wrap("streamed".to_owned()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.seen.lock().unwrap().len(), 1);
    assert_eq!(endpoint.count(), 1);
}

#[tokio::test]
async fn token_goes_only_to_configured_hosts() {
    let server = spawn_resource_server("token-1", INVALID_TOKEN).await;
    let port: u16 = server.addr.rsplit_once(':').unwrap().1.parse().unwrap();
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let url = format!("http://{}/protected", server.addr);

    // Same host, other port; another host: no header, and no token is even fetched.
    for hosts in [
        vec![format!("127.0.0.1:{}", port.wrapping_add(1))],
        vec!["localhost".to_owned(), format!("127.0.0.2:{port}")],
        vec![],
    ] {
        let client = client(provider(&endpoint), hosts.clone());
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{hosts:?}");
    }
    assert_eq!(*server.seen.lock().unwrap(), [None, None, None]);
    assert_eq!(endpoint.count(), 0);

    // Host without port matches any port.
    let client = client(provider(&endpoint), ["127.0.0.1".to_owned()]);
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn existing_authorization_header_is_left_alone() {
    let server = spawn_resource_server("token-1", INVALID_TOKEN).await;
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let client = client(provider(&endpoint), [server.addr.clone()]);
    let response = client
        .get(format!("http://{}/protected", server.addr))
        .header(header::AUTHORIZATION, "Bearer mine")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        *server.seen.lock().unwrap(),
        [Some("Bearer mine".to_owned())]
    );
    assert_eq!(endpoint.count(), 0);
}

#[tokio::test]
async fn no_token_means_the_request_is_not_sent() {
    let server = spawn_resource_server("token-1", INVALID_TOKEN).await;
    let endpoint = MockEndpoint::new(Reply::Json(400, r#"{"error":"invalid_client"}"#));
    let client = client(provider(&endpoint), [server.addr.clone()]);
    let error = client
        .get(format!("http://{}/protected", server.addr))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_middleware());
    assert!(error.to_string().contains("invalid_client"), "{error}");
    assert!(server.seen.lock().unwrap().is_empty());
}

const INSUFFICIENT_SCOPE: &str = r#"Bearer error="insufficient_scope", error_description="The token lacks a scope", scope="user-schedule-service/schedule.update""#;

/// Lets `by` of Tokio time pass at once. Pausing only here keeps the loopback I/O of the
/// rest of the test from auto-advancing the clock.
async fn jump(by: std::time::Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

#[tokio::test]
async fn missing_scope_refreshes_back_off_while_they_do_not_help() {
    let server = spawn_refusing_server("never", StatusCode::FORBIDDEN, INSUFFICIENT_SCOPE).await;
    // `token-<n>` is opaque: its scopes are unknown, so it counts as lacking the scope.
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(
            BearerMiddleware::new(provider(&endpoint), [server.addr.clone()])
                .scope_refresh_backoff(secs(10), secs(30)),
        )
        .build();
    let url = format!("http://{}/protected", server.addr);
    let bearer = |n: u32| Some(format!("Bearer token-{n}"));

    // The first refusal: one refresh, one retry with the new token; its answer is returned.
    let response = client.post(&url).body("payload").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(endpoint.count(), 2);
    assert_eq!(*server.seen.lock().unwrap(), [bearer(1), bearer(2)]);

    // The new token did not help: the next refresh waits 10 s, then 20 s, then 30 s (the
    // most), and within each wait a refusal is returned without a token request.
    let mut tokens = 2;
    for wait in [10, 20, 30, 30] {
        jump(secs(wait - 1)).await;
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(endpoint.count(), tokens, "within the {wait} s wait");

        jump(secs(1)).await;
        let seen_before = server.seen.lock().unwrap().len();
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        tokens += 1;
        assert_eq!(endpoint.count(), tokens, "after the {wait} s wait");
        let seen = server.seen.lock().unwrap();
        assert_eq!(
            seen[seen_before..],
            [bearer(tokens as u32 - 1), bearer(tokens as u32)]
        );
    }
}

#[tokio::test]
async fn missing_scope_limit_is_shared_by_clones() {
    let server = spawn_refusing_server("never", StatusCode::FORBIDDEN, INSUFFICIENT_SCOPE).await;
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let middleware = BearerMiddleware::new(provider(&endpoint), [server.addr.clone()]);
    let url = format!("http://{}/protected", server.addr);
    for middleware in [middleware.clone(), middleware] {
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(middleware)
            .build();
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(endpoint.count(), 2);
    assert_eq!(server.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn granted_scope_is_used_by_the_retry() {
    // The resource server accepts only the second token, as if the scope had been
    // granted in between.
    let server = spawn_refusing_server("token-2", StatusCode::FORBIDDEN, INSUFFICIENT_SCOPE).await;
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let provider = provider(&endpoint);
    provider.token().await.unwrap();
    let client = client(provider, [server.addr.clone()]);
    let response = client
        .get(format!("http://{}/protected", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(endpoint.count(), 2);
}

#[tokio::test]
async fn missing_scope_the_token_carries_is_not_retried() {
    let server = spawn_refusing_server("never", StatusCode::FORBIDDEN, INSUFFICIENT_SCOPE).await;
    let endpoint = MockEndpoint::new(Reply::Json(
        200,
        r#"{"access_token":"token-s","expires_in":3600,"token_type":"Bearer","scope":"user-schedule-service/schedule.read user-schedule-service/schedule.update"}"#,
    ));
    let client = client(provider(&endpoint), [server.addr.clone()]);
    let response = client
        .get(format!("http://{}/protected", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(endpoint.count(), 1);
    assert_eq!(
        *server.seen.lock().unwrap(),
        [Some("Bearer token-s".to_owned())]
    );
}

#[tokio::test]
async fn other_403s_are_not_retried() {
    for challenge in [
        "",
        r#"Bearer realm="api""#,
        r#"Bearer error="insufficient_scope""#,
        r#"Bearer error="invalid_token", scope="user-schedule-service/schedule.update""#,
    ] {
        let server = spawn_refusing_server("never", StatusCode::FORBIDDEN, challenge).await;
        let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
        let client = client(provider(&endpoint), [server.addr.clone()]);
        let response = client
            .get(format!("http://{}/protected", server.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{challenge}");
        assert_eq!(server.seen.lock().unwrap().len(), 1, "{challenge}");
        assert_eq!(endpoint.count(), 1, "{challenge}");
    }
}
