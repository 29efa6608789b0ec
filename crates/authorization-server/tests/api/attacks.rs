//! The security suite of the authorization server: one test per attack, named for it. Each
//! fails when its defence is removed (see the README's security section).

use std::sync::Arc;
use std::time::Duration;

use authorization_server::{AppState, Config, router, serve, store};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use oauth_proto::time::{Clock, ManualClock, SystemClock};
use serde_json::json;

use crate::helpers::{ACCESS_KEY_ID, Options, SECRET_ACCESS_KEY, TestApp};

const CREATE_POOL: &str = "AWSCognitoIdentityProviderService.CreateUserPool";
const POOL_BODY: &str = r#"{"PoolName":"attacked"}"#;

/// `(name, value)` headers of a request to `app`, signed at `at` over `signed` only; the
/// `unsigned` headers are added after signing.
fn signed_headers(
    app: &TestApp,
    at: std::time::SystemTime,
    signed: &[(&str, &str)],
    body: &str,
) -> Vec<(String, String)> {
    let host = app.url.trim_start_matches("http://").to_owned();
    let mut headers: Vec<(String, String)> = vec![("host".to_owned(), host)];
    headers.extend(
        signed
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let identity = aws_credential_types::Credentials::new(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        None,
        None,
        "tests",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("cognito-idp")
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let uri = format!("{}/", app.url);
    let signable = SignableRequest::new(
        "POST",
        uri.as_str(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder()
        .method("POST")
        .uri(&uri)
        .body(())
        .unwrap();
    instructions.apply_to_request_http1x(&mut request);
    headers.extend(
        request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned())),
    );
    headers
}

async fn send(app: &TestApp, headers: &[(String, String)], body: &str) -> (u16, serde_json::Value) {
    let mut builder = app.http.post(format!("{}/", app.url));
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let response = builder.body(body.to_owned()).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

const FULL: [(&str, &str); 2] = [
    ("content-type", "application/x-amz-json-1.1"),
    ("x-amz-target", CREATE_POOL),
];

async fn signed_app(clock: Arc<dyn Clock>) -> TestApp {
    TestApp::spawn_with(Options {
        credentials: true,
        clock,
        ..Options::default()
    })
    .await
}

async fn pool_count(app: &TestApp) -> usize {
    app.sdk()
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .unwrap()
        .user_pools()
        .len()
}

fn kind(body: &serde_json::Value) -> &str {
    body["__type"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn dns_rebinding_a_foreign_host_is_refused() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(format!("{}/", app.url))
        .header("host", "attacker.example:9229")
        .header("x-amz-target", CREATE_POOL)
        .header("content-type", "application/x-amz-json-1.1")
        .body(POOL_BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(kind(&body), "ForbiddenException", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("attacker.example")
    );
    let pools = app.admin("ListUserPools", json!({"MaxResults": 10})).await;
    assert_eq!(pools["UserPools"], json!([]));
}

#[tokio::test]
async fn cross_origin_browser_request_is_refused() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(format!("{}/", app.url))
        .header("origin", "https://attacker.example")
        .header("x-amz-target", CREATE_POOL)
        .header("content-type", "application/x-amz-json-1.1")
        .body(POOL_BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(kind(&body), "ForbiddenException", "{body}");
    // The server's own origin is fine.
    let response = app
        .http
        .post(format!("{}/", app.url))
        .header("origin", app.url.as_str())
        .header("x-amz-target", CREATE_POOL)
        .header("content-type", "application/x-amz-json-1.1")
        .body(POOL_BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn unauthenticated_admin_api_on_the_network_refuses_to_start() {
    let state = |allow: bool| async move {
        let mut config = Config::new("http://auth.internal:9229");
        config.allow_unauthenticated_admin = allow;
        let store = store::connect("sqlite::memory:").await.unwrap();
        AppState::new(config, store, Arc::new(SystemClock))
    };
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let refused = state(false).await;
    let error = serve(listener, refused.clone(), router(refused), async {})
        .await
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("admin credentials"), "{error}");
    // The explicit opt-in (containers) starts; an immediate shutdown ends it.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let allowed = state(true).await;
    serve(listener, allowed.clone(), router(allowed), async {})
        .await
        .unwrap();
}

#[tokio::test]
async fn unsigned_target_is_refused() {
    let app = signed_app(Arc::new(SystemClock)).await;
    let mut headers = signed_headers(
        &app,
        SystemClock.now(),
        &[("content-type", "application/x-amz-json-1.1")],
        POOL_BODY,
    );
    headers.push(("x-amz-target".to_owned(), CREATE_POOL.to_owned()));
    let (status, body) = send(&app, &headers, POOL_BODY).await;
    assert_eq!(
        (status, kind(&body)),
        (400, "IncompleteSignatureException"),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("X-Amz-Target"));
    assert_eq!(pool_count(&app).await, 0);
}

#[tokio::test]
async fn unsigned_content_type_is_refused() {
    let app = signed_app(Arc::new(SystemClock)).await;
    let mut headers = signed_headers(
        &app,
        SystemClock.now(),
        &[("x-amz-target", CREATE_POOL)],
        POOL_BODY,
    );
    headers.push((
        "content-type".to_owned(),
        "application/x-amz-json-1.1".to_owned(),
    ));
    let (status, body) = send(&app, &headers, POOL_BODY).await;
    assert_eq!(
        (status, kind(&body)),
        (400, "IncompleteSignatureException"),
        "{body}"
    );
    assert_eq!(pool_count(&app).await, 0);
}

#[tokio::test]
async fn unsigned_amz_header_is_refused() {
    let app = signed_app(Arc::new(SystemClock)).await;
    let mut headers = signed_headers(&app, SystemClock.now(), &FULL, POOL_BODY);
    headers.push(("x-amz-meta-smuggled".to_owned(), "1".to_owned()));
    let (status, body) = send(&app, &headers, POOL_BODY).await;
    assert_eq!(
        (status, kind(&body)),
        (400, "IncompleteSignatureException"),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("x-amz-meta-smuggled")
    );
}

#[tokio::test]
async fn replayed_signed_request_is_refused() {
    let app = TestApp::spawn_with(Options {
        credentials: true,
        refuse_replays: true,
        ..Options::default()
    })
    .await;
    let headers = signed_headers(&app, SystemClock.now(), &FULL, POOL_BODY);
    let (status, body) = send(&app, &headers, POOL_BODY).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(&app, &headers, POOL_BODY).await;
    assert_eq!(
        (status, kind(&body)),
        (400, "InvalidSignatureException"),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("already used"));
    assert_eq!(pool_count(&app).await, 1);
}

#[tokio::test]
async fn skew_beyond_five_minutes_is_refused() {
    let now = SystemClock.now();
    let clock = ManualClock::new(now);
    let app = signed_app(Arc::new(clock.clone())).await;
    // Six minutes old: AWS's own window is five.
    let headers = signed_headers(&app, now - Duration::from_secs(6 * 60), &FULL, POOL_BODY);
    let (status, body) = send(&app, &headers, POOL_BODY).await;
    assert_eq!(
        (status, kind(&body)),
        (400, "InvalidSignatureException"),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Signature expired")
    );
    // Six minutes ahead.
    let headers = signed_headers(&app, now + Duration::from_secs(6 * 60), &FULL, POOL_BODY);
    let (_, body) = send(&app, &headers, POOL_BODY).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Signature not yet current"),
        "{body}"
    );
    // Four minutes old is within the window.
    let headers = signed_headers(&app, now - Duration::from_secs(4 * 60), &FULL, POOL_BODY);
    let (status, body) = send(&app, &headers, POOL_BODY).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn duplicated_authorization_or_date_header_is_refused() {
    let app = signed_app(Arc::new(SystemClock)).await;
    for name in ["authorization", "x-amz-date"] {
        let mut headers = signed_headers(&app, SystemClock.now(), &FULL, POOL_BODY);
        let value = headers.iter().find(|(n, _)| n == name).unwrap().1.clone();
        headers.push((name.to_owned(), value));
        let (status, body) = send(&app, &headers, POOL_BODY).await;
        assert_eq!(
            (status, kind(&body)),
            (400, "IncompleteSignatureException"),
            "{body}"
        );
        assert!(body["message"].as_str().unwrap().contains("more than one"));
    }
    assert_eq!(pool_count(&app).await, 0);
}

#[tokio::test]
async fn signed_request_for_a_foreign_host_is_refused() {
    let app = signed_app(Arc::new(SystemClock)).await;
    let mut headers = signed_headers(&app, SystemClock.now(), &FULL, POOL_BODY);
    // Signed for (and sent with) another host name: a request captured elsewhere (or sent
    // through a rebound DNS name), replayed here.
    let host = headers.iter_mut().find(|(n, _)| n == "host").unwrap();
    host.1 = "cognito-idp.attacker.example".to_owned();
    let (status, body) = send(&app, &headers, POOL_BODY).await;
    assert_eq!((status, kind(&body)), (403, "ForbiddenException"), "{body}");
    assert_eq!(pool_count(&app).await, 0);
}

#[tokio::test]
async fn duplicated_authorization_header_at_the_token_endpoint_is_refused() {
    let app = TestApp::spawn().await;
    let stack = crate::helpers::create_stack(&app, &[crate::helpers::READ]).await;
    let basic = |id: &str, secret: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    };
    let response = app
        .http
        .post(format!("{}/oauth2/token", app.url))
        .header("authorization", basic(&stack.client_id, "wrong"))
        .header(
            "authorization",
            basic(&stack.client_id, &stack.client_secret),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
}

#[tokio::test]
async fn unknown_client_flood_costs_one_query() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/auth.db", dir.path().display());
    let clock = ManualClock::new(SystemClock.now());
    let app = TestApp::spawn_with(Options {
        database_url: db.clone(),
        clock: Arc::new(clock.clone()),
        ..Options::default()
    })
    .await;
    let unknown = "1example23456789012345678a";
    let form = [("grant_type", "client_credentials")];
    let response = app.token_request(&form, Some((unknown, "guess"))).await;
    assert_eq!(response.status(), 401);
    // The database no longer answers client lookups: only the negative cache can refuse
    // the flood without an error.
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    sqlx::query("ALTER TABLE app_clients RENAME TO app_clients_gone")
        .execute(&pool)
        .await
        .unwrap();
    for _ in 0..50 {
        let response = app.token_request(&form, Some((unknown, "guess"))).await;
        assert_eq!(response.status(), 401);
    }
    // The entry is fresh for a second only (another replica may create the client).
    clock.advance(Duration::from_secs(2));
    let response = app.token_request(&form, Some((unknown, "guess"))).await;
    assert_eq!(response.status(), 500);
}
