//! Token-endpoint errors (RFC 6749 §5.2).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An error code of RFC 6749 §5.2, or an extension code a server sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `invalid_request`: a parameter is missing, repeated, unsupported or malformed.
    InvalidRequest,
    /// `invalid_client`: client authentication failed.
    InvalidClient,
    /// `invalid_grant`: the grant is invalid, expired or revoked.
    InvalidGrant,
    /// `unauthorized_client`: the client may not use this grant type.
    UnauthorizedClient,
    /// `unsupported_grant_type`: the server does not support this grant type.
    UnsupportedGrantType,
    /// `invalid_scope`: a requested scope is unknown or not allowed for the client.
    InvalidScope,
    /// Any other code (RFC 6749 §8.5 allows extensions).
    Other(String),
}

impl ErrorCode {
    /// The code as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::Other(code) => code,
        }
    }
}

impl From<&str> for ErrorCode {
    fn from(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Ok(Self::from(code.as_str()))
    }
}

/// An error response of the token endpoint (RFC 6749 §5.2).
///
/// Cognito usually sends only `error`; `error_description` is added here when it helps a
/// person see what was wrong, and never contains a secret or a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}{}", error_description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct ErrorResponse {
    /// The error code.
    pub error: ErrorCode,
    /// A human-readable explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl ErrorResponse {
    /// An error with a description.
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: Some(description.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_and_extension_codes() {
        let known: ErrorResponse = serde_json::from_str(r#"{"error":"invalid_scope"}"#).unwrap();
        assert_eq!(known.error, ErrorCode::InvalidScope);
        assert_eq!(known.to_string(), "invalid_scope");
        let other: ErrorResponse =
            serde_json::from_str(r#"{"error":"slow_down","error_description":"wait"}"#).unwrap();
        assert_eq!(other.error, ErrorCode::Other("slow_down".into()));
        assert_eq!(other.to_string(), "slow_down: wait");
        assert_eq!(
            serde_json::to_string(&ErrorResponse::new(ErrorCode::InvalidClient, "bad")).unwrap(),
            r#"{"error":"invalid_client","error_description":"bad"}"#
        );
    }
}
