//! CreateResourceServer, DescribeResourceServer, UpdateResourceServer,
//! ListResourceServers, DeleteResourceServer.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Value, json};

use super::error::AdminError;
use super::pools::{check_pool_id, existing};
use super::validate::{Pattern, Violations, after_key, page, parse};
use crate::AppState;
use crate::error::StoreError;
use crate::store::{ResourceServerRecord, ResourceServerScope};

/// Cognito's default quota of resource servers per pool.
const MAX_PER_POOL: u32 = 25;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ScopeInput {
    scope_name: Option<String>,
    scope_description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    user_pool_id: Option<String>,
    identifier: Option<String>,
    name: Option<String>,
    scopes: Option<Vec<ScopeInput>>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

fn check_identifier(v: &mut Violations, request: &Request) -> String {
    v.required(&request.identifier, "Identifier")
        .map(|id| {
            v.string(id, "Identifier", 1, 256, Pattern::ScopeLike);
            id.clone()
        })
        .unwrap_or_default()
}

/// Validates name and scopes of a create or update.
fn check_definition(v: &mut Violations, request: &Request) -> Result<Vec<ResourceServerScope>, ()> {
    if let Some(name) = v.required(&request.name, "Name") {
        v.string(name, "Name", 1, 256, Pattern::Name);
    }
    let Some(scopes) = &request.scopes else {
        return Ok(Vec::new());
    };
    if scopes.len() > 100 {
        v.range(i64::try_from(scopes.len()).ok(), "Scopes", 0, 100);
        return Err(());
    }
    let mut out = Vec::with_capacity(scopes.len());
    for (i, scope) in scopes.iter().enumerate() {
        let member = format!("Scopes.{}", i + 1);
        let name = v.required(&scope.scope_name, &format!("{member}.member.ScopeName"));
        let description = v.required(
            &scope.scope_description,
            &format!("{member}.member.ScopeDescription"),
        );
        if let (Some(name), Some(description)) = (name, description) {
            v.string(
                name,
                &format!("{member}.member.ScopeName"),
                1,
                256,
                Pattern::ScopeName,
            );
            v.string(
                description,
                &format!("{member}.member.ScopeDescription"),
                1,
                256,
                Pattern::Text,
            );
            out.push(ResourceServerScope {
                scope_name: name.clone(),
                scope_description: description.clone(),
            });
        }
    }
    Ok(out)
}

fn unique_names(scopes: &[ResourceServerScope]) -> Result<(), AdminError> {
    let mut seen = HashSet::new();
    match scopes.iter().find(|s| !seen.insert(s.scope_name.as_str())) {
        Some(dup) => Err(AdminError::invalid_parameter(format!(
            "Duplicate scope name {} in Scopes: each ScopeName must be unique within a resource server.",
            dup.scope_name
        ))),
        None => Ok(()),
    }
}

fn render(server: &ResourceServerRecord) -> Value {
    json!({
        "UserPoolId": server.pool_id,
        "Identifier": server.identifier,
        "Name": server.name,
        "Scopes": server.scopes,
    })
}

fn not_found(identifier: &str, pool_id: &str) -> AdminError {
    AdminError::not_found(format!(
        "Resource server {identifier} does not exist in user pool {pool_id}."
    ))
}

pub(crate) async fn create(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) = parse(
        body,
        "CreateResourceServer",
        &["UserPoolId", "Identifier", "Name", "Scopes"],
    )?;
    let mut v = Violations::default();
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    let identifier = check_identifier(&mut v, &request);
    let scopes = check_definition(&mut v, &request);
    v.finish()?;
    let scopes = scopes.unwrap_or_default();
    unique_names(&scopes)?;
    existing(state, &pool_id).await?;
    if state
        .store()
        .resource_server(&pool_id, &identifier)
        .await?
        .is_some()
    {
        return Err(duplicate(&identifier));
    }
    let count = state
        .store()
        .list_resource_servers(&pool_id, None, MAX_PER_POOL)
        .await?
        .len();
    if count >= MAX_PER_POOL as usize {
        return Err(AdminError::limit_exceeded(format!(
            "User pool {pool_id} already has the maximum number of resource servers ({MAX_PER_POOL})."
        )));
    }
    let server = ResourceServerRecord {
        pool_id,
        identifier,
        name: request.name.clone().unwrap_or_default(),
        scopes,
    };
    match state.store().create_resource_server(&server).await {
        Ok(()) => Ok(json!({ "ResourceServer": render(&server) })),
        Err(StoreError::Conflict(_)) => Err(duplicate(&server.identifier)),
        Err(e) => Err(e.into()),
    }
}

fn duplicate(identifier: &str) -> AdminError {
    AdminError::invalid_parameter(format!(
        "A resource server with identifier {identifier} already exists in this user pool."
    ))
}

pub(crate) async fn describe(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) = parse(
        body,
        "DescribeResourceServer",
        &["UserPoolId", "Identifier"],
    )?;
    let mut v = Violations::default();
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    let identifier = check_identifier(&mut v, &request);
    v.finish()?;
    existing(state, &pool_id).await?;
    let server = state
        .store()
        .resource_server(&pool_id, &identifier)
        .await?
        .ok_or_else(|| not_found(&identifier, &pool_id))?;
    Ok(json!({ "ResourceServer": render(&server) }))
}

/// Replaces name and scopes (omitted `Scopes` = none). Clients keep scopes that no longer
/// exist; such scopes are inactive and never granted (see the token endpoint).
pub(crate) async fn update(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) = parse(
        body,
        "UpdateResourceServer",
        &["UserPoolId", "Identifier", "Name", "Scopes"],
    )?;
    let mut v = Violations::default();
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    let identifier = check_identifier(&mut v, &request);
    let scopes = check_definition(&mut v, &request);
    v.finish()?;
    let scopes = scopes.unwrap_or_default();
    unique_names(&scopes)?;
    existing(state, &pool_id).await?;
    let server = ResourceServerRecord {
        pool_id,
        identifier,
        name: request.name.clone().unwrap_or_default(),
        scopes,
    };
    if !state.store().update_resource_server(&server).await? {
        return Err(not_found(&server.identifier, &server.pool_id));
    }
    Ok(json!({ "ResourceServer": render(&server) }))
}

pub(crate) async fn list(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) = parse(
        body,
        "ListResourceServers",
        &["UserPoolId", "MaxResults", "NextToken"],
    )?;
    let mut v = Violations::default();
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    v.range(request.max_results, "MaxResults", 1, 50);
    v.opt_string(&request.next_token, "NextToken", 1, 131_072, Pattern::Text);
    v.finish()?;
    existing(state, &pool_id).await?;
    let limit = u32::try_from(request.max_results.unwrap_or(50)).unwrap_or(50);
    let after = after_key(request.next_token.as_deref())?;
    let rows = state
        .store()
        .list_resource_servers(&pool_id, after.as_deref(), limit + 1)
        .await?;
    let (rows, next) = page(rows, limit, |s| s.identifier.as_str());
    let servers: Vec<Value> = rows.iter().map(render).collect();
    let mut out = json!({ "ResourceServers": servers });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

pub(crate) async fn delete(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) =
        parse(body, "DeleteResourceServer", &["UserPoolId", "Identifier"])?;
    let mut v = Violations::default();
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    let identifier = check_identifier(&mut v, &request);
    v.finish()?;
    existing(state, &pool_id).await?;
    if !state
        .store()
        .delete_resource_server(&pool_id, &identifier)
        .await?
    {
        return Err(not_found(&identifier, &pool_id));
    }
    Ok(json!({}))
}
