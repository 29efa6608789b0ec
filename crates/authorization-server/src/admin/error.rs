//! Admin API errors: `{"__type": "<Exception>", "message": "..."}` with Cognito's wire
//! status (400 for every client error, 500 for internal errors) and the
//! `X-Amzn-ErrorType` header SDKs also read.

use axum::http::StatusCode;

use crate::error::StoreError;

/// One refused admin request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AdminError {
    /// The exception name, e.g. `ResourceNotFoundException`.
    pub(crate) kind: &'static str,
    pub(crate) message: String,
    pub(crate) status: StatusCode,
}

impl AdminError {
    fn client(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::client("InvalidParameterException", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::client("ResourceNotFoundException", message)
    }

    pub(crate) fn pool_not_found(pool_id: &str) -> Self {
        Self::not_found(format!("User pool {pool_id} does not exist."))
    }

    pub(crate) fn client_not_found(client_id: &str) -> Self {
        Self::not_found(format!("User pool client {client_id} does not exist."))
    }

    pub(crate) fn not_authorized(message: impl Into<String>) -> Self {
        Self::client("NotAuthorizedException", message)
    }

    pub(crate) fn unsupported_token_type(message: impl Into<String>) -> Self {
        Self::client("UnsupportedTokenTypeException", message)
    }

    pub(crate) fn unsupported_operation(message: impl Into<String>) -> Self {
        Self::client("UnsupportedOperationException", message)
    }

    pub(crate) fn scope_does_not_exist(message: impl Into<String>) -> Self {
        Self::client("ScopeDoesNotExistException", message)
    }

    pub(crate) fn invalid_oauth_flow(message: impl Into<String>) -> Self {
        Self::client("InvalidOAuthFlowException", message)
    }

    pub(crate) fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::client("LimitExceededException", message)
    }

    pub(crate) fn serialization(message: impl Into<String>) -> Self {
        Self::client("SerializationException", message)
    }

    pub(crate) fn unknown_operation(message: impl Into<String>) -> Self {
        Self::client("UnknownOperationException", message)
    }

    pub(crate) fn missing_authentication(message: impl Into<String>) -> Self {
        Self::client("MissingAuthenticationTokenException", message)
    }

    pub(crate) fn unrecognized_client() -> Self {
        Self::client(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    }

    pub(crate) fn invalid_signature(message: impl Into<String>) -> Self {
        Self::client("InvalidSignatureException", message)
    }

    /// `InternalErrorException` saying the database is unavailable: Cognito's exception for
    /// a failure on its side (a 500, which the AWS SDKs retry), with a message that says
    /// why; the admin handler adds `Retry-After`.
    pub(crate) fn database_unavailable() -> Self {
        Self {
            kind: "InternalErrorException",
            message: DATABASE_UNAVAILABLE.to_owned(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether this is [`AdminError::database_unavailable`].
    pub(crate) fn is_database_unavailable(&self) -> bool {
        self.kind == "InternalErrorException" && self.message == DATABASE_UNAVAILABLE
    }

    /// Past the client's rate limit (`GetClientToken`). Cognito's wire status for
    /// throttling is 400, like its other client errors; the AWS SDKs retry
    /// `TooManyRequestsException` by its name, with backoff (docs/cognito-notes.md).
    pub(crate) fn too_many_requests() -> Self {
        Self::client("TooManyRequestsException", "Too many requests")
    }

    pub(crate) fn internal() -> Self {
        Self {
            kind: "InternalErrorException",
            message: "An internal error occurred.".to_owned(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The message of [`AdminError::database_unavailable`].
const DATABASE_UNAVAILABLE: &str =
    "The database is unavailable; retry the request after the delay in Retry-After.";

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(%error, "admin request failed: the database is unavailable");
            Self::database_unavailable()
        } else {
            tracing::error!(%error, "admin request failed in the store");
            Self::internal()
        }
    }
}
