//! Every rejection is counted by reason.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use jwt_verifier::axum::{JwtAuthLayer, RequireScopeLayer};
use metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use serde_json::json;
use tower::ServiceExt;

use crate::helpers::*;

/// Counts `jwt_verifier_rejections_total` by its `reason` label.
#[derive(Default)]
struct Reasons(Mutex<BTreeMap<String, Arc<Cell>>>);

#[derive(Default)]
struct Cell(AtomicU64);

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::SeqCst);
    }
    fn absolute(&self, value: u64) {
        self.0.fetch_max(value, Ordering::SeqCst);
    }
}

impl Reasons {
    fn get(&self, reason: &str) -> u64 {
        self.0
            .lock()
            .unwrap()
            .get(reason)
            .map_or(0, |c| c.0.load(Ordering::SeqCst))
    }
}

impl Recorder for Reasons {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        if key.name() != "jwt_verifier_rejections_total" {
            return Counter::noop();
        }
        let reason = key
            .labels()
            .find(|l| l.key() == "reason")
            .map(|l| l.value().to_owned())
            .unwrap_or_default();
        let cell = Arc::clone(self.0.lock().unwrap().entry(reason).or_default());
        Counter::from_arc(cell)
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn rejections_are_counted_by_reason() {
    let reasons = Reasons::default();
    // The runtime is single-threaded, so the thread-local recorder sees every count.
    let _guard = metrics::set_default_local_recorder(&reasons);
    let app = TestApp::spawn().await;

    app.verifier.verify(&app.token()).await.unwrap();
    let mut claims = app.claims();
    claims["exp"] = json!(app.now() - 3600);
    let _ = app.verifier.verify(&app.issuer.token(&claims)).await;
    let _ = app.verifier.verify("garbage").await;
    let _ = app.verifier.verify("garbage").await;

    let router = axum::Router::new()
        .route("/", get(|| async { "ok" }))
        .route_layer(RequireScopeLayer::all_of([UPDATE]))
        .layer(JwtAuthLayer::new(app.verifier.clone()));
    let send = |authorization: Option<String>| {
        let mut request = Request::get("/");
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        router.clone().oneshot(request.body(Body::empty()).unwrap())
    };
    send(None).await.unwrap();
    send(Some("Bearer".to_owned())).await.unwrap();
    send(Some(format!("Bearer {}", app.token()))).await.unwrap();

    assert_eq!(reasons.get("expired"), 1);
    assert_eq!(reasons.get("malformed"), 2);
    assert_eq!(reasons.get("missing_token"), 1);
    assert_eq!(reasons.get("invalid_request"), 1);
    assert_eq!(reasons.get("insufficient_scope"), 1);
}
