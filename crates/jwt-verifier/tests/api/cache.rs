//! The verified-token cache never serves what a full verification would refuse.

use std::time::Duration;

use jwt_verifier::{ScopePolicy, VerifyError};

use crate::helpers::*;

#[tokio::test]
async fn repeat_verification_returns_the_same_claims() {
    let app = TestApp::spawn_with(|b| b.token_cache(100)).await;
    let token = app.token();
    let first = app.verifier.verify(&token).await.unwrap();
    let second = app.verifier.verify(&token).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(app.issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn a_cached_token_still_meets_the_scope_policy() {
    let app = TestApp::spawn_with(|b| b.token_cache(100)).await;
    let token = app.token();
    app.verifier.verify(&token).await.unwrap();
    let err = app
        .verifier
        .verify_with(&token, &ScopePolicy::all_of([UPDATE]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, VerifyError::InsufficientScope { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_cached_token_expires() {
    let app = TestApp::spawn_with(|b| b.token_cache(100).leeway(Duration::ZERO)).await;
    let token = app.token();
    app.verifier.verify(&token).await.unwrap();
    app.clock.advance(Duration::from_secs(3599));
    app.verifier.verify(&token).await.unwrap();
    app.clock.advance(Duration::from_secs(1));
    let err = app.verifier.verify(&token).await.unwrap_err();
    assert!(matches!(err, VerifyError::Expired { .. }), "{err:?}");
}

#[tokio::test]
async fn a_cached_token_of_a_removed_key_is_refused_after_the_refresh() {
    let app = TestApp::spawn_with(|b| b.token_cache(100)).await;
    let token = app.token();
    let old_kid = app.issuer.kid();
    app.verifier.verify(&token).await.unwrap();
    app.issuer.rotate();
    app.issuer.remove_key(&old_kid);
    app.clock.advance(REFRESH);
    let err = app.verifier.verify(&token).await.unwrap_err();
    assert!(matches!(err, VerifyError::UnknownKid(_)), "{err:?}");
    // And stays refused (the cache was emptied, not just bypassed once), with no
    // further fetch inside the cooldown.
    let err = app.verifier.verify(&token).await.unwrap_err();
    assert!(matches!(err, VerifyError::UnknownKid(_)), "{err:?}");
    assert_eq!(app.issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn a_tampered_copy_of_a_cached_token_is_not_served_from_the_cache() {
    let app = TestApp::spawn_with(|b| b.token_cache(100)).await;
    let token = app.token();
    app.verifier.verify(&token).await.unwrap();
    let (header, payload, mut signature) = split(&token);
    signature[0] ^= 1;
    let err = app
        .verifier
        .verify(&join(&header, &payload, &signature))
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::InvalidSignature), "{err:?}");
}
