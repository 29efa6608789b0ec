//! `s2s provision`: applies a stack to Amazon Cognito or to the local server with the
//! official SDK, idempotently.
//!
//! Every resource is looked up first (the pool and the client by name, the domain and the
//! resource server by their identifiers), created only when missing, and an existing app
//! client is updated in place when its OAuth settings differ, which keeps its id and its
//! secret. A pool's pre token generation trigger (`[user_pool.pre_token_generation]`) is
//! set at creation, and on an existing pool whose trigger differs from the stack's: changed,
//! or removed when the stack has none (keeping the pool's other settings and triggers).
//! `s2s up` runs exactly this code against its own authorization server.

use std::fmt;

use anyhow::Context as _;
use authorization_server::TimeUnit;
use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{
    LambdaConfigType, OAuthFlowType, ResourceServerScopeType, TimeUnitsType,
    TokenValidityUnitsType, UserPoolClientType,
};
use oauth_proto::ClientSecret;
use serde::{Deserialize, Serialize};

use crate::cli::ProvisionArgs;
use crate::output_files::{default_secret_path, write_outputs, write_secret};
use crate::sdk::{sdk_client, sdk_error};
use crate::stack::{self, AppClient, ResourceServer, Stack};

mod trigger;

use trigger::{ensure_trigger, pre_token_trigger};

/// What `provision` writes to `--out`: everything a service needs, except the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Outputs {
    pub(crate) region: String,
    pub(crate) user_pool_id: String,
    pub(crate) client_id: String,
    pub(crate) issuer: String,
    pub(crate) token_url: String,
    pub(crate) jwks_url: String,
    pub(crate) domain: String,
}

/// The result of applying a stack.
#[derive(Debug)]
pub(crate) struct Provisioned {
    pub(crate) outputs: Outputs,
    pub(crate) client_secret: ClientSecret,
    /// How many resources were created or updated (0: nothing changed).
    pub(crate) changes: usize,
}

/// Where the stack is applied.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// The local authorization server at this base URL (no trailing slash).
    Local { endpoint: String },
    /// Amazon Cognito in this region.
    Aws { region: String },
}

/// What happened to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Created,
    Unchanged,
    Updated,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Created => "created",
            Self::Unchanged => "unchanged",
            Self::Updated => "updated",
        })
    }
}

/// `s2s provision`.
pub(crate) async fn run(args: ProvisionArgs) -> anyhow::Result<()> {
    let stack = stack::load(&args.stack)?;
    let endpoint = args
        .endpoint_url
        .as_ref()
        .map(|url| url.as_str().trim_end_matches('/').to_owned());
    let (client, target) = sdk_client(endpoint.as_deref(), args.region.as_deref()).await?;
    match &target {
        Target::Local { endpoint } => println!(
            "applying {} to the local authorization server at {endpoint}",
            args.stack.display()
        ),
        Target::Aws { region } => println!(
            "applying {} to Amazon Cognito in {region}",
            args.stack.display()
        ),
    }
    let provisioned = apply(&client, &stack, &target, &mut |line| println!("  {line}")).await?;
    let secret_out = args
        .secret_out
        .clone()
        .unwrap_or_else(|| default_secret_path(&args.out));
    write_outputs(&args.out, &provisioned.outputs)?;
    write_secret(&secret_out, &provisioned.client_secret)?;
    if provisioned.changes == 0 {
        println!("nothing changed");
    } else {
        println!("{} change(s) applied", provisioned.changes);
    }
    println!("outputs: {}", args.out.display());
    println!(
        "client secret: {} (mode 0600{})",
        secret_out.display(),
        if args.show_secret {
            ""
        } else {
            "; --show-secret prints it"
        }
    );
    if args.show_secret {
        println!("{}", provisioned.client_secret.expose());
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&provisioned.outputs).context("cannot print the outputs")?
    );
    Ok(())
}

/// What exists so far, for the message of a failed step.
#[derive(Default)]
struct Progress {
    in_place: Vec<String>,
    changes: usize,
}

impl Progress {
    fn done(&mut self, what: String, outcome: Outcome, report: &mut dyn FnMut(String)) {
        report(format!("{what}: {outcome}"));
        if outcome != Outcome::Unchanged {
            self.changes += 1;
        }
        self.in_place.push(what);
    }

    /// Wraps the error of a failed step with the step and what already exists.
    fn failed(&self, step: &str, err: anyhow::Error) -> anyhow::Error {
        let existing = if self.in_place.is_empty() {
            "nothing was created".to_owned()
        } else {
            format!(
                "already in place: {}; running provision again reuses them",
                self.in_place.join(", ")
            )
        };
        err.context(format!(
            "provisioning stopped at step \"{step}\" ({existing})"
        ))
    }
}

/// Applies `stack`; `report` receives one line per resource.
pub(crate) async fn apply(
    client: &cognito::Client,
    stack: &Stack,
    target: &Target,
    report: &mut dyn FnMut(String),
) -> anyhow::Result<Provisioned> {
    let mut progress = Progress::default();

    let step = format!("user pool {}", stack.user_pool.name);
    let (pool_id, outcome) = ensure_pool(client, &stack.user_pool)
        .await
        .map_err(|err| progress.failed(&step, err))?;
    progress.done(format!("{step} ({pool_id})"), outcome, report);

    let step = format!("domain {}", stack.user_pool.domain);
    let outcome = ensure_domain(client, &pool_id, &stack.user_pool.domain)
        .await
        .map_err(|err| progress.failed(&step, err))?;
    progress.done(step, outcome, report);

    for server in &stack.resource_servers {
        let step = format!("resource server {}", server.identifier);
        let outcome = ensure_resource_server(client, &pool_id, server)
            .await
            .map_err(|err| progress.failed(&step, err))?;
        progress.done(step, outcome, report);
    }

    let step = format!("app client {}", stack.app_client.name);
    let (app, outcome) = ensure_app_client(client, &pool_id, &stack.app_client)
        .await
        .map_err(|err| progress.failed(&step, err))?;
    let client_id = app.client_id().unwrap_or_default().to_owned();
    let secret = app
        .client_secret()
        .filter(|s| !s.is_empty())
        .map(ClientSecret::new)
        .with_context(|| {
            format!(
                "app client {} ({client_id}) has no secret: the client-credentials grant needs one. Delete the client (or rename it in the stack) and provision again",
                stack.app_client.name
            )
        })
        .map_err(|err| progress.failed(&step, err))?;
    progress.done(format!("{step} ({client_id})"), outcome, report);

    Ok(Provisioned {
        outputs: outputs(target, &pool_id, &client_id, &stack.user_pool.domain),
        client_secret: secret,
        changes: progress.changes,
    })
}

/// The URLs of a pool on the target.
pub(crate) fn outputs(target: &Target, pool_id: &str, client_id: &str, domain: &str) -> Outputs {
    match target {
        Target::Local { endpoint } => {
            // The local server puts its region in the pool id, as Cognito does.
            let region = pool_id
                .split_once('_')
                .map_or("us-east-1", |(region, _)| region)
                .to_owned();
            let issuer = format!("{endpoint}/{pool_id}");
            Outputs {
                region,
                user_pool_id: pool_id.to_owned(),
                client_id: client_id.to_owned(),
                jwks_url: format!("{issuer}/.well-known/jwks.json"),
                issuer,
                token_url: format!("{endpoint}/oauth2/token"),
                domain: domain.to_owned(),
            }
        }
        Target::Aws { region } => {
            let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}");
            Outputs {
                region: region.clone(),
                user_pool_id: pool_id.to_owned(),
                client_id: client_id.to_owned(),
                jwks_url: format!("{issuer}/.well-known/jwks.json"),
                issuer,
                token_url: format!("https://{domain}.auth.{region}.amazoncognito.com/oauth2/token"),
                domain: domain.to_owned(),
            }
        }
    }
}

async fn ensure_pool(
    client: &cognito::Client,
    pool: &stack::UserPool,
) -> anyhow::Result<(String, Outcome)> {
    let name = pool.name.as_str();
    let trigger = pool
        .pre_token_generation
        .as_ref()
        .map(|hook| pre_token_trigger(&hook.lambda_arn))
        .transpose()?;
    let mut found = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = client
            .list_user_pools()
            .max_results(60)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(sdk_error)
            .context("cannot list the user pools")?;
        found.extend(
            page.user_pools()
                .iter()
                .filter(|pool| pool.name() == Some(name))
                .filter_map(|pool| pool.id().map(str::to_owned)),
        );
        match page.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => break,
        }
    }
    match found.as_slice() {
        [id] => {
            let outcome = ensure_trigger(client, id, trigger.as_ref()).await?;
            return Ok((id.clone(), outcome));
        }
        [] => {}
        ids => anyhow::bail!(
            "{} user pools are named {name:?} ({}): rename the pool in the stack or delete the extra pools",
            ids.len(),
            ids.join(", ")
        ),
    }
    let created = client
        .create_user_pool()
        .pool_name(name)
        .set_lambda_config(trigger.map(|trigger| {
            LambdaConfigType::builder()
                .pre_token_generation_config(trigger)
                .build()
        }))
        .send()
        .await
        .map_err(sdk_error)
        .context("cannot create the user pool")?;
    let id = created
        .user_pool()
        .and_then(|pool| pool.id())
        .context("the created user pool has no id")?;
    Ok((id.to_owned(), Outcome::Created))
}

async fn ensure_domain(
    client: &cognito::Client,
    pool_id: &str,
    domain: &str,
) -> anyhow::Result<Outcome> {
    let described = client
        .describe_user_pool_domain()
        .domain(domain)
        .send()
        .await
        .map_err(sdk_error)
        .context("cannot look up the domain")?;
    // An unknown domain comes back as an empty description, not as an error.
    match described
        .domain_description()
        .and_then(|d| d.user_pool_id())
        .filter(|id| !id.is_empty())
    {
        Some(owner) if owner == pool_id => return Ok(Outcome::Unchanged),
        Some(owner) => anyhow::bail!(
            "the domain prefix {domain:?} belongs to another user pool ({owner}); prefixes are unique per region, choose another in the stack"
        ),
        None => {}
    }
    client
        .create_user_pool_domain()
        .user_pool_id(pool_id)
        .domain(domain)
        .send()
        .await
        .map_err(sdk_error)
        .context("cannot create the domain")?;
    Ok(Outcome::Created)
}

fn scope_types(server: &ResourceServer) -> anyhow::Result<Vec<ResourceServerScopeType>> {
    server
        .scopes
        .iter()
        .map(|(name, description)| {
            ResourceServerScopeType::builder()
                .scope_name(name)
                .scope_description(description)
                .build()
                .context("invalid scope")
        })
        .collect()
}

async fn ensure_resource_server(
    client: &cognito::Client,
    pool_id: &str,
    server: &ResourceServer,
) -> anyhow::Result<Outcome> {
    let mut existing = None;
    let mut next: Option<String> = None;
    loop {
        let page = client
            .list_resource_servers()
            .user_pool_id(pool_id)
            .max_results(50)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(sdk_error)
            .context("cannot list the resource servers")?;
        if let Some(found) = page
            .resource_servers()
            .iter()
            .find(|rs| rs.identifier() == Some(server.identifier.as_str()))
        {
            existing = Some(found.clone());
            break;
        }
        match page.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => break,
        }
    }
    let scopes = scope_types(server)?;
    let Some(existing) = existing else {
        client
            .create_resource_server()
            .user_pool_id(pool_id)
            .identifier(&server.identifier)
            .name(&server.name)
            .set_scopes(Some(scopes))
            .send()
            .await
            .map_err(sdk_error)
            .context("cannot create the resource server")?;
        return Ok(Outcome::Created);
    };
    let mut have: Vec<(&str, &str)> = existing
        .scopes()
        .iter()
        .map(|s| (s.scope_name(), s.scope_description()))
        .collect();
    let mut want: Vec<(&str, &str)> = server
        .scopes
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_str()))
        .collect();
    have.sort_unstable();
    want.sort_unstable();
    if have == want && existing.name() == Some(server.name.as_str()) {
        return Ok(Outcome::Unchanged);
    }
    client
        .update_resource_server()
        .user_pool_id(pool_id)
        .identifier(&server.identifier)
        .name(&server.name)
        .set_scopes(Some(scopes))
        .send()
        .await
        .map_err(sdk_error)
        .context("cannot update the resource server")?;
    Ok(Outcome::Updated)
}

fn time_unit(unit: TimeUnit) -> TimeUnitsType {
    match unit {
        TimeUnit::Seconds => TimeUnitsType::Seconds,
        TimeUnit::Minutes => TimeUnitsType::Minutes,
        TimeUnit::Hours => TimeUnitsType::Hours,
        TimeUnit::Days => TimeUnitsType::Days,
    }
}

/// Whether an existing client already has the OAuth settings of the stack.
fn client_matches(existing: &UserPoolClientType, want: &AppClient) -> bool {
    let mut have_scopes: Vec<&str> = existing
        .allowed_o_auth_scopes()
        .iter()
        .map(String::as_str)
        .collect();
    let mut want_scopes: Vec<&str> = want
        .allowed_oauth_scopes
        .iter()
        .map(String::as_str)
        .collect();
    have_scopes.sort_unstable();
    want_scopes.sort_unstable();
    // Cognito's default unit is hours when none is stored.
    let have_unit = existing
        .token_validity_units()
        .and_then(|u| u.access_token())
        .cloned()
        .unwrap_or(time_unit(TimeUnit::ACCESS_TOKEN_DEFAULT));
    have_scopes == want_scopes
        && existing.allowed_o_auth_flows() == [OAuthFlowType::ClientCredentials]
        && existing.allowed_o_auth_flows_user_pool_client() == Some(true)
        && existing.access_token_validity() == Some(want.access_token_validity)
        && have_unit == time_unit(want.token_validity_units)
}

async fn ensure_app_client(
    client: &cognito::Client,
    pool_id: &str,
    want: &AppClient,
) -> anyhow::Result<(UserPoolClientType, Outcome)> {
    let mut found = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = client
            .list_user_pool_clients()
            .user_pool_id(pool_id)
            .max_results(60)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(sdk_error)
            .context("cannot list the app clients")?;
        found.extend(
            page.user_pool_clients()
                .iter()
                .filter(|c| c.client_name() == Some(want.name.as_str()))
                .filter_map(|c| c.client_id().map(str::to_owned)),
        );
        match page.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => break,
        }
    }
    let units = TokenValidityUnitsType::builder()
        .access_token(time_unit(want.token_validity_units))
        .build();
    let client_id = match found.as_slice() {
        [] => {
            let created = client
                .create_user_pool_client()
                .user_pool_id(pool_id)
                .client_name(&want.name)
                .generate_secret(true)
                .allowed_o_auth_flows_user_pool_client(true)
                .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
                .set_allowed_o_auth_scopes(Some(want.allowed_oauth_scopes.clone()))
                .supported_identity_providers("COGNITO")
                .access_token_validity(want.access_token_validity)
                .token_validity_units(units)
                .send()
                .await
                .map_err(sdk_error)
                .context("cannot create the app client")?;
            let app = created
                .user_pool_client()
                .cloned()
                .context("the created app client is missing from the answer")?;
            return Ok((app, Outcome::Created));
        }
        [id] => id.clone(),
        ids => anyhow::bail!(
            "{} app clients are named {:?} ({}): rename the client in the stack or delete the extra ones",
            ids.len(),
            want.name,
            ids.join(", ")
        ),
    };
    let existing = describe_app_client(client, pool_id, &client_id)
        .await
        .context("cannot describe the app client")?;
    if client_matches(&existing, want) {
        return Ok((existing, Outcome::Unchanged));
    }
    // UpdateUserPoolClient resets every omitted field to its default: send the whole
    // desired configuration, not a patch.
    client
        .update_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(&client_id)
        .client_name(&want.name)
        .allowed_o_auth_flows_user_pool_client(true)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .set_allowed_o_auth_scopes(Some(want.allowed_oauth_scopes.clone()))
        .supported_identity_providers("COGNITO")
        .access_token_validity(want.access_token_validity)
        .token_validity_units(units)
        .send()
        .await
        .map_err(sdk_error)
        .context("cannot update the app client")?;
    // The update answer may omit the secret; describe again to read it.
    let app = describe_app_client(client, pool_id, &client_id)
        .await
        .context("cannot describe the updated app client")?;
    Ok((app, Outcome::Updated))
}

async fn describe_app_client(
    client: &cognito::Client,
    pool_id: &str,
    client_id: &str,
) -> anyhow::Result<UserPoolClientType> {
    client
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(client_id)
        .send()
        .await
        .map_err(sdk_error)?
        .user_pool_client()
        .cloned()
        .context("the described app client is missing from the answer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_for_cognito_and_local() {
        let aws = outputs(
            &Target::Aws {
                region: "eu-west-1".into(),
            },
            "eu-west-1_Ab12Cd34E",
            "abc",
            "s2s-demo",
        );
        assert_eq!(
            aws.issuer,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12Cd34E"
        );
        assert_eq!(
            aws.token_url,
            "https://s2s-demo.auth.eu-west-1.amazoncognito.com/oauth2/token"
        );
        assert_eq!(
            aws.jwks_url,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12Cd34E/.well-known/jwks.json"
        );
        let local = outputs(
            &Target::Local {
                endpoint: "http://127.0.0.1:9229".into(),
            },
            "us-east-1_X",
            "abc",
            "s2s-demo-local",
        );
        assert_eq!(local.region, "us-east-1");
        assert_eq!(local.issuer, "http://127.0.0.1:9229/us-east-1_X");
        assert_eq!(local.token_url, "http://127.0.0.1:9229/oauth2/token");
    }

    #[cfg(unix)]
    #[test]
    fn secret_file_is_private_and_replaced() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("client-secret");
        write_secret(&path, &ClientSecret::new("one")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_secret(&path, &ClientSecret::new("two")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn client_comparison_sees_scope_changes() {
        let want = crate::stack::parse("stack.toml", crate::stack::REFERENCE)
            .unwrap()
            .app_client;
        let existing = UserPoolClientType::builder()
            .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
            .allowed_o_auth_scopes("user-schedule-service/schedule.read")
            .allowed_o_auth_flows_user_pool_client(true)
            .access_token_validity(60)
            .token_validity_units(
                TokenValidityUnitsType::builder()
                    .access_token(TimeUnitsType::Minutes)
                    .build(),
            )
            .build();
        assert!(client_matches(&existing, &want));
        let mut more = want.clone();
        more.allowed_oauth_scopes
            .push("user-schedule-service/schedule.update".into());
        assert!(!client_matches(&existing, &more));
        let mut hours = want;
        hours.access_token_validity = 1;
        hours.token_validity_units = TimeUnit::Hours;
        assert!(!client_matches(&existing, &hours));
    }
}
