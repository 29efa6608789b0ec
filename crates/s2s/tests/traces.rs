//! `s2s up --otlp-endpoint URL`: the real binary exports its spans over OTLP/HTTP to a
//! collector, one trace across the three servers, flushed when it stops. The collector here is a few lines of axum that keep what they are
//! posted (protobuf: the test looks for the bytes it knows, not a decoding of its own).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, reason = "each test binary uses a part of the helpers")]
mod support;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use support::{Up, outputs};

/// What the collector received at `/v1/traces`: each export's content type and body.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A collector on 127.0.0.1:0 accepting OTLP/HTTP exports at `/v1/traces`.
async fn collector() -> (String, Received) {
    let received: Received = Arc::default();
    let app = axum::Router::new()
        .route(
            "/v1/traces",
            post(
                |State(received): State<Received>, headers: HeaderMap, body: Bytes| async move {
                    let content_type = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    received.lock().unwrap().push((content_type, body.to_vec()));
                    // An empty ExportTraceServiceResponse: everything accepted.
                    (
                        StatusCode::OK,
                        [("content-type", "application/x-protobuf")],
                        "",
                    )
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_exports_one_trace_across_the_three_servers_to_the_otlp_endpoint() {
    let (endpoint, received) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up::start(dir.path(), &["--otlp-endpoint", &endpoint]);
    let articles = up.url("articles-service");
    let secret = std::fs::read_to_string(dir.path().join("data/client-secret")).unwrap();
    let client_id = outputs(dir.path())["client_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // One call through articles-service, in a trace the caller started: every server's
    // span must carry this trace id.
    let http = reqwest::Client::new();
    let article: serde_json::Value = http
        .post(format!("{articles}/articles"))
        .json(&serde_json::json!({
            "title": "Traces",
            "body": "Exported.",
            "author_id": "alice",
            "publish_at": "2030-01-07T09:00:00Z",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let response = http
        .get(format!(
            "{articles}/articles/{}/author-schedule",
            article["id"].as_str().unwrap()
        ))
        .header("traceparent", format!("00-{trace}-b7ad6b7169203331-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Stopping flushes the spans not yet exported.
    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));
    let exports = received.lock().unwrap().clone();
    assert!(!exports.is_empty(), "no export reached the collector");
    for (content_type, _) in &exports {
        assert_eq!(content_type, "application/x-protobuf");
    }
    let all: Vec<u8> = exports.into_iter().flat_map(|(_, body)| body).collect();

    let trace_bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert!(
        contains(&all, &trace_bytes),
        "the caller's trace id was not exported"
    );
    for expected in [
        "GET /articles/{id}/author-schedule",
        "POST /oauth2/token",
        "GET /users/{user_id}/schedule",
        "token.acquire",
        "token.request",
        "jwt.verify",
        "service.name",
    ] {
        assert!(
            contains(&all, expected.as_bytes()),
            "no {expected:?} in the exported spans"
        );
    }
    // The client id may be an attribute; the secret and tokens (`eyJ…`) never are.
    assert!(contains(&all, client_id.as_bytes()));
    assert!(
        !contains(&all, secret.trim().as_bytes()),
        "the secret was exported"
    );
    assert!(!contains(&all, b"eyJ"), "a token was exported");
}
