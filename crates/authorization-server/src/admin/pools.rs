//! CreateUserPool, DescribeUserPool, UpdateUserPool, ListUserPools, DeleteUserPool.
//!
//! A pool's settings are one JSON object in Cognito's member names. `DescribeUserPool`
//! lays them over the defaults Cognito returns for a pool created with only a name
//! ([`defaults`]), so tools that read `Policies.PasswordPolicy` or
//! `AdminCreateUserConfig` (Terraform does, unconditionally) find them. `UpdateUserPool`
//! has Cognito's replace semantics: a member left out returns to its default; tags and
//! the tier are kept, as they have their own operations.

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

/// Settings written by `SetUserPoolMfaConfig` and returned by `GetUserPoolMfaConfig` only.
pub(crate) const MFA_ONLY: &[&str] = &[
    "SoftwareTokenMfaConfiguration",
    "SmsMfaConfiguration",
    "EmailMfaConfiguration",
    "WebAuthnConfiguration",
];

/// What `DescribeUserPool` returns for members never set, as Cognito does for a pool
/// created with only a name (API reference `CreateUserPool`/`UserPoolType` defaults: an
/// 8-character password policy requiring all four classes, temporary passwords valid 7
/// days, recovery by verified email then phone, MFA off).
fn defaults() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "Policies": {
            "PasswordPolicy": {
                "MinimumLength": 8,
                "RequireUppercase": true,
                "RequireLowercase": true,
                "RequireNumbers": true,
                "RequireSymbols": true,
                "TemporaryPasswordValidityDays": 7,
            },
            "SignInPolicy": { "AllowedFirstAuthFactors": ["PASSWORD"] },
        },
        "AdminCreateUserConfig": {
            "AllowAdminCreateUserOnly": false,
            "UnusedAccountValidityDays": 7,
        },
        "AccountRecoverySetting": {
            "RecoveryMechanisms": [
                { "Priority": 1, "Name": "verified_email" },
                { "Priority": 2, "Name": "verified_phone_number" },
            ],
        },
        "VerificationMessageTemplate": { "DefaultEmailOption": "CONFIRM_WITH_CODE" },
        "EmailConfiguration": { "EmailSendingAccount": "COGNITO_DEFAULT" },
        "UserAttributeUpdateSettings": { "AttributesRequireVerificationBeforeUpdate": [] },
        "MfaConfiguration": "OFF",
        "DeletionProtection": "INACTIVE",
        "UserPoolTier": "ESSENTIALS",
        "UserPoolTags": {},
    }) else {
        return Map::new();
    };
    map
}

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
struct UpdateRequest {
    user_pool_id: Option<String>,
    pool_name: Option<String>,
    deletion_protection: Option<String>,
    user_pool_tier: Option<String>,
    user_pool_tags: Option<BTreeMap<String, String>>,
    lambda_config: Option<Map<String, Value>>,
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
    check_settings(
        &mut v,
        &request.deletion_protection,
        &request.user_pool_tier,
        &request.user_pool_tags,
    );
    v.finish()?;
    let tier = request.user_pool_tier.as_deref().unwrap_or("ESSENTIALS");
    let lambda_config = super::lambda_config::check(request.lambda_config.as_ref(), tier)?;
    let mut settings = echoed(&raw);
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
        lambda_config,
        created_ms: now,
        modified_ms: now,
    };
    let keys = crate::keys::generate_pool_keys(&pool.id, now).await?;
    state.store().create_user_pool(&pool, &keys).await?;
    Ok(json!({ "UserPool": render(state, &pool, None) }))
}

/// Model checks shared by `CreateUserPool` and `UpdateUserPool`.
fn check_settings(
    v: &mut Violations,
    deletion_protection: &Option<String>,
    tier: &Option<String>,
    tags: &Option<BTreeMap<String, String>>,
) {
    v.one_of(
        deletion_protection,
        "DeletionProtection",
        &["ACTIVE", "INACTIVE"],
    );
    v.one_of(tier, "UserPoolTier", &["LITE", "ESSENTIALS", "PLUS"]);
    if let Some(tags) = tags {
        let most = i64::try_from(super::tags::MAX_TAGS).unwrap_or(i64::MAX);
        v.range(i64::try_from(tags.len()).ok(), "UserPoolTags", 0, most);
        super::tags::check_tags(v, tags, "UserPoolTags");
    }
}

/// The [`ECHOED`] members of a request, as given.
fn echoed(raw: &Map<String, Value>) -> Map<String, Value> {
    ECHOED
        .iter()
        .filter_map(|member| Some(((*member).to_owned(), raw.get(*member)?.clone())))
        .collect()
}

/// The pool's ARN, `arn:aws:cognito-idp:<region>:<account>:userpool/<id>`.
pub(crate) fn arn(pool_id: &str) -> String {
    let region = pool_id.split('_').next().unwrap_or_default();
    format!("arn:aws:cognito-idp:{region}:{ACCOUNT_ID}:userpool/{pool_id}")
}

fn render(_state: &AppState, pool: &UserPoolRecord, domain: Option<&str>) -> Value {
    let mut out = defaults();
    for (member, value) in &pool.settings {
        if MFA_ONLY.contains(&member.as_str()) {
            continue;
        }
        // A `Policies` given in part keeps the default of the policies left out.
        match (out.get_mut(member), value) {
            (Some(Value::Object(default)), Value::Object(given)) if member == "Policies" => {
                default.extend(given.clone());
            }
            _ => {
                out.insert(member.clone(), value.clone());
            }
        }
    }
    out.insert("Id".to_owned(), json!(pool.id));
    out.insert("Name".to_owned(), json!(pool.name));
    out.insert("Arn".to_owned(), json!(arn(&pool.id)));
    out.insert(
        "LambdaConfig".to_owned(),
        super::lambda_config::render(&pool.lambda_config),
    );
    out.insert("CreationDate".to_owned(), timestamp(pool.created_ms));
    out.insert("LastModifiedDate".to_owned(), timestamp(pool.modified_ms));
    out.insert("EstimatedNumberOfUsers".to_owned(), json!(0));
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
                "LambdaConfig": super::lambda_config::render(&p.lambda_config),
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
    if state.store().domain_of_pool(&pool_id).await?.is_some() {
        return Err(AdminError::invalid_parameter(
            "User pool cannot be deleted. It has a domain configured that should be deleted first.",
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

/// Members `UpdateUserPool` accepts besides those of [`ECHOED`] it may carry.
const UPDATE_MEMBERS: &[&str] = &[
    "UserPoolId",
    "PoolName",
    "DeletionProtection",
    "UserPoolTier",
    "UserPoolTags",
    "LambdaConfig",
];

/// Members of `CreateUserPool` that `UpdateUserPool` cannot change (they are fixed at
/// creation in Cognito); kept as they are.
const IMMUTABLE: &[&str] = &[
    "AliasAttributes",
    "UsernameAttributes",
    "UsernameConfiguration",
];

pub(crate) async fn update(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let mut allowed = UPDATE_MEMBERS.to_vec();
    allowed.extend(ECHOED.iter().filter(|m| !IMMUTABLE.contains(m)));
    let (request, raw): (UpdateRequest, _) = parse(body, "UpdateUserPool", &allowed)?;
    let mut v = Violations::default();
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    if let Some(name) = &request.pool_name {
        v.string(name, "PoolName", 1, 128, Pattern::Name);
    }
    check_settings(
        &mut v,
        &request.deletion_protection,
        &request.user_pool_tier,
        &request.user_pool_tags,
    );
    v.finish()?;
    let mut pool = existing(state, &pool_id).await?;
    let old = std::mem::take(&mut pool.settings);
    let tier = request
        .user_pool_tier
        .as_deref()
        .or_else(|| old.get("UserPoolTier").and_then(Value::as_str))
        .unwrap_or("ESSENTIALS")
        .to_owned();
    // Replace semantics, as for the other members: a LambdaConfig left out removes the
    // triggers (Cognito's UpdateUserPool documentation warns of exactly this).
    pool.lambda_config = super::lambda_config::check(request.lambda_config.as_ref(), &tier)?;
    let mut settings = echoed(&raw);
    settings.retain(|member, _| !IMMUTABLE.contains(&member.as_str()));
    for kept in IMMUTABLE.iter().chain(MFA_ONLY) {
        if let Some(value) = old.get(*kept) {
            settings.insert((*kept).to_owned(), value.clone());
        }
    }
    settings.insert(
        "DeletionProtection".to_owned(),
        json!(request.deletion_protection.as_deref().unwrap_or("INACTIVE")),
    );
    let tier = request
        .user_pool_tier
        .as_deref()
        .map(|t| json!(t))
        .or_else(|| old.get("UserPoolTier").cloned());
    let tags = request
        .user_pool_tags
        .as_ref()
        .map(|t| json!(t))
        .or_else(|| old.get("UserPoolTags").cloned());
    for (member, value) in [("UserPoolTier", tier), ("UserPoolTags", tags)] {
        if let Some(value) = value {
            settings.insert(member.to_owned(), value);
        }
    }
    pool.settings = settings;
    if let Some(name) = request.pool_name {
        pool.name = name;
    }
    pool.modified_ms = state.now_ms();
    if !state.store().update_user_pool(&pool).await? {
        return Err(AdminError::pool_not_found(&pool_id));
    }
    Ok(json!({}))
}
