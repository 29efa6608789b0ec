//! SigV4 verification of the admin API.

use std::sync::Arc;
use std::time::Duration;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use oauth_proto::time::{Clock, ManualClock, SystemClock};

use crate::helpers::{ACCESS_KEY_ID, Options, SECRET_ACCESS_KEY, TestApp};

const TARGET: &str = "AWSCognitoIdentityProviderService.ListUserPools";
const BODY: &str = r#"{"MaxResults":10}"#;

/// A request signed by the `aws-sigv4` crate, independent of the server's code path.
fn signed_request(app: &TestApp, secret: &str, body: &str) -> http::Request<String> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("{}/", app.url))
        .header("host", app.url.trim_start_matches("http://"))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", TARGET)
        .body(body.to_owned())
        .unwrap();
    let identity =
        aws_credential_types::Credentials::new(ACCESS_KEY_ID, secret, None, None, "tests").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("cognito-idp")
        .time(SystemClock.now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let uri = request.uri().to_string();
    let signable = SignableRequest::new(
        "POST",
        uri.as_str(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut request);
    request
}

async fn send(app: &TestApp, request: http::Request<String>) -> (u16, serde_json::Value) {
    let (parts, body) = request.into_parts();
    let mut builder = app.http.post(parts.uri.to_string());
    for (name, value) in &parts.headers {
        if name != "host" {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
    }
    let response = builder.body(body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn signed_app() -> TestApp {
    TestApp::spawn_with(Options {
        credentials: true,
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn correctly_signed_requests_pass() {
    let app = signed_app().await;
    let (status, body) = send(&app, signed_request(&app, SECRET_ACCESS_KEY, BODY)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["UserPools"], serde_json::json!([]));
    // And the SDK's own signing.
    app.sdk()
        .list_user_pools()
        .max_results(10)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_tampered_body_is_refused() {
    let app = signed_app().await;
    let mut request = signed_request(&app, SECRET_ACCESS_KEY, BODY);
    *request.body_mut() = r#"{"MaxResults":11}"#.to_owned();
    let (status, body) = send(&app, request).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("InvalidSignatureException"))
    );
}

#[tokio::test]
async fn a_tampered_signature_is_refused() {
    let app = signed_app().await;
    let mut request = signed_request(&app, SECRET_ACCESS_KEY, BODY);
    let authorization = request.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    let last = authorization.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &authorization[..authorization.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    request
        .headers_mut()
        .insert("authorization", flipped.parse().unwrap());
    let (status, body) = send(&app, request).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("InvalidSignatureException"))
    );
}

#[tokio::test]
async fn a_wrong_secret_or_unknown_key_is_refused() {
    let app = signed_app().await;
    let error = app
        .sdk_with(ACCESS_KEY_ID, "not-the-secret")
        .list_user_pools()
        .max_results(10)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata::code(&error),
        Some("InvalidSignatureException")
    );
    let error = app
        .sdk_with("AKIDUNKNOWN", SECRET_ACCESS_KEY)
        .list_user_pools()
        .max_results(10)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata::code(&error),
        Some("UnrecognizedClientException")
    );
    // Nothing was created by refused requests.
    let error = app
        .sdk_with(ACCESS_KEY_ID, "x")
        .create_user_pool()
        .pool_name("p")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata::code(&error),
        Some("InvalidSignatureException")
    );
    assert!(
        app.sdk()
            .list_user_pools()
            .max_results(10)
            .send()
            .await
            .unwrap()
            .user_pools()
            .is_empty()
    );
}

#[tokio::test]
async fn a_missing_signature_is_refused() {
    let app = signed_app().await;
    let (status, _, body) = app
        .admin_raw("ListUserPools", "application/x-amz-json-1.1", BODY)
        .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("MissingAuthenticationTokenException"))
    );
}

#[tokio::test]
async fn a_stale_signature_is_refused() {
    let clock = ManualClock::new(SystemClock.now() - Duration::from_secs(3600));
    let app = TestApp::spawn_with(Options {
        credentials: true,
        clock: Arc::new(clock),
        ..Options::default()
    })
    .await;
    let error = app
        .sdk()
        .list_user_pools()
        .max_results(10)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata::code(&error),
        Some("InvalidSignatureException")
    );
    assert!(
        aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata::message(&error)
            .unwrap()
            .contains("Signature not yet current")
    );
}

#[tokio::test]
async fn without_credentials_unsigned_requests_pass() {
    let app = TestApp::spawn().await;
    let (status, _, body) = app
        .admin_raw("ListUserPools", "application/x-amz-json-1.1", BODY)
        .await;
    assert_eq!(status, 200, "{body}");
}
