//! The README's getting-started, as a team outside this repository writes it: a resource
//! server with GET-read / POST-write on one path, and a client of it that gets its token
//! from the local `s2s up` server (or Cognito). `scripts/check-libraries.sh` builds it
//! against the crates as path dependencies with only their documented features.
//!
//! Run against `s2s up`: `POOL_ID=… CLIENT_ID=… CLIENT_SECRET=… cargo run`.
#![allow(clippy::print_stdout)]

use std::error::Error;

use axum::Router;
use axum::routing::get;
use jwt_verifier::axum::{JwtAuthLayer, require_scope};
use jwt_verifier::{Claims, Verifier};
use token_provider::{BearerMiddleware, ClientSecret, TokenProvider};

const READ: &str = "user-schedule-service/schedule.read";
const WRITE: &str = "user-schedule-service/schedule.update";

async fn read(claims: Claims) -> String {
    format!("schedule for {}\n", claims.client_id())
}

async fn write(claims: Claims) -> String {
    format!("updated by {}\n", claims.client_id())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let pool_id = std::env::var("POOL_ID")?; // e.g. us-east-1_AbCdEf123
    let client_id = std::env::var("CLIENT_ID")?;
    let client_secret = std::env::var("CLIENT_SECRET")?;

    // The resource server. Cognito: .cognito_user_pool("us-east-1", &pool_id)
    let verifier = Verifier::builder()
        .issuer(format!("http://127.0.0.1:9229/{pool_id}"))
        .client_id(&client_id)
        .build()?;
    let app = Router::new()
        .route(
            "/schedule",
            get(require_scope([READ], read)).post(require_scope([WRITE], write)),
        )
        .layer(JwtAuthLayer::new(verifier));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The client. Cognito: https://<domain>.auth.<region>.amazoncognito.com/oauth2/token
    let provider = TokenProvider::builder()
        .token_url("http://127.0.0.1:9229/oauth2/token")
        .client_id(client_id)
        .client_secret(ClientSecret::new(client_secret))
        .scope(READ)
        .build()?;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerMiddleware::new(provider, [addr.to_string()]))
        .build();
    let url = format!("http://{addr}/schedule");
    let answer = client.get(&url).send().await?;
    println!("GET  /schedule -> {} {}", answer.status(), answer.text().await?);
    let answer = client.post(&url).send().await?;
    println!("POST /schedule -> {} (no write scope asked for)", answer.status());
    Ok(())
}
