//! Off loopback, the write routes need a bearer token with `articles-service/articles.write`
//! from the same user pool; reads stay anonymous; and `serve` itself refuses to open
//! anonymous writes to a network unless told to.
//!
//! "Off loopback" here is a listener on 0.0.0.0 (not loopback), reached through 127.0.0.1.

use std::sync::Arc;

use aws_sdk_cognitoidentityprovider::types::{
    OAuthFlowType, ResourceServerScopeType, TimeUnitsType, TokenValidityUnitsType,
};
use oauth_proto::time::SystemClock;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::helpers::{AppClient, Running, Stack, articles_service_on, provider};

const WRITE: &str = "articles-service/articles.write";

fn article() -> Value {
    json!({
        "title": "Spring launch",
        "body": "We launch in spring.",
        "author_id": "alice",
        "publish_at": "2030-05-01T09:00:00Z",
    })
}

/// The stack, plus what `examples/stack-editor.toml` adds: resource server
/// `articles-service` with `articles.write`, and app client `editor` granted it; and a
/// second articles-service on 0.0.0.0 whose writes need that scope.
struct Writers {
    stack: Stack,
    articles: Running,
    editor: token_provider::TokenProvider,
    http: reqwest::Client,
}

impl Writers {
    async fn spawn() -> Self {
        let stack = Stack::spawn().await;
        let scope = ResourceServerScopeType::builder()
            .scope_name("articles.write")
            .scope_description("Create, change and delete articles")
            .build()
            .unwrap();
        stack
            .sdk
            .create_resource_server()
            .user_pool_id(&stack.pool_id)
            .identifier("articles-service")
            .name("articles-service")
            .scopes(scope)
            .send()
            .await
            .unwrap();
        let created = stack
            .sdk
            .create_user_pool_client()
            .user_pool_id(&stack.pool_id)
            .client_name("editor")
            .generate_secret(true)
            .allowed_o_auth_flows_user_pool_client(true)
            .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
            .allowed_o_auth_scopes(WRITE)
            .supported_identity_providers("COGNITO")
            .access_token_validity(60)
            .token_validity_units(
                TokenValidityUnitsType::builder()
                    .access_token(TimeUnitsType::Minutes)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let client = created.user_pool_client().unwrap();
        let editor = AppClient {
            client_id: client.client_id().unwrap().to_owned(),
            secret: client.client_secret().unwrap().to_owned(),
        };
        let editor = provider(&stack.token_url, &editor, None);

        // The writers' issuer is the pool of the service's own tokens.
        let issuer = format!(
            "{}/{}",
            stack.token_url.trim_end_matches("/oauth2/token"),
            stack.pool_id
        );
        let verifier = jwt_verifier::Verifier::builder()
            .issuer(issuer)
            .allow_any_client_id()
            .clock(Arc::new(SystemClock))
            .build()
            .unwrap();
        let mut config = articles_service::Config::new(stack.schedules_url.clone());
        config.write_auth = Some(articles_service::WriteAuth::new(verifier));
        let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
        let articles = articles_service_on(listener, config, stack.tokens.clone()).await;
        Self {
            stack,
            articles,
            editor,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        let port = self.articles.url.rsplit(':').next().unwrap();
        format!("http://127.0.0.1:{port}{path}")
    }

    /// A request to the 0.0.0.0 articles-service, with `token` as a bearer token if given.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn editor_token(&self) -> String {
        self.editor.token().await.unwrap().secret().to_owned()
    }

    /// A token of the same pool without the write scope: the calendar app's.
    async fn calendar_token(&self) -> String {
        self.stack
            .calendar
            .token()
            .await
            .unwrap()
            .secret()
            .to_owned()
    }

    async fn create(&self) -> String {
        let token = self.editor_token().await;
        let response = self
            .call(Method::POST, "/articles", Some(&token), Some(article()))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.unwrap();
        created["id"].as_str().unwrap().to_owned()
    }

    async fn list(&self) -> Vec<Value> {
        let response = self.call(Method::GET, "/articles", None, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.unwrap();
        page["articles"].as_array().unwrap().clone()
    }
}

fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .expect("a WWW-Authenticate challenge")
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_write_off_loopback_is_refused() {
    let writers = Writers::spawn().await;

    // No token: 401 with a bare Bearer challenge (RFC 6750 §3.1: no error code), and
    // nothing stored.
    let response = writers
        .call(Method::POST, "/articles", None, Some(article()))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&response), "Bearer");
    assert!(writers.list().await.is_empty());

    // A token that is not one: 401 invalid_token.
    let response = writers
        .call(
            Method::POST,
            "/articles",
            Some("not.a.token"),
            Some(article()),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&response).contains(r#"error="invalid_token""#),
        "{}",
        challenge(&response)
    );
    assert!(writers.list().await.is_empty());

    // Every write route, on an existing article: refused, the article unchanged.
    let id = writers.create().await;
    let before = writers.list().await;
    for (method, path, body) in [
        (Method::PUT, format!("/articles/{id}"), Some(article())),
        (Method::DELETE, format!("/articles/{id}"), None),
        (Method::POST, format!("/articles/{id}/publication"), None),
    ] {
        let response = writers.call(method.clone(), &path, None, body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_eq!(challenge(&response), "Bearer", "{method} {path}");
    }
    assert_eq!(writers.list().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_token_without_the_write_scope_is_forbidden() {
    let writers = Writers::spawn().await;
    let token = writers.calendar_token().await;
    let response = writers
        .call(Method::POST, "/articles", Some(&token), Some(article()))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = challenge(&response);
    assert!(
        challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(&format!(r#"scope="{WRITE}""#)),
        "{challenge}"
    );
    assert!(writers.list().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_token_with_the_write_scope_is_accepted() {
    let writers = Writers::spawn().await;
    let token = writers.editor_token().await;
    let response = writers
        .call(Method::POST, "/articles", Some(&token), Some(article()))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut changed = article();
    changed["title"] = json!("Summer launch");
    let response = writers
        .call(
            Method::PUT,
            &format!("/articles/{id}"),
            Some(&token),
            Some(changed),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(writers.list().await[0]["title"], "Summer launch");
    let response = writers
        .call(
            Method::DELETE,
            &format!("/articles/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(writers.list().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_stay_anonymous_off_loopback() {
    let writers = Writers::spawn().await;
    let id = writers.create().await;
    for path in [
        "/articles".to_owned(),
        format!("/articles/{id}"),
        format!("/articles/{id}/author-schedule"),
        "/healthz".to_owned(),
        "/openapi.json".to_owned(),
    ] {
        let response = writers.call(Method::GET, &path, None, None).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    }
}

/// An articles-service state that never calls anything (the upstream is not contacted by
/// these tests).
async fn state_with(config: articles_service::Config) -> articles_service::AppState {
    let tokens = provider(
        "http://127.0.0.1:9/oauth2/token",
        &AppClient {
            client_id: "articlesservice".to_owned(),
            secret: "unused".to_owned(),
        },
        None,
    );
    let store = articles_service::store::connect("sqlite::memory:")
        .await
        .unwrap();
    articles_service::AppState::new(config, store, tokens, Arc::new(SystemClock)).unwrap()
}

#[tokio::test]
async fn serve_refuses_a_network_listener_without_write_auth() {
    let state = state_with(articles_service::Config::new("http://127.0.0.1:9")).await;
    let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let router = articles_service::router(state.clone());
    // The refusal comes before anything is accepted: on the first poll.
    let result = tokio::select! {
        biased;
        result = articles_service::serve(listener, state, router, std::future::pending()) => result,
        () = std::future::ready(()) => panic!("serve started on 0.0.0.0 with anonymous writes"),
    };
    let err = result.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let message = err.to_string();
    assert!(
        message.contains("anonymously") && message.contains("allow_anonymous_writes"),
        "{message}"
    );
}

#[tokio::test]
async fn allow_anonymous_writes_serves_writes_off_loopback() {
    let mut config = articles_service::Config::new("http://127.0.0.1:9");
    config.allow_anonymous_writes = true;
    let tokens = provider(
        "http://127.0.0.1:9/oauth2/token",
        &AppClient {
            client_id: "articlesservice".to_owned(),
            secret: "unused".to_owned(),
        },
        None,
    );
    let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let articles = articles_service_on(listener, config, tokens).await;
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/articles"))
        .json(&article())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    articles.stop().await;
}
