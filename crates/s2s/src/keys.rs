//! `s2s keys`: a user pool's signing keys, listed or rotated directly in the local
//! authorization server's database. Cognito has no such API (AWS manages its keys); here a
//! rotation is how a user checks that their verifiers follow a new `kid`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use authorization_server::store::{self, KeyUse, Store};
use oauth_proto::time::{Clock, SystemClock};

use crate::cli::{KeysArgs, KeysCommand};
use crate::inspect::utc;

/// `s2s keys`.
pub(crate) async fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::List(args) => list(&args).await,
        KeysCommand::Rotate(args) => rotate(&args).await,
    }
}

async fn list(args: &KeysArgs) -> anyhow::Result<()> {
    let store = open(args).await?;
    let keys = store.signing_keys(&args.pool_id).await?;
    println!(
        "user pool {}: {} keys, newest first (the JWKS publishes all of them)",
        args.pool_id,
        keys.len()
    );
    println!("{:<44}  {:<6}  {:<23}", "kid", "tokens", "created");
    // Keys come newest first: the first access-token key is the one that signs.
    let signing = keys
        .iter()
        .find(|k| k.token_use == KeyUse::Access)
        .map(|k| k.kid.clone());
    for key in &keys {
        let created = utc(u64::try_from(key.created_ms / 1000).unwrap_or_default());
        let note = match key.token_use {
            KeyUse::Access if signing.as_deref() == Some(key.kid.as_str()) => "signs new tokens",
            KeyUse::Access => "retired: verifies the tokens it signed",
            KeyUse::Id => "for ID tokens (never issued here)",
        };
        println!(
            "{:<44}  {:<6}  {:<23}  {note}",
            key.kid,
            key.token_use.as_str(),
            created
        );
    }
    Ok(())
}

async fn rotate(args: &KeysArgs) -> anyhow::Result<()> {
    let store = open(args).await?;
    let now_ms = i64::try_from(
        SystemClock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX);
    let kid = authorization_server::rotate_signing_key(store.as_ref(), &args.pool_id, now_ms)
        .await?
        .with_context(|| format!("user pool {} does not exist", args.pool_id))?;
    let published = store.signing_keys(&args.pool_id).await?.len();
    println!("added access-token key {kid} to user pool {}", args.pool_id);
    println!(
        "it signs new tokens from now on (a running server switches within a second); \
         the JWKS publishes {published} keys, so tokens signed before still verify"
    );
    Ok(())
}

/// The authorization server's store, holding `args.pool_id`. A missing SQLite file is an
/// error rather than a new empty database.
async fn open(args: &KeysArgs) -> anyhow::Result<Arc<dyn Store>> {
    let url = match &args.database {
        Some(url) => url.clone(),
        None => format!(
            "sqlite://{}",
            args.data_dir.join("authorization-server.db").display()
        ),
    };
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = Path::new(path.split('?').next().unwrap_or(path));
        if !path.exists() {
            bail!(
                "no authorization server database at {}: run `s2s up` or `s2s serve \
                 authorization-server` with this data directory first, or pass --database",
                path.display()
            );
        }
    }
    let store = store::connect(&url)
        .await
        .context("cannot open the authorization server's database")?;
    if store.user_pool(&args.pool_id).await?.is_none() {
        bail!(
            "user pool {} does not exist in this database (its id is in outputs.json)",
            args.pool_id
        );
    }
    Ok(store)
}
