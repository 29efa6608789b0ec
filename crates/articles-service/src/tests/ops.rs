//! `/healthz`, `/readyz`, `/metrics`, `/openapi.json` and request ids.

use super::*;

#[tokio::test]
async fn ops_endpoints() {
    let mut config = Config::new("http://127.0.0.1:9");
    config.upstream_timeout = Duration::from_millis(200);
    let app = App::with_config(TestDb::sqlite().await, config).await;
    let health = app.call(Method::GET, "/healthz", None).await;
    assert_eq!(
        (health.status, health.body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );

    let ready = app.call(Method::GET, "/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    app.tokens.broken.store(true, Ordering::SeqCst);
    let not_ready = app.call(Method::GET, "/readyz", None).await;
    not_ready.assert_problem(StatusCode::SERVICE_UNAVAILABLE);
    assert!(not_ready.body["detail"].as_str().unwrap().contains("token"));

    app.tokens.broken.store(false, Ordering::SeqCst);
    app.tokens.hanging.store(true, Ordering::SeqCst);
    let not_ready = app.call(Method::GET, "/readyz", None).await;
    not_ready.assert_problem(StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        not_ready.body["detail"]
            .as_str()
            .unwrap()
            .contains("within")
    );

    app.tokens.requests.store(3, Ordering::SeqCst);
    let metrics = app.call(Method::GET, "/metrics", None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics
            .body
            .as_str()
            .unwrap()
            .contains("\narticles_service_token_requests_total 3\n"),
        "{}",
        metrics.body
    );

    let openapi = app.call(Method::GET, "/openapi.json", None).await;
    assert_eq!(openapi.status, StatusCode::OK);
    let paths = openapi.body["paths"].as_object().unwrap();
    for path in [
        "/articles",
        "/articles/{id}",
        "/articles/{id}/author-schedule",
        "/articles/{id}/publication",
        "/readyz",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(openapi.body["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn request_ids_are_set_and_propagated() {
    let app = App::new(TestDb::sqlite().await, "http://127.0.0.1:9").await;
    let reply = app.call(Method::GET, "/healthz", None).await;
    let generated = reply.headers["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");

    let request = Request::builder()
        .uri("/articles/unknown")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.headers["x-request-id"], "abc-123");
}

#[test]
fn bad_schedules_url_is_refused() {
    for url in ["", "not a url", "ftp://host/", "unix:/tmp/sock"] {
        assert!(crate::schedules_url(url).is_err(), "{url}");
    }
    assert!(crate::schedules_url("http://127.0.0.1:8082").is_ok());
}
