//! A resource server that accepts Cognito access tokens, end to end on loopback.
//!
//! It starts a `TestIssuer` (a stand-in for a Cognito user pool), serves a small API
//! behind `JwtAuthLayer` on 127.0.0.1:0, calls it with a token that has the scope, one
//! that lacks it and none at all, prints the answers and exits.
//!
//! ```text
//! cargo run -p jwt-verifier --example axum_resource_server --features axum,test-util
//! ```
//!
//! Against real Cognito, only the verifier changes:
//! `.issuer("https://cognito-idp.<region>.amazonaws.com/<userPoolId>")` and your app
//! client ids.
#![allow(clippy::print_stdout)] // An example reports what it did.

use std::error::Error;

use axum::Router;
use axum::routing::{get, put};
use jwt_verifier::axum::{JwtAuthLayer, RequireScopeLayer};
use jwt_verifier::test_util::TestIssuer;
use jwt_verifier::{Claims, Verifier};

const CLIENT: &str = "7m2k9q4r1t6v8b3n5c0d2f4g6h";
const READ: &str = "user-schedule-service/schedule.read";
const UPDATE: &str = "user-schedule-service/schedule.update";

async fn read_schedule(claims: Claims) -> String {
    format!("schedule for client {}\n", claims.client_id())
}

async fn update_schedule(claims: Claims) -> String {
    format!("updated by {} (jti {})\n", claims.client_id(), claims.jti)
}

fn router(verifier: Verifier) -> Router {
    let reads = Router::new()
        .route("/schedule", get(read_schedule))
        .route_layer(RequireScopeLayer::all_of([READ]));
    let writes = Router::new()
        .route("/schedule", put(update_schedule))
        .route_layer(RequireScopeLayer::all_of([UPDATE]));
    reads
        .merge(writes)
        .layer(JwtAuthLayer::new(verifier).realm("user-schedule-service"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let issuer = TestIssuer::start().await;
    let verifier = Verifier::builder()
        .issuer(issuer.issuer())
        .client_id(CLIENT)
        .token_cache(10_000)
        .build()?;
    verifier.hydrate().await?;
    println!(
        "issuer {} (keys loaded: {})",
        issuer.issuer(),
        verifier.has_keys()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router(verifier))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    let http = reqwest::Client::builder().no_proxy().build()?;
    let reader = issuer.access_token(CLIENT, [READ]);
    for (what, method, token) in [
        (
            "GET with the read scope",
            reqwest::Method::GET,
            Some(&reader),
        ),
        (
            "PUT with only the read scope",
            reqwest::Method::PUT,
            Some(&reader),
        ),
        ("GET without a token", reqwest::Method::GET, None),
    ] {
        let mut request = http.request(method, format!("{base}/schedule"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or("?").to_owned());
        let body = response.text().await?;
        println!("{what}: {status}");
        if let Some(challenge) = challenge {
            println!("  WWW-Authenticate: {challenge}");
        }
        println!("  {}", body.trim_end());
    }

    let _ = stop.send(());
    server.await??;
    Ok(())
}
