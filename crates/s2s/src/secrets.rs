//! `s2s secrets list|add|delete|rotate`: an app client's secrets through the Cognito API
//! (`ListUserPoolClientSecrets`, `AddUserPoolClientSecret`, `DeleteUserPoolClientSecret`),
//! against Amazon Cognito or, with `--endpoint-url`, the local authorization server.
//!
//! `rotate` keeps every caller working: the new secret is active before any service reads
//! it, and the old one is deleted only after the file the services read holds the new one
//! (a service that read the old secret just before is refused once, reads the file again
//! and retries: see `token_provider::SecretSource`). The new value is made here and kept
//! in `<file>.next` until the file holds it, so an interrupted rotation resumes.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use aws_sdk_cognitoidentityprovider as cognito;
use cognito::error::ProvideErrorMetadata as _;
use oauth_proto::ClientSecret;

use crate::cli::{SecretsCommand, SecretsTarget};
use crate::output_files::write_secret;
use crate::sdk::sdk_client;

pub(crate) async fn run(command: &SecretsCommand) -> anyhow::Result<()> {
    match command {
        SecretsCommand::List(target) => list(target).await,
        SecretsCommand::Add { target, secret_out } => add(target, secret_out.as_deref()).await,
        SecretsCommand::Delete { target, secret_id } => delete(target, secret_id).await,
        SecretsCommand::Rotate {
            target,
            secret_file,
            keep_old,
        } => rotate(target, secret_file, *keep_old).await,
    }
}

async fn client(target: &SecretsTarget) -> anyhow::Result<cognito::Client> {
    let (client, _) = sdk_client(target.endpoint_url.as_deref(), target.region.as_deref()).await?;
    Ok(client)
}

fn describe_target(target: &SecretsTarget) -> String {
    match &target.endpoint_url {
        Some(url) => format!("the local authorization server at {url}"),
        None => "Amazon Cognito".to_owned(),
    }
}

/// One secret as listed: id and creation date (UTC).
struct Listed {
    id: String,
    created: String,
}

async fn listed(client: &cognito::Client, target: &SecretsTarget) -> anyhow::Result<Vec<Listed>> {
    let out = client
        .list_user_pool_client_secrets()
        .user_pool_id(&target.pool_id)
        .client_id(&target.client_id)
        .send()
        .await
        .map_err(|e| sdk_error(e, "ListUserPoolClientSecrets"))?;
    let mut secrets: Vec<(i64, Listed)> = out
        .client_secrets()
        .iter()
        .map(|d| {
            let date = d.client_secret_create_date();
            let secs = date.map_or(0, cognito::primitives::DateTime::secs);
            let created = date
                .and_then(|d| d.fmt(cognito::primitives::DateTimeFormat::DateTime).ok())
                .unwrap_or_else(|| "-".to_owned());
            (
                secs,
                Listed {
                    id: d.client_secret_id().unwrap_or_default().to_owned(),
                    created,
                },
            )
        })
        .collect();
    secrets.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    Ok(secrets.into_iter().map(|(_, l)| l).collect())
}

/// [`crate::sdk::sdk_error`], naming the operation that failed.
fn sdk_error<E, R>(error: cognito::error::SdkError<E, R>, operation: &str) -> anyhow::Error
where
    E: cognito::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    crate::sdk::sdk_error(error).context(format!("{operation} failed"))
}

async fn list(target: &SecretsTarget) -> anyhow::Result<()> {
    let client = client(target).await?;
    let secrets = listed(&client, target).await?;
    println!("{:<48} CREATED", "SECRET ID");
    for secret in &secrets {
        println!("{:<48} {}", secret.id, secret.created);
    }
    Ok(())
}

async fn add(target: &SecretsTarget, secret_out: Option<&Path>) -> anyhow::Result<()> {
    let client = client(target).await?;
    let out = client
        .add_user_pool_client_secret()
        .user_pool_id(&target.pool_id)
        .client_id(&target.client_id)
        .send()
        .await
        .map_err(|e| sdk_error(e, "AddUserPoolClientSecret"))?;
    let descriptor = out
        .client_secret_descriptor()
        .context("AddUserPoolClientSecret returned no descriptor")?;
    let value = descriptor
        .client_secret_value()
        .context("AddUserPoolClientSecret returned no secret value")?;
    let id = descriptor.client_secret_id().unwrap_or_default();
    match secret_out {
        Some(path) => {
            write_secret(path, &ClientSecret::new(value))?;
            println!(
                "added secret {id}; its value is in {} (mode 0600)",
                path.display()
            );
        }
        None => {
            println!("added secret {id}; its value (shown only now):");
            println!("{value}");
        }
    }
    Ok(())
}

async fn delete(target: &SecretsTarget, secret_id: &str) -> anyhow::Result<()> {
    let client = client(target).await?;
    delete_one(&client, target, secret_id).await?;
    println!("deleted secret {secret_id}");
    Ok(())
}

async fn delete_one(
    client: &cognito::Client,
    target: &SecretsTarget,
    secret_id: &str,
) -> anyhow::Result<()> {
    client
        .delete_user_pool_client_secret()
        .user_pool_id(&target.pool_id)
        .client_id(&target.client_id)
        .client_secret_id(secret_id)
        .send()
        .await
        .map_err(|e| sdk_error(e, "DeleteUserPoolClientSecret"))?;
    Ok(())
}

/// Where a rotation keeps the new value until the secret file holds it.
fn pending_path(secret_file: &Path) -> PathBuf {
    let mut name = secret_file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "client-secret".into());
    name.push(".next");
    secret_file.with_file_name(name)
}

/// 60 hex digits from the system's secure random source: within Cognito's 24–64
/// characters of `[\w+]`.
fn new_secret() -> anyhow::Result<ClientSecret> {
    let mut bytes = [0_u8; 30];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random source failed"))?;
    Ok(ClientSecret::new(
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    ))
}

fn read_pending(path: &Path) -> anyhow::Result<Option<ClientSecret>> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => Ok(Some(ClientSecret::new(text.trim()))),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

async fn rotate(target: &SecretsTarget, secret_file: &Path, keep_old: bool) -> anyhow::Result<()> {
    let client = client(target).await?;
    let pending = pending_path(secret_file);
    println!(
        "rotating the secret of app client {} in {} ({})",
        target.client_id,
        target.pool_id,
        describe_target(target)
    );
    let before = listed(&client, target).await?;
    println!(
        "      active secrets: {}",
        before
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );

    // Step 1: the new secret, active alongside the old one.
    let resumed = read_pending(&pending)?;
    let new_id = if before.len() >= 2 && resumed.is_none() {
        // Two secrets and nothing pending: an earlier rotation got past step 2 (or ran with
        // --keep-old), so the file holds the newer secret.
        let newest = before.last().map(|s| s.id.clone()).unwrap_or_default();
        println!(
            "1/3 skipped: the newer secret {newest} is already active and {} holds it (left by an earlier rotation)",
            secret_file.display()
        );
        newest
    } else {
        let secret = match resumed {
            Some(secret) => {
                println!(
                    "    resuming: found the new secret in {}",
                    pending.display()
                );
                secret
            }
            None => {
                let secret = new_secret()?;
                write_secret(&pending, &secret)?;
                secret
            }
        };
        let added = client
            .add_user_pool_client_secret()
            .user_pool_id(&target.pool_id)
            .client_id(&target.client_id)
            .client_secret(secret.expose())
            .send()
            .await;
        match added {
            Ok(out) => {
                let id = out
                    .client_secret_descriptor()
                    .and_then(|d| d.client_secret_id())
                    .unwrap_or_default()
                    .to_owned();
                println!("1/3 added secret {id}: old and new secrets are both accepted now");
                id
            }
            Err(e) if e.code() == Some("LimitExceededException") && before.len() >= 2 => {
                // Added before an interruption: it is the newest.
                let newest = before.last().map(|s| s.id.clone()).unwrap_or_default();
                println!("1/3 already done: secret {newest} was added before the interruption");
                newest
            }
            Err(e) => return Err(sdk_error(e, "AddUserPoolClientSecret")),
        }
    };

    // Step 2: the services' file, replaced atomically.
    if let Some(secret) = read_pending(&pending)? {
        write_secret(secret_file, &secret)?;
        std::fs::remove_file(&pending)
            .with_context(|| format!("cannot remove {}", pending.display()))?;
        println!(
            "2/3 wrote the new secret to {} (mode 0600): services reading it use it from their next token request",
            secret_file.display()
        );
    } else {
        println!(
            "2/3 already done: {} holds the new secret",
            secret_file.display()
        );
    }

    // Step 3: every other secret deleted.
    if keep_old {
        println!(
            "3/3 skipped (--keep-old): the old secret stays active; run this command again without --keep-old to delete it"
        );
        return Ok(());
    }
    let others: Vec<String> = listed(&client, target)
        .await?
        .into_iter()
        .map(|s| s.id)
        .filter(|id| *id != new_id)
        .collect();
    if others.is_empty() {
        println!("3/3 nothing to delete: {new_id} is the only active secret");
    }
    for id in &others {
        delete_one(&client, target, id).await?;
        println!("3/3 deleted secret {id}: it is refused from now on");
    }
    println!("done: {new_id} is the only active secret");
    Ok(())
}
