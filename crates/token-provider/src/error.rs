//! The crate's errors: [`TokenError`] when a token cannot be had, [`BuildError`] when the
//! configuration is unusable, [`HttpError`] from an [`HttpClient`](crate::HttpClient).
//!
//! None of them ever holds the client secret, an `Authorization` header or a token: the
//! token endpoint's body is never copied into an error, only the RFC 6749 `error` code and
//! `error_description` it sent.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oauth_proto::ErrorCode;
use oauth_proto::time::unix_seconds;

/// Why no access token could be returned.
///
/// Cloneable because one refresh serves every caller waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token endpoint refused the request with an RFC 6749 §5.2 error body
    /// (`invalid_client`, `unauthorized_client`, `invalid_scope`, …) and a 4xx status.
    ///
    /// Not retried in a loop: the same request would be refused again. A new request is
    /// made only after the failure backoff, when a caller asks again.
    #[error(
        "token endpoint refused the request with http {status}: {code}{}",
        description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
    )]
    Oauth {
        /// The `error` code.
        code: ErrorCode,
        /// The `error_description`, if the server sent one.
        description: Option<String>,
        /// The HTTP status (400 or 401 in practice).
        status: u16,
    },
    /// The request did not reach the server or no answer came back (connection refused,
    /// TLS failure, reset, …). Transient: retried with backoff.
    #[error("token request failed: {0}")]
    Transport(#[source] HttpError),
    /// No answer within the request timeout. Transient: retried with backoff.
    #[error("token request timed out after {0:?}")]
    Timeout(Duration),
    /// The server answered with a status that is not a success and carried no OAuth
    /// error body, or a redirect (never followed). 5xx and 429 are transient and retried;
    /// anything else is not.
    #[error("token endpoint answered http {status}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The `Retry-After` delay the server asked for, in seconds form only.
        retry_after: Option<Duration>,
    },
    /// A 2xx answer that is not a usable token response: not JSON, no `access_token`,
    /// `expires_in` missing or not positive, a token type other than `Bearer`.
    #[error("invalid token response: {0}")]
    InvalidResponse(String),
    /// The [`SecretSource`](crate::SecretSource) gave no secret. Not retried in a loop.
    #[error("no client secret: {0}")]
    SecretUnavailable(#[source] crate::SecretSourceError),
    /// Transient failures went on for `attempts` requests and no token was ever obtained
    /// (or the last one was dropped by a forced refresh).
    #[error("no token after {attempts} attempts, last error: {last}")]
    Unavailable {
        /// Requests made in the failed refresh.
        attempts: u32,
        /// The last failure.
        last: Box<TokenError>,
    },
    /// The cached token has expired and transient failures kept a new one from being
    /// obtained.
    #[error(
        "token expired at unix time {} and could not be refreshed after {attempts} attempts, last error: {last}",
        unix_seconds(*expired_at)
    )]
    Expired {
        /// When the last token expired.
        expired_at: SystemTime,
        /// Requests made in the failed refresh.
        attempts: u32,
        /// The last failure.
        last: Box<TokenError>,
    },
}

impl TokenError {
    /// A short, stable name for the failure, used as the `kind` label of
    /// `token_provider_failures_total`: `oauth`, `transport`, `timeout`, `status`,
    /// `invalid_response`, `unavailable` or `expired`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Oauth { .. } => "oauth",
            Self::Transport(_) => "transport",
            Self::Timeout(_) => "timeout",
            Self::Status { .. } => "status",
            Self::InvalidResponse(_) => "invalid_response",
            Self::SecretUnavailable(_) => "secret_unavailable",
            Self::Unavailable { .. } => "unavailable",
            Self::Expired { .. } => "expired",
        }
    }

    /// Whether retrying the same request soon may succeed: transport errors, timeouts,
    /// 5xx and 429.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport(_) | Self::Timeout(_) => true,
            Self::Status { status, .. } => *status == 429 || (500..=599).contains(status),
            Self::Oauth { .. }
            | Self::InvalidResponse(_)
            | Self::SecretUnavailable(_)
            | Self::Unavailable { .. }
            | Self::Expired { .. } => false,
        }
    }

    /// The OAuth error code, looking through [`Unavailable`](Self::Unavailable) and
    /// [`Expired`](Self::Expired) to the last failure.
    pub fn oauth_code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Oauth { code, .. } => Some(code),
            Self::Unavailable { last, .. } | Self::Expired { last, .. } => last.oauth_code(),
            _ => None,
        }
    }
}

/// What kind of transport failure an [`HttpClient`](crate::HttpClient) met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpErrorKind {
    /// No connection could be made.
    Connect,
    /// The client's own timeout fired.
    Timeout,
    /// The request was not sent or the answer could not be read, for another reason.
    Other,
}

/// A transport failure reported by an [`HttpClient`](crate::HttpClient).
///
/// Its message must not contain credentials; the built-in [`ReqwestClient`] strips the
/// URL's query and never sees the secret outside the request it sends.
///
/// [`ReqwestClient`]: crate::http::ReqwestClient
#[derive(Clone)]
pub struct HttpError {
    kind: HttpErrorKind,
    source: Arc<dyn StdError + Send + Sync>,
}

impl HttpError {
    /// An error of `kind` caused by `source`.
    pub fn new(kind: HttpErrorKind, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind,
            source: Arc::from(source.into()),
        }
    }

    /// A connection failure.
    pub fn connect(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(HttpErrorKind::Connect, source)
    }

    /// Any other transport failure.
    pub fn other(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(HttpErrorKind::Other, source)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> HttpErrorKind {
        self.kind
    }
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpError")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            HttpErrorKind::Connect => "connection failed",
            HttpErrorKind::Timeout => "timed out",
            HttpErrorKind::Other => "transport error",
        };
        write!(f, "{kind}: {}", self.source)
    }
}

impl StdError for HttpError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

/// Why [`TokenProviderBuilder::build`](crate::TokenProviderBuilder::build) refused the
/// configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A required setting was not given.
    #[error("missing setting: {0}")]
    Missing(&'static str),
    /// The token URL does not parse or is not an absolute http(s) URL.
    #[error("invalid token url {url:?}: {problem}")]
    InvalidTokenUrl {
        /// The URL as given (its query, which could hold credentials, is cut off).
        url: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A string setting is malformed: `client_id` or a `scope`.
    #[error("invalid {name}: {error}")]
    InvalidValue {
        /// The setter's name.
        name: &'static str,
        /// What is wrong with the value.
        #[source]
        error: oauth_proto::InvalidValue,
    },
    /// A numeric setting is out of range.
    #[error("invalid setting {name}: {problem}")]
    InvalidSetting {
        /// The setter's name.
        name: &'static str,
        /// The accepted range.
        problem: &'static str,
    },
    /// The default HTTP client could not be built.
    #[error("cannot build the http client: {0}")]
    HttpClient(String),
}
