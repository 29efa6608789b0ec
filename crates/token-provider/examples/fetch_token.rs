//! Fetches one access token and prints what is known about it (never the token itself).
//!
//! ```text
//! cargo run -p token-provider --example fetch_token -- \
//!     http://127.0.0.1:9000/oauth2/token <client-id> [scope ...]
//! ```
//!
//! The client secret is read from the `CLIENT_SECRET` environment variable so it stays out
//! of the shell history; `TOKEN_AUTH=post` switches to `client_secret_post`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use token_provider::{ClientAuth, ClientId, ClientSecret, Scopes, TokenProvider};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: fetch_token <token-url> <client-id> [scope ...] (secret in CLIENT_SECRET)";
    let url = args.next().ok_or(usage)?;
    let client_id = ClientId::parse(&args.next().ok_or(usage)?)?;
    let scopes: Scopes = args.collect::<Vec<_>>().join(" ").parse()?;
    let secret = std::env::var("CLIENT_SECRET").map_err(|_| "CLIENT_SECRET is not set")?;
    let auth = match std::env::var("TOKEN_AUTH").as_deref() {
        Ok("post") => ClientAuth::Post,
        _ => ClientAuth::Basic,
    };

    let provider = TokenProvider::builder()
        .token_url(url)
        .client_id(client_id)
        .client_secret(ClientSecret::new(secret))
        .scopes(scopes)
        .auth(auth)
        .build()?;
    let token = provider.token().await?;
    println!("{token}");
    match token.scopes() {
        Some(scopes) => println!("scopes (unverified): {scopes}"),
        None => println!("scopes: unknown"),
    }
    println!("token requests made: {}", provider.stats().requests);
    Ok(())
}
