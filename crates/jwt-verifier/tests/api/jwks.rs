//! The JWKS cache: rotation, single flight, cooldown, refresh, outages, limits.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use jwt_verifier::test_util::{POOL_ID, TestIssuer};
use jwt_verifier::{JwksError, Verifier, VerifyError};
use oauth_proto::time::ManualClock;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn hydrate_fetches_once_and_has_keys_reports_it() {
    let app = TestApp::spawn().await;
    assert!(!app.verifier.has_keys());
    app.verifier.hydrate().await.unwrap();
    assert!(app.verifier.has_keys());
    assert_eq!(app.issuer.jwks_fetches(), 1);
    for _ in 0..10 {
        app.verifier.verify(&app.token()).await.unwrap();
    }
    assert_eq!(
        app.issuer.jwks_fetches(),
        1,
        "warm verifications never fetch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_fetched_once_for_100_concurrent_requests() {
    let app = Arc::new(TestApp::spawn().await);
    app.verifier.verify(&app.token()).await.unwrap();
    assert_eq!(app.issuer.jwks_fetches(), 1);

    let new_kid = app.issuer.rotate();
    let token = app.token();
    assert_eq!(
        split(&token).0,
        json!({"kid": new_kid, "alg": "RS256"})
            .to_string()
            .into_bytes()
    );

    // Hold the JWKS response so the 100 requests overlap the one fetch.
    app.issuer.hold_jwks(true);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let app = Arc::clone(&app);
            let token = token.clone();
            tokio::spawn(async move { app.verifier.verify(&token).await })
        })
        .collect();
    app.issuer.wait_for_fetches(2).await;
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    app.issuer.hold_jwks(false);
    for task in tasks {
        let claims = task.await.unwrap().unwrap();
        assert_eq!(claims.client_id().as_str(), CLIENT);
    }
    assert_eq!(
        app.issuer.jwks_fetches(),
        2,
        "exactly one fetch for the new kid"
    );

    // Tokens signed by the old key still verify: it is still published and cached.
    assert_eq!(app.issuer.jwks().keys.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_kids_fetches_at_most_once_per_cooldown() {
    let app = Arc::new(TestApp::spawn().await);
    app.verifier.hydrate().await.unwrap();
    let flood = |round: usize| {
        let app = Arc::clone(&app);
        async move {
            let tasks: Vec<_> = (0..200)
                .map(|i| {
                    let app = Arc::clone(&app);
                    tokio::spawn(async move {
                        let header = json!({"kid": format!("random-{round}-{i}"), "alg": "RS256"});
                        let token = app.issuer.token_with_header(&header, &app.claims());
                        app.verifier.verify(&token).await
                    })
                })
                .collect();
            for task in tasks {
                let err = task.await.unwrap().unwrap_err();
                assert!(matches!(err, VerifyError::UnknownKid(_)), "{err:?}");
            }
        }
    };
    flood(0).await;
    assert_eq!(
        app.issuer.jwks_fetches(),
        2,
        "one refetch in the first cooldown"
    );
    app.clock.advance(COOLDOWN - Duration::from_secs(1));
    flood(1).await;
    assert_eq!(app.issuer.jwks_fetches(), 2, "still inside the cooldown");
    app.clock.advance(Duration::from_secs(1));
    flood(2).await;
    assert_eq!(app.issuer.jwks_fetches(), 3, "one more after the cooldown");
    // Valid tokens were never disturbed.
    app.verifier.verify(&app.token()).await.unwrap();
    assert_eq!(app.issuer.jwks_fetches(), 3);
}

#[tokio::test]
async fn a_removed_key_is_refused_after_the_refresh() {
    let app = TestApp::spawn().await;
    let old_token = app.token();
    let old_kid = app.issuer.kid();
    app.verifier.verify(&old_token).await.unwrap();

    app.issuer.rotate();
    app.issuer.remove_key(&old_kid);
    let new_token = app.token();

    // Before the refresh interval the cached key is still trusted (documented).
    app.clock.advance(REFRESH - Duration::from_secs(1));
    app.verifier.verify(&old_token).await.unwrap();
    assert_eq!(app.issuer.jwks_fetches(), 1);

    app.clock.advance(Duration::from_secs(1));
    let err = app.verifier.verify(&old_token).await.unwrap_err();
    assert!(
        matches!(&err, VerifyError::UnknownKid(k) if *k == old_kid),
        "{err:?}"
    );
    assert_eq!(
        app.issuer.jwks_fetches(),
        2,
        "the refresh was the only fetch"
    );
    // Repeats inside the cooldown cost no fetch either.
    for _ in 0..5 {
        let err = app.verifier.verify(&old_token).await.unwrap_err();
        assert!(matches!(err, VerifyError::UnknownKid(_)), "{err:?}");
    }
    assert_eq!(app.issuer.jwks_fetches(), 2);
    app.verifier.verify(&new_token).await.unwrap();
    assert_eq!(app.issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn an_outage_keeps_verifying_with_cached_keys() {
    let app = TestApp::spawn().await;
    app.verifier.hydrate().await.unwrap();
    app.issuer.set_available(false);

    // Past the refresh interval: the refresh fails, the old keys stay.
    app.clock.advance(REFRESH + Duration::from_secs(1));
    app.verifier.verify(&app.token()).await.unwrap();
    assert_eq!(app.issuer.jwks_fetches(), 2, "the refresh was attempted");
    assert!(app.verifier.has_keys());
    // Retries wait for the cooldown.
    app.verifier.verify(&app.token()).await.unwrap();
    assert_eq!(app.issuer.jwks_fetches(), 2);
    app.clock.advance(COOLDOWN);
    app.verifier.verify(&app.token()).await.unwrap();
    assert_eq!(app.issuer.jwks_fetches(), 3);

    // A token with a key we do not have cannot be checked: unavailable, not invalid.
    app.issuer.rotate();
    app.clock.advance(COOLDOWN);
    let err = app.verifier.verify(&app.token()).await.unwrap_err();
    assert!(
        matches!(
            &err,
            VerifyError::JwksUnavailable(JwksError::Status { status: 503, .. })
        ),
        "{err:?}"
    );

    // Back up: the new key is fetched after the cooldown.
    app.issuer.set_available(true);
    app.clock.advance(COOLDOWN);
    app.verifier.verify(&app.token()).await.unwrap();
}

#[tokio::test]
async fn no_jwks_and_no_keys_is_unavailable() {
    let app = TestApp::spawn().await;
    app.issuer.set_available(false);
    let err = app.verifier.verify(&app.token()).await.unwrap_err();
    assert!(matches!(err, VerifyError::JwksUnavailable(_)), "{err:?}");
    // Inside the cooldown the stored error is answered without a new fetch.
    let err = app.verifier.verify(&app.token()).await.unwrap_err();
    assert!(matches!(err, VerifyError::JwksUnavailable(_)), "{err:?}");
    assert_eq!(app.issuer.jwks_fetches(), 1);
    assert!(matches!(
        app.verifier.hydrate().await,
        Err(VerifyError::JwksUnavailable(_))
    ));
    assert!(!app.verifier.has_keys());
}

#[tokio::test]
async fn an_oversized_jwks_is_refused() {
    let app = TestApp::spawn_with(|b| b.max_jwks_bytes(200)).await;
    let err = app.verifier.hydrate().await.unwrap_err();
    assert!(
        matches!(
            &err,
            VerifyError::JwksUnavailable(JwksError::TooLarge { limit: 200, .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_slow_jwks_times_out() {
    let app = TestApp::spawn_with(|b| b.fetch_timeout(Duration::from_millis(200))).await;
    app.issuer.hold_jwks(true);
    let err = app.verifier.hydrate().await.unwrap_err();
    assert!(
        matches!(&err, VerifyError::JwksUnavailable(JwksError::Http { .. })),
        "{err:?}"
    );
    app.issuer.hold_jwks(false);
}

/// Serves `app` on 127.0.0.1:0 and returns its base URL.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let real = TestIssuer::start().await;
    let target = real.jwks_url();
    let base = serve(axum::Router::new().route(
        &format!("/{POOL_ID}/.well-known/jwks.json"),
        get(move || async move { Redirect::temporary(&target) }),
    ))
    .await;
    let verifier = Verifier::builder()
        .issuer(format!("{base}/{POOL_ID}"))
        .client_id(CLIENT)
        .build()
        .unwrap();
    let err = verifier.hydrate().await.unwrap_err();
    assert!(
        matches!(
            &err,
            VerifyError::JwksUnavailable(JwksError::Status { status: 307, .. })
        ),
        "{err:?}"
    );
    assert_eq!(real.jwks_fetches(), 0);

    // Even a caller-supplied client that follows redirects is caught.
    let verifier = Verifier::builder()
        .issuer(format!("{base}/{POOL_ID}"))
        .client_id(CLIENT)
        .http_client(reqwest::Client::builder().no_proxy().build().unwrap())
        .build()
        .unwrap();
    let err = verifier.hydrate().await.unwrap_err();
    assert!(
        matches!(
            &err,
            VerifyError::JwksUnavailable(JwksError::Redirected { .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_jwks_that_is_not_a_key_set_keeps_the_old_keys() {
    // A server whose answer we control: first a real JWKS, then garbage.
    let issuer = TestIssuer::start().await;
    let jwks = serde_json::to_string(&issuer.jwks()).unwrap();
    let broken = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&broken);
    let base = serve(axum::Router::new().route(
        &format!("/{POOL_ID}/.well-known/jwks.json"),
        get(move || {
            let jwks = jwks.clone();
            let broken = flag.load(std::sync::atomic::Ordering::SeqCst);
            async move {
                if broken {
                    (StatusCode::OK, r#"{"keys":[]}"#.to_owned()).into_response()
                } else {
                    (StatusCode::OK, jwks).into_response()
                }
            }
        }),
    ))
    .await;
    let clock = ManualClock::at_unix(START);
    let verifier = Verifier::builder()
        .issuer(format!("{base}/{POOL_ID}"))
        .client_id(CLIENT)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    verifier.hydrate().await.unwrap();
    broken.store(true, std::sync::atomic::Ordering::SeqCst);
    let err = verifier.hydrate().await.unwrap_err();
    assert!(
        matches!(
            &err,
            VerifyError::JwksUnavailable(JwksError::NoUsableKeys { .. })
        ),
        "{err:?}"
    );
    assert!(verifier.has_keys());

    // A token of this issuer (signed by `issuer`, claiming the proxy's URL) verifies.
    let mut claims = issuer.claims(CLIENT, [READ]);
    claims["iss"] = json!(format!("{base}/{POOL_ID}"));
    let token = issuer.token(&claims);
    // `issuer` uses the system clock; move ours to its time.
    clock.set(std::time::UNIX_EPOCH + Duration::from_secs(claims["iat"].as_u64().unwrap()));
    verifier.verify(&token).await.unwrap();
}

#[tokio::test]
async fn several_issuers_each_use_their_own_keys() {
    let clock = ManualClock::at_unix(START);
    let a = TestIssuer::start_with_clock(Arc::new(clock.clone())).await;
    let b = TestIssuer::start_with_clock(Arc::new(clock.clone())).await;
    let verifier = Verifier::builder()
        .issuer(a.issuer())
        .issuer(b.issuer())
        .client_ids([CLIENT])
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    verifier
        .verify(&a.access_token(CLIENT, [READ]))
        .await
        .unwrap();
    verifier
        .verify(&b.access_token(CLIENT, [READ]))
        .await
        .unwrap();
    assert_eq!((a.jwks_fetches(), b.jwks_fetches()), (1, 1));

    // Signed by A, claiming B: B's key set has no such kid.
    let mut claims = a.claims(CLIENT, [READ]);
    claims["iss"] = json!(b.issuer());
    let err = verifier.verify(&a.token(&claims)).await.unwrap_err();
    assert!(matches!(err, VerifyError::UnknownKid(_)), "{err:?}");
    assert!(verifier.has_keys());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_on_a_cold_verifier_costs_one_fetch() {
    let app = Arc::new(TestApp::spawn().await);
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                let header = json!({"kid": format!("random-{i}"), "alg": "RS256"});
                let token = app.issuer.token_with_header(&header, &app.claims());
                app.verifier.verify(&token).await
            })
        })
        .collect();
    for task in tasks {
        assert!(matches!(
            task.await.unwrap(),
            Err(VerifyError::UnknownKid(_))
        ));
    }
    assert_eq!(app.issuer.jwks_fetches(), 1);
    // The real key came with that one fetch.
    app.verifier.verify(&app.token()).await.unwrap();
    assert_eq!(app.issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn keys_rotated_in_quick_succession_are_each_fetched_at_once() {
    let app = TestApp::spawn().await;
    app.verifier.hydrate().await.unwrap();
    for round in 2..=4 {
        app.issuer.rotate();
        app.verifier.verify(&app.token()).await.unwrap();
        assert_eq!(app.issuer.jwks_fetches(), round);
    }
}
