//! Transient failures, OAuth errors, timeouts and unusable answers.

use std::time::Duration;

use futures::FutureExt as _;
use token_provider::{ErrorCode, TokenError};

use crate::helpers::*;

const INVALID_CLIENT: &str =
    r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#;

/// The gap after the k-th failed request in a row (k from 1) must lie in
/// `[d/2, d]` with `d = min(2^(k-1), 60)` seconds, give or take the step of `pass`.
fn assert_backoff(gaps: &[Duration], step: Duration) {
    assert!(!gaps.is_empty());
    for (i, gap) in gaps.iter().enumerate() {
        let full = Duration::from_secs((1_u64 << i.min(10)).min(60));
        assert!(
            *gap + step >= full / 2 && *gap <= full + step,
            "gap {} is {gap:?}, expected within [{:?}, {full:?}]: {gaps:?}",
            i + 1,
            full / 2
        );
    }
}

fn gaps(times: &[Duration]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn failing_endpoint_backs_off_keeps_the_cached_token_then_reports_expiry() {
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let provider = builder(&endpoint, TokioClock::new())
        .refresh_jitter(0.0)
        .build()
        .unwrap();
    assert_eq!(provider.token().await.unwrap().secret(), "token-1");
    endpoint.set(Reply::Json(503, r#"{"message":"Service Unavailable"}"#));

    // From the refresh at 2880 s until expiry at 3600 s every call returns the cached token
    // at once, while the background refresh keeps failing.
    pass(secs(2879)).await;
    let step = Duration::from_millis(250);
    for _ in 0..(720 * 4 - 1) {
        pass(step).await;
        let token = provider
            .token()
            .now_or_never()
            .expect("a caller waited while the cached token was valid")
            .unwrap();
        assert_eq!(token.secret(), "token-1");
    }
    let failed: Vec<Duration> = endpoint.seen()[1..].iter().map(|s| s.at).collect();
    assert_near(failed[0], secs(2880));
    assert_backoff(&gaps(&failed), Duration::from_millis(2));
    // 1+2+4+8+16+32 s, then one a minute at most: no storm.
    assert!(
        (10..=32).contains(&failed.len()),
        "{} requests",
        failed.len()
    );
    assert_eq!(provider.stats().failures.status as usize, failed.len());

    // Expired: a clear error, not the stale token.
    pass(secs(2)).await;
    assert!(provider.cached().is_none());
    // Long into the outage a refresh makes one request: nobody waits through a pause.
    let error = tokio::time::timeout(secs(1), provider.token())
        .await
        .expect("a caller waited through a backoff pause")
        .unwrap_err();
    match &error {
        TokenError::Expired { last, .. } => {
            assert!(
                matches!(**last, TokenError::Status { status: 503, .. }),
                "{last:?}"
            );
        }
        other => panic!("expected Expired, got {other:?}"),
    }
    assert!(error.to_string().contains("expired"), "{error}");

    // The endpoint recovers: within one backoff period a token comes back.
    endpoint.set(Reply::Token { expires_in: 3600 });
    let before = endpoint.count();
    let mut recovered = None;
    for _ in 0..61 {
        pass(secs(1)).await;
        if let Ok(token) = provider.token().await {
            recovered = Some(token);
            break;
        }
    }
    let token = recovered.expect("no token within 60 s of recovery");
    assert_eq!(token.secret(), format!("token-{}", before + 1));
}

#[tokio::test(start_paused = true)]
async fn cold_start_retries_then_gives_up_with_unavailable() {
    let endpoint = MockEndpoint::new(Reply::Refused);
    let provider = builder(&endpoint, TokioClock::new())
        .max_attempts(4)
        .build()
        .unwrap();
    let error = provider.token().await.unwrap_err();
    match &error {
        TokenError::Unavailable { attempts: 4, last } => {
            assert!(matches!(**last, TokenError::Transport(_)), "{last:?}");
        }
        other => panic!("expected Unavailable after 4 attempts, got {other:?}"),
    }
    assert_eq!(endpoint.count(), 4);
    let times: Vec<Duration> = endpoint.seen().iter().map(|s| s.at).collect();
    assert_backoff(&gaps(&times), Duration::from_millis(2));
    assert_eq!(provider.stats().failures.transport, 4);

    // During the backoff that follows, callers get the error without a request.
    for _ in 0..100 {
        assert!(matches!(
            provider.token().now_or_never().unwrap(),
            Err(TokenError::Unavailable { .. })
        ));
    }
    assert_eq!(endpoint.count(), 4);

    // Nobody asks, nothing is cached: no background retries.
    pass(secs(3600)).await;
    assert_eq!(endpoint.count(), 4);
}

#[tokio::test(start_paused = true)]
async fn wrong_secret_gives_typed_invalid_client_and_no_retry_storm() {
    let endpoint = MockEndpoint::new(Reply::Json(400, INVALID_CLIENT));
    let provider = builder(&endpoint, TokioClock::new()).build().unwrap();

    let callers: Vec<_> = (0..100)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.token().await })
        })
        .collect();
    for caller in callers {
        match caller.await.unwrap().unwrap_err() {
            TokenError::Oauth {
                code: ErrorCode::InvalidClient,
                description,
                status: 400,
            } => assert_eq!(description.as_deref(), Some("Client authentication failed")),
            other => panic!("expected invalid_client, got {other:?}"),
        }
    }
    assert_eq!(endpoint.count(), 1, "an OAuth error was retried");

    // A caller hammering token() once every 100 ms for ten minutes: requests only after
    // each backoff, which doubles up to a minute.
    for _ in 0..6000 {
        tokio::time::advance(Duration::from_millis(100)).await;
        let error = provider.token().await.unwrap_err();
        assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidClient));
    }
    let count = endpoint.count();
    assert!(count <= 30, "{count} requests in ten minutes");
    let times: Vec<Duration> = endpoint.seen().iter().map(|s| s.at).collect();
    assert_backoff(&gaps(&times), Duration::from_millis(100));
    assert_eq!(provider.stats().failures.oauth as usize, count);
    assert_eq!(provider.stats().failures.total() as usize, count);
}

#[tokio::test(start_paused = true)]
async fn oauth_error_in_background_refresh_keeps_the_valid_token() {
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let provider = builder(&endpoint, TokioClock::new())
        .refresh_jitter(0.0)
        .build()
        .unwrap();
    provider.token().await.unwrap();
    // The secret was rotated away under us.
    endpoint.set(Reply::Json(400, INVALID_CLIENT));
    pass(secs(3599)).await;
    assert_eq!(
        provider.token().now_or_never().unwrap().unwrap().secret(),
        "token-1"
    );
    // OAuth errors are not retried within a refresh, and the refreshes back off.
    let refreshes = endpoint.count() - 1;
    assert!((5..=32).contains(&refreshes), "{refreshes} refreshes");
    assert_eq!(provider.stats().failures.oauth as usize, refreshes);
    pass(secs(1)).await;
    let error = provider.token().await.unwrap_err();
    assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidClient));
}

#[tokio::test(start_paused = true)]
async fn invalid_scope_and_unauthorized_client_are_typed() {
    for (body, code) in [
        (r#"{"error":"invalid_scope"}"#, ErrorCode::InvalidScope),
        (
            r#"{"error":"unauthorized_client"}"#,
            ErrorCode::UnauthorizedClient,
        ),
        (
            r#"{"error":"slow_down","error_description":"x"}"#,
            ErrorCode::Other("slow_down".into()),
        ),
    ] {
        let endpoint = MockEndpoint::new(Reply::Json(400, body));
        let provider = builder(&endpoint, TokioClock::new()).build().unwrap();
        match provider.token().await.unwrap_err() {
            TokenError::Oauth {
                code: got,
                status: 400,
                ..
            } => assert_eq!(got, code),
            other => panic!("{body}: {other:?}"),
        }
        assert_eq!(endpoint.count(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn throttling_is_transient_and_retried() {
    let endpoint = MockEndpoint::new(Reply::Json(429, r#"{"error":"too_many_requests"}"#));
    let provider = builder(&endpoint, TokioClock::new())
        .max_attempts(3)
        .build()
        .unwrap();
    let error = provider.token().await.unwrap_err();
    assert!(
        matches!(&error, TokenError::Unavailable { attempts: 3, last } if matches!(**last, TokenError::Status { status: 429, .. })),
        "{error:?}"
    );
    assert_eq!(endpoint.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn hanging_endpoint_times_out_and_is_retried() {
    let endpoint = MockEndpoint::new(Reply::Hang);
    let provider = builder(&endpoint, TokioClock::new())
        .request_timeout(secs(5))
        .max_attempts(2)
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let error = provider.token().await.unwrap_err();
    assert!(
        matches!(&error, TokenError::Unavailable { attempts: 2, last } if matches!(**last, TokenError::Timeout(t) if t == secs(5))),
        "{error:?}"
    );
    let elapsed = started.elapsed();
    assert!(elapsed >= secs(10) && elapsed < secs(12), "{elapsed:?}");
    assert_eq!(provider.stats().failures.timeout, 2);
}

#[tokio::test(start_paused = true)]
async fn unusable_answers_are_errors_not_panics() {
    for body in [
        r#"{"expires_in":3600,"token_type":"Bearer"}"#,
        r#"{"access_token":"t","expires_in":0,"token_type":"Bearer"}"#,
        r#"{"access_token":"t","expires_in":-3600,"token_type":"Bearer"}"#,
        r#"not json"#,
    ] {
        let endpoint = MockEndpoint::new(Reply::Json(200, body));
        let provider = builder(&endpoint, TokioClock::new()).build().unwrap();
        let error = provider.token().await.unwrap_err();
        assert!(
            matches!(error, TokenError::InvalidResponse(_)),
            "{body}: {error:?}"
        );
        assert_eq!(
            endpoint.count(),
            1,
            "{body}: an unusable answer was retried at once"
        );
        assert_eq!(provider.stats().failures.invalid_response, 1);
    }
}

#[tokio::test(start_paused = true)]
async fn redirects_are_errors_and_not_followed() {
    let endpoint = MockEndpoint::new(Reply::Json(302, "{}"));
    let provider = builder(&endpoint, TokioClock::new()).build().unwrap();
    let error = provider.token().await.unwrap_err();
    assert!(
        matches!(error, TokenError::Status { status: 302, .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert_eq!(endpoint.count(), 1);
}
