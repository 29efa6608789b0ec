//! CreateUserPool, DescribeUserPool, ListUserPools, DeleteUserPool.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::AdminError;
use super::validate::{Pattern, Violations, after_key, page, parse, timestamp};
use crate::AppState;
use crate::store::UserPoolRecord;

/// Members of `CreateUserPool` that are stored and echoed by `DescribeUserPool` as given,
/// without effect on the client-credentials flow.
const ECHOED: &[&str] = &[
    "Policies",
    "AutoVerifiedAttributes",
    "AliasAttributes",
    "UsernameAttributes",
    "SmsVerificationMessage",
    "EmailVerificationMessage",
    "EmailVerificationSubject",
    "VerificationMessageTemplate",
    "SmsAuthenticationMessage",
    "MfaConfiguration",
    "UserAttributeUpdateSettings",
    "DeviceConfiguration",
    "EmailConfiguration",
    "SmsConfiguration",
    "AdminCreateUserConfig",
    "UserPoolAddOns",
    "UsernameConfiguration",
    "AccountRecoverySetting",
];

/// Deployment-wide account id in ARNs (this server has no AWS account).
pub(crate) const ACCOUNT_ID: &str = "000000000000";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateRequest {
    pool_name: Option<String>,
    deletion_protection: Option<String>,
    user_pool_tier: Option<String>,
    user_pool_tags: Option<BTreeMap<String, String>>,
    lambda_config: Option<Map<String, Value>>,
    #[allow(dead_code)] // Accepted (every SDK example sends one) but not enforced.
    schema: Option<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolIdRequest {
    user_pool_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRequest {
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// The pool id of a request, validated against the model.
pub(crate) fn check_pool_id(violations: &mut Violations, pool_id: &Option<String>) -> String {
    violations
        .required(pool_id, "UserPoolId")
        .map(|id| {
            violations.string(id, "UserPoolId", 1, 55, Pattern::UserPoolId);
            id.clone()
        })
        .unwrap_or_default()
}

/// The pool, or `ResourceNotFoundException`.
pub(crate) async fn existing(
    state: &AppState,
    pool_id: &str,
) -> Result<UserPoolRecord, AdminError> {
    state
        .store()
        .user_pool(pool_id)
        .await?
        .ok_or_else(|| AdminError::pool_not_found(pool_id))
}

pub(crate) async fn create(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let mut allowed = vec![
        "PoolName",
        "DeletionProtection",
        "UserPoolTier",
        "UserPoolTags",
        "LambdaConfig",
        "Schema",
    ];
    allowed.extend_from_slice(ECHOED);
    let (request, raw): (CreateRequest, _) = parse(body, "CreateUserPool", &allowed)?;
    let mut v = Violations::default();
    if let Some(name) = v.required(&request.pool_name, "PoolName") {
        v.string(name, "PoolName", 1, 128, Pattern::Name);
    }
    v.one_of(
        &request.deletion_protection,
        "DeletionProtection",
        &["ACTIVE", "INACTIVE"],
    );
    v.one_of(
        &request.user_pool_tier,
        "UserPoolTier",
        &["LITE", "ESSENTIALS", "PLUS"],
    );
    if let Some(tags) = &request.user_pool_tags {
        v.range(i64::try_from(tags.len()).ok(), "UserPoolTags", 0, 50);
    }
    v.finish()?;
    if request
        .lambda_config
        .as_ref()
        .is_some_and(|c| !c.is_empty())
    {
        return Err(AdminError::invalid_parameter(
            "LambdaConfig is not supported by this local server: Lambda triggers (including pre \
             token generation) are never invoked, so tokens would not match what you configured",
        ));
    }
    let mut settings = Map::new();
    for member in ECHOED {
        if let Some(value) = raw.get(*member) {
            settings.insert((*member).to_owned(), value.clone());
        }
    }
    settings.insert(
        "DeletionProtection".to_owned(),
        json!(request.deletion_protection.as_deref().unwrap_or("INACTIVE")),
    );
    settings.insert(
        "UserPoolTier".to_owned(),
        json!(request.user_pool_tier.as_deref().unwrap_or("ESSENTIALS")),
    );
    if let Some(tags) = &request.user_pool_tags {
        settings.insert("UserPoolTags".to_owned(), json!(tags));
    }
    let now = state.now_ms();
    let pool = UserPoolRecord {
        id: crate::ids::user_pool_id(&state.config().region)?,
        name: request.pool_name.unwrap_or_default(),
        settings,
        created_ms: now,
        modified_ms: now,
    };
    let keys = crate::keys::generate_pool_keys(&pool.id, now).await?;
    state.store().create_user_pool(&pool, &keys).await?;
    Ok(json!({ "UserPool": render(state, &pool, None) }))
}

fn arn(pool_id: &str) -> String {
    let region = pool_id.split('_').next().unwrap_or_default();
    format!("arn:aws:cognito-idp:{region}:{ACCOUNT_ID}:userpool/{pool_id}")
}

fn render(_state: &AppState, pool: &UserPoolRecord, domain: Option<&str>) -> Value {
    let mut out = pool.settings.clone();
    out.insert("Id".to_owned(), json!(pool.id));
    out.insert("Name".to_owned(), json!(pool.name));
    out.insert("Arn".to_owned(), json!(arn(&pool.id)));
    out.insert("LambdaConfig".to_owned(), json!({}));
    out.insert("CreationDate".to_owned(), timestamp(pool.created_ms));
    out.insert("LastModifiedDate".to_owned(), timestamp(pool.modified_ms));
    out.insert("EstimatedNumberOfUsers".to_owned(), json!(0));
    out.entry("MfaConfiguration").or_insert(json!("OFF"));
    if let Some(domain) = domain {
        out.insert("Domain".to_owned(), json!(domain));
    }
    Value::Object(out)
}

pub(crate) async fn describe(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (PoolIdRequest, _) = parse(body, "DescribeUserPool", &["UserPoolId"])?;
    let mut v = Violations::default();
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    v.finish()?;
    let pool = existing(state, &pool_id).await?;
    let domain = state.store().domain_of_pool(&pool_id).await?;
    Ok(json!({ "UserPool": render(state, &pool, domain.as_ref().map(|d| d.domain.as_str())) }))
}

pub(crate) async fn list(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (ListRequest, _) =
        parse(body, "ListUserPools", &["MaxResults", "NextToken"])?;
    let mut v = Violations::default();
    v.required(&request.max_results, "MaxResults");
    v.range(request.max_results, "MaxResults", 1, 60);
    v.opt_string(&request.next_token, "NextToken", 1, 131_072, Pattern::Text);
    v.finish()?;
    let limit = u32::try_from(request.max_results.unwrap_or(60)).unwrap_or(60);
    let after = after_key(request.next_token.as_deref())?;
    let rows = state
        .store()
        .list_user_pools(after.as_deref(), limit + 1)
        .await?;
    let (rows, next) = page(rows, limit, |p| p.id.as_str());
    let pools: Vec<Value> = rows
        .iter()
        .map(|p| {
            json!({
                "Id": p.id,
                "Name": p.name,
                "LambdaConfig": {},
                "CreationDate": timestamp(p.created_ms),
                "LastModifiedDate": timestamp(p.modified_ms),
            })
        })
        .collect();
    let mut out = json!({ "UserPools": pools });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

pub(crate) async fn delete(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (PoolIdRequest, _) = parse(body, "DeleteUserPool", &["UserPoolId"])?;
    let mut v = Violations::default();
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    v.finish()?;
    let pool = existing(state, &pool_id).await?;
    if pool
        .settings
        .get("DeletionProtection")
        .and_then(Value::as_str)
        == Some("ACTIVE")
    {
        return Err(AdminError::invalid_parameter(
            "The user pool cannot be deleted because deletion protection is activated. \
             Deletion protection must be inactivated first.",
        ));
    }
    let kids: Vec<String> = state
        .store()
        .signing_keys(&pool_id)
        .await?
        .into_iter()
        .map(|k| k.kid)
        .collect();
    if !state.store().delete_user_pool(&pool_id).await? {
        return Err(AdminError::pool_not_found(&pool_id));
    }
    state.keys().forget(&kids);
    Ok(json!({}))
}
