//! The metrics exported through the `metrics` facade.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;

use crate::helpers::*;

/// The value of the sample line starting with `prefix`, e.g. `name{labels}`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn requests_failures_and_expiry_are_exported() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // A local recorder covers one thread: run a current-thread runtime inside it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let endpoint = MockEndpoint::new(Reply::Json(400, r#"{"error":"invalid_client"}"#));
            let provider = builder(&endpoint, TokioClock::new()).build().unwrap();
            provider.token().await.unwrap_err();
            pass(secs(5)).await;
            endpoint.set(Reply::Json(503, "{}"));
            provider.token().await.unwrap_err();
            pass(secs(60)).await;
            endpoint.set(Reply::Token { expires_in: 3600 });
            provider.token().await.unwrap();
            tokio::time::advance(Duration::from_secs(100)).await;
            provider.token().await.unwrap();
            assert_eq!(provider.stats().requests as usize, endpoint.count());
        });
    });

    let text = handle.render();
    let labels = format!("client_id=\"{CLIENT_ID}\"");
    // 1 invalid_client + 3 answered 503 (four failures in a row end the retries) + 1 token.
    assert_eq!(
        sample(&text, &format!("token_provider_requests_total{{{labels}}}")),
        Some(5.0),
        "{text}"
    );
    let failures = |kind: &str| {
        text.lines()
            .filter(|l| l.starts_with("token_provider_failures_total{"))
            .find(|l| l.contains(&labels) && l.contains(&format!("kind=\"{kind}\"")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    assert_eq!(failures("oauth"), Some(1.0), "{text}");
    assert_eq!(failures("status"), Some(3.0), "{text}");
    // Set when the token was stored, then refreshed by the call 100 s later.
    assert_eq!(
        sample(
            &text,
            &format!("token_provider_token_expires_in_seconds{{{labels}}}")
        ),
        Some(3500.0),
        "{text}"
    );
}
