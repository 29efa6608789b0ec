//! GetUserPoolMfaConfig, SetUserPoolMfaConfig: stored and returned as Cognito does.
//!
//! The pool has no users, so nothing here ever asks for a second factor; the settings
//! exist so that tools which read and write them (Terraform reads them on every refresh)
//! see what they wrote. `MfaConfiguration` is the same member `DescribeUserPool` and
//! `UpdateUserPool` carry; the factor settings live beside it in the pool's settings and
//! are returned only here.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::AdminError;
use super::pools::{MFA_ONLY, check_pool_id, existing};
use super::validate::{Violations, parse};
use crate::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    user_pool_id: Option<String>,
    mfa_configuration: Option<String>,
    sms_mfa_configuration: Option<Map<String, Value>>,
    software_token_mfa_configuration: Option<Map<String, Value>>,
    email_mfa_configuration: Option<Map<String, Value>>,
    #[allow(dead_code)] // Read only to refuse a value of the wrong type.
    web_authn_configuration: Option<Map<String, Value>>,
}

/// The MFA members of a pool's settings, as both operations answer them.
fn render(settings: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert(
        "MfaConfiguration".to_owned(),
        settings
            .get("MfaConfiguration")
            .cloned()
            .unwrap_or_else(|| json!("OFF")),
    );
    for member in MFA_ONLY {
        if let Some(value) = settings.get(*member) {
            out.insert((*member).to_owned(), value.clone());
        }
    }
    Value::Object(out)
}

pub(crate) async fn get(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) = parse(body, "GetUserPoolMfaConfig", &["UserPoolId"])?;
    let mut v = Violations::default();
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    v.finish()?;
    let pool = existing(state, &pool_id).await?;
    Ok(render(&pool.settings))
}

/// Whether a factor's configuration turns the factor on: SMS and email by being given,
/// software tokens by `Enabled: true`.
fn enables_a_factor(request: &Request) -> bool {
    request.sms_mfa_configuration.is_some()
        || request.email_mfa_configuration.is_some()
        || request
            .software_token_mfa_configuration
            .as_ref()
            .and_then(|c| c.get("Enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
}

/// Replaces the factor settings with those given; `MfaConfiguration` is kept when left
/// out (the model makes it optional, and Terraform leaves it out when it only sets
/// `WebAuthnConfiguration`).
pub(crate) async fn set(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, raw): (Request, _) = parse(
        body,
        "SetUserPoolMfaConfig",
        &[
            "UserPoolId",
            "MfaConfiguration",
            "SmsMfaConfiguration",
            "SoftwareTokenMfaConfiguration",
            "EmailMfaConfiguration",
            "WebAuthnConfiguration",
        ],
    )?;
    let mut v = Violations::default();
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    v.one_of(
        &request.mfa_configuration,
        "MfaConfiguration",
        &["OFF", "ON", "OPTIONAL"],
    );
    v.finish()?;
    let mut pool = existing(state, &pool_id).await?;
    let mode = request
        .mfa_configuration
        .clone()
        .or_else(|| {
            pool.settings
                .get("MfaConfiguration")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "OFF".to_owned());
    // Cognito's wording for the first refusal (quoted in Terraform's user_pool.go).
    if mode == "OFF" && enables_a_factor(&request) {
        return Err(AdminError::invalid_parameter(
            "Invalid MFA configuration given, can't turn off MFA and configure an MFA together.",
        ));
    }
    if mode != "OFF" && !enables_a_factor(&request) {
        return Err(AdminError::invalid_parameter(
            "Invalid MFA configuration given, at least one MFA type must be enabled when MFA is ON or OPTIONAL.",
        ));
    }
    pool.settings
        .insert("MfaConfiguration".to_owned(), json!(mode));
    for member in MFA_ONLY {
        match raw.get(*member) {
            Some(value) => pool.settings.insert((*member).to_owned(), value.clone()),
            None => pool.settings.remove(*member),
        };
    }
    pool.modified_ms = state.now_ms();
    if !state.store().update_user_pool(&pool).await? {
        return Err(AdminError::pool_not_found(&pool_id));
    }
    Ok(render(&pool.settings))
}
