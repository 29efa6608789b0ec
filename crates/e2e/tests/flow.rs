//! The whole client-credentials flow in one process, over real loopback HTTP, with the
//! real crates: the authorization server provisioned through the AWS SDK, a token from
//! token-provider, articles-service reading a schedule (200), refused a publication for
//! lack of `schedule.update` (502 naming the upstream 403 and the scope), the grant made
//! with `UpdateUserPoolClient`, a token refresh, the publication booked (201), and a
//! restart on the same data directory that keeps ids, secret and keys.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

use std::sync::Arc;
use std::time::Duration;

use oauth_proto::time::{Clock, ManualClock, SystemClock};
use serde_json::{Value, json};

use helpers::{READ, UPDATE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_flow_from_provisioning_to_restart() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path();
    // One clock for every role, so the test can move past a token's expiry.
    let manual = ManualClock::new(SystemClock.now());
    let clock: Arc<dyn Clock> = Arc::new(manual.clone());
    let http = reqwest::Client::new();

    // The authorization server, provisioned through the SDK; provisioning twice is a no-op.
    let auth =
        helpers::authorization_server(data, "127.0.0.1:0".parse().unwrap(), clock.clone()).await;
    let sdk = helpers::sdk(&auth.url);
    let provisioned = helpers::provision(&sdk).await;
    assert_eq!(helpers::provision(&sdk).await, provisioned);
    let issuer = format!("{}/{}", auth.url, provisioned.pool_id);
    let token_url = format!("{}/oauth2/token", auth.url);

    // A token from token-provider: the client's allowed scopes, for this client.
    let tokens = helpers::token_provider(&token_url, &provisioned, clock.clone());
    let token = tokens.token().await.unwrap();
    let verifier = helpers::verifier(&issuer, &provisioned.client_id, clock.clone());
    let claims = verifier.verify(token.secret()).await.unwrap();
    assert_eq!(claims.client_id().as_str(), provisioned.client_id);
    assert!(claims.scopes().contains(&READ.parse().unwrap()));
    assert!(!claims.scopes().contains(&UPDATE.parse().unwrap()));

    let schedules =
        helpers::user_schedule_service(data, &issuer, &provisioned.client_id, clock.clone()).await;
    let articles = helpers::articles_service(
        data,
        &token_url,
        &provisioned,
        &schedules.url,
        clock.clone(),
    )
    .await;

    // An article, then its author's schedule through articles-service: 200.
    let article: Value = http
        .post(format!("{}/articles", articles.url))
        .json(&json!({
            "title": "Tokens without users",
            "body": "Client credentials in practice.",
            "author_id": "alice",
            "publish_at": "2030-01-07T09:00:00Z",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = article["id"].as_str().unwrap().to_owned();
    let schedule = http
        .get(format!("{}/articles/{id}/author-schedule", articles.url))
        .send()
        .await
        .unwrap();
    assert_eq!(schedule.status(), 200);

    // The publication needs schedule.update, which the client is not granted: 502 with a
    // problem document that names the upstream 403 and the missing scope.
    let refused = http
        .post(format!("{}/articles/{id}/publication", articles.url))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 502);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["status"], 502);
    assert_eq!(problem["upstream_status"], 403);
    assert_eq!(problem["missing_scope"], UPDATE);

    // Grant schedule.update in place: same client id, same secret.
    helpers::grant_update(&sdk, &provisioned).await;
    assert_eq!(helpers::provision(&sdk).await, provisioned);

    // The token articles-service holds still lacks the scope until it is refreshed: move
    // past its lifetime so every provider fetches a new one.
    manual.advance(Duration::from_secs(61 * 60));
    let fresh = tokens.token().await.unwrap();
    assert_ne!(fresh.secret(), token.secret());
    let claims = verifier.verify(fresh.secret()).await.unwrap();
    assert!(claims.scopes().contains(&UPDATE.parse().unwrap()));
    assert!(
        verifier.verify(token.secret()).await.is_err(),
        "the old token has expired"
    );

    let booked = http
        .post(format!("{}/articles/{id}/publication", articles.url))
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status(), 201);
    let booked: Value = booked.json().await.unwrap();
    let event_id = booked["schedule_event_id"].as_str().unwrap().to_owned();
    let event = http
        .get(format!(
            "{}/users/alice/schedule/events/{event_id}",
            schedules.url
        ))
        .bearer_auth(fresh.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(event.status(), 200, "the event is in the author's schedule");

    // Restart on the same data directory and address, as a second `s2s up` does.
    articles.stop().await;
    schedules.stop().await;
    let addr = auth.addr;
    auth.stop().await;
    let auth = helpers::authorization_server(data, addr, clock.clone()).await;
    let sdk = helpers::sdk(&auth.url);
    assert_eq!(
        helpers::provision(&sdk).await,
        provisioned,
        "same pool, client id and secret"
    );
    // The token issued before the restart still verifies: the signing key was kept.
    let restarted = helpers::verifier(&issuer, &provisioned.client_id, clock.clone());
    restarted.verify(fresh.secret()).await.unwrap();
    let schedules =
        helpers::user_schedule_service(data, &issuer, &provisioned.client_id, clock.clone()).await;
    let event = http
        .get(format!(
            "{}/users/alice/schedule/events/{event_id}",
            schedules.url
        ))
        .bearer_auth(fresh.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(
        event.status(),
        200,
        "the old token and the stored event survive"
    );
    schedules.stop().await;
    auth.stop().await;
}
