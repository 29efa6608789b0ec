//! CreateUserPoolClient, DescribeUserPoolClient, UpdateUserPoolClient,
//! ListUserPoolClients, DeleteUserPoolClient.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::error::AdminError;
use super::pools::{check_pool_id, existing};
use super::validate::{Pattern, Violations, after_key, page, parse, timestamp};
use crate::AppState;
use crate::store::{ClientRecord, ClientSettings, TokenValidityUnits};
use crate::validity::{ACCESS_TOKEN_LIFETIMES, REFRESH_TOKEN_LIFETIMES, TimeUnit};

/// Scopes Cognito defines itself (user flows only; never with `client_credentials`).
const COGNITO_SCOPES: &[&str] = &[
    "phone",
    "email",
    "openid",
    "profile",
    "aws.cognito.signin.user.admin",
];
const FLOWS: &[&str] = &["code", "implicit", "client_credentials"];
const EXPLICIT_AUTH_FLOWS: &[&str] = &[
    "ADMIN_NO_SRP_AUTH",
    "CUSTOM_AUTH_FLOW_ONLY",
    "USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_AUTH",
    "ALLOW_CLIENT_TOKEN_AUTH",
];

/// Members shared by create and update (besides the ids).
const SETTINGS_MEMBERS: &[&str] = &[
    "ClientName",
    "RefreshTokenValidity",
    "AccessTokenValidity",
    "IdTokenValidity",
    "TokenValidityUnits",
    "ReadAttributes",
    "WriteAttributes",
    "ExplicitAuthFlows",
    "SupportedIdentityProviders",
    "CallbackURLs",
    "LogoutURLs",
    "DefaultRedirectURI",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "AllowedOAuthFlowsUserPoolClient",
    "AnalyticsConfiguration",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "EnablePropagateAdditionalUserContextData",
    "AuthSessionValidity",
    "RefreshTokenRotation",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Units {
    access_token: Option<String>,
    id_token: Option<String>,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ClientRequest {
    user_pool_id: Option<String>,
    client_id: Option<String>,
    client_name: Option<String>,
    generate_secret: Option<bool>,
    client_secret: Option<String>,
    refresh_token_validity: Option<i64>,
    access_token_validity: Option<i64>,
    id_token_validity: Option<i64>,
    token_validity_units: Option<Units>,
    read_attributes: Option<Vec<String>>,
    write_attributes: Option<Vec<String>>,
    explicit_auth_flows: Option<Vec<String>>,
    supported_identity_providers: Option<Vec<String>>,
    #[serde(rename = "CallbackURLs")]
    callback_urls: Option<Vec<String>>,
    #[serde(rename = "LogoutURLs")]
    logout_urls: Option<Vec<String>>,
    #[serde(rename = "DefaultRedirectURI")]
    default_redirect_uri: Option<String>,
    #[serde(rename = "AllowedOAuthFlows")]
    allowed_oauth_flows: Option<Vec<String>>,
    #[serde(rename = "AllowedOAuthScopes")]
    allowed_oauth_scopes: Option<Vec<String>>,
    #[serde(rename = "AllowedOAuthFlowsUserPoolClient")]
    allowed_oauth_flows_user_pool_client: Option<bool>,
    analytics_configuration: Option<Value>,
    prevent_user_existence_errors: Option<String>,
    enable_token_revocation: Option<bool>,
    enable_propagate_additional_user_context_data: Option<bool>,
    auth_session_validity: Option<i64>,
    refresh_token_rotation: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRequest {
    user_pool_id: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    client_type: Option<String>,
}

/// Model validation shared by create and update; returns the units of token validity.
fn check_model(v: &mut Violations, r: &ClientRequest) -> TokenValidityUnits {
    v.opt_string(&r.client_name, "ClientName", 1, 128, Pattern::Name);
    v.range(
        r.refresh_token_validity,
        "RefreshTokenValidity",
        0,
        315_360_000,
    );
    v.range(r.access_token_validity, "AccessTokenValidity", 1, 86_400);
    v.range(r.id_token_validity, "IdTokenValidity", 1, 86_400);
    let units = r
        .token_validity_units
        .as_ref()
        .map(|units| TokenValidityUnits {
            access_token: v.time_unit(&units.access_token, "TokenValidityUnits.AccessToken"),
            id_token: v.time_unit(&units.id_token, "TokenValidityUnits.IdToken"),
            refresh_token: v.time_unit(&units.refresh_token, "TokenValidityUnits.RefreshToken"),
        })
        .unwrap_or_default();
    v.list(
        &r.read_attributes,
        "ReadAttributes",
        2048,
        1,
        2048,
        Pattern::Text,
    );
    v.list(
        &r.write_attributes,
        "WriteAttributes",
        2048,
        1,
        2048,
        Pattern::Text,
    );
    v.list_of(
        &r.explicit_auth_flows,
        "ExplicitAuthFlows",
        10,
        EXPLICIT_AUTH_FLOWS,
    );
    v.list(
        &r.supported_identity_providers,
        "SupportedIdentityProviders",
        100,
        1,
        32,
        Pattern::Text,
    );
    v.list(
        &r.callback_urls,
        "CallbackURLs",
        100,
        1,
        1024,
        Pattern::Text,
    );
    v.list(&r.logout_urls, "LogoutURLs", 100, 1, 1024, Pattern::Text);
    v.opt_string(
        &r.default_redirect_uri,
        "DefaultRedirectURI",
        1,
        1024,
        Pattern::Text,
    );
    v.list_of(&r.allowed_oauth_flows, "AllowedOAuthFlows", 3, FLOWS);
    v.list(
        &r.allowed_oauth_scopes,
        "AllowedOAuthScopes",
        50,
        1,
        256,
        Pattern::ScopeLike,
    );
    v.one_of(
        &r.prevent_user_existence_errors,
        "PreventUserExistenceErrors",
        &["LEGACY", "ENABLED"],
    );
    v.range(r.auth_session_validity, "AuthSessionValidity", 3, 15);
    v.opt_string(&r.client_secret, "ClientSecret", 24, 64, Pattern::WordPlus);
    units
}

/// Cognito's rules beyond the model; `units` are those [`check_model`] read and
/// `has_secret` is whether the client has (or will have) a secret. Reads the pool's
/// resource servers to check scopes.
async fn build_settings(
    state: &AppState,
    pool_id: &str,
    r: &ClientRequest,
    token_validity_units: TokenValidityUnits,
    has_secret: bool,
) -> Result<ClientSettings, AdminError> {
    // Token validity: access and ID tokens 5 minutes to 1 day (default unit hours),
    // refresh tokens 60 minutes to 10 years (default unit days; 0 means the default).
    let in_range = |value: Option<i64>, unit: TimeUnit, lifetimes: &RangeInclusive<Duration>| {
        value.is_none_or(|value| {
            unit.duration(value)
                .is_some_and(|lifetime| lifetimes.contains(&lifetime))
        })
    };
    let units = &token_validity_units;
    let refresh = r.refresh_token_validity.filter(|v| *v != 0);
    if !in_range(
        r.access_token_validity,
        units.access_token_or_default(),
        &ACCESS_TOKEN_LIFETIMES,
    ) || !in_range(
        r.id_token_validity,
        units.id_token_or_default(),
        &ACCESS_TOKEN_LIFETIMES,
    ) || !in_range(
        refresh,
        units.refresh_token_or_default(),
        &REFRESH_TOKEN_LIFETIMES,
    ) {
        return Err(AdminError::invalid_parameter(
            "Invalid range for token validity.",
        ));
    }

    if let Some(flows) = &r.explicit_auth_flows {
        let modern = flows.iter().filter(|f| f.starts_with("ALLOW_")).count();
        if modern > 0 && modern < flows.len() {
            return Err(AdminError::invalid_parameter(
                "ExplicitAuthFlows cannot mix legacy values with ALLOW_ prefixed values.",
            ));
        }
        // GetClientToken's flow excludes the user flows (so it needs no refresh flow).
        let client_token = flows.iter().any(|f| f == "ALLOW_CLIENT_TOKEN_AUTH");
        if client_token
            && flows
                .iter()
                .any(|f| f != "ALLOW_CLIENT_TOKEN_AUTH" && f != "ALLOW_REFRESH_TOKEN_AUTH")
        {
            return Err(AdminError::invalid_parameter(
                "ALLOW_CLIENT_TOKEN_AUTH cannot be combined with user authentication flows.",
            ));
        }
        if modern > 0 && !client_token && !flows.iter().any(|f| f == "ALLOW_REFRESH_TOKEN_AUTH") {
            return Err(AdminError::invalid_parameter(
                "REFRESH_TOKEN_AUTH should always be allowed.",
            ));
        }
    }

    let oauth = r.allowed_oauth_flows_user_pool_client.unwrap_or(false);
    let flows = r.allowed_oauth_flows.clone().unwrap_or_default();
    let scopes = r.allowed_oauth_scopes.clone().unwrap_or_default();
    if oauth && (flows.is_empty() || scopes.is_empty()) {
        return Err(AdminError::invalid_parameter(
            "AllowedOAuthFlows and AllowedOAuthScopes are required if user pool client is allowed to use OAuth flows.",
        ));
    }
    if !oauth && (!flows.is_empty() || !scopes.is_empty()) {
        return Err(AdminError::invalid_parameter(
            "AllowedOAuthFlowsUserPoolClient must be true to configure AllowedOAuthFlows and AllowedOAuthScopes.",
        ));
    }
    let client_credentials = flows.iter().any(|f| f == "client_credentials");
    if client_credentials {
        if flows.len() > 1 {
            return Err(AdminError::invalid_oauth_flow(
                "client_credentials flow can not be selected along with code flow or implicit flow",
            ));
        }
        if !has_secret {
            return Err(AdminError::invalid_oauth_flow(
                "client_credentials flow can not be selected if client does not have a client secret.",
            ));
        }
        if let Some(standard) = scopes.iter().find(|s| COGNITO_SCOPES.contains(&s.as_str())) {
            return Err(AdminError::invalid_oauth_flow(format!(
                "{standard} is not supported with client_credentials flow"
            )));
        }
    } else if !flows.is_empty() && r.callback_urls.as_ref().is_none_or(Vec::is_empty) {
        return Err(AdminError::invalid_oauth_flow(
            "CallbackUrls can not be empty when code flow or implicit flow is selected",
        ));
    }
    if scopes.iter().any(|s| !COGNITO_SCOPES.contains(&s.as_str())) {
        let existing = crate::grants::pool_scopes(state, pool_id).await?;
        if let Some(missing) = scopes
            .iter()
            .find(|s| !COGNITO_SCOPES.contains(&s.as_str()) && !existing.contains(s.as_str()))
        {
            return Err(AdminError::scope_does_not_exist(format!(
                "Invalid scope requested: {missing}"
            )));
        }
    }

    let defaults = ClientSettings::default();
    Ok(ClientSettings {
        refresh_token_validity: refresh.unwrap_or(defaults.refresh_token_validity),
        access_token_validity: r.access_token_validity,
        id_token_validity: r.id_token_validity,
        token_validity_units,
        read_attributes: r.read_attributes.clone(),
        write_attributes: r.write_attributes.clone(),
        explicit_auth_flows: r.explicit_auth_flows.clone(),
        supported_identity_providers: r.supported_identity_providers.clone(),
        callback_urls: r.callback_urls.clone(),
        logout_urls: r.logout_urls.clone(),
        default_redirect_uri: r.default_redirect_uri.clone(),
        allowed_oauth_flows: r.allowed_oauth_flows.clone(),
        allowed_oauth_scopes: r.allowed_oauth_scopes.clone(),
        allowed_oauth_flows_user_pool_client: oauth,
        analytics_configuration: r.analytics_configuration.clone(),
        prevent_user_existence_errors: r.prevent_user_existence_errors.clone(),
        enable_token_revocation: r
            .enable_token_revocation
            .unwrap_or(defaults.enable_token_revocation),
        enable_propagate_additional_user_context_data: r
            .enable_propagate_additional_user_context_data
            .unwrap_or(defaults.enable_propagate_additional_user_context_data),
        auth_session_validity: r
            .auth_session_validity
            .unwrap_or(defaults.auth_session_validity),
        refresh_token_rotation: r.refresh_token_rotation.clone(),
    })
}

fn render(client: &ClientRecord) -> Value {
    let mut out = match serde_json::to_value(&client.settings) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    out.insert("UserPoolId".to_owned(), json!(client.pool_id));
    out.insert("ClientName".to_owned(), json!(client.name));
    out.insert("ClientId".to_owned(), json!(client.client_id));
    if let Some(secret) = &client.secret {
        out.insert("ClientSecret".to_owned(), json!(secret.expose()));
    }
    out.insert("CreationDate".to_owned(), timestamp(client.created_ms));
    out.insert("LastModifiedDate".to_owned(), timestamp(client.modified_ms));
    json!({ "UserPoolClient": out })
}

pub(crate) async fn create(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let mut allowed = vec!["UserPoolId", "GenerateSecret", "ClientSecret"];
    allowed.extend_from_slice(SETTINGS_MEMBERS);
    let (request, _): (ClientRequest, _) = parse(body, "CreateUserPoolClient", &allowed)?;
    let mut v = Violations::default();
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    v.required(&request.client_name, "ClientName");
    let units = check_model(&mut v, &request);
    v.finish()?;
    existing(state, &pool_id).await?;
    super::quotas::check_app_clients(state, &pool_id).await?;
    let generate = request.generate_secret.unwrap_or(false);
    if generate && request.client_secret.is_some() {
        return Err(AdminError::invalid_parameter(
            "GenerateSecret and ClientSecret cannot both be specified: omit one of them.",
        ));
    }
    let has_secret = generate || request.client_secret.is_some();
    let settings = build_settings(state, &pool_id, &request, units, has_secret).await?;
    let secret = if generate {
        Some(crate::ids::client_secret()?)
    } else {
        request.client_secret.clone()
    };
    let now = state.now_ms();
    let client = ClientRecord {
        pool_id,
        client_id: crate::ids::client_id()?,
        name: request.client_name.clone().unwrap_or_default(),
        secret: secret.map(oauth_proto::ClientSecret::new),
        settings,
        created_ms: now,
        modified_ms: now,
    };
    state.store().create_client(&client).await?;
    Ok(render(&client))
}

fn check_ids(v: &mut Violations, request: &ClientRequest) -> (String, String) {
    let pool_id = check_pool_id(v, &request.user_pool_id);
    let client_id = v
        .required(&request.client_id, "ClientId")
        .map(|id| {
            v.string(id, "ClientId", 1, 128, Pattern::WordPlus);
            id.clone()
        })
        .unwrap_or_default();
    (pool_id, client_id)
}

/// The client in this pool, or `ResourceNotFoundException`.
pub(super) async fn existing_client(
    state: &AppState,
    pool_id: &str,
    client_id: &str,
) -> Result<ClientRecord, AdminError> {
    existing(state, pool_id).await?;
    state
        .store()
        .client(client_id)
        .await?
        .filter(|c| c.pool_id == pool_id)
        .ok_or_else(|| AdminError::client_not_found(client_id))
}

pub(crate) async fn describe(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (ClientRequest, _) =
        parse(body, "DescribeUserPoolClient", &["UserPoolId", "ClientId"])?;
    let mut v = Violations::default();
    let (pool_id, client_id) = check_ids(&mut v, &request);
    v.finish()?;
    Ok(render(&existing_client(state, &pool_id, &client_id).await?))
}

/// Full replace: members left out return to their defaults, as in Cognito. The name and
/// the secret are kept.
pub(crate) async fn update(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let mut allowed = vec!["UserPoolId", "ClientId"];
    allowed.extend_from_slice(SETTINGS_MEMBERS);
    let (request, _): (ClientRequest, _) = parse(body, "UpdateUserPoolClient", &allowed)?;
    let mut v = Violations::default();
    let (pool_id, client_id) = check_ids(&mut v, &request);
    let units = check_model(&mut v, &request);
    v.finish()?;
    let mut client = existing_client(state, &pool_id, &client_id).await?;
    client.settings =
        build_settings(state, &pool_id, &request, units, client.secret.is_some()).await?;
    if let Some(name) = &request.client_name {
        client.name.clone_from(name);
    }
    client.modified_ms = state.now_ms();
    if !state.store().update_client(&client).await? {
        return Err(AdminError::client_not_found(&client_id));
    }
    Ok(render(&client))
}

pub(crate) async fn list(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (ListRequest, _) = parse(
        body,
        "ListUserPoolClients",
        &["UserPoolId", "MaxResults", "NextToken", "ClientType"],
    )?;
    let mut v = Violations::default();
    let pool_id = check_pool_id(&mut v, &request.user_pool_id);
    v.range(request.max_results, "MaxResults", 1, 60);
    v.opt_string(&request.next_token, "NextToken", 1, 131_072, Pattern::Text);
    v.one_of(&request.client_type, "ClientType", &["REGULAR", "DCR"]);
    v.finish()?;
    existing(state, &pool_id).await?;
    if request.client_type.as_deref() == Some("DCR") {
        // Dynamic client registration is not supported: there are no DCR clients.
        return Ok(json!({ "UserPoolClients": [] }));
    }
    let limit = u32::try_from(request.max_results.unwrap_or(60)).unwrap_or(60);
    let after = after_key(request.next_token.as_deref())?;
    let rows = state
        .store()
        .list_clients(&pool_id, after.as_deref(), limit + 1)
        .await?;
    let (rows, next) = page(rows, limit, |c| c.client_id.as_str());
    let clients: Vec<Value> = rows
        .iter()
        .map(|c| json!({"ClientId": c.client_id, "UserPoolId": c.pool_id, "ClientName": c.name}))
        .collect();
    let mut out = json!({ "UserPoolClients": clients });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

pub(crate) async fn delete(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (ClientRequest, _) =
        parse(body, "DeleteUserPoolClient", &["UserPoolId", "ClientId"])?;
    let mut v = Violations::default();
    let (pool_id, client_id) = check_ids(&mut v, &request);
    v.finish()?;
    existing(state, &pool_id).await?;
    if !state.store().delete_client(&pool_id, &client_id).await? {
        return Err(AdminError::client_not_found(&client_id));
    }
    Ok(json!({}))
}
