//! The rows of the store. They carry Cognito's member names (`ClientSettings` is stored as
//! JSON in those names and echoed by `DescribeUserPoolClient`) and the few rules that go
//! with them: units of token validity and the access-token lifetime.

use std::fmt::Debug;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::validity::{DEFAULT_ACCESS_TOKEN_LIFETIME, TimeUnit};

/// A user pool.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPoolRecord {
    /// `<region>_<9 alphanumerics>`.
    pub id: String,
    /// `PoolName`.
    pub name: String,
    /// The other `UserPoolType` members echoed by `DescribeUserPool` (a JSON object).
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// `LambdaConfig`: the pool's Lambda triggers (its own column, since the token
    /// endpoint reads the pre token generation trigger with the client).
    pub lambda_config: LambdaConfig,
    /// Creation time, Unix milliseconds.
    pub created_ms: i64,
    /// Last modification time, Unix milliseconds.
    pub modified_ms: i64,
}

/// A pool's `LambdaConfig` in Cognito's member names. Only the pre token generation
/// trigger (`V3_0`) has an effect here: it runs for client-credentials tokens
/// (`crate::pretoken`). The other triggers concern user sign-up and sign-in, which this
/// server does not serve: they are stored and returned, never invoked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LambdaConfig {
    /// `PreTokenGenerationConfig`.
    #[serde(
        default,
        rename = "PreTokenGenerationConfig",
        skip_serializing_if = "Option::is_none"
    )]
    pub pre_token_generation: Option<PreTokenGenerationConfig>,
    /// Every other member (`PreSignUp`, `CustomSMSSender`, `KMSKeyID`, ...), as given.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl LambdaConfig {
    /// Whether no trigger is configured.
    pub fn is_empty(&self) -> bool {
        self.pre_token_generation.is_none() && self.other.is_empty()
    }
}

/// `PreTokenGenerationVersionConfigType`: the function and the event version it receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PreTokenGenerationConfig {
    /// `V1_0`, `V2_0` or `V3_0`.
    pub lambda_version: String,
    /// The function's ARN; the server maps it to a local URL.
    pub lambda_arn: String,
}

impl PreTokenGenerationConfig {
    /// Whether Cognito invokes it for client-credentials grants: only version `V3_0` is
    /// (`V1_0` customises ID tokens, `V2_0` access tokens of users).
    pub fn runs_for_client_credentials(&self) -> bool {
        self.lambda_version == "V3_0"
    }
}

/// An RSA signing key of a pool.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// The user pool.
    pub pool_id: String,
    /// Key id: standard base64 of the SHA-256 of the public key (SubjectPublicKeyInfo DER).
    pub kid: String,
    /// The private key, PKCS#8 v1 DER.
    pub pkcs8: Vec<u8>,
    /// Modulus, base64url without padding.
    pub n: String,
    /// Public exponent, base64url without padding.
    pub e: String,
    /// Creation time, Unix milliseconds.
    pub created_ms: i64,
    /// The tokens it signs.
    pub token_use: KeyUse,
}

/// The tokens a key signs. As in Cognito, each pool has a key for access tokens and one
/// for ID tokens, and publishes both; this server issues access tokens only, so the ID
/// token key is published and never used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// Signs access tokens (`token_use` `access`).
    Access,
    /// Reserved for ID tokens (`token_use` `id`).
    Id,
}

impl KeyUse {
    /// The stored form: `access` or `id`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Id => "id",
        }
    }

    pub(super) fn parse(stored: &str) -> Result<Self, StoreError> {
        match stored {
            "access" => Ok(Self::Access),
            "id" => Ok(Self::Id),
            other => Err(StoreError::Internal(format!(
                "signing key with unknown token_use {other:?}"
            ))),
        }
    }
}

impl Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("pool_id", &self.pool_id)
            .field("kid", &self.kid)
            .field("pkcs8", &"[redacted]")
            .field("created_ms", &self.created_ms)
            .field("token_use", &self.token_use)
            .finish_non_exhaustive()
    }
}

/// An app client.
#[derive(Clone)]
pub struct ClientRecord {
    /// The user pool.
    pub pool_id: String,
    /// 26 characters of `[0-9a-v]`, unique across pools.
    pub client_id: String,
    /// `ClientName`.
    pub name: String,
    /// The secret `DescribeUserPoolClient` shows: the newest of the client's active
    /// secrets (see [`ClientSecretRecord`]), if it has any (needed for
    /// `client_credentials`). `create_client` stores it as the client's first secret.
    pub secret: Option<oauth_proto::ClientSecret>,
    /// Everything else `DescribeUserPoolClient` returns.
    pub settings: ClientSettings,
    /// Creation time, Unix milliseconds.
    pub created_ms: i64,
    /// Last modification time, Unix milliseconds.
    pub modified_ms: i64,
}

impl Debug for ClientRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRecord")
            .field("pool_id", &self.pool_id)
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("secret", &self.secret)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Units of the token validity fields (`TokenValidityUnits`); `None` means Cognito's
/// default unit (hours for access and ID tokens, days for refresh tokens). Stored as
/// Cognito's names (`"minutes"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenValidityUnits {
    /// The unit of `AccessTokenValidity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<TimeUnit>,
    /// The unit of `IdTokenValidity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<TimeUnit>,
    /// The unit of `RefreshTokenValidity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<TimeUnit>,
}

impl TokenValidityUnits {
    /// The unit of `AccessTokenValidity`, hours when none is given.
    pub fn access_token_or_default(&self) -> TimeUnit {
        self.access_token.unwrap_or(TimeUnit::ACCESS_TOKEN_DEFAULT)
    }

    /// The unit of `IdTokenValidity`, hours when none is given.
    pub fn id_token_or_default(&self) -> TimeUnit {
        self.id_token.unwrap_or(TimeUnit::ACCESS_TOKEN_DEFAULT)
    }

    /// The unit of `RefreshTokenValidity`, days when none is given.
    pub fn refresh_token_or_default(&self) -> TimeUnit {
        self.refresh_token
            .unwrap_or(TimeUnit::REFRESH_TOKEN_DEFAULT)
    }
}

/// The configuration of an app client, in Cognito's `UserPoolClientType` member names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientSettings {
    /// `RefreshTokenValidity` (default 30, in days).
    pub refresh_token_validity: i64,
    /// `AccessTokenValidity`, absent when not set (then one hour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_validity: Option<i64>,
    /// `IdTokenValidity`, absent when not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_validity: Option<i64>,
    /// `TokenValidityUnits`.
    pub token_validity_units: TokenValidityUnits,
    /// `ReadAttributes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_attributes: Option<Vec<String>>,
    /// `WriteAttributes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_attributes: Option<Vec<String>>,
    /// `ExplicitAuthFlows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explicit_auth_flows: Option<Vec<String>>,
    /// `SupportedIdentityProviders`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_identity_providers: Option<Vec<String>>,
    /// `CallbackURLs`.
    #[serde(
        default,
        rename = "CallbackURLs",
        skip_serializing_if = "Option::is_none"
    )]
    pub callback_urls: Option<Vec<String>>,
    /// `LogoutURLs`.
    #[serde(
        default,
        rename = "LogoutURLs",
        skip_serializing_if = "Option::is_none"
    )]
    pub logout_urls: Option<Vec<String>>,
    /// `DefaultRedirectURI`.
    #[serde(
        default,
        rename = "DefaultRedirectURI",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_redirect_uri: Option<String>,
    /// `AllowedOAuthFlows`: `code`, `implicit`, `client_credentials`.
    #[serde(
        default,
        rename = "AllowedOAuthFlows",
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_oauth_flows: Option<Vec<String>>,
    /// `AllowedOAuthScopes`: `<resource-server>/<scope>` (and OIDC scopes for user flows).
    #[serde(
        default,
        rename = "AllowedOAuthScopes",
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_oauth_scopes: Option<Vec<String>>,
    /// `AllowedOAuthFlowsUserPoolClient`: OAuth is enabled for the client.
    #[serde(rename = "AllowedOAuthFlowsUserPoolClient")]
    pub allowed_oauth_flows_user_pool_client: bool,
    /// `AnalyticsConfiguration`, echoed as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analytics_configuration: Option<serde_json::Value>,
    /// `PreventUserExistenceErrors`: `LEGACY` or `ENABLED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevent_user_existence_errors: Option<String>,
    /// `EnableTokenRevocation` (default true).
    pub enable_token_revocation: bool,
    /// `EnablePropagateAdditionalUserContextData` (default false).
    pub enable_propagate_additional_user_context_data: bool,
    /// `AuthSessionValidity` in minutes (default 3).
    pub auth_session_validity: i64,
    /// `RefreshTokenRotation`, echoed as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_rotation: Option<serde_json::Value>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            refresh_token_validity: 30,
            access_token_validity: None,
            id_token_validity: None,
            token_validity_units: TokenValidityUnits::default(),
            read_attributes: None,
            write_attributes: None,
            explicit_auth_flows: None,
            supported_identity_providers: None,
            callback_urls: None,
            logout_urls: None,
            default_redirect_uri: None,
            allowed_oauth_flows: None,
            allowed_oauth_scopes: None,
            allowed_oauth_flows_user_pool_client: false,
            analytics_configuration: None,
            prevent_user_existence_errors: None,
            enable_token_revocation: true,
            enable_propagate_additional_user_context_data: false,
            auth_session_validity: 3,
            refresh_token_rotation: None,
        }
    }
}

impl ClientSettings {
    /// The access-token lifetime: `AccessTokenValidity` in its unit (hours by default), or
    /// one hour when unset (or, never written by the admin API, negative).
    pub fn access_token_lifetime(&self) -> Duration {
        self.access_token_validity
            .and_then(|value| {
                self.token_validity_units
                    .access_token_or_default()
                    .duration(value)
            })
            .unwrap_or(DEFAULT_ACCESS_TOKEN_LIFETIME)
    }

    /// Whether the client may use the client-credentials grant.
    pub fn allows_client_credentials(&self) -> bool {
        self.allowed_oauth_flows_user_pool_client
            && self
                .allowed_oauth_flows
                .as_deref()
                .is_some_and(|flows| flows.iter().any(|f| f == "client_credentials"))
    }
}

/// A scope of a resource server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceServerScope {
    /// `ScopeName` (the part after `<identifier>/`).
    pub scope_name: String,
    /// `ScopeDescription`.
    pub scope_description: String,
}

/// A resource server: the owner of custom scopes `<identifier>/<scope-name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceServerRecord {
    /// The user pool.
    pub pool_id: String,
    /// `Identifier`, unique within the pool.
    pub identifier: String,
    /// `Name`.
    pub name: String,
    /// `Scopes`.
    pub scopes: Vec<ResourceServerScope>,
}

/// What the token endpoint needs about a client, read in one query.
#[derive(Debug, Clone)]
pub struct TokenContext {
    /// The client.
    pub client: ClientRecord,
    /// Whether its pool has a domain (without one Cognito serves no token endpoint).
    pub pool_has_domain: bool,
    /// The `kid` of the pool's newest access-token key (the signing key), if it has one.
    pub signing_kid: Option<String>,
    /// Every active secret of the client, oldest first; the token endpoint accepts any.
    pub secrets: Vec<oauth_proto::ClientSecret>,
    /// The pool's pre token generation trigger, if it has one.
    pub pre_token_generation: Option<PreTokenGenerationConfig>,
}

/// One of an app client's active secrets (`ClientSecretDescriptorType`).
#[derive(Clone)]
pub struct ClientSecretRecord {
    /// `<client-id>--<created_ms>`, unique.
    pub secret_id: String,
    /// The app client.
    pub client_id: String,
    /// The value.
    pub secret: oauth_proto::ClientSecret,
    /// Creation time, Unix milliseconds.
    pub created_ms: i64,
}

impl Debug for ClientSecretRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecretRecord")
            .field("secret_id", &self.secret_id)
            .field("client_id", &self.client_id)
            .field("secret", &self.secret)
            .field("created_ms", &self.created_ms)
            .finish()
    }
}

/// What [`Store::add_client_secret`](super::Store::add_client_secret) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddSecretOutcome {
    /// The secret is stored and active.
    Added,
    /// No such client in the pool; nothing stored.
    NoClient,
    /// The client has no secret at all (a public client); nothing stored.
    PublicClient,
    /// The client already has the maximum number of secrets; nothing stored.
    LimitReached,
    /// A secret with this id exists; nothing stored.
    DuplicateId,
}

/// What [`Store::delete_client_secret`](super::Store::delete_client_secret) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteSecretOutcome {
    /// The secret is gone.
    Deleted,
    /// No such client in the pool, or no such secret of the client; nothing deleted.
    NotFound,
    /// It is the client's last secret, which is kept.
    LastSecret,
}

/// A user pool domain (prefix); its existence enables the token endpoint for the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRecord {
    /// The prefix, unique across all pools.
    pub domain: String,
    /// The user pool (at most one domain each).
    pub pool_id: String,
    /// Creation time, Unix milliseconds.
    pub created_ms: i64,
    /// `ManagedLoginVersion` (1 hosted UI, 2 managed login); `None` when never set.
    pub managed_login_version: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_stored_as_cognito_names() {
        let settings = ClientSettings {
            access_token_validity: Some(60),
            token_validity_units: TokenValidityUnits {
                access_token: Some(TimeUnit::Minutes),
                ..TokenValidityUnits::default()
            },
            ..ClientSettings::default()
        };
        let json = serde_json::to_value(&settings).unwrap();
        assert_eq!(
            json["TokenValidityUnits"],
            serde_json::json!({"AccessToken": "minutes"})
        );
        let back: ClientSettings = serde_json::from_value(json).unwrap();
        assert_eq!(back, settings);
        assert_eq!(back.access_token_lifetime(), Duration::from_secs(3600));
    }

    #[test]
    fn access_token_lifetime_defaults_to_hours() {
        let mut settings = ClientSettings::default();
        assert_eq!(settings.access_token_lifetime(), Duration::from_secs(3600));
        settings.access_token_validity = Some(2);
        assert_eq!(settings.access_token_lifetime(), Duration::from_secs(7200));
    }
}
