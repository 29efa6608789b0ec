//! What goes over the wire: the request format of both client authentication methods,
//! and the reqwest client against a token endpoint on loopback.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use base64::Engine as _;
use token_provider::{ClientAuth, ClientId, ClientSecret, Scopes, TokenError, TokenProvider};

use crate::helpers::*;

fn form(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap()
}

#[tokio::test(start_paused = true)]
async fn basic_auth_sends_the_credentials_in_the_header_only() {
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let scopes: Scopes =
        "user-schedule-service/schedule.read user-schedule-service/schedule.update"
            .parse()
            .unwrap();
    let provider = builder(&endpoint, TokioClock::new())
        .scopes(scopes)
        .build()
        .unwrap();
    provider.token().await.unwrap();

    let request = &endpoint.seen()[0].request;
    assert_eq!(request.method(), "POST");
    assert_eq!(request.uri(), TOKEN_URL);
    assert_eq!(
        request.headers()[header::CONTENT_TYPE],
        "application/x-www-form-urlencoded"
    );
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"));
    assert_eq!(
        request.headers()[header::AUTHORIZATION],
        format!("Basic {expected}").as_str()
    );
    assert_eq!(
        form(request.body()),
        [
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            (
                "scope".to_owned(),
                "user-schedule-service/schedule.read user-schedule-service/schedule.update"
                    .to_owned()
            ),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn post_auth_sends_the_credentials_in_the_form_only() {
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let provider = builder(&endpoint, TokioClock::new())
        .auth(ClientAuth::Post)
        .build()
        .unwrap();
    provider.token().await.unwrap();

    let request = &endpoint.seen()[0].request;
    assert!(request.headers().get(header::AUTHORIZATION).is_none());
    assert_eq!(
        form(request.body()),
        [
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("client_id".to_owned(), CLIENT_ID.to_owned()),
            ("client_secret".to_owned(), SECRET.to_owned()),
        ],
        "no scope is sent when none is configured"
    );
}

/// A token endpoint on 127.0.0.1 that accepts Basic or Post credentials, plus a route
/// that redirects to it.
async fn spawn_token_endpoint() -> (String, Arc<Mutex<Vec<String>>>) {
    let hits: Arc<Mutex<Vec<String>>> = Arc::default();
    let on_token = Arc::clone(&hits);
    let on_redirect = Arc::clone(&hits);
    let app = Router::new()
        .route(
            "/oauth2/token",
            post(move |headers: HeaderMap, body: String| {
                let hits = Arc::clone(&on_token);
                async move {
                    hits.lock().unwrap().push("token".to_owned());
                    let basic = format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD
                            .encode(format!("{CLIENT_ID}:{SECRET}"))
                    );
                    let fields = form(body.as_bytes());
                    let has = |k: &str, v: &str| fields.iter().any(|(a, b)| a == k && b == v);
                    let authenticated = headers
                        .get(header::AUTHORIZATION)
                        .is_some_and(|v| v == basic.as_str())
                        || (has("client_id", CLIENT_ID) && has("client_secret", SECRET));
                    if !has("grant_type", "client_credentials") || !authenticated {
                        return (
                            StatusCode::BAD_REQUEST,
                            [(header::CONTENT_TYPE, "application/json")],
                            r#"{"error":"invalid_client"}"#.to_owned(),
                        );
                    }
                    (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
                        r#"{"access_token":"a.b.c","expires_in":3600,"token_type":"Bearer"}"#
                            .to_owned(),
                    )
                }
            }),
        )
        .route(
            "/redirect",
            post(move || {
                let hits = Arc::clone(&on_redirect);
                async move {
                    hits.lock().unwrap().push("redirect".to_owned());
                    (
                        StatusCode::TEMPORARY_REDIRECT,
                        [(header::LOCATION, "/oauth2/token")],
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, hits)
}

fn loopback_provider(url: String, auth: ClientAuth, secret: &str) -> TokenProvider {
    TokenProvider::builder()
        .token_url(url)
        .client_id(ClientId::parse(CLIENT_ID).unwrap())
        .client_secret(ClientSecret::new(secret))
        .auth(auth)
        .max_attempts(1)
        .build()
        .unwrap()
}

#[tokio::test]
async fn reqwest_client_gets_a_token_over_loopback_with_both_auth_methods() {
    let (base, hits) = spawn_token_endpoint().await;
    for auth in [ClientAuth::Basic, ClientAuth::Post] {
        let provider = loopback_provider(format!("{base}/oauth2/token"), auth, SECRET);
        let token = provider.token().await.unwrap();
        assert_eq!(token.secret(), "a.b.c", "{auth:?}");

        let wrong = loopback_provider(format!("{base}/oauth2/token"), auth, "wrong");
        let error = wrong.token().await.unwrap_err();
        assert!(
            matches!(error, TokenError::Oauth { status: 400, .. }),
            "{auth:?}: {error:?}"
        );
    }
    assert_eq!(hits.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn reqwest_client_does_not_follow_redirects() {
    let (base, hits) = spawn_token_endpoint().await;
    let provider = loopback_provider(format!("{base}/redirect"), ClientAuth::Post, SECRET);
    let error = provider.token().await.unwrap_err();
    assert!(
        matches!(error, TokenError::Status { status: 307, .. }),
        "{error:?}"
    );
    assert_eq!(
        *hits.lock().unwrap(),
        ["redirect"],
        "the redirect was followed"
    );
}

#[tokio::test]
async fn reqwest_client_reports_refused_connections_as_transport_errors() {
    // Bind then drop, so the port is (very likely) closed.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let provider = loopback_provider(
        format!("http://{addr}/oauth2/token"),
        ClientAuth::Basic,
        SECRET,
    );
    let error = provider.token().await.unwrap_err();
    assert!(
        matches!(&error, TokenError::Unavailable { attempts: 1, last } if matches!(**last, TokenError::Transport(_))),
        "{error:?}"
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let error = TokenProvider::builder()
        .token_url("http://auth.example.com/oauth2/token")
        .client_id(ClientId::parse(CLIENT_ID).unwrap())
        .client_secret(ClientSecret::new(SECRET))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("clear text"), "{error}");
}
