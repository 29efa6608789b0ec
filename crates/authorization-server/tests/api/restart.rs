//! A restart on the same SQLite file keeps pools, clients, secrets and keys.

use serde_json::json;

use crate::helpers::{Options, READ, TestApp, UPDATE, create_stack, verify_token};

#[tokio::test]
async fn state_and_keys_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("auth.db").display());
    // The port changes across restarts; the public URL (and so the issuer) does not.
    let options = || Options {
        database_url: database_url.clone(),
        public_url: Some("http://auth.s2s.test".to_owned()),
        ..Options::default()
    };

    let first = TestApp::spawn_with(options()).await;
    let s = create_stack(&first, &[READ, UPDATE]).await;
    let response = first
        .token_request(
            &[("grant_type", "client_credentials")],
            Some((&s.client_id, &s.client_secret)),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let old_token = body["access_token"].as_str().unwrap().to_owned();
    let jwks_before = first.jwks(&s.pool_id).await;
    first.stop().await;

    let second = TestApp::spawn_with(options()).await;
    assert_eq!(second.jwks(&s.pool_id).await, jwks_before);
    let pools = second
        .admin("ListUserPools", json!({"MaxResults": 10}))
        .await;
    assert_eq!(pools["UserPools"][0]["Id"], s.pool_id.as_str());
    let client = second
        .admin(
            "DescribeUserPoolClient",
            json!({"UserPoolId": s.pool_id, "ClientId": s.client_id}),
        )
        .await;
    assert_eq!(
        client["UserPoolClient"]["ClientSecret"],
        s.client_secret.as_str()
    );
    // The token issued before the restart verifies against the JWKS served after it.
    verify_token(
        &second,
        &s.pool_id,
        &old_token,
        &s.client_id,
        &[READ, UPDATE],
        3600,
    )
    .await;
    // And the same secret still gets new tokens, signed with the same key.
    let response = second
        .token_request(
            &[("grant_type", "client_credentials")],
            Some((&s.client_id, &s.client_secret)),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let new_token = body["access_token"].as_str().unwrap();
    verify_token(
        &second,
        &s.pool_id,
        new_token,
        &s.client_id,
        &[READ, UPDATE],
        3600,
    )
    .await;
    assert_eq!(
        jsonwebtoken::decode_header(new_token).unwrap().kid,
        jsonwebtoken::decode_header(&old_token).unwrap().kid
    );
}
