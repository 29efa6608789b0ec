//! CreateUserPoolDomain, DescribeUserPoolDomain, UpdateUserPoolDomain, DeleteUserPoolDomain
//! (prefix domains).

use serde::Deserialize;
use serde_json::{Value, json};

use super::error::AdminError;
use super::pools::{ACCOUNT_ID, check_pool_id, existing};
use super::validate::{Pattern, Violations, parse};
use crate::AppState;
use crate::error::StoreError;
use crate::store::DomainRecord;

/// Words a prefix domain may not contain (AWS rejects its own brand names).
const RESERVED: &[&str] = &["aws", "amazon", "cognito"];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    domain: Option<String>,
    user_pool_id: Option<String>,
    custom_domain_config: Option<Value>,
    managed_login_version: Option<i64>,
}

fn check_domain(v: &mut Violations, request: &Request) -> String {
    v.required(&request.domain, "Domain")
        .map(|d| {
            v.string(d, "Domain", 1, 63, Pattern::Domain);
            d.clone()
        })
        .unwrap_or_default()
}

pub(crate) async fn create(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) = parse(
        body,
        "CreateUserPoolDomain",
        &[
            "Domain",
            "UserPoolId",
            "CustomDomainConfig",
            "ManagedLoginVersion",
        ],
    )?;
    let mut v = Violations::default();
    let domain = check_domain(&mut v, &request);
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    v.range(request.managed_login_version, "ManagedLoginVersion", 1, 2);
    v.finish()?;
    refuse_custom_domain(request.custom_domain_config.as_ref())?;
    if let Some(word) = RESERVED.iter().find(|w| domain.contains(**w)) {
        return Err(AdminError::invalid_parameter(format!(
            "Domain {domain} contains the reserved word {word}."
        )));
    }
    existing(state, &pool_id).await?;
    if state.store().domain_of_pool(&pool_id).await?.is_some() {
        return Err(AdminError::invalid_parameter(
            "User pool already has a domain configured.",
        ));
    }
    if state.store().domain(&domain).await?.is_some() {
        return Err(AdminError::invalid_parameter(
            "Domain already associated with another user pool.",
        ));
    }
    let record = DomainRecord {
        domain,
        pool_id,
        created_ms: state.now_ms(),
        managed_login_version: request.managed_login_version,
    };
    match state.store().create_domain(&record).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(AdminError::invalid_parameter(
                "Domain already associated with another user pool.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let mut out = json!({});
    if let Some(version) = request.managed_login_version {
        out["ManagedLoginVersion"] = json!(version);
    }
    Ok(out)
}

/// An unknown domain is not an error: `{"DomainDescription": {}}`, as in Cognito.
pub(crate) async fn describe(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) = parse(body, "DescribeUserPoolDomain", &["Domain"])?;
    let mut v = Violations::default();
    let domain = check_domain(&mut v, &request);
    v.finish()?;
    let Some(record) = state.store().domain(&domain).await? else {
        return Ok(json!({ "DomainDescription": {} }));
    };
    let region = &state.config().region;
    // Every member Cognito returns for a prefix domain; a prefix domain has no
    // `CustomDomainConfig` (Cognito returns it for custom domains only).
    Ok(json!({
        "DomainDescription": {
            "UserPoolId": record.pool_id,
            "AWSAccountId": ACCOUNT_ID,
            "Domain": record.domain,
            "S3Bucket": format!("aws-cognito-prod-{region}-assets"),
            "CloudFrontDistribution": cloudfront_domain(state, &record),
            "Version": "1",
            "Status": "ACTIVE",
            "ManagedLoginVersion": managed_login_version(&record),
        }
    }))
}

/// Cognito reports a domain created without `ManagedLoginVersion` as version 1 (the
/// classic hosted UI).
fn managed_login_version(record: &DomainRecord) -> i64 {
    record.managed_login_version.unwrap_or(1)
}

fn cloudfront_domain(state: &AppState, record: &DomainRecord) -> String {
    format!(
        "{}.auth.{}.amazoncognito.com",
        record.domain,
        state.config().region
    )
}

/// A custom domain needs a certificate and DNS: only prefix domains are served here.
fn refuse_custom_domain(config: Option<&Value>) -> Result<(), AdminError> {
    if config.is_some() {
        return Err(AdminError::invalid_parameter(
            "CustomDomainConfig is not supported by this local server: create a prefix domain \
             (the token endpoint is always {public-url}/oauth2/token)",
        ));
    }
    Ok(())
}

/// `UpdateUserPoolDomain`: the managed-login version (a prefix domain has nothing else
/// to update). Answers `{ManagedLoginVersion, CloudFrontDomain}` as Cognito does.
pub(crate) async fn update(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) = parse(
        body,
        "UpdateUserPoolDomain",
        &[
            "Domain",
            "UserPoolId",
            "CustomDomainConfig",
            "ManagedLoginVersion",
        ],
    )?;
    let mut v = Violations::default();
    let domain = check_domain(&mut v, &request);
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    v.range(request.managed_login_version, "ManagedLoginVersion", 1, 2);
    v.finish()?;
    refuse_custom_domain(request.custom_domain_config.as_ref())?;
    existing(state, &pool_id).await?;
    let mut record = state
        .store()
        .domain(&domain)
        .await?
        .filter(|d| d.pool_id == pool_id)
        .ok_or_else(|| {
            AdminError::invalid_parameter(format!(
                "No such domain {domain} for user pool {pool_id}."
            ))
        })?;
    if let Some(version) = request.managed_login_version {
        record.managed_login_version = Some(version);
        if !state.store().update_domain(&record).await? {
            return Err(AdminError::invalid_parameter(format!(
                "No such domain {domain} for user pool {pool_id}."
            )));
        }
    }
    Ok(json!({
        "ManagedLoginVersion": managed_login_version(&record),
        "CloudFrontDomain": cloudfront_domain(state, &record),
    }))
}

pub(crate) async fn delete(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) =
        parse(body, "DeleteUserPoolDomain", &["Domain", "UserPoolId"])?;
    let mut v = Violations::default();
    let domain = check_domain(&mut v, &request);
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    v.finish()?;
    existing(state, &pool_id).await?;
    if !state.store().delete_domain(&pool_id, &domain).await? {
        return Err(AdminError::invalid_parameter(format!(
            "No such domain {domain} for user pool {pool_id}."
        )));
    }
    Ok(json!({}))
}
